import type { WidgetTokenErrorCode, WidgetTokenManagerOptions, WidgetTokenManagerState } from "./chathub_loader.js";

/** An error as `chathub:statechange` reports it. */
export interface ChatHubError {
  code: WidgetTokenErrorCode;
  message: string;
  /** HTTP status, for TOKEN_HTTP and TOKEN_UNAUTHORIZED. */
  status?: number;
}

/** What `useChatHub` returns; a new object whenever one of its values changes. */
export interface UseChatHubResult {
  /**
   * The chat's state: "idle" before the component's effect ran (and during
   * SSR, and with `error` set when the loader could not start: bad options,
   * `CONFLICTING_INSTANCE`, the .wasm failed to load), "loading", "ready",
   * "refreshing", or "fallback" (the contact box is shown; also where
   * WebAssembly cannot run, with `error.code` "UNSUPPORTED_ENVIRONMENT").
   */
  readonly state: WidgetTokenManagerState;
  /** The last error, or null; a failed background refresh while the widget works is `state` "ready" with `error` set. */
  readonly error: ChatHubError | null;
  /** When the widget's token expires (the visitor's clock), once there is one. */
  readonly expiresAt: Date | undefined;
  /** A new token now. Resolves when the round ends, never rejects: a failure is in `error`. Stable across renders. */
  refresh(): Promise<void>;
}

/**
 * The ChatHub widget for as long as the component is mounted. Safe under
 * `<StrictMode>`; an equal options object on a re-render keeps the chat, a
 * changed option (another `org`) re-creates it; unmounting removes it.
 * A `container` selector must match an element once the component has
 * rendered (e.g. a `<div id="chat" />` it renders itself).
 */
export function useChatHub(options: WidgetTokenManagerOptions): UseChatHubResult;
