import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

// `npm run build` writes dist/, which `chathub-token-server dev --www dist`
// serves next to the token endpoint and the stand-in widget (one origin).
// `npm run dev` proxies those paths to a dev server on CHATHUB_DEV
// (default http://127.0.0.1:8080, what `make demo` starts).
const backend = process.env.CHATHUB_DEV ?? "http://127.0.0.1:8080";

export default defineConfig({
  plugins: [react()],
  server: {
    proxy: { "/api/chathub": backend, "/operator-chat-panel": backend, "/fake-chathub": backend },
  },
});
