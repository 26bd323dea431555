// `npm pack --dry-run --json` of pkg/: the package ships what the README
// promises (glue, types, wasm) and nothing else (no sources, no tests).
import { readFileSync } from "node:fs";
import assert from "node:assert/strict";

const [pack] = JSON.parse(readFileSync(process.argv[2], "utf8"));
const files = pack.files.map((f) => f.path).sort();
for (const need of ["chathub_loader.js", "chathub_loader.d.ts", "chathub_loader_bg.wasm", "auto.js", "prefetch.js", "prefetch.d.ts", "fallback.js", "fallback.d.ts", "react.js", "react.d.ts", "vue.js", "vue.d.ts", "package.json", "README.md"]) {
  assert.ok(files.includes(need), `npm pack includes ${need} (has: ${files.join(", ")})`);
}
for (const f of files) assert.ok(!/\.(rs|map|tgz)$|^src\/|^tests\//.test(f), `npm pack leaves out ${f}`);
assert.equal(pack.name, "chathub-loader");
// package.json says nothing that goes stale or false: no size in the
// description (the README's size table is the measured one), and the
// entries whose import does something (auto.js starts the tags) are the
// ones bundlers must keep (install-check.mjs bundles them).
const manifest = JSON.parse(readFileSync(new URL("../../pkg/package.json", import.meta.url), "utf8"));
assert.ok(manifest.description && !/\d\s*(K|KB|KiB|kB)\b/.test(manifest.description), `description without a size: ${manifest.description}`);
assert.deepEqual(manifest.sideEffects, ["./auto.js"], "sideEffects: only auto.js runs on import");
for (const f of manifest.sideEffects) assert.ok(files.includes(f.slice(2)), `sideEffects names a shipped file: ${f}`);
console.log(`check-pack: ${pack.name}@${pack.version}, ${files.length} files, ${pack.size} bytes packed`);
