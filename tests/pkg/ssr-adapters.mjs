// Server-side rendering with the adapters: a component using useChatHub
// renders on the server (no window) with state "idle", starts nothing and
// throws nothing; the chat starts in the browser only (useEffect, onMounted).
import assert from "node:assert/strict";
import { createElement } from "react";
import { renderToString as renderReact } from "react-dom/server";
import { createSSRApp, h } from "vue";
import { renderToString as renderVue } from "vue/server-renderer";

assert.equal(typeof globalThis.window, "undefined");

const { useChatHub: useReactChat } = await import("../../pkg/react.js");
function ReactChat() {
  const { state, error, expiresAt } = useReactChat({ tokenUrl: "/api/chathub/token", container: "#chat" });
  return createElement("div", { id: "chat", "data-state": state, "data-error": String(error), "data-expires": String(expiresAt) });
}
const reactHtml = renderReact(createElement(ReactChat));
assert.match(reactHtml, /data-state="idle" data-error="null" data-expires="undefined"/, reactHtml);

const { useChatHub: useVueChat } = await import("../../pkg/vue.js");
const app = createSSRApp({
  setup() {
    const { state, error } = useVueChat({ tokenUrl: "/api/chathub/token", container: "#chat" });
    return () => h("div", { id: "chat", "data-state": state.value, "data-error": String(error.value) });
  },
});
const vueHtml = await renderVue(app);
assert.match(vueHtml, /data-state="idle" data-error="null"/, vueHtml);

console.log("ssr-adapters: react and vue render on the server with state idle, nothing started");
