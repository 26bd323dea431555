// Shortens the names of the wasm module's imports (wasm-bindgen names them
// `__wbg_<name>_<16 hex digits>`) in both the `.wasm` and the JS glue that
// provides them: ~6 KB of names that brotli cannot squeeze (the hashes).
// Exports keep their names (the `_bg.wasm.d.ts` describes them), and so do
// imports taken straight from JS snippets (`#[wasm_bindgen(module = …)]`).
//
//   node scripts/minify-imports.mjs pkg/chathub_loader_bg.wasm pkg/chathub_loader.js
//
// Runs after wasm-bindgen + wasm-opt, before esbuild. Fails loudly (and
// changes nothing) when the glue does not define every import exactly once.
import fs from "node:fs";

const [wasmPath, jsPath] = process.argv.slice(2);
const wasm = fs.readFileSync(wasmPath);
let js = fs.readFileSync(jsPath, "utf8");

function leb(buf, pos) {
  let result = 0, shift = 0, byte;
  do {
    byte = buf[pos++];
    result |= (byte & 0x7f) << shift;
    shift += 7;
  } while (byte & 0x80);
  return [result >>> 0, pos];
}
function encLeb(n) {
  const out = [];
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n) byte |= 0x80;
    out.push(byte);
  } while (n);
  return Buffer.from(out);
}
const encName = (s) => {
  const b = Buffer.from(s, "utf8");
  return Buffer.concat([encLeb(b.length), b]);
};
// Reads a `limits` (table/memory) and returns the position after it.
function skipLimits(buf, pos) {
  const flags = buf[pos++];
  [, pos] = leb(buf, pos);
  if (flags & 1) [, pos] = leb(buf, pos);
  return pos;
}

const GLUE_MODULE = "./chathub_loader_bg.js";
const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
const shortName = (i) => {
  let s = "";
  do {
    s += alphabet[i % alphabet.length];
    i = Math.floor(i / alphabet.length) - 1;
  } while (i >= 0);
  return s;
};

if (wasm.readUInt32LE(0) !== 0x6d736100) throw new Error(`${wasmPath}: not a wasm module`);
const parts = [wasm.subarray(0, 8)];
const renames = new Map();
let pos = 8;
while (pos < wasm.length) {
  const id = wasm[pos];
  const [size, body] = leb(wasm, pos + 1);
  const end = body + size;
  if (id !== 2) {
    parts.push(wasm.subarray(pos, end));
    pos = end;
    continue;
  }
  let [count, p] = leb(wasm, body);
  const entries = [encLeb(count)];
  for (let i = 0; i < count; i++) {
    let len;
    [len, p] = leb(wasm, p);
    const module = wasm.toString("utf8", p, p + len);
    p += len;
    [len, p] = leb(wasm, p);
    const name = wasm.toString("utf8", p, p + len);
    p += len;
    const descStart = p;
    const kind = wasm[p++];
    if (kind === 0) [, p] = leb(wasm, p); // func: type index
    else if (kind === 1) p = skipLimits(wasm, p + 1); // table: reftype, limits
    else if (kind === 2) p = skipLimits(wasm, p); // memory
    else if (kind === 3) p += 2; // global: valtype, mut
    else throw new Error(`import ${module}.${name}: unknown kind ${kind}`);
    // Only the glue's own imports object; snippet modules keep their names.
    let newName = name;
    if (module === GLUE_MODULE) {
      if (!renames.has(name)) renames.set(name, shortName(renames.size));
      newName = renames.get(name);
    }
    entries.push(encName(module), encName(newName), wasm.subarray(descStart, p));
  }
  if (p !== end) throw new Error("import section: unexpected trailing bytes");
  const content = Buffer.concat(entries);
  parts.push(Buffer.from([2]), encLeb(content.length), content);
  pos = end;
}

// Each import is defined once in the glue, as `    name: function(...` in
// the imports object: rename exactly those definitions.
for (const [name, short] of renames) {
  const def = new RegExp(`^(\\s+)${name}(: )`, "gm");
  const uses = js.match(new RegExp(`\\b${name}\\b`, "g")) || [];
  const defs = js.match(def) || [];
  if (defs.length !== 1 || uses.length !== 1)
    throw new Error(`${jsPath}: import ${name} is defined ${defs.length}x and named ${uses.length}x (expected 1)`);
  js = js.replace(def, `$1${short}$2`);
}
fs.writeFileSync(wasmPath, Buffer.concat(parts));
fs.writeFileSync(jsPath, js);
console.log(`minify-imports: ${renames.size} imports renamed`);
