// Server-side rendering: importing the package where there is no window
// must not throw; constructing there must throw a clear, typed error.
import { readFileSync } from "node:fs";
import assert from "node:assert/strict";

assert.equal(typeof globalThis.window, "undefined");
const mod = await import("../../pkg/chathub_loader.js");
assert.equal(typeof mod.WidgetTokenManager, "function", "import works without a window");
const bytes = readFileSync(new URL("../../pkg/chathub_loader_bg.wasm", import.meta.url));
// Damaged bytes: a typed error with the engine's reason, and nothing kept.
assert.throws(() => mod.initSync({ module: bytes.subarray(0, 1000) }), (e) => e.code === "WASM_COMPILE" && /failed to compile \(.+\)/.test(e.message));
mod.initSync({ module: bytes });
let error;
try {
  new mod.WidgetTokenManager({ tokenUrl: "/api/chathub/token" });
} catch (e) {
  error = e;
}
assert.ok(error instanceof Error, "constructing without a window throws an Error");
assert.equal(error.code, "UNSUPPORTED_ENVIRONMENT");
assert.match(error.message, /browser/);
console.log("ssr-import: import is safe, construction says:", error.message);
