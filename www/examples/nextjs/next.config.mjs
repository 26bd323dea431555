// The token endpoint on this app's origin: `next start` and `next dev`
// proxy it to chathub-token-server on CHATHUB_DEV (default
// http://127.0.0.1:8080, what `make demo` starts), and with it the dev
// server's stand-in widget and fake ChatHub API. Rewrites are fixed by
// `next build`: set CHATHUB_DEV for the build.
const backend = process.env.CHATHUB_DEV ?? "http://127.0.0.1:8080";

export default {
  async rewrites() {
    return ["/api/chathub", "/operator-chat-panel", "/fake-chathub"].map((path) => ({
      source: `${path}/:rest*`,
      destination: `${backend}${path}/:rest*`,
    }));
  },
};
