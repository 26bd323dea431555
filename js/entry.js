// The package's main entry (bundled by `make pkg` into pkg/chathub_loader.js
// with the wasm-bindgen glue, imported here as "chathub-glue"): the glue's
// exports, with `init()`/`initSync()` turning "WebAssembly cannot run here"
// into a typed UNSUPPORTED_ENVIRONMENT error. Importing it has no effects.
import glueInit, { initSync as glueInitSync } from "chathub-glue";

export * from "chathub-glue";

/** WebAssembly is off, or the page's CSP forbids compiling it. */
function blocked(e) {
  return (
    typeof WebAssembly != "object" ||
    e instanceof WebAssembly.CompileError ||
    e instanceof EvalError ||
    /Content.Security.Policy|CSP|unsafe-eval/i.test(String(e?.message))
  );
}

function unsupported(cause) {
  const e = new Error(
    "chathub-loader: WebAssembly cannot run on this page (turned off in this browser, or the page's Content-Security-Policy lacks 'wasm-unsafe-eval' in script-src); show the contact box with showFallback() from \"chathub-loader/fallback\"",
    { cause },
  );
  e.code = "UNSUPPORTED_ENVIRONMENT";
  return e;
}

/** Loads the loader's WebAssembly module (see the glue's `init`). */
export default async function init(input) {
  if (typeof WebAssembly != "object") throw unsupported();
  try {
    return await glueInit(input);
  } catch (e) {
    throw blocked(e) ? unsupported(e) : e;
  }
}

/** Synchronous `init` from a module or its bytes. */
export function initSync(module) {
  if (typeof WebAssembly != "object") throw unsupported();
  try {
    return glueInitSync(module);
  } catch (e) {
    throw blocked(e) ? unsupported(e) : e;
  }
}
