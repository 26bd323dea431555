// The package's plain-JS entries, end to end with the built package (make
// pkg), in Chromium, Firefox ESR and WebKitGTK over W3C WebDriver
// (tests/e2e/webdriver.mjs): the adapters' shared part (js/adapter.js,
// bundled here as make pkg bundles it into pkg/react.js and pkg/vue.js),
// the Angular guide's service (www/examples/angular/src/app/
// chathub.service.ts, docs/guides/angular.md's text word for word, its types stripped
// by TypeScript, on stubs of @angular/core), chathub-loader/fallback and
// chathub-loader/auto. Each step loads a page of its own from this file's
// server, which also serves pkg/, a scriptable token endpoint per step and
// a stand-in widget:
//
//   adapter/Angular refresh() before the trigger   it is the trigger: one request at once, ready
//   adapter/Angular refresh(), unmounted meanwhile  resolves (never rejects)
//   fallback.js under a polluted Object.prototype   nothing inherited shows (title, link)
//   adapter without WebAssembly, polluted           the same, through the adapter
//   one definition of `fallback`                     the loader and showFallback() accept and
//                                                    refuse the same values, with the same
//                                                    messages, and draw the same box
//   auto.js, visible, data-container="##bad"         one console.error INVALID_OPTIONS, nothing uncaught
//   auto.js, a tag inserted later (another org)      started too: both orgs ready
//   adapter, its .wasm 404s, then back               the box with WASM_HTTP; refresh(): ready
//   auto.js, its .wasm 404s, then back               the box and statechange WASM_HTTP; a later tag: ready
//   auto.js without WebAssembly                      the box and chathub:statechange
//                                                    {fallback, idle, UNSUPPORTED_ENVIRONMENT}
//   auto.js under a polluted Object.prototype        an inherited `trigger` waits for nothing
//   adapter, first chat; auto.js eager (slow .wasm)  one token request, made before the .wasm
//                                                    was answered; a tag with a trigger: none
//
//   xvfb-run -a node tests/e2e/entries.test.mjs [chromium] [firefox] [webkit]   (default: all three)
//
// WebKit's MiniBrowser needs a display (xvfb-run). No test framework:
// each step prints its time; exit code 0 when every step passed in every
// engine.

import http from "node:http";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { extname, resolve } from "node:path";
import { build } from "esbuild";
import ts from "typescript";
import { root } from "./dev-server.mjs";
import { ENGINES, startDriver } from "./webdriver.mjs";

const STEP_TIMEOUT = 15_000;
const SLOW_WASM_MS = 1500;
const NONCE = "entries-n0nce";
const engines = process.argv.slice(2).length ? process.argv.slice(2) : ["chromium", "firefox", "webkit"];
for (const e of engines) if (!ENGINES[e]) throw new Error(`unknown engine ${e} (${Object.keys(ENGINES).join(", ")})`);

function assert(cond, message) {
  if (!cond) throw new Error(message);
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
/** Polls `cond` (a server-side count) until it holds, or fails after `ms`. */
async function waitUntil(cond, ms, what) {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}
async function until(pred, ms, what) {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(25);
  }
}

// ---------------------------------------------------------------------
// What the pages import besides pkg/: the adapters' shared part and the
// Angular service, built once for the run into target/e2e-entries/.

const out = resolve(root, "target/e2e-entries");
mkdirSync(out, { recursive: true });
for (const f of ["chathub_loader.js", "chathub_loader_bg.wasm", "fallback.js", "auto.js"])
  assert(existsSync(resolve(root, "pkg", f)), `missing pkg/${f} (run make pkg)`);
await build({
  entryPoints: [resolve(root, "js/adapter.js")],
  bundle: true,
  format: "esm",
  target: "es2020",
  external: ["./chathub_loader.js", "./fallback.js"],
  outfile: resolve(out, "adapter.js"),
  logLevel: "warning",
});
const SERVICE = resolve(root, "www/examples/angular/src/app/chathub.service.ts");
const serviceJs = ts.transpileModule(readFileSync(SERVICE, "utf8"), {
  compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
}).outputText;
// What the service takes from @angular/core, as far as it uses it.
const ANGULAR_STUB = `
export const Injectable = () => (cls) => cls;
export class NgZone { runOutsideAngular(f) { return f(); } }
export const inject = (token) => new token();
export function signal(value) {
  const s = () => value;
  s.set = (v) => { value = v; };
  return s;
}`;

// ---------------------------------------------------------------------
// The server: pkg/, the built extras, the step's page, its token endpoint
// (/s/<id>/token, answers scripted per step) and a stand-in widget.

const scenarios = new Map();
function scenario(id) {
  if (!scenarios.has(id)) scenarios.set(id, { steps: [{}], requests: 0, orgs: [], users: [] });
  return scenarios.get(id);
}
const b64 = (v) => Buffer.from(JSON.stringify(v)).toString("base64url");
let issued = 0;
const WIDGET = `
const me = [...document.querySelectorAll('script[id^="operator-chat-panel-script"]')].find((s) => s.src === import.meta.url);
(window.__widget ||= []).push({ id: me ? me.id : null, token: me ? me.getAttribute("token") : null });
`;
const TYPES = { ".js": "text/javascript", ".wasm": "application/wasm" };
const pages = new Map();

const server = http.createServer(async (req, res) => {
  const url = new URL(req.url, "http://x");
  const path = url.pathname;
  const m = path.match(/^\/s\/([\w.-]+)\/token$/);
  if (m) {
    const sc = scenario(m[1]);
    const step = sc.steps[Math.min(sc.requests, sc.steps.length - 1)];
    sc.requests += 1;
    (sc.tokenAsked ??= []).push(performance.now());
    sc.orgs.push(url.searchParams.get("org"));
    sc.users.push(req.headers["x-user"] ?? null);
    if (step.delay) await sleep(step.delay);
    const status = step.status ?? 200;
    const now = Date.now();
    issued += 1;
    // `ttl`: the token's life in seconds (an hour unless the step says).
    const ttl = step.ttl ?? 3600;
    const claims = { sub: "operator-1", iat: Math.floor(now / 1000), exp: Math.floor(now / 1000) + ttl, n: issued };
    const body = status == 200 ? { token: `${b64({ alg: "HS256", typ: "JWT" })}.${b64(claims)}.c2ln`, expiresAt: new Date(now + ttl * 1000).toISOString() } : { error: "scripted" };
    res.writeHead(status, { "Content-Type": "application/json", "Cache-Control": "no-store" });
    return res.end(JSON.stringify(body));
  }
  if (path === "/widget.js") {
    res.writeHead(200, { "Content-Type": "text/javascript", "Cache-Control": "no-store" });
    return res.end(WIDGET);
  }
  // /gone/<id>/<file>: pkg/ again, whose .wasm answers 404 while the
  // step's scenario says `wasmGone` (a deploy that left it out);
  // /slow/<id>/<file>: its .wasm answered after SLOW_WASM_MS, the times
  // of its request and answer kept (a slow network's download).
  const gone = path.match(/^\/(gone|slow)\/([\w.-]+)\/([\w.]+)$/);
  if (gone) {
    const [, how, id, name] = gone;
    const f = resolve(existsSync(resolve(out, name)) ? out : resolve(root, "pkg"), name);
    if (!existsSync(f) || (name.endsWith(".wasm") && scenario(id).wasmGone)) return res.writeHead(404, { "Cache-Control": "no-store" }).end();
    if (how == "slow" && name.endsWith(".wasm")) {
      scenario(id).wasmAsked = performance.now();
      await sleep(SLOW_WASM_MS);
      scenario(id).wasmAnswered = performance.now();
    }
    res.writeHead(200, { "Content-Type": TYPES[extname(f)] ?? "application/octet-stream", "Cache-Control": "no-store" });
    return res.end(readFileSync(f));
  }
  const file = path.startsWith("/pkg/") ? resolve(existsSync(resolve(out, path.slice(5))) ? out : resolve(root, "pkg"), path.slice(5)) : null;
  if (file && existsSync(file)) {
    res.writeHead(200, { "Content-Type": TYPES[extname(file)] ?? "application/octet-stream", "Cache-Control": "no-store" });
    return res.end(readFileSync(file));
  }
  if (path === "/ng/chathub.service.js" || path === "/ng/angular-core.js") {
    res.writeHead(200, { "Content-Type": "text/javascript", "Cache-Control": "no-store" });
    return res.end(path.endsWith("service.js") ? serviceJs : ANGULAR_STUB);
  }
  const page = pages.get(path);
  if (!page) return res.writeHead(404).end();
  const headers = { "Content-Type": "text/html", "Cache-Control": "no-store" };
  if (page.csp) headers["Content-Security-Policy"] = page.csp;
  res.writeHead(200, headers);
  res.end(page.html);
});
await new Promise((ok) => server.listen(0, "127.0.0.1", ok));
const base = `http://127.0.0.1:${server.address().port}`;

/**
 * A page at `path`: the probes first (state events, uncaught errors and
 * rejections, console.error), an import map for the Angular service, then
 * `body`. `noWasm`: a CSP without 'wasm-unsafe-eval' (WebAssembly cannot
 * run; scripts need the nonce or 'self').
 */
function page(path, body, { noWasm = false } = {}) {
  pages.set(path, {
    csp: noWasm ? `script-src 'nonce-${NONCE}' 'self'` : "",
    html: `<!doctype html><meta charset="utf-8"><title>entries</title>
<script nonce="${NONCE}">
  window.__events = []; addEventListener("chathub:statechange", (e) => __events.push(e.detail));
  window.__uncaught = [];
  addEventListener("error", (e) => __uncaught.push("error: " + e.message));
  addEventListener("unhandledrejection", (e) => __uncaught.push("unhandled rejection: " + (e.reason && e.reason.message || e.reason)));
  window.__consoleErrors = [];
  const consoleError = console.error;
  console.error = (...a) => { __consoleErrors.push(a.map(String).join(" ")); return consoleError.apply(console, a); };
</script>
<script type="importmap" nonce="${NONCE}">{"imports": {"@angular/core": "/ng/angular-core.js", "chathub-loader": "/pkg/chathub_loader.js", "chathub-loader/fallback": "/pkg/fallback.js"}}</script>
<body>${body}</body>`,
  });
  return path;
}
const module = (code) => `<script type="module" nonce="${NONCE}">${code}</script>`;
/** The page `/<id>.html`: a `#chat` container and one module script `code`. */
const modulePage = (id, code) => page(`/${id}.html`, `<div id="chat"></div>` + module(code));
const BELOW_THE_FOLD = `<div style="height:3000px"></div><div id="below" style="min-height:20px"></div>`;

// ---------------------------------------------------------------------
// The steps. Each gets the session and a scenario id of its own.

/** A chat started by the adapter (`startChat`) or the Angular service, as `window.__chat`, its states in `window.__states`. */
function chatPage(path, kind, options, extraBody = "", opts) {
  const start =
    kind == "adapter"
      ? `import { startChat } from "/pkg/adapter.js";
         window.__states = [];
         const chat = startChat(${options}, (s) => __states.push(s.state));
         window.__chat = { refresh: () => chat.refresh(), stop: () => chat.destroy() };`
      : `import { ChatHubService } from "/ng/chathub.service.js";
         window.__states = [];
         const chat = new ChatHubService();
         const set = chat.state.set;
         chat.state.set = (v) => { __states.push(v); set(v); };
         chat.start(${options});
         window.__chat = { refresh: () => chat.refresh(), stop: () => chat.stop() };`;
  return page(path, extraBody + module(start), opts);
}
const lastState = `return window.__states && __states[__states.length - 1];`;
const stateIs = (s) => `return window.__states && __states[__states.length - 1] === ${JSON.stringify(s)};`;
/** Calls `window.__chat.refresh()`; its outcome lands in `window.__refreshed`. */
const REFRESH = `window.__refreshed = null;
  window.__chat.refresh().then(() => (window.__refreshed = "resolved"), (e) => (window.__refreshed = "rejected: " + (e && e.message || e)));`;

const steps = [];
const step = (name, fn) => steps.push({ name, fn });

for (const kind of ["adapter", "Angular service"]) {
  step(`${kind}: refresh() before the trigger fired is the trigger (visible, container below the fold)`, async (s, id) => {
    const options = JSON.stringify({ tokenUrl: `/s/${id}/token`, widgetSrc: "/widget.js", container: "#below", trigger: "visible", org: id });
    await s.navigate(base + chatPage(`/${id}.html`, kind == "adapter" ? "adapter" : "angular", options, BELOW_THE_FOLD));
    // The manager exists and waits for its trigger (state idle, nothing requested).
    await s.waitFor(`return window.__states && __states.includes("idle") && !!window.__chat;`, [], STEP_TIMEOUT, "the manager, waiting for its trigger");
    await sleep(300);
    assert(scenario(id).requests === 0, `a token request before the trigger and before refresh(): ${scenario(id).requests}`);
    await s.execute(REFRESH);
    await until(() => scenario(id).requests > 0, 10_000, "a token request after refresh() (refresh() waited for initialize(), which waits for the container to scroll into view)").catch(
      (e) => { throw new Error(`${e.message}; states: ${JSON.stringify(scenario(id))}`); },
    );
    await s.waitFor(stateIs("ready"), [], STEP_TIMEOUT, "state ready");
    await s.waitFor(`return window.__refreshed;`, [], STEP_TIMEOUT, "refresh() to settle");
    assert((await s.execute(`return window.__refreshed;`)) === "resolved", "refresh() resolved");
    assert(scenario(id).requests === 1, `one token request for the trigger and refresh(): ${scenario(id).requests}`);
    const widgets = await s.execute(`return (window.__widget || []).length;`);
    assert(widgets === 1, `one widget evaluation: ${widgets}`);
    await s.execute(`window.__chat.stop();`);
  });

  step(`${kind}: refresh() resolves when the component unmounts mid-round`, async (s, id) => {
    scenario(id).steps = [{}, { delay: 1500 }];
    const options = JSON.stringify({ tokenUrl: `/s/${id}/token`, widgetSrc: "/widget.js", org: id });
    await s.navigate(base + chatPage(`/${id}.html`, kind == "adapter" ? "adapter" : "angular", options));
    await s.waitFor(stateIs("ready"), [], STEP_TIMEOUT, "state ready");
    await s.execute(REFRESH);
    await until(() => scenario(id).requests >= 2, 10_000, "the refresh's token request");
    // Unmounted while the answer is on its way.
    await s.execute(`window.__chat.stop();`);
    const outcome = await s.waitFor(`return window.__refreshed;`, [], STEP_TIMEOUT, "refresh() to settle");
    assert(outcome === "resolved", `refresh() ${outcome}`);
    await sleep(200);
    const uncaught = await s.execute(`return window.__uncaught;`);
    assert(uncaught.length === 0, `nothing uncaught: ${uncaught}`);
  });
}

step("adapters: a new fetchInit.headers given as a Headers re-creates the chat (another user's credentials)", async (s, id) => {
  // The React and Vue adapters compare options by optionsKey(); a Headers
  // serialises as {} in JSON, so every Headers looked alike.
  const page_ = page(`/${id}-key.html`, module(`import { optionsKey } from "/pkg/adapter.js";
    const o = (u) => ({ tokenUrl: "/t", fetchInit: { headers: new Headers({ "X-User": u }) } });
    window.__keys = [optionsKey(o("alice")), optionsKey(o("bob")), optionsKey(o("alice"))];`));
  await s.navigate(base + page_);
  const keys = await s.waitFor(`return window.__keys;`, [], STEP_TIMEOUT, "the keys");
  assert(keys[0] !== keys[1], `alice's and bob's options have one key: ${keys[0]}`);
  assert(keys[0] === keys[2], `equal options, two keys: ${keys[0]} / ${keys[2]}`);
  // The Angular service: start() with bob's Headers restarts the chat.
  const opts = (u) => `{ tokenUrl: "/s/${id}/token", widgetSrc: "/widget.js", org: "${id}", fetchInit: { headers: new Headers({ "X-User": "${u}" }) } }`;
  await s.navigate(base + page(`/${id}.html`, module(`import { ChatHubService } from "/ng/chathub.service.js";
    window.__states = [];
    const chat = new ChatHubService();
    const set = chat.state.set;
    chat.state.set = (v) => { __states.push(v); set(v); };
    chat.start(${opts("alice")});
    window.__bob = () => chat.start(${opts("bob")});
    window.__chat = { stop: () => chat.stop() };`)));
  await s.waitFor(stateIs("ready"), [], STEP_TIMEOUT, "ready as alice");
  await s.execute(`window.__bob();`);
  await until(() => scenario(id).users.includes("bob"), 10_000, `a token request as bob (users: ${JSON.stringify(scenario(id).users)})`);
  await s.waitFor(stateIs("ready"), [], STEP_TIMEOUT, "ready as bob");
  assert(JSON.stringify(scenario(id).users) === '["alice","bob"]', `requests as ${JSON.stringify(scenario(id).users)}`);
  await s.execute(`window.__chat.stop();`);
});

const POLLUTE = `
  Object.prototype.url = "https://evil.example/phish";
  Object.prototype.title = "Pwned title";
  Object.prototype.message = "Pwned message";
  Object.prototype.email = "evil@evil.example";`;
const UNPOLLUTE = `for (const k of ["url", "title", "message", "email", "fallback"]) delete Object.prototype[k];`;
/** What a contact box shows: heading, message, links. */
const BOX = (sel) => `const b = document.querySelector(${JSON.stringify(sel)});
  return b && { title: b.querySelector("h2").textContent, message: b.querySelector("p").textContent,
    links: [...b.querySelectorAll("a")].map((a) => a.getAttribute("href")) };`;
const pristine = (box, what) => {
  assert(box, `${what}: no contact box`);
  assert(box.title === "Chat is unavailable", `${what}: an inherited title shows: ${box.title}`);
  assert(!box.message.includes("Pwned"), `${what}: an inherited message shows: ${box.message}`);
  assert(JSON.stringify(box.links) === '["mailto:help@example.com"]', `${what}: links ${JSON.stringify(box.links)}`);
};

step("fallback.js: a polluted Object.prototype puts nothing in the contact box", async (s, id) => {
  await s.navigate(
    base +
      page(
        `/${id}.html`,
        `<div id="one"></div><div id="two"></div>` +
          module(`
  import { showFallback } from "/pkg/fallback.js";
  ${POLLUTE}
  Object.prototype.fallback = { url: "https://evil.example/inherited-fallback" };
  try {
    showFallback({ fallback: { email: "help@example.com" }, container: "#one" });
    showFallback({ container: "#two" });
    window.__done = "shown";
  } catch (e) {
    window.__done = "threw " + e.message;
  } finally {
    ${UNPOLLUTE}
  }`),
      ),
  );
  const done = await s.waitFor(`return window.__done;`, [], STEP_TIMEOUT, "showFallback()");
  assert(done === "shown", done);
  pristine(await s.execute(BOX("#one .chathub-loader-fallback")), "own fallback");
  const two = await s.execute(BOX("#two .chathub-loader-fallback"));
  assert(two && two.links.length === 0 && two.title === "Chat is unavailable", `an inherited fallback option was used: ${JSON.stringify(two)}`);
});

step("adapter without WebAssembly: the contact box from own properties only", async (s, id) => {
  const options = JSON.stringify({ tokenUrl: `/s/${id}/token`, container: "#chat", fallback: { email: "help@example.com" }, org: id });
  // The page cleans Object.prototype up before it reports (WebDriver's
  // own serialisation of the result would read the polluted keys).
  await s.navigate(
    base +
      page(
        `/${id}.html`,
        `<div id="chat"></div>` +
          module(`${POLLUTE}
  const { startChat } = await import("/pkg/adapter.js");
  const snap = await new Promise((done) => startChat(${options}, (s) => s.state != "loading" && done(s)));
  const box = (() => { ${BOX("#chat .chathub-loader-fallback")} })();
  ${UNPOLLUTE}
  window.__result = { snap: JSON.parse(JSON.stringify(snap)), box };`),
        { noWasm: true },
      ),
  );
  const { snap, box } = await s.waitFor(`return window.__result;`, [], STEP_TIMEOUT, "the adapter's state after loading");
  assert(snap.state === "fallback" && snap.error?.code === "UNSUPPORTED_ENVIRONMENT", `state ${snap.state}, error ${JSON.stringify(snap.error)}`);
  pristine(box, "the adapter's box");
});

step("adapter whose .wasm does not load: the contact box with WASM_HTTP; refresh() once it is back: ready", async (s, id) => {
  scenario(id).wasmGone = true;
  const options = JSON.stringify({ tokenUrl: `/s/${id}/token`, container: "#chat", widgetSrc: "/widget.js", fallback: { email: "help@example.com" }, org: id });
  await s.navigate(
    base +
      modulePage(
        id,
        `const { startChat } = await import("/gone/${id}/adapter.js");
  window.__snaps = [];
  const chat = startChat(${options}, (s) => __snaps.push(JSON.parse(JSON.stringify(s))));
  window.__chat = { refresh: () => chat.refresh(), stop: () => chat.destroy() };`,
      ),
  );
  // As JSON: an object with an `error` key would read as WebDriver's own error.
  const last = `const l = window.__snaps && __snaps[__snaps.length - 1]; return l && l.state !== "loading" && JSON.stringify(l);`;
  const snap = JSON.parse(await s.waitFor(last, [], STEP_TIMEOUT, "the adapter's state after the .wasm failed"));
  assert(snap.state === "fallback" && snap.error?.code === "WASM_HTTP" && snap.error?.status === 404, `state ${snap.state}, error ${JSON.stringify(snap.error)}`);
  assert(await s.execute(`return !!document.querySelector("#chat .chathub-loader-fallback");`), "the contact box is shown");
  // The one asked for beside the download (and dropped when it failed).
  assert(scenario(id).requests === 1, `one token request, the early one: ${scenario(id).requests}`);
  scenario(id).wasmGone = false;
  await s.execute(REFRESH);
  assert((await s.waitFor(`return window.__refreshed;`, [], STEP_TIMEOUT, "refresh() to settle")) === "resolved", "refresh() resolves");
  const after = JSON.parse(await s.execute(`return JSON.stringify(__snaps[__snaps.length - 1]);`));
  assert(after.state === "ready" && after.error === null, `after refresh(): ${JSON.stringify(after)}`);
  assert(!(await s.execute(`return !!document.querySelector(".chathub-loader-fallback");`)), "the contact box is gone");
  assert(scenario(id).requests === 2, `one more token request: ${scenario(id).requests}`);
  await s.execute(`window.__chat.stop();`);
});

step("adapter, first chat of the page: the token is asked while the .wasm downloads, once", async (s, id) => {
  const options = JSON.stringify({ tokenUrl: `/s/${id}/token`, container: "#chat", widgetSrc: "/widget.js", org: id });
  await s.navigate(
    base +
      modulePage(
        id,
        `const { startChat } = await import("/slow/${id}/adapter.js");
  window.__states = [];
  startChat(${options}, (s) => __states.push(s.state));`,
      ),
  );
  await s.waitFor(stateIs("ready"), [], STEP_TIMEOUT, "ready");
  const sc = scenario(id);
  assert(sc.requests === 1, `one token request: ${sc.requests}`);
  assert(sc.tokenAsked[0] < sc.wasmAnswered, `the token request (at ${sc.tokenAsked[0].toFixed(0)} ms) came before the .wasm was answered (${sc.wasmAnswered.toFixed(0)} ms)`);
});

step("npm path: prefetchToken's request is the manager's (a Headers, credentials, referrerPolicy), asked while the .wasm downloads, once; another user's is never taken", async (s, id) => {
  // Same URL and org both times: only fetchInit tells the users apart.
  const opts = (sid, user) =>
    `{ tokenUrl: "/s/${id}/token", org: "${id}", container: "#chat", widgetSrc: "/widget.js", fetchInit: { headers: new Headers({ "X-User": "${user}" }), credentials: "include", referrerPolicy: "no-referrer" } }`;
  const start = (sid, asked, user) =>
    module(`const { prefetchToken } = await import("/slow/${sid}/prefetch.js");
  window.__asked = prefetchToken(${opts(sid, asked)});
  const { default: init, WidgetTokenManager } = await import("/slow/${sid}/chathub_loader.js");
  await init();
  window.__m = new WidgetTokenManager(${opts(sid, user)});
  await __m.initialize();`);
  await s.navigate(base + page(`/${id}.html`, `<div id="chat"></div>` + start(id, "ann", "ann")));
  await s.waitFor(readyOrgs([id]), [], STEP_TIMEOUT, "ready");
  const sc = scenario(id);
  assert((await s.execute("return window.__asked;")) === true, "prefetchToken asked");
  assert(JSON.stringify(sc.users) === '["ann"]', `one token request, with the page's header: ${JSON.stringify(sc.users)}`);
  assert(sc.tokenAsked[0] < sc.wasmAnswered, `the token request (at ${sc.tokenAsked[0].toFixed(0)} ms) came before the .wasm was answered (${sc.wasmAnswered.toFixed(0)} ms)`);
  // The answer waited ~SLOW_WASM_MS for the loader; its `Date` (whole
  // seconds, this machine's clock; the loader takes its middle, +500 ms)
  // is that much older when taken: the loader's expiry in this clock must
  // still be the JWT's exp within Date's rounding (±500 ms), not exp plus
  // the wait (1,000 ms or more later).
  const off = await s.execute(`const t = document.querySelector("script[id^=operator-chat-panel-script]").getAttribute("token");
  const exp = JSON.parse(atob(t.split(".")[1].replace(/-/g, "+").replace(/_/g, "/"))).exp;
  return __m.expiresAt.getTime() - exp * 1000;`);
  assert(off > -600 && off < 750, `the expiry in this clock is the token's exp (+ Date's rounding), not later by the wait: off by ${off} ms`);
  // Asked early for ann, the manager is bob's: it asks for itself.
  await s.navigate(base + page(`/${id}-bob.html`, `<div id="chat"></div>` + start(id, "ann", "bob")));
  await s.waitFor(readyOrgs([id]), [], STEP_TIMEOUT, "bob's chat ready");
  assert(JSON.stringify(sc.users) === '["ann","ann","bob"]', `bob's manager asked with bob's header, ann's early answer untaken: ${JSON.stringify(sc.users)}`);
});

step("prefetchToken reads the options as the loader does: a <base> is not the token URL's base, a Map of headers and repeated names as the loader sends them, no request for options the loader refuses", async (s, id) => {
  const run = (sid, options, body = "") =>
    module(`const { prefetchToken } = await import("/pkg/prefetch.js");
  const options = ${options};
  window.__asked = prefetchToken(options);
  const { default: init, WidgetTokenManager } = await import("/pkg/chathub_loader.js");
  await init();
  await new WidgetTokenManager(options).initialize();`) + body;
  // A relative tokenUrl under <base href="/elsewhere/">: the loader
  // resolves it against the page's address, and so does the early request.
  // The page is /s/<a>/page.html: "token" is /s/<a>/token by its address,
  // /s/<a>-base/token by the <base>.
  const a = `${id}-url`;
  await s.navigate(base + page(`/s/${a}/page.html`, `<base href="/s/${a}-base/"><div id="chat"></div>` + run(a, `{ tokenUrl: "token", org: "${a}", container: "#chat", widgetSrc: "/widget.js" }`)));
  await s.waitFor(readyOrgs([a]), [], STEP_TIMEOUT, "ready under a <base>");
  assert(scenario(`${a}-base`).requests === 0, `a request went by the <base>: ${scenario(`${a}-base`).requests}`);
  assert(scenario(a).requests === 1, `one token request, by the page's address: ${scenario(a).requests}`);
  // fetchInit.headers as a Map, and as pairs repeating a name (the last wins).
  for (const [tag, headers, user] of [
    ["map", `new Map([["X-User", "ann"]])`, "ann"],
    ["pairs", `[["X-User", "ann"], ["X-User", "bob"]]`, "bob"],
  ]) {
    const b = `${id}-${tag}`;
    await s.navigate(base + page(`/${b}.html`, `<div id="chat"></div>` + run(b, `{ tokenUrl: "/s/${b}/token", org: "${b}", container: "#chat", widgetSrc: "/widget.js", fetchInit: { headers: ${headers} } }`)));
    await s.waitFor(readyOrgs([b]), [], STEP_TIMEOUT, `ready with headers as ${tag}`);
    assert(JSON.stringify(scenario(b).users) === JSON.stringify([user]), `${tag}: one request with X-User ${user}: ${JSON.stringify(scenario(b).users)}`);
  }
  // Request options the constructor refuses: no early request at all.
  const c = `${id}-refused`;
  const refused = [
    `{ tokenUrl: "/s/${c}/token\v" }`,
    `{ tokenUrl: "/s/${c}/token", org: "two words" }`,
    `{ tokenUrl: "/s/${c}/token", org: "${"o".repeat(129)}" }`,
    `{ tokenUrl: "/s/${c}/token", fetchInit: null }`,
    `{ tokenUrl: "/s/${c}/token", fetchInit: { headers: null } }`,
    `{ tokenUrl: "/s/${c}/token", fetchInit: { headers: { "X-N": 5 } } }`,
    `{ tokenUrl: "/s/${c}/token", fetchInit: { mode: "no-cors" } }`,
  ];
  await s.navigate(base + page(`/${c}.html`, module(`const { prefetchToken } = await import("/pkg/prefetch.js");
  window.__asked = [${refused.join(", ")}].map((o) => prefetchToken(o));`)));
  await s.waitFor(`return Array.isArray(window.__asked);`, [], STEP_TIMEOUT, "the calls");
  const asked = await s.execute(`return JSON.stringify(window.__asked);`);
  assert(asked === JSON.stringify(refused.map(() => false)), `prefetchToken said it asked: ${asked}`);
  assert(scenario(c).requests === 0, `token requests for refused options: ${scenario(c).requests}`);
});

step("an early token that expired while it waited for the .wasm is not used: one more request, ready (not the contact box)", async (s, id) => {
  // The first token lives one second; the .wasm comes after SLOW_WASM_MS.
  scenario(id).steps = [{ ttl: 1 }, {}];
  const options = JSON.stringify({ tokenUrl: `/s/${id}/token`, org: id, container: "#chat", widgetSrc: "/widget.js" });
  await s.navigate(
    base +
      modulePage(
        id,
        `const { prefetchToken } = await import("/slow/${id}/prefetch.js");
  prefetchToken(${options});
  const { default: init, WidgetTokenManager } = await import("/slow/${id}/chathub_loader.js");
  await init();
  await new WidgetTokenManager(${options}).initialize();`,
      ),
  );
  await s.waitFor(`return __events.some((d) => d.state === "ready" || d.state === "fallback");`, [], STEP_TIMEOUT, "ready or the box");
  const states = JSON.parse(await s.execute(`return JSON.stringify(__events.map((d) => d.state + (d.error ? ":" + d.error.code : "")));`));
  assert(!states.some((x) => x.startsWith("fallback")) && states.includes("ready"), `states: ${states}`);
  assert(scenario(id).requests === 2, `the early request and one of the manager's own: ${scenario(id).requests}`);
});

step("fetchInit.headers: a one-shot iterator is read once, by the loader (no early request); an iterable that is not of pairs is INVALID_OPTIONS", async (s, id) => {
  await s.navigate(
    base +
      modulePage(
        id,
        `const { prefetchToken } = await import("/pkg/prefetch.js");
  const { default: init, WidgetTokenManager } = await import("/pkg/chathub_loader.js");
  const options = () => ({ tokenUrl: "/s/${id}/token", org: "${id}", container: "#chat", widgetSrc: "/widget.js", fetchInit: { headers: (function* () { yield ["X-User", "ann"]; })() } });
  const o = options();
  window.__asked = prefetchToken(o);
  await init();
  try {
    new WidgetTokenManager({ tokenUrl: "/s/${id}/token", org: "${id}-set", fetchInit: { headers: new Set(["X-User: ann"]) } });
    window.__setError = "none";
  } catch (e) {
    window.__setError = e.code ?? String(e);
  }
  await new WidgetTokenManager(o).initialize();`,
      ),
  );
  await s.waitFor(readyOrgs([id]), [], STEP_TIMEOUT, "ready");
  assert((await s.execute(`return window.__asked;`)) === false, "prefetchToken asked with a one-shot iterator");
  assert(JSON.stringify(scenario(id).users) === '["ann"]', `one request, with the header: ${JSON.stringify(scenario(id).users)}`);
  assert((await s.execute(`return window.__setError;`)) === "INVALID_OPTIONS", `a Set of strings: ${await s.execute(`return window.__setError;`)}`);
});

step("adapter: a chat that ends before its manager exists drops its early answer (StrictMode's unmount and mount keep it)", async (s, id) => {
  const options = JSON.stringify({ tokenUrl: `/s/${id}/token`, container: "#chat", widgetSrc: "/widget.js", org: id });
  await s.navigate(
    base +
      modulePage(
        id,
        `const { startChat } = await import("/slow/${id}/adapter.js");
  const store = () => globalThis[Symbol.for("chathub-loader.prefetch")];
  // StrictMode: mount, unmount, mount again at once: one request, kept.
  startChat(${options}, () => {}).destroy();
  const chat = startChat(${options}, () => {});
  await new Promise((r) => setTimeout(r, 0));
  window.__keptAfterRemount = store().size;
  // The page leaves before the .wasm arrived: nothing kept.
  chat.destroy();
  window.__unmounted = true;`,
      ),
  );
  await s.waitFor(`return window.__unmounted === true;`, [], STEP_TIMEOUT, "unmounted");
  await s.waitFor(`return globalThis[Symbol.for("chathub-loader.prefetch")].size === 0;`, [], STEP_TIMEOUT, "the early answer dropped");
  assert((await s.execute(`return window.__keptAfterRemount;`)) === 1, "the remount kept the early request");
  // The remount made no second request; the one request may not even
  // have reached the server before its abort (WebKit sends it later).
  assert(scenario(id).requests <= 1, `at most one token request: ${scenario(id).requests}`);
});

step("a preload hint for the token endpoint: the loader's request takes its answer in Chromium only (docs/guides/static.md, Preload hints)", async (s, id) => {
  const url = `/s/${id}/token`;
  await s.navigate(
    base +
      page(
        `/${id}.html`,
        `<link rel="preload" href="${url}?org=${id}" as="fetch" crossorigin><div id="chat"></div>` +
          module(`const { default: init, WidgetTokenManager } = await import("/pkg/chathub_loader.js");
  await init();
  await new WidgetTokenManager({ tokenUrl: "${url}", org: "${id}", container: "#chat", widgetSrc: "/widget.js" }).initialize();`),
      ),
  );
  await s.waitFor(readyOrgs([id]), [], STEP_TIMEOUT, "ready");
  // Chromium matches on URL and credentials mode only; Firefox also wants
  // the default cache mode and WebKit never takes a same-origin preload:
  // the loader's no-store request is a second one there. The docs say so.
  const want = id.startsWith("chromium") ? 1 : 2;
  const sc = scenario(id);
  await waitUntil(() => sc.requests >= want, STEP_TIMEOUT, `${want} token request(s)`);
  assert(sc.requests === want, `token requests: ${sc.requests}, the docs say ${want} in this engine`);
});

// `fallback` values the loader and showFallback() must judge alike.
const FALLBACKS = [
  ["not given", undefined],
  ["false", false],
  ["null", null],
  ["{}", {}],
  ["texts", { title: "Write to us", message: "We answer within a day.", buttonText: "Retry" }],
  ["markup as text", { title: '<img src=x onerror="window.__pwned=1">' }],
  ["all links", { email: "help@example.com", phone: "+39 02 1234-567", url: "https://example.com/contact" }],
  ["an e-mail with a header", { email: "a@example.com?bcc=b@evil.example" }],
  ["a phone that is not one", { phone: "call us" }],
  ["a path (this page is http:)", { url: "/contact" }],
  ["javascript:", { url: "javascript:alert(1)" }],
  ["https:host", { url: "https:evil.example" }],
  ["a password", { url: "https://user:pw@example.com/" }],
  ["a typo", { Title: "x" }],
  ["an unknown key", { colour: "red" }],
  ["a number", { title: 5 }],
  ["null text", { title: null }],
  ["a string", "help@example.com"],
  ["an array", []],
];

step("one definition of `fallback`: the loader and showFallback() accept, refuse and draw alike", async (s, id) => {
  // Every loader manager fails at once (401) and shows its box.
  const ids = FALLBACKS.map((_, i) => `${id}-${i}`);
  for (const sid of ids) scenario(sid).steps = [{ status: 401 }];
  await s.navigate(
    base +
      page(
        `/${id}.html`,
        FALLBACKS.map((_, i) => `<div id="loader-${i}"></div><div id="plain-${i}"></div>`).join("") +
          module(`
  import init, { WidgetTokenManager } from "/pkg/chathub_loader.js";
  import { showFallback } from "/pkg/fallback.js";
  await init();
  const values = [${FALLBACKS.map(([, v]) => (v === undefined ? "undefined" : JSON.stringify(v))).join(", ")}];
  const outcome = (f) => { try { f(); return "ok"; } catch (e) { return e.code + ": " + e.message; } };
  window.__results = await Promise.all(values.map(async (fallback, i) => {
    const options = { tokenUrl: "/s/${id}-" + i + "/token", org: "fb" + i, container: "#loader-" + i, maxRetries: 0 };
    if (fallback !== undefined) options.fallback = fallback;
    let m;
    const loader = outcome(() => (m = new WidgetTokenManager(options)));
    if (m) { await m.initialize().catch(() => {}); }
    const plain = outcome(() => showFallback({ fallback, container: "#plain-" + i }));
    const html = (sel) => { const b = document.querySelector(sel + " .chathub-loader-fallback"); return b ? b.outerHTML : null; };
    const drawn = { loader: html("#loader-" + i), plain: html("#plain-" + i) };
    m?.destroy();
    return { loader, plain, drawn };
  }));`),
      ),
  );
  const results = await s.waitFor(`return window.__results;`, [], STEP_TIMEOUT, "every value judged");
  const differ = [];
  results.forEach((r, i) => {
    const name = FALLBACKS[i][0];
    if (r.loader !== r.plain) differ.push(`${name}: the loader "${r.loader}", showFallback() "${r.plain}"`);
    else if (r.drawn.loader !== r.drawn.plain) differ.push(`${name}: boxes differ:\n    loader ${r.drawn.loader}\n    plain  ${r.drawn.plain}`);
  });
  assert(differ.length === 0, `the two judge differently:\n  ${differ.join("\n  ")}`);
  const byName = Object.fromEntries(results.map((r, i) => [FALLBACKS[i][0], r]));
  assert(/^INVALID_OPTIONS: .*`fallback` must be an object/.test(byName.null.loader), `null is refused: ${byName.null.loader}`);
  assert(byName["all links"].drawn.plain?.includes('href="tel:+39021234567"'), "the links are drawn");
  assert(!(await s.execute(`return window.__pwned;`)), "markup stayed text");
});

const autoTag = (attrs) => `<script type="module" src="/pkg/auto.js" nonce="${NONCE}" data-widget-src="/widget.js" ${attrs}></script>`;
const readyOrgs = (orgs) => `const ready = new Set(__events.filter((d) => d.state === "ready").map((d) => d.org));
  return ${JSON.stringify(orgs)}.every((o) => ready.has(o));`;

step("auto.js: data-trigger=visible with an invalid data-container is one console.error, nothing uncaught", async (s, id) => {
  await s.navigate(base + page(`/${id}.html`, autoTag(`data-token-url="/s/${id}/token" data-trigger="visible" data-container="##bad"`)));
  await s.waitFor(`return document.readyState === "complete";`, [], STEP_TIMEOUT, "the page's load");
  const deadline = Date.now() + 10_000;
  let seen;
  while (Date.now() < deadline) {
    seen = await s.execute(`return { errors: window.__consoleErrors, uncaught: window.__uncaught };`);
    if (seen.errors.length || seen.uncaught.length) break;
    await sleep(50);
  }
  await sleep(300);
  seen = await s.execute(`return { errors: window.__consoleErrors, uncaught: window.__uncaught };`);
  assert(seen.uncaught.length === 0, `uncaught: ${seen.uncaught}`);
  assert(seen.errors.length === 1 && /INVALID_OPTIONS/.test(seen.errors[0]) && /container/.test(seen.errors[0]), `console errors: ${JSON.stringify(seen.errors)}`);
  assert(scenario(id).requests === 0, "no token request");
  assert((await s.execute(`return document.querySelectorAll("script[id^=operator-chat-panel-script]").length;`)) === 0, "no widget tag");
});

step("auto.js: a tag inserted after the module ran (another org) is started too", async (s, id) => {
  await s.navigate(
    base + page(`/${id}.html`, `<div id="chat-sales"></div><div id="chat-support"></div>` + autoTag(`data-token-url="/s/${id}/token" data-org="sales" data-container="#chat-sales"`)),
  );
  await s.waitFor(readyOrgs(["sales"]), [], STEP_TIMEOUT, "sales ready");
  await sleep(500);
  // As a tag manager adds it: one more tag, later, with the same src.
  await s.execute(`const t = document.createElement("script");
    t.type = "module"; t.src = "/pkg/auto.js"; t.nonce = ${JSON.stringify(NONCE)};
    Object.assign(t.dataset, { tokenUrl: "/s/${id}/token", org: "support", container: "#chat-support", widgetSrc: "/widget.js" });
    document.body.appendChild(t);`);
  await s.waitFor(readyOrgs(["sales", "support"]), [], 10_000, "support ready too (the second tag was started)").catch((e) => {
    throw new Error(`${e.message}; token requests per org: ${JSON.stringify(scenario(id).orgs)}`);
  });
  await sleep(300);
  const orgs = scenario(id).orgs.slice().sort();
  assert(JSON.stringify(orgs) === '["sales","support"]', `one token request per org: ${JSON.stringify(orgs)}`);
  const tags = await s.execute(`return [...document.querySelectorAll("script[id^=operator-chat-panel-script]")].map((t) => t.id).sort();`);
  assert(tags.length === 2, `two widget tags: ${tags}`);
});

step("auto.js without WebAssembly: the contact box and a chathub:statechange", async (s, id) => {
  await s.navigate(
    base +
      page(`/${id}.html`, `<div id="chat"></div>` + autoTag(`data-token-url="/s/${id}/token" data-org="sales" data-container="#chat" data-fallback-email="help@example.com"`), {
        noWasm: true,
      }),
  );
  await s.waitFor(`return !!document.querySelector("#chat .chathub-loader-fallback");`, [], STEP_TIMEOUT, "the contact box");
  const events = await s.waitFor(`return __events.length && __events;`, [], 5_000, "a chathub:statechange").catch(() => []);
  assert(events.length === 1, `one state event: ${JSON.stringify(events)}`);
  const [e] = events;
  assert(e.org === "sales" && e.state === "fallback" && e.previous === "idle" && e.error?.code === "UNSUPPORTED_ENVIRONMENT" && typeof e.error.message == "string", `the event: ${JSON.stringify(e)}`);
  assert(scenario(id).requests === 0, "no token request");
});

step("auto.js whose .wasm does not load: the contact box and a chathub:statechange with WASM_HTTP; a later tag loads it again", async (s, id) => {
  scenario(id).wasmGone = true;
  const tag = (org, box) => `<script type="module" src="/gone/${id}/auto.js" nonce="${NONCE}" data-widget-src="/widget.js" data-token-url="/s/${id}/token" data-org="${org}" data-container="#${box}" data-fallback-email="help@example.com"></script>`;
  await s.navigate(base + page(`/${id}.html`, `<div id="one"></div><div id="two"></div>` + tag("sales", "one")));
  const events = await s.waitFor(`return __events.length && __events;`, [], STEP_TIMEOUT, "a chathub:statechange");
  const [e] = events;
  assert(events.length === 1 && e.org === "sales" && e.state === "fallback" && e.previous === "idle" && e.error?.code === "WASM_HTTP", `the event: ${JSON.stringify(events)}`);
  assert(await s.execute(`return !!document.querySelector("#one .chathub-loader-fallback");`), "the contact box is shown");
  const errors = await s.execute(`return __consoleErrors;`);
  assert(errors.length === 1 && /WASM_HTTP/.test(errors[0]), `one console error: ${JSON.stringify(errors)}`);
  scenario(id).wasmGone = false;
  // A tag manager's insertion: a created element (parsed HTML's scripts do not run).
  await s.execute(`const t = document.createElement("template"); t.innerHTML = ${JSON.stringify(tag("support", "two"))};
    const src = t.content.firstElementChild, el = document.createElement("script");
    for (const a of src.attributes) el.setAttribute(a.name, a.value);
    el.nonce = ${JSON.stringify(NONCE)};
    document.body.append(el);`);
  await s.waitFor(readyOrgs(["support"]), [], STEP_TIMEOUT, "the later tag's org ready");
  // The first tag's was asked for beside the download that failed, and dropped.
  assert(JSON.stringify(scenario(id).orgs) === '["sales","support"]', `token requests: ${JSON.stringify(scenario(id).orgs)}`);
});

step("auto.js, eager: the token is asked while the .wasm downloads, once; with a trigger, not before it", async (s, id) => {
  const tag = (org, extra) => `<script type="module" src="/slow/${id}/auto.js" nonce="${NONCE}" data-widget-src="/widget.js" data-token-url="/s/${id}/token" data-org="${org}" ${extra}></script>`;
  await s.navigate(base + page(`/${id}.html`, `<div id="a"></div><div id="b"></div>` + tag("sales", 'data-container="#a"') + tag("support", 'data-container="#b" data-trigger="interaction"')));
  await s.waitFor(readyOrgs(["sales"]), [], STEP_TIMEOUT, "the eager org ready");
  const sc = scenario(id);
  assert(JSON.stringify(sc.orgs) === '["sales"]', `one token request, for the eager org only: ${JSON.stringify(sc.orgs)}`);
  assert(sc.tokenAsked[0] < sc.wasmAnswered, `the token request (at ${sc.tokenAsked[0].toFixed(0)} ms) came before the .wasm was answered (${sc.wasmAnswered.toFixed(0)} ms)`);
});

step("auto.js: an inherited `trigger` (polluted Object.prototype) is no option", async (s, id) => {
  await s.navigate(
    base +
      page(
        `/${id}.html`,
        `<script nonce="${NONCE}">Object.prototype.trigger = "interaction";</script>` + autoTag(`data-token-url="/s/${id}/token" data-org="sales"`),
      ),
  );
  await s.waitFor(readyOrgs(["sales"]), [], 10_000, "ready without any interaction").finally(() => s.execute(`delete Object.prototype.trigger;`));
});

// ---------------------------------------------------------------------

async function run(engine) {
  const results = [];
  let driver;
  let session;
  try {
    driver = await startDriver(engine);
    session = await driver.newSession();
    console.log(`     [${engine}] ${driver.name}: ${session.browser()}`);
    for (const [i, { name, fn }] of steps.entries()) {
      const started = Date.now();
      try {
        await fn(session, `${engine}-${i}`);
        results.push(true);
        console.log(`ok   [${engine}] ${name} (${Date.now() - started} ms)`);
      } catch (err) {
        results.push(false);
        console.log(`FAIL [${engine}] ${name} (${Date.now() - started} ms): ${err.message}`);
      }
    }
  } catch (err) {
    console.log(`FAIL [${engine}] ${err.stack || err}`);
    if (driver) console.log(`--- driver log (tail) ---\n${driver.log().split("\n").slice(-20).join("\n")}`);
  } finally {
    if (session) await session.close();
    if (driver) await driver.stop();
  }
  const passed = results.filter(Boolean).length;
  return { engine, ok: passed === steps.length, passed };
}

const summary = [];
for (const engine of engines) summary.push(await run(engine));
server.close();
console.log("");
for (const r of summary) console.log(`entries: ${r.engine} ${r.ok ? "passed" : "FAILED"} (${r.passed} of ${steps.length} steps)`);
process.exit(summary.every((r) => r.ok) ? 0 : 1);
