import type { MaybeRefOrGetter, Ref } from "vue";
import type { WidgetTokenErrorCode, WidgetTokenManagerOptions, WidgetTokenManagerState } from "./chathub_loader.js";

/** An error as `chathub:statechange` reports it. */
export interface ChatHubError {
  code: WidgetTokenErrorCode;
  message: string;
  /** HTTP status, for TOKEN_HTTP and TOKEN_UNAUTHORIZED. */
  status?: number;
}

/** What `useChatHub` returns: read-only refs and `refresh`. */
export interface UseChatHubResult {
  /**
   * The chat's state: "idle" until the component is mounted (and during
   * SSR, and with `error` set when the loader could not start: bad options,
   * `CONFLICTING_INSTANCE`, the .wasm failed to load), "loading", "ready",
   * "refreshing", or "fallback" (the contact box is shown; also where
   * WebAssembly cannot run, with `error.code` "UNSUPPORTED_ENVIRONMENT").
   */
  readonly state: Readonly<Ref<WidgetTokenManagerState>>;
  /** The last error, or null; a failed background refresh while the widget works is `state` "ready" with `error` set. */
  readonly error: Readonly<Ref<ChatHubError | null>>;
  /** When the widget's token expires (the visitor's clock), once there is one. */
  readonly expiresAt: Readonly<Ref<Date | undefined>>;
  /** A new token now. Resolves when the round ends, never rejects: a failure is in `error`. */
  refresh(): Promise<void>;
}

/**
 * The ChatHub widget for as long as the calling component is mounted (or
 * the effect scope lives): started in `onMounted`, removed when the scope
 * is disposed. `options` may be an object, a ref or a getter; a changed
 * value (another `org`) re-creates the chat, an equal one keeps it.
 */
export function useChatHub(options: MaybeRefOrGetter<WidgetTokenManagerOptions>): UseChatHubResult;
