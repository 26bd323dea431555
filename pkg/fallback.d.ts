import type { WidgetTokenManagerOptions } from "./chathub_loader.js";

/**
 * Shows the loader's contact box from `options.fallback` without
 * WebAssembly (for when `init()` rejects with `UNSUPPORTED_ENVIRONMENT`),
 * in `options.container` (default `document.body`). Its button reloads the
 * page. Returns the box, or `null` with `fallback: false`. Throws an
 * `INVALID_OPTIONS` error for an e-mail, phone or URL the loader refuses.
 */
export function showFallback(
  options?: Pick<WidgetTokenManagerOptions, "fallback" | "container" | "nonce">,
): HTMLElement | null;
