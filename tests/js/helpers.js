// Browser-side helpers for the wasm-bindgen tests (imported by tests/common).
export async function scriptEndpoint(base, id, steps) {
  const r = await fetch(`${base}/s/${id}/script`, { method: "POST", body: JSON.stringify(steps) });
  if (!r.ok) throw new Error(`test server refused the script: ${r.status}`);
}
export async function endpointStats(base, id) {
  return (await fetch(`${base}/s/${id}/stats`)).json();
}
export function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}
export function tagsWithId(id) {
  return [...document.querySelectorAll("script[id]")].filter((s) => s.id === id);
}
export function evaluations(tagId) {
  return ((window.__testWidget && window.__testWidget.evaluations) || []).filter((e) => e.id === tagId);
}
// Evaluations and panels of widget modules whose URL contains `part`
// (a module script removed before it evaluates cannot find its tag).
export function evaluationsFrom(part) {
  return ((window.__testWidget && window.__testWidget.evaluations) || []).filter((e) => e.url.includes(part));
}
export function panelsFrom(part) {
  return [...document.querySelectorAll(".test-widget-panel")].filter((p) => p.dataset.src.includes(part));
}
export function panels(tagId) {
  return [...document.querySelectorAll(".test-widget-panel")].filter((p) => p.dataset.tagId === tagId);
}
export function startStateLog() {
  const log = [];
  const listener = (e) => log.push(e.detail);
  window.addEventListener("chathub:statechange", listener);
  return { log, stop: () => window.removeEventListener("chathub:statechange", listener) };
}
// Watches the document and remembers the most tags with `id` ever present at once.
export function watchTagCount(id) {
  const state = { max: tagsWithId(id).length };
  const obs = new MutationObserver(() => { state.max = Math.max(state.max, tagsWithId(id).length); });
  obs.observe(document, { childList: true, subtree: true });
  state.stop = () => { obs.takeRecords(); state.max = Math.max(state.max, tagsWithId(id).length); obs.disconnect(); return state.max; };
  return state;
}
export async function errorOf(promise) {
  try {
    await promise;
    return null;
  } catch (e) {
    return e;
  }
}
export function waitForRequests(base, id, n, timeoutMs) {
  return waitUntil(async () => (await endpointStats(base, id)).requests >= n, timeoutMs);
}
export async function waitUntil(pred, timeoutMs) {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await pred()) return true;
    await sleep(20);
  }
  return false;
}
// An error as the browser reports an uncaught one from the script at `filename`.
export function fireWindowError(message, filename) {
  window.dispatchEvent(new ErrorEvent("error", { message, filename }));
}
// Destroys `manager` (a WidgetTokenManager handle) from a page listener
// when focus leaves `el`, as a host app's focus handling might: page code
// that runs synchronously while the loader removes `el` (or an ancestor).
// Chromium fires focusout when a focused element is removed; Firefox and
// WebKit fire nothing then. There, page code runs inside the same removal
// through a custom element's disconnectedCallback (a custom-element
// reaction, run before the DOM call returns, in every engine): a probe
// element inside `el` does the same destroy() at that point.
export function destroyOnFocusOut(el, manager) {
  el.addEventListener("focusout", () => manager.destroy());
  if (!focusoutOnRemoval()) {
    const probe = document.createElement("chathub-test-removal-probe");
    probe.onRemoved = () => manager.destroy();
    el.appendChild(probe);
  }
}
let focusoutOnRemovalSeen;
function focusoutOnRemoval() {
  if (focusoutOnRemovalSeen === undefined) {
    const had = document.activeElement;
    const b = document.createElement("button");
    document.body.appendChild(b);
    b.focus();
    focusoutOnRemovalSeen = false;
    b.addEventListener("focusout", () => (focusoutOnRemovalSeen = true));
    b.remove();
    if (had instanceof HTMLElement) had.focus();
  }
  return focusoutOnRemovalSeen;
}
if (!customElements.get("chathub-test-removal-probe")) {
  customElements.define(
    "chathub-test-removal-probe",
    class extends HTMLElement {
      disconnectedCallback() {
        this.onRemoved?.();
      }
    },
  );
}
// Destroys `manager` from a chathub:statechange listener when it reports `state`.
export function destroyOnState(manager, state) {
  const listener = (e) => {
    if (e.detail.state === state) {
      window.removeEventListener("chathub:statechange", listener);
      manager.destroy();
    }
  };
  window.addEventListener("chathub:statechange", listener);
}
// Calls refreshToken() on a handle held by JavaScript.
export function refreshVia(manager) {
  return manager.refreshToken();
}
// Gives `el` focus (making it focusable first), as a user's click would.
export function focusOn(el) {
  el.tabIndex = -1;
  el.focus();
  return document.activeElement === el;
}
export function fireRejection(message) {
  window.dispatchEvent(new PromiseRejectionEvent("unhandledrejection", { promise: Promise.resolve(), reason: new Error(message) }));
}
export function fire(target, type) {
  (target === "document" ? document : window).dispatchEvent(new Event(type));
}
export function addStaticTag(id, src, token) {
  const s = document.createElement("script");
  s.id = id;
  s.setAttribute("token", token);
  s.setAttribute("data-static", "1");
  // Not executable: a static tag the page shipped, seen before the loader runs.
  s.type = "text/plain";
  s.src = src;
  document.body.appendChild(s);
  return s;
}
export function makeContainer(id) {
  const div = document.createElement("div");
  div.id = id;
  document.body.appendChild(div);
  return div;
}
export async function setWidgetStatus(base, id, status) {
  await fetch(`${base}/s/${id}/widget-status`, { method: "POST", body: String(status) });
}
export async function setWidgetDelay(base, id, ms) {
  await fetch(`${base}/s/${id}/widget-delay`, { method: "POST", body: String(ms) });
}
// A widget tag the page shipped in its HTML, executable: a module script
// with `token`, in <body>; resolves once it has loaded (and so evaluated).
export function addModuleTag(id, src, token) {
  const s = document.createElement("script");
  s.type = "module";
  s.id = id;
  s.setAttribute("token", token);
  s.setAttribute("data-static", "1");
  const loaded = new Promise((ok, fail) => {
    s.addEventListener("load", () => ok(s), { once: true });
    s.addEventListener("error", () => fail(new Error("the static widget tag did not load")), { once: true });
  });
  s.src = src;
  document.body.appendChild(s);
  return loaded;
}
// Watches the document: `seen` becomes true if, after any change, an
// element matching `a` and one matching `b` are both in it.
export function watchBeside(a, b) {
  const state = { seen: false };
  const look = () => {
    if (document.querySelector(a) && document.querySelector(b)) state.seen = true;
  };
  const obs = new MutationObserver(look);
  obs.observe(document, { childList: true, subtree: true, attributes: true });
  look();
  state.stop = () => { obs.takeRecords(); look(); obs.disconnect(); return state.seen; };
  return state;
}
// `options` with fetchInit.headers given as a `Headers` instance.
export function withHeadersInstance(options, name, value) {
  options.fetchInit = { headers: new Headers([[name, value]]) };
  return options;
}
// Dispatches a window error with `message` from `filename` every `ms`
// until `stop()`; `count` is how many were fired.
export function fireWindowErrorEvery(message, filename, ms) {
  const state = { count: 0 };
  const id = setInterval(() => {
    state.count += 1;
    window.dispatchEvent(new ErrorEvent("error", { message, filename }));
  }, ms);
  state.stop = () => { clearInterval(id); return state.count; };
  return state;
}
// The loader's <style> element is in the document.
export function loaderStyleShown() {
  return !!document.getElementById("chathub-loader-style");
}

// browser_core.rs: a page whose fetch wrapper breaks.
// (Here, not in an inline_js of the test file: each snippet module is one
// more request to the test runner's page server, and with one more the
// page load stalled in most runs.)
export function breakFetch(kind) {
  const real = window.fetch;
  const errors = [];
  const onError = (e) => errors.push(String(e.message));
  window.addEventListener("error", onError);
  window.fetch = kind === "throw" ? () => { throw new Error("the page's fetch wrapper broke"); } : () => undefined;
  return { errors, restore: () => { window.fetch = real; window.removeEventListener("error", onError); } };
}
export function restoreFetch(h) { h.restore(); return h.errors; }
