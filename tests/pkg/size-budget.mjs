// Fails when the shipped wasm + JS glue (brotli -q 11) exceed the budget
// written in docs/performance.md ("Size budget: N bytes"). Prints the figures.
import { readFileSync } from "node:fs";
import { brotliCompressSync, gzipSync, constants } from "node:zlib";

const root = new URL("../../", import.meta.url);
const doc = readFileSync(new URL("docs/performance.md", root), "utf8");
const m = doc.match(/Size budget: ([\d,]+) bytes/);
if (!m) {
  console.error("size-budget: docs/performance.md has no 'Size budget: N bytes' line");
  process.exit(1);
}
const budget = Number(m[1].replace(/,/g, ""));
const br = (b) => brotliCompressSync(b, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }).length;
const gz = (b) => gzipSync(b, { level: 9 }).length;
// wasm-bindgen imports js/dom.js as a namespace when one of its imports
// needs no conversion; esbuild then fills the namespace with a
// `for (name in exports)` that a polluted Object.prototype turns into a
// TypeError at load (see mono_now_js in src/driver.rs).
const glue = readFileSync(new URL("pkg/chathub_loader.js", root), "utf8");
if (/for\(var \w+ in \w+\)\w+\(\w+,\w+,\{get:/.test(glue)) {
  console.error("size-budget: the glue imports js/dom.js as a namespace (an import bound without conversion); see mono_now_js in src/driver.rs");
  process.exit(1);
}
let total = 0;
for (const f of ["chathub_loader_bg.wasm", "chathub_loader.js"]) {
  const bytes = readFileSync(new URL(`pkg/${f}`, root));
  total += br(bytes);
  console.log(`size: ${f.padEnd(24)} raw ${bytes.length}  gzip ${gz(bytes)}  brotli ${br(bytes)}`);
}
console.log(`size: total brotli ${total} bytes (budget ${budget})`);
if (total > budget) {
  console.error(`size-budget: ${total} bytes brotli is over the budget of ${budget} (docs/performance.md); find what grew with twiggy (see its "Size")`);
  process.exit(1);
}
