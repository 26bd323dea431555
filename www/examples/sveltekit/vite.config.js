import { sveltekit } from "@sveltejs/kit/vite";
import { defineConfig } from "vite";

// `vite dev` and `vite preview` proxy the token endpoint (and the dev
// server's stand-in widget and fake ChatHub API) to chathub-token-server
// on CHATHUB_DEV (default http://127.0.0.1:8080, what `make demo` starts).
const backend = process.env.CHATHUB_DEV ?? "http://127.0.0.1:8080";
const proxy = Object.fromEntries(["/api/chathub", "/operator-chat-panel", "/fake-chathub"].map((path) => [path, backend]));

export default defineConfig({
  plugins: [sveltekit()],
  // `vite dev` serves chathub-loader as installed: pre-bundled into
  // node_modules/.vite/deps, its glue would look for the .wasm there (404).
  optimizeDeps: { exclude: ["chathub-loader"] },
  server: { proxy },
  preview: { proxy },
});
