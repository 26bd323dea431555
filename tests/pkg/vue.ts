// Type tests of `chathub-loader/vue` (compiled by `tsc --noEmit` in make
// test with vue's own types). Every @ts-expect-error must be an error.
import { computed, defineComponent, h, ref, type Ref } from "vue";
import { useChatHub, type ChatHubError, type UseChatHubResult } from "../../pkg/vue.js";
import type { WidgetTokenManagerOptions, WidgetTokenManagerState } from "../../pkg/chathub_loader.js";

export const Chat = defineComponent({
  props: { org: { type: String, required: false } },
  setup(props) {
    // A getter: a new org re-creates the chat.
    const chat: UseChatHubResult = useChatHub(() => ({ tokenUrl: "/api/chathub/token", org: props.org, container: "#chat" }));
    const state: WidgetTokenManagerState = chat.state.value;
    const error: ChatHubError | null = chat.error.value;
    const expires: Date | undefined = chat.expiresAt.value;
    const done: Promise<void> = chat.refresh();
    void [state, error, expires, done];
    // A plain object and a ref work too.
    useChatHub({ tokenUrl: "/api/chathub/token", org: "sales" });
    const options: Ref<WidgetTokenManagerOptions> = ref({ tokenUrl: "/api/chathub/token", org: "support" });
    useChatHub(options);
    useChatHub(computed(() => ({ tokenUrl: "/api/chathub/token", fallback: false as const })));
    return () => h("div", { id: "chat", "data-state": chat.state.value });
  },
});

export function misuse(): void {
  // @ts-expect-error tokenUrl is required
  useChatHub({ org: "sales" });
  // @ts-expect-error unknown option
  useChatHub({ tokenUrl: "/t", tokenURL: "/t" });
  // @ts-expect-error a getter of the wrong shape
  useChatHub(() => ({ tokenUrl: 42 }));
  // @ts-expect-error a ref of the wrong shape
  useChatHub(ref({ url: "/t" }));
  const chat = useChatHub({ tokenUrl: "/t" });
  // @ts-expect-error the refs are read-only
  chat.state.value = "ready";
  // @ts-expect-error state is a Ref, not the string
  const s: WidgetTokenManagerState = chat.state;
  // @ts-expect-error error is read-only
  chat.error.value = null;
  void s;
}
