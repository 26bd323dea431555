// `npm start` (ng serve) proxies the token endpoint and the stand-in widget
// to a dev server on CHATHUB_DEV (default http://127.0.0.1:8080, what
// `make demo` starts). A build (`npm run build`) writes dist/, which
// `chathub-token-server dev --www dist` serves on one origin with them.
const target = process.env.CHATHUB_DEV ?? "http://127.0.0.1:8080";

export default Object.fromEntries(["/api/chathub", "/operator-chat-panel", "/fake-chathub"].map((path) => [path, { target }]));
