// Type tests of the public surface: compiled by `tsc --noEmit` in make test.
// Every @ts-expect-error must be an error, or tsc fails.
import init, { WidgetTokenManager } from "../../pkg/chathub_loader.js";
import { prefetchToken } from "../../pkg/prefetch.js";
import { showFallback } from "../../pkg/fallback.js";
import type {
  WidgetTokenManagerOptions,
  WidgetTokenManagerState,
  WidgetStateChangeDetail,
  WidgetTokenError,
  WidgetTokenErrorCode,
} from "../../pkg/chathub_loader.js";

export async function typed(): Promise<void> {
  await init();
  const options: WidgetTokenManagerOptions = {
    tokenUrl: "/api/chathub/token",
    org: "sales",
    container: document.body,
    fallback: { title: "Chat", email: "help@example.com" },
    fetchInit: { credentials: "include", headers: { "X-Site": "1" } },
    reload: "module",
  };
  const manager = new WidgetTokenManager(options);
  // Headers as fetch takes them too.
  new WidgetTokenManager({ tokenUrl: "/t", fetchInit: { headers: new Headers({ Authorization: "Bearer x" }) } }).destroy();
  new WidgetTokenManager({ tokenUrl: "/t", fetchInit: { headers: [["Authorization", "Bearer x"]] } }).destroy();
  // @ts-expect-error header values are strings
  new WidgetTokenManager({ tokenUrl: "/t", fetchInit: { headers: { "X-Site": 1 } } });
  const ready: Promise<void> = manager.initialize();
  await ready;
  await manager.refreshToken();
  const state: WidgetTokenManagerState = manager.state;
  const expires: Date | undefined = manager.expiresAt;
  void state;
  void expires;
  manager.destroy();

  window.addEventListener("chathub:statechange", (e) => {
    const detail: WidgetStateChangeDetail = e.detail;
    if (detail.error) {
      const code: string = detail.error.code;
      void code;
    }
  });
  try {
    await manager.initialize();
  } catch (e) {
    const err = e as WidgetTokenError;
    if (err.code === "TOKEN_HTTP") void err.status;
  }

  // @ts-expect-error tokenUrl is required
  new WidgetTokenManager({ org: "sales" });
  // @ts-expect-error unknown option
  new WidgetTokenManager({ tokenUrl: "/t", tokenURL: "/t" });
  // @ts-expect-error checkIntervalMs is a number
  new WidgetTokenManager({ tokenUrl: "/t", checkIntervalMs: "1h" });
  // @ts-expect-error fallback is an object or false
  new WidgetTokenManager({ tokenUrl: "/t", fallback: true });
  // @ts-expect-error reload is "module" | "attribute"
  new WidgetTokenManager({ tokenUrl: "/t", reload: "page" });
  // @ts-expect-error an opaque answer has no token: "no-cors" is refused
  new WidgetTokenManager({ tokenUrl: "/t", fetchInit: { mode: "no-cors" } });
  // @ts-expect-error "only-if-cached" makes fetch throw
  new WidgetTokenManager({ tokenUrl: "/t", fetchInit: { cache: "only-if-cached" } });
  // @ts-expect-error referrerPolicy is a ReferrerPolicy
  new WidgetTokenManager({ tokenUrl: "/t", fetchInit: { referrerPolicy: "sometimes" } });
  new WidgetTokenManager({ tokenUrl: "/t", fetchInit: { referrerPolicy: "no-referrer", mode: "same-origin" } });
  new WidgetTokenManager({ tokenUrl: "/t", maxRetryDelayMs: 60_000, integrity: "sha384-x", crossOrigin: "anonymous" });
  new WidgetTokenManager({ tokenUrl: "/t", trigger: "interaction" });
  // @ts-expect-error trigger is "eager" | "idle" | "visible" | "interaction"
  new WidgetTokenManager({ tokenUrl: "/t", trigger: "lazy" });
  // @ts-expect-error maxRetryDelayMs is a number
  new WidgetTokenManager({ tokenUrl: "/t", maxRetryDelayMs: "5m" });

  // init() rejects with a typed error: where the .wasm could not be loaded
  // (WASM_*), or where WebAssembly cannot run (UNSUPPORTED_ENVIRONMENT).
  try {
    await init({ module_or_path: "/assets/chathub_loader_bg.wasm" });
  } catch (e) {
    const err = e as WidgetTokenError;
    // A case the union lacks would not compile.
    switch (err.code) {
      case "WASM_HTTP": {
        const status: number | undefined = err.status;
        void status;
        break;
      }
      case "WASM_NETWORK":
      case "WASM_HTML":
      case "WASM_COMPILE":
      case "UNSUPPORTED_ENVIRONMENT":
        break;
    }
  }
  // @ts-expect-error not a code the loader uses
  const notACode: WidgetTokenErrorCode = "WASM_404";
  void notACode;

  // Without WebAssembly: init() rejects with UNSUPPORTED_ENVIRONMENT.
  const box: HTMLElement | null = showFallback({ fallback: { email: "help@example.com" }, container: "#chat" });
  void box;
  showFallback({ fallback: false });
  // @ts-expect-error showFallback takes the fallback options, not a token URL
  showFallback({ tokenUrl: "/t" });

  // @ts-expect-error state is read-only and typed
  const bad: "nope" = manager.state;
  void bad;
}

// prefetchToken: the manager's options, a boolean back.
const asked: boolean = prefetchToken({ tokenUrl: "/api/chathub/token", org: "sales" });
void asked;
// @ts-expect-error a URL alone is no options object
prefetchToken("/api/chathub/token");
