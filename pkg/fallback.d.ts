import type { WidgetTokenManagerOptions } from "./chathub_loader.js";

/**
 * Shows the loader's contact box from `options.fallback` without
 * WebAssembly (for when `init()` rejects with `UNSUPPORTED_ENVIRONMENT`),
 * in `options.container` (default `document.body`). Its button reloads the
 * page. Returns the box, or `null` with `fallback: false`. Throws an
 * `INVALID_OPTIONS` error for any `fallback` the loader refuses (the same
 * check, with the same message), `null` included. Reads the options' own
 * properties only; other options of a whole `WidgetTokenManagerOptions`
 * are ignored.
 */
export function showFallback(
  options?: Pick<WidgetTokenManagerOptions, "fallback" | "container" | "nonce">,
): HTMLElement | null;
