// Type tests of `chathub-loader/react` (compiled by `tsc --noEmit` in make
// test with @types/react). Every @ts-expect-error must be an error.
import { useChatHub, type ChatHubError, type UseChatHubResult } from "../../pkg/react.js";
import type { WidgetTokenManagerState } from "../../pkg/chathub_loader.js";

export function Chat({ org }: { org?: string }) {
  const chat: UseChatHubResult = useChatHub({
    tokenUrl: "/api/chathub/token",
    org,
    container: "#chat",
    fallback: { email: "support@example.com" },
  });
  const state: WidgetTokenManagerState = chat.state;
  const error: ChatHubError | null = chat.error;
  const code: string | undefined = error?.code;
  const status: number | undefined = error?.status;
  const expires: Date | undefined = chat.expiresAt;
  const done: Promise<void> = chat.refresh();
  void [code, status, expires, done];
  return (
    <div>
      <div id="chat" data-state={state} />
      <button onClick={() => void chat.refresh()}>Refresh</button>
    </div>
  );
}

export function Misuse() {
  // @ts-expect-error tokenUrl is required
  useChatHub({ org: "sales" });
  // @ts-expect-error unknown option (the manager's options, checked the same way)
  useChatHub({ tokenUrl: "/t", tokenURL: "/t" });
  // @ts-expect-error fallback is an object or false
  useChatHub({ tokenUrl: "/t", fallback: true });
  // @ts-expect-error options are required
  useChatHub();
  const chat = useChatHub({ tokenUrl: "/t" });
  // @ts-expect-error state is read-only
  chat.state = "ready";
  // @ts-expect-error state is a WidgetTokenManagerState, not any string
  const bad: "nope" = chat.state;
  // @ts-expect-error refresh takes no token
  void chat.refresh("token");
  // @ts-expect-error expiresAt may be undefined
  const t: number = chat.expiresAt.getTime();
  void [bad, t];
  return null;
}
