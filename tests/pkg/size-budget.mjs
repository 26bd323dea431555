// Fails when the shipped wasm + JS glue (brotli -q 11) exceed the budget
// written in README.md ("Size budget: N bytes"). Prints the figures.
import { readFileSync } from "node:fs";
import { brotliCompressSync, gzipSync, constants } from "node:zlib";

const root = new URL("../../", import.meta.url);
const readme = readFileSync(new URL("README.md", root), "utf8");
const m = readme.match(/Size budget: ([\d,]+) bytes/);
if (!m) {
  console.error("size-budget: README.md has no 'Size budget: N bytes' line");
  process.exit(1);
}
const budget = Number(m[1].replace(/,/g, ""));
const br = (b) => brotliCompressSync(b, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }).length;
const gz = (b) => gzipSync(b, { level: 9 }).length;
let total = 0;
for (const f of ["chathub_loader_bg.wasm", "chathub_loader.js"]) {
  const bytes = readFileSync(new URL(`pkg/${f}`, root));
  total += br(bytes);
  console.log(`size: ${f.padEnd(24)} raw ${bytes.length}  gzip ${gz(bytes)}  brotli ${br(bytes)}`);
}
console.log(`size: total brotli ${total} bytes (budget ${budget})`);
if (total > budget) {
  console.error(`size-budget: ${total} bytes brotli is over the README budget of ${budget}; find what grew with twiggy (see README)`);
  process.exit(1);
}
