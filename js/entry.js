// The package's main entry (bundled by `make pkg` into pkg/chathub_loader.js
// with the wasm-bindgen glue, imported here as "chathub-glue"): the glue's
// exports, with `init()`/`initSync()` failures turned into typed errors
// (a stable `code`, a message that says what to fix). Importing it has no
// effects.
//
// The browser fact this rests on: a missing .wasm rarely looks missing.
// Vite's dev server prebundles the glue into node_modules/.vite/deps/ and
// the .wasm beside it 404s; a single-page app's server answers a missing
// file with its index.html (200, text/html), which the glue would try to
// compile. So `init()` fetches the .wasm itself and looks at the answer
// before the glue compiles it.
import glueInit, { initSync as glueInitSync, WidgetTokenManager as Manager } from "chathub-glue";

import { blocked } from "./dom.js";
import { dropPrefetched, LOADED } from "./net.js";

export * from "chathub-glue";

// Whether the .wasm is instantiated (by init() or initSync()); page-wide
// for prefetchToken (js/prefetch.js), which asks nothing after.
let loaded = false;
const setLoaded = () => (loaded = globalThis[LOADED] = true);

/**
 * The glue's class, with one check before it runs: constructed before
 * `init()` has loaded the .wasm (a missing `await`, or after a failed
 * init()), the glue would throw a bare TypeError from inside itself.
 * A Proxy, not a subclass: the class, its prototype and `instanceof`
 * stay the glue's own.
 */
export const WidgetTokenManager = new Proxy(Manager, {
  construct(target, args, newTarget) {
    if (!loaded)
      throw fail(
        "NOT_INITIALIZED",
        "the loader's WebAssembly is not loaded yet: await init() (the package's default export) before new WidgetTokenManager(), and construct it only if init() resolved",
      );
    return Reflect.construct(target, args, newTarget);
  },
});

function fail(code, why, cause, status) {
  const e = new Error("chathub-loader: " + why, { cause });
  e.code = code;
  if (status) e.status = status;
  return e;
}

const unsupported = (cause) =>
  fail(
    "UNSUPPORTED_ENVIRONMENT",
    "WebAssembly cannot run on this page (turned off in this browser, or the page's Content-Security-Policy lacks 'wasm-unsafe-eval' in script-src); show the contact box with showFallback() from \"chathub-loader/fallback\"",
    cause,
  );

/** What the glue throws while compiling or instantiating, typed. */
const failed = (e) =>
  blocked()
    ? unsupported(e)
    : fail(
        "WASM_COMPILE",
        `the .wasm failed to compile (${e?.message ?? e}): a damaged file, or one of another version than this chathub_loader.js (a stale cache?)`,
        e,
      );

const SERVE =
  ', not the .wasm: serve chathub_loader_bg.wasm beside chathub_loader.js or pass its URL to init() (Vite dev server: optimizeDeps.exclude "chathub-loader")';

/** The .wasm's answer, or a typed error for one that cannot be it. */
async function fetched(src) {
  try {
    src = await src;
    if (typeof src == "string" || src instanceof URL || src instanceof Request) src = await fetch(src);
  } catch (e) {
    throw fail("WASM_NETWORK", `could not fetch ${src?.url ?? src} (offline? CSP connect-src? CORS?)`, e);
  }
  if (src instanceof Response) {
    if (!src.ok) throw fail("WASM_HTTP", `${src.url} answered ${src.status}` + SERVE, 0, src.status);
    // Judged by its first bytes, not only its type: the real .wasm served
    // as text/html (a misconfigured server) still loads, more slowly.
    if (/html/.test(src.headers.get("content-type")) && !(await isWasm(src)))
      throw fail("WASM_HTML", `${src.url} answered an HTML page (an SPA fallback?)` + SERVE);
  }
  return src;
}

/** Whether the answer's body starts with WebAssembly's magic number (`\0asm`). */
async function isWasm(response) {
  try {
    const head = new Uint8Array(await response.clone().arrayBuffer(), 0, 4);
    return head.length == 4 && head[0] == 0 && head[1] == 97 && head[2] == 115 && head[3] == 109;
  } catch {
    return false;
  }
}

async function load(input) {
  if (typeof WebAssembly != "object") throw unsupported();
  const src = await fetched(
    (input && Object.getPrototypeOf(input) == Object.prototype ? input.module_or_path : input) ??
      new URL("chathub_loader_bg.wasm", import.meta.url),
  );
  let exports;
  try {
    exports = await glueInit({ module_or_path: src });
  } catch (e) {
    throw failed(e);
  }
  setLoaded();
  // Yields to the event loop: the end of the streaming compile and the
  // instantiation run in one task, what the caller does next (the first
  // calls into the .wasm, each function compiled on its first call) in
  // another, so the two do not add up to one long task.
  await new Promise((r) => setTimeout(r));
  return exports;
}

let loading;
/**
 * Loads the loader's WebAssembly module (see the glue's `init`), once per
 * page: calls while it loads share it; after a failure the next call
 * tries again. Rejects with a typed error: UNSUPPORTED_ENVIRONMENT,
 * WASM_NETWORK, WASM_HTTP (with `status`), WASM_HTML or WASM_COMPILE.
 */
export default function init(input) {
  if (!loading) {
    loading = load(input);
    loading.catch(() => {
      loading = undefined;
      // No manager will take a token asked for early.
      dropPrefetched();
    });
  }
  return loading;
}

/** Synchronous `init` from a module or its bytes (UNSUPPORTED_ENVIRONMENT, WASM_COMPILE). */
export function initSync(module) {
  if (typeof WebAssembly != "object") throw unsupported();
  let exports;
  try {
    exports = glueInitSync(module);
  } catch (e) {
    throw failed(e);
  }
  setLoaded();
  return exports;
}
