// `npm pack --dry-run --json` of pkg/: the package ships what the README
// promises (glue, types, wasm) and nothing else (no sources, no tests).
import { readFileSync } from "node:fs";
import assert from "node:assert/strict";

const [pack] = JSON.parse(readFileSync(process.argv[2], "utf8"));
const files = pack.files.map((f) => f.path).sort();
for (const need of ["chathub_loader.js", "chathub_loader.d.ts", "chathub_loader_bg.wasm", "auto.js", "fallback.js", "fallback.d.ts", "react.js", "react.d.ts", "vue.js", "vue.d.ts", "package.json", "README.md"]) {
  assert.ok(files.includes(need), `npm pack includes ${need} (has: ${files.join(", ")})`);
}
for (const f of files) assert.ok(!/\.(rs|map|tgz)$|^src\/|^tests\//.test(f), `npm pack leaves out ${f}`);
assert.equal(pack.name, "chathub-loader");
console.log(`check-pack: ${pack.name}@${pack.version}, ${files.length} files, ${pack.size} bytes packed`);
