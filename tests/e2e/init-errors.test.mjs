// init() where the .wasm cannot be loaded, end to end with the built
// package in headless Chromium: the glue (pkg/chathub_loader.js) served
// from a real HTTP server under several paths, each with its own answer
// for the .wasm beside it, and what init() settles with.
//
//   404 (Vite's dev server: the glue prebundled into node_modules/.vite/deps/)
//                               WASM_HTTP, status 404, says optimizeDeps.exclude
//   an HTML page (an SPA's fallback, 200 text/html)
//                               WASM_HTML, nothing compiled
//   the connection closes       WASM_NETWORK; the next init() tries again
//   a damaged .wasm             WASM_COMPILE
//   the wrong MIME type         loads anyway (the glue falls back and says so)
//   the .wasm as text/html      loads (its bytes are WebAssembly)
//   new WidgetTokenManager()    NOT_INITIALIZED before init() and after a
//                               failed one; made after init()
//   auto.js, its .wasm 404s     one console error with WASM_HTTP
//   two init() calls at once    one .wasm request
//
// Needs `make pkg` first. No test framework: exit code 0 or 1.

import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { assert, root, suite } from "./pkg-server.mjs";

const STEP_TIMEOUT = 20_000;
const glue = readFileSync(resolve(root, "pkg/chathub_loader.js"));
const wasm = readFileSync(resolve(root, "pkg/chathub_loader_bg.wasm"));

// A page that imports the glue from `dir` and offers `window.__settle()`:
// one init() call and how it settled.
const page = (dir) => () => ({
  html: `<!doctype html><meta charset="utf-8"><title>init</title><script type="module">
import init from "${dir}chathub_loader.js";
import { WidgetTokenManager } from "${dir}chathub_loader.js";
const outcome = (e) => ({ isError: e instanceof Error, code: e.code, status: e.status, message: e.message });
window.__settle = () => init().then(() => ({ ok: true }), outcome);
// new WidgetTokenManager() now: whether it was made, or its error.
window.__construct = () => {
  try {
    const m = new WidgetTokenManager({ tokenUrl: "/token", container: document.body, org: "construct" });
    const made = m instanceof WidgetTokenManager;
    m.destroy();
    return { ok: made };
  } catch (e) {
    return outcome(e);
  }
};
</script>`,
});
const js = () => ({ html: glue, type: "text/javascript" });
const auto = readFileSync(resolve(root, "pkg/auto.js"));

// Offline until the test says otherwise (a closed connection on a reused
// socket is retried by the browser once, so counting drops would not do).
let flakyOnline = false;
const pages = {};
// Each directory: its page, the glue, and (unless it 404s) the .wasm's answer.
for (const [dir, answer] of Object.entries({
  "/node_modules/.vite/deps/": null,
  "/spa/": () => ({ html: "<!doctype html><title>My app</title><div id=app></div>" }),
  "/offline/": () => ({ drop: true }),
  "/flaky/": () => (flakyOnline ? { html: wasm, type: "application/wasm" } : { drop: true }),
  "/damaged/": () => ({ html: wasm.subarray(0, 1000), type: "application/wasm" }),
  "/mime/": () => ({ html: wasm, type: "application/octet-stream" }),
  "/htmltype/": () => ({ html: wasm, type: "text/html; charset=utf-8" }),
  "/ok/": () => ({ html: wasm, type: "application/wasm" }),
})) {
  pages[dir + "index.html"] = page(dir);
  pages[dir + "chathub_loader.js"] = js;
  if (answer) pages[dir + "chathub_loader_bg.wasm"] = answer;
}
// The one-tag entry beside the glue whose .wasm 404s.
pages["/node_modules/.vite/deps/auto.js"] = () => ({ html: auto, type: "text/javascript" });
pages["/auto.html"] = () => ({
  html: `<!doctype html><meta charset="utf-8"><title>auto</title>
<script type="module" src="/node_modules/.vite/deps/auto.js" data-token-url="/token"></script>`,
});

await suite("init-errors", { pages }, async ({ step, server }) => {
  const settle = async (pg) => {
    await pg.waitForFunction(() => typeof window.__settle == "function", null, { timeout: STEP_TIMEOUT });
    return pg.evaluate(() => window.__settle());
  };
  const wasmRequests = (dir) => server.requests.filter((r) => r.path === dir + "chathub_loader_bg.wasm").length;

  await step("a .wasm that 404s (Vite's dev server): WASM_HTTP with the status and the fix", "/node_modules/.vite/deps/index.html", async (pg, seen) => {
    const r = await settle(pg);
    assert(r.isError && r.code === "WASM_HTTP" && r.status === 404, `init(): ${JSON.stringify(r)}`);
    assert(/\/node_modules\/\.vite\/deps\/chathub_loader_bg\.wasm answered 404/.test(r.message), `names the URL and status: ${r.message}`);
    assert(/optimizeDeps\.exclude/.test(r.message), `says what to fix: ${r.message}`);
    assert(seen.pageErrors.length === 0, `page errors: ${seen.pageErrors}`);
  });

  await step("an HTML page for the .wasm (an SPA fallback): WASM_HTML", "/spa/index.html", async (pg, seen) => {
    const r = await settle(pg);
    assert(r.isError && r.code === "WASM_HTML" && r.status === undefined, `init(): ${JSON.stringify(r)}`);
    assert(/HTML page/.test(r.message) && /chathub_loader_bg\.wasm beside chathub_loader\.js/.test(r.message), `says what to fix: ${r.message}`);
    // Refused before compiling: no "failed to compile" warning from the glue's MIME fallback.
    const warnings = seen.console.filter((m) => m.type === "warning");
    assert(warnings.length === 0, `console warnings: ${JSON.stringify(warnings)}`);
  });

  await step("a network error on the .wasm: WASM_NETWORK naming the URL", "/offline/index.html", async (pg) => {
    const r = await settle(pg);
    assert(r.isError && r.code === "WASM_NETWORK", `init(): ${JSON.stringify(r)}`);
    assert(/could not fetch http:\/\/127\.0\.0\.1:\d+\/offline\/chathub_loader_bg\.wasm/.test(r.message), `names the URL: ${r.message}`);
    // The page's own fetch, passed in, fails the same way.
    const own = await pg.evaluate(() =>
      import("/offline/chathub_loader.js")
        .then((m) => m.default({ module_or_path: fetch("/offline/chathub_loader_bg.wasm") }))
        .then(() => "ok", (e) => e.code),
    );
    assert(own === "WASM_NETWORK", `init({ module_or_path: fetch(...) }): ${own}`);
  });

  await step("after a network error, the next init() tries again and loads", "/flaky/index.html", async (pg) => {
    const first = await settle(pg);
    assert(first.code === "WASM_NETWORK", `first init(): ${JSON.stringify(first)}`);
    flakyOnline = true;
    const mark = wasmRequests("/flaky/");
    const second = await pg.evaluate(() => window.__settle());
    assert(second.ok, `second init(): ${JSON.stringify(second)}`);
    assert(wasmRequests("/flaky/") === mark + 1, `one more .wasm request: ${wasmRequests("/flaky/") - mark}`);
  });

  await step("the real .wasm served as text/html: init() loads it (judged by its bytes, not only the type)", "/htmltype/index.html", async (pg) => {
    const r = await settle(pg);
    assert(r.ok, `init(): ${JSON.stringify(r)}`);
  });

  await step("new WidgetTokenManager() before init(), and after a failed one: NOT_INITIALIZED; after init(): made", "/flaky/index.html", async (pg) => {
    flakyOnline = false;
    await pg.waitForFunction(() => typeof window.__construct == "function", null, { timeout: STEP_TIMEOUT });
    const before = await pg.evaluate(() => window.__construct());
    assert(before.isError && before.code === "NOT_INITIALIZED" && /await init\(\)/.test(before.message), `before init(): ${JSON.stringify(before)}`);
    const failed = await settle(pg);
    assert(failed.code === "WASM_NETWORK", `init(): ${JSON.stringify(failed)}`);
    const afterFailure = await pg.evaluate(() => window.__construct());
    assert(afterFailure.code === "NOT_INITIALIZED", `after a failed init(): ${JSON.stringify(afterFailure)}`);
    flakyOnline = true;
    const ok = await pg.evaluate(() => window.__settle());
    assert(ok.ok, `init(): ${JSON.stringify(ok)}`);
    const made = await pg.evaluate(() => window.__construct());
    assert(made.ok, `after init(): ${JSON.stringify(made)}`);
  });

  await step("a damaged .wasm: WASM_COMPILE with the engine's reason", "/damaged/index.html", async (pg) => {
    const r = await settle(pg);
    assert(r.isError && r.code === "WASM_COMPILE", `init(): ${JSON.stringify(r)}`);
    assert(/failed to compile \(.+\)/.test(r.message) && /another version/.test(r.message), `says why and what to check: ${r.message}`);
  });

  await step("the wrong MIME type: init() still loads, and the console says why it was slower", "/mime/index.html", async (pg, seen) => {
    const r = await settle(pg);
    assert(r.ok, `init(): ${JSON.stringify(r)}`);
    assert(seen.console.some((m) => m.type === "warning" && /application\/wasm/.test(m.text)), `a console warning about the MIME type: ${JSON.stringify(seen.console)}`);
  });

  await step("auto.js whose .wasm 404s: one console error with WASM_HTTP", "/auto.html", async (pg, seen) => {
    const logged = () => seen.console.filter((m) => m.type === "error" && /chathub-loader/.test(m.text));
    await pg.waitForFunction(() => document.readyState === "complete", null, { timeout: STEP_TIMEOUT });
    // The error is logged after the .wasm's 404: wait for it as a reader of the console would.
    for (let i = 0; logged().length === 0 && i < 200; i++) await pg.waitForTimeout(100);
    const errors = logged();
    assert(errors.length === 1 && /WASM_HTTP: /.test(errors[0].text) && /optimizeDeps\.exclude/.test(errors[0].text), `console errors: ${JSON.stringify(errors)}`);
  });

  await step("two init() calls at once: one .wasm request, both resolve", "/ok/index.html", async (pg) => {
    await pg.waitForFunction(() => typeof window.__settle == "function", null, { timeout: STEP_TIMEOUT });
    const both = await pg.evaluate(() => Promise.all([window.__settle(), window.__settle()]));
    assert(both.every((r) => r.ok), `init(): ${JSON.stringify(both)}`);
    assert(wasmRequests("/ok/") === 1, `.wasm requests: ${wasmRequests("/ok/")}`);
  });
});
