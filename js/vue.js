// `chathub-loader/vue`: useChatHub(options) → { state, error, expiresAt, refresh },
// the first three read-only refs.
//
//   const { state, error, refresh } = useChatHub({ tokenUrl: "/api/chathub/token", container: "#chat" });
//
// `options` may be a plain object, a ref or a getter: when its value
// really changes (another key in the JSON, elements by identity) the chat
// is re-created; an equal object keeps it. In a component the chat starts
// when it is mounted (never during SSR) and goes when its scope is
// disposed (unmount); in a bare effectScope it starts at once in a
// browser. Bundled by `make pkg` with js/adapter.js into pkg/vue.js; Vue
// stays an import.
import { getCurrentInstance, getCurrentScope, onMounted, onScopeDispose, ref, shallowRef, toValue, watch } from "vue";
import { IDLE, optionsKey, startChat } from "./adapter.js";

export function useChatHub(options) {
  const state = ref(IDLE.state);
  const error = shallowRef(IDLE.error);
  const expiresAt = shallowRef(IDLE.expiresAt);
  let chat = null;
  let key;
  let started = false;
  let disposed = false;

  const start = () => {
    const value = toValue(options);
    key = optionsKey(value);
    chat = startChat(value, (s) => {
      state.value = s.state;
      error.value = s.error;
      expiresAt.value = s.expiresAt;
    });
  };
  const begin = () => {
    if (started || disposed) return;
    started = true;
    start();
  };
  watch(
    () => optionsKey(toValue(options)),
    (next) => {
      if (!started || disposed || next === key) return;
      chat?.destroy();
      start();
    },
  );
  if (getCurrentInstance()) onMounted(begin);
  else if (typeof window != "undefined") begin();
  if (getCurrentScope())
    onScopeDispose(() => {
      disposed = true;
      chat?.destroy();
      chat = null;
    });

  const refresh = () => chat?.refresh() ?? Promise.resolve();
  return { state, error, expiresAt, refresh };
}
