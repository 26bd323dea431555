// The package's main entry (bundled by `make pkg` into pkg/chathub_loader.js
// with the wasm-bindgen glue, imported here as "chathub-glue"): the glue's
// exports, with `init()`/`initSync()` turning "WebAssembly cannot run here"
// into a typed UNSUPPORTED_ENVIRONMENT error. Importing it has no effects.
import glueInit, { initSync as glueInitSync } from "chathub-glue";

export * from "chathub-glue";

/**
 * WebAssembly cannot run here: it is missing, or compiling and
 * instantiating the smallest module fails (a CSP without
 * 'wasm-unsafe-eval', WebAssembly turned off). WebKit compiles it under
 * such a CSP and refuses only the instance ("Refused to create a
 * WebAssembly object"), so both are tried. A .wasm that is missing or not
 * WebAssembly (a 404, an HTML page served for its path) is not this: its
 * error goes through as it is.
 */
function blocked() {
  try {
    new WebAssembly.Instance(new WebAssembly.Module(Uint8Array.of(0, 97, 115, 109, 1, 0, 0, 0)));
    return false;
  } catch {
    return true;
  }
}

function unsupported(cause) {
  const e = new Error(
    "chathub-loader: WebAssembly cannot run on this page (turned off in this browser, or the page's Content-Security-Policy lacks 'wasm-unsafe-eval' in script-src); show the contact box with showFallback() from \"chathub-loader/fallback\"",
    { cause },
  );
  e.code = "UNSUPPORTED_ENVIRONMENT";
  return e;
}

/**
 * Loads the loader's WebAssembly module (see the glue's `init`), then
 * yields to the event loop: the end of the streaming compile and the
 * instantiation run in one task, what the caller does next (the first
 * calls into the .wasm, each function compiled on its first call) in
 * another, so the two do not add up to one long task.
 */
export default async function init(input) {
  if (typeof WebAssembly != "object") throw unsupported();
  let exports;
  try {
    exports = await glueInit(input);
  } catch (e) {
    throw blocked() ? unsupported(e) : e;
  }
  await new Promise((r) => setTimeout(r));
  return exports;
}

/** Synchronous `init` from a module or its bytes. */
export function initSync(module) {
  if (typeof WebAssembly != "object") throw unsupported();
  try {
    return glueInitSync(module);
  } catch (e) {
    throw blocked() ? unsupported(e) : e;
  }
}
