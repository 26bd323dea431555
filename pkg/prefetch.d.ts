import type { WidgetTokenManagerOptions } from "./chathub_loader.js";

/**
 * Starts the token request that `new WidgetTokenManager(options)` will
 * make, now, beside the download of the loader's glue and `.wasm`: call
 * it before `init()`. The manager's first request with the same URL and
 * `fetchInit` takes its answer (no second request) and checks it as any
 * answer. Asks nothing with a `trigger` other than "eager", once the
 * `.wasm` is loaded, where WebAssembly cannot run, or with a `tokenUrl`,
 * `org` or `fetchInit` the constructor would refuse; an answer nobody
 * takes within 10 s of its request (or when `init()` fails) is dropped.
 * Reads the options' own properties. Never throws; returns whether a
 * request is pending.
 */
export function prefetchToken(options: WidgetTokenManagerOptions): boolean;
