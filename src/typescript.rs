//! The hand-written TypeScript surface, emitted into the generated `.d.ts`.

use wasm_bindgen::prelude::*;

#[wasm_bindgen(typescript_custom_section)]
const TS_OPTIONS: &str = r#"
/** The manager's life cycle. */
export type WidgetTokenManagerState = "idle" | "loading" | "ready" | "refreshing" | "fallback" | "destroyed";

/** Stable codes on every error the loader throws or reports. */
export type WidgetTokenErrorCode =
  | "INVALID_OPTIONS" | "TOKEN_HTTP" | "TOKEN_UNAUTHORIZED" | "TOKEN_NETWORK" | "TOKEN_TIMEOUT"
  | "TOKEN_MALFORMED" | "TOKEN_EXPIRED" | "WIDGET_LOAD" | "CONFLICTING_INSTANCE" | "DESTROYED"
  | "UNSUPPORTED_ENVIRONMENT"
  // init() and initSync(): the .wasm could not be loaded.
  | "WASM_NETWORK" | "WASM_HTTP" | "WASM_HTML" | "WASM_COMPILE"
  // new WidgetTokenManager() before init() loaded the .wasm.
  | "NOT_INITIALIZED";

/** What `init()`, `initialize()` and `refreshToken()` reject with. */
export interface WidgetTokenError extends Error {
  code: WidgetTokenErrorCode;
  /** HTTP status, for TOKEN_HTTP, TOKEN_UNAUTHORIZED and WASM_HTTP. */
  status?: number;
}

/** The contact box shown when the chat cannot load. */
export interface WidgetFallbackOptions {
  title?: string;
  message?: string;
  /** Shown as a mailto: link. */
  email?: string;
  /** Shown as a tel: link. */
  phone?: string;
  /** An https: URL, shown as a link. */
  url?: string;
  /** Label of the retry button (default "Try again"). */
  buttonText?: string;
}

/** The subset of RequestInit the token request takes. */
export interface WidgetFetchInit {
  credentials?: "omit" | "same-origin" | "include";
  /** Extra request headers: an object of names to values, a Headers, or [name, value] pairs. */
  headers?: Record<string, string> | Headers | [string, string][];
  mode?: "cors" | "same-origin";
  cache?: "default" | "no-store" | "reload" | "no-cache" | "force-cache";
  referrerPolicy?: ReferrerPolicy;
}

/** Options of `new WidgetTokenManager(...)`. Unknown keys are rejected. */
export interface WidgetTokenManagerOptions {
  /** Your backend's token endpoint: GET → 200 {"token", "expiresAt"}. Required. */
  tokenUrl: string;
  /** Organisation: adds ?org=<id> and uses tag id operator-chat-panel-script-<org>. */
  org?: string;
  /** The widget module (default https://widget.smsbat.com/operator-chat-panel/widget-script.js); https: only (http: for localhost). */
  widgetSrc?: string;
  /** Where the loading state and the fallback render (default document.body). */
  container?: string | Element;
  /** Safety-net check period in ms (default 3 600 000). */
  checkIntervalMs?: number;
  /** Refresh this long before expiry (default min(1 h, 20% of the token's lifetime)). */
  refreshMarginMs?: number;
  /** Per-request timeout in ms (default 10 000). */
  requestTimeoutMs?: number;
  /** Retries of network errors, timeouts and 5xx per round (default 3). */
  maxRetries?: number;
  /** First backoff step in ms of the quick attempts; doubles with jitter (default 500). Background retries start at twenty times this (at least maxRetryDelayMs / 30). */
  retryDelayMs?: number;
  /** The longest wait in ms between background retries (default 300 000, 5 minutes). */
  maxRetryDelayMs?: number;
  /** Request settings for the token call (default credentials "same-origin"). */
  fetchInit?: WidgetFetchInit;
  /** The contact box, or false for none. */
  fallback?: WidgetFallbackOptions | false;
  /** CSP nonce for the widget tag and the loader's style element (default: the page's, read from its scripts). */
  nonce?: string;
  /** Subresource-integrity hash for the widget tag. */
  integrity?: string;
  /** crossorigin attribute of the widget tag. */
  crossOrigin?: "anonymous" | "use-credentials";
  /**
   * How a new token reaches the widget: "module" (default) re-evaluates the widget
   * module under a new URL; "attribute" only updates the tag's token attribute.
   */
  reload?: "module" | "attribute";
  /** Selector of the widget's own UI, removed before the widget is evaluated again. */
  widgetSelector?: string;
  /** Text of the loading status (default "Loading chat…"). */
  loadingText?: string;
  /**
   * When initialize() starts loading (the state stays "idle" until then): "eager"
   * (default) at once; "idle" when the browser is idle; "visible" when the container
   * scrolls into view; "interaction" at the first pointerdown, keydown, touchstart,
   * scroll or wheel. refreshToken() starts it at once.
   */
  trigger?: "eager" | "idle" | "visible" | "interaction";
}

/** detail of the window event "chathub:statechange". */
export interface WidgetStateChangeDetail {
  org: string | null;
  state: WidgetTokenManagerState;
  previous: WidgetTokenManagerState;
  error: { code: WidgetTokenErrorCode; message: string; status?: number } | null;
}

declare global {
  interface WindowEventMap {
    "chathub:statechange": CustomEvent<WidgetStateChangeDetail>;
  }
}
"#;
