// The static example's build: no bundler. Copies the pages (src/) into
// dist/ and the four files a static page needs from the installed package
// into dist/vendor/chathub-loader/ (auto.js imports the other three, by
// relative URL, when its trigger fires).
import { cpSync, mkdirSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, "dist");
const pkg = dirname(createRequire(import.meta.url).resolve("chathub-loader/package.json"));
const vendor = join(dist, "vendor/chathub-loader");

rmSync(dist, { recursive: true, force: true });
cpSync(join(here, "src"), dist, { recursive: true });
mkdirSync(vendor, { recursive: true });
for (const file of ["auto.js", "chathub_loader.js", "chathub_loader_bg.wasm", "fallback.js"]) {
  cpSync(join(pkg, file), join(vendor, file));
}
console.log(`static example: ${dist}`);
