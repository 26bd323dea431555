import { cpSync, mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { defineConfig } from "astro/config";

// auto.js and the three files it imports next to it, from the installed
// package into public/vendor/chathub-loader/ (served as they are, by
// `astro dev` and in the build).
const chathubLoader = {
  name: "chathub-loader",
  hooks: {
    "astro:config:setup": ({ config }) => {
      const pkg = dirname(createRequire(import.meta.url).resolve("chathub-loader/package.json"));
      const vendor = new URL("vendor/chathub-loader/", config.publicDir);
      mkdirSync(vendor, { recursive: true });
      for (const file of ["auto.js", "chathub_loader.js", "chathub_loader_bg.wasm", "fallback.js"]) {
        cpSync(join(pkg, file), new URL(file, vendor));
      }
    },
  },
};

// `astro dev` proxies the token endpoint (and the dev server's stand-in
// widget and fake ChatHub API) to chathub-token-server on CHATHUB_DEV
// (default http://127.0.0.1:8080, what `make demo` starts).
const backend = process.env.CHATHUB_DEV ?? "http://127.0.0.1:8080";
const proxy = Object.fromEntries(["/api/chathub", "/operator-chat-panel", "/fake-chathub"].map((path) => [path, backend]));

export default defineConfig({
  integrations: [chathubLoader],
  // Page scripts as files (never inlined): a CSP with script-src 'self' runs them.
  vite: { build: { assetsInlineLimit: 0 }, server: { proxy } },
});
