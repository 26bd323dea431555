// The quick starts of README.md and docs/ run as written, in headless
// Chromium, against `chathub-token-server dev` (the token endpoint, the
// stand-in widget and the fake ChatHub on one origin, as `make demo`
// serves them). Each snippet is taken from the docs by its marker
// (tests/docs/markdown.mjs), so a page here is the page a user pastes:
//
//   one-tag, astro-tag    auto.js from /vendor/chathub-loader/ (the four
//                         files copied there): ready, one widget tag
//   by-hand               the preload hints and an inline module with
//                         prefetchToken: ready, one token request
//   orgs-static           two auto.js tags: two orgs ready, two tags
//   npm                   bundled with esbuild, the .wasm copied next to
//                         the bundle: ready with one token request (the
//                         prefetched one is used), then destroy() leaves
//                         no tag
//   orgs-npm              two managers, their console lines; destroyed
//   init-url              init({ module_or_path }) with the .wasm only
//                         under /assets/: ready, the .wasm fetched there
//   react-app, vue-app    the component rendered in the page (Vite's
//                         import.meta.env.DEV: the dev stand-in widget):
//                         "Chat: ready"; "New token" evaluates the
//                         widget again with a new token
//   sveltekit-page        its <script> with onMount from a stub of
//                         svelte: ready; the cleanup leaves no tag
//
// Snippets that keep the vendor's widget URL (the default widgetSrc) get
// the stand-in widget from a route of this test for
// https://widget.smsbat.com/. Every page also checks: nothing uncaught,
// no console error, no token in the console.
//
// Needs `make pkg` and `cargo build -p chathub-token-server --features dev`
// (the Makefile's e2e-test target does both). Exit code 0 or 1.

import { copyFileSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { build } from "esbuild";
import { chromium } from "playwright-core";
import { snippet, where } from "../docs/markdown.mjs";
import { root, startDevServer } from "./dev-server.mjs";

const STEP_TIMEOUT = 20_000;
const www = resolve(root, "target/docs-snippets/www");
const PKG_FILES = ["auto.js", "chathub_loader.js", "chathub_loader_bg.wasm", "fallback.js", "prefetch.js"];
const VENDOR_WIDGET = "https://widget.smsbat.com/operator-chat-panel/widget-script.js";

function assert(cond, message) {
  if (!cond) throw new Error(message);
}

// ---- the site: static pages and esbuild bundles of the snippets --------
rmSync(www, { recursive: true, force: true });
mkdirSync(resolve(www, "vendor/chathub-loader"), { recursive: true });
for (const f of PKG_FILES) copyFileSync(resolve(root, "pkg", f), resolve(www, "vendor/chathub-loader", f));
const html = (title, body) => `<!doctype html><meta charset="utf-8"><title>${title}</title>\n<body>\n${body}</body>\n`;
const write = (file, text) => writeFileSync(resolve(www, file), text);
write("index.html", html("docs snippets", "<p>The snippets of the docs, one page each.</p>\n"));

write("one-tag.html", html("one tag", snippet("one-tag")));
// Astro writes an is:inline script as it is, without the directive.
write("astro.html", html("astro", snippet("astro-tag").replace(" is:inline", "")));
write("by-hand.html", html("by hand", snippet("by-hand")));
write("orgs-static.html", html("orgs", snippet("orgs-static")));

async function bundle(name, { code, loader = "js", define = {}, alias = {}, wasmAt = name, body = '<div id="chat"></div>\n' }) {
  mkdirSync(resolve(www, name), { recursive: true });
  await build({
    stdin: { contents: code, loader, resolveDir: root, sourcefile: `${name}.${loader}` },
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    jsx: "automatic",
    outfile: resolve(www, name, "app.js"),
    alias: {
      "chathub-loader": "./pkg/chathub_loader.js",
      "chathub-loader/react": "./pkg/react.js",
      "chathub-loader/vue": "./pkg/vue.js",
      "chathub-loader/fallback": "./pkg/fallback.js",
      "chathub-loader/prefetch": "./pkg/prefetch.js",
      ...alias,
    },
    define: {
      "process.env.NODE_ENV": '"production"',
      __VUE_OPTIONS_API__: "true",
      __VUE_PROD_DEVTOOLS__: "false",
      __VUE_PROD_HYDRATION_MISMATCH_DETAILS__: "false",
      ...define,
    },
    logLevel: "error",
  });
  // `new URL("chathub_loader_bg.wasm", import.meta.url)` is the bundle's
  // folder now: the .wasm goes there (docs/bundlers.md, esbuild).
  mkdirSync(resolve(www, wasmAt), { recursive: true });
  copyFileSync(resolve(root, "pkg/chathub_loader_bg.wasm"), resolve(www, wasmAt, "chathub_loader_bg.wasm"));
  write(`${name}.html`, html(name, `${body}<script type="module" src="/${name}/app.js"></script>\n`));
}

// Vite's `npm run dev`: import.meta.env.DEV is true.
const VITE_DEV = { "import.meta.env": '{"DEV":true}' };
await bundle("npm", { code: snippet("npm") });
await bundle("orgs-npm", { code: snippet("orgs-npm"), body: '<div id="chat-sales"></div><div id="chat-support"></div>\n' });
await bundle("init-url", {
  code: `import init, { WidgetTokenManager } from "chathub-loader";\n${snippet("init-url")}await new WidgetTokenManager({ tokenUrl: "/api/chathub/token", container: "#chat" }).initialize();\n`,
  wasmAt: "assets",
});
writeFileSync(resolve(www, "react-app.jsx"), snippet("react-app"));
await bundle("react", {
  code: `import { createRoot } from "react-dom/client";\nimport App from "${resolve(www, "react-app.jsx")}";\ncreateRoot(document.getElementById("root")).render(<App />);\n`,
  loader: "jsx",
  define: VITE_DEV,
  body: '<div id="root"></div>\n',
});
{
  const { parse, compileScript } = await import("@vue/compiler-sfc");
  const { descriptor, errors } = parse(snippet("vue-app"), { filename: "App.vue" });
  assert(errors.length === 0, `vue-app (${where("vue-app")}): ${errors}`);
  writeFileSync(resolve(www, "vue-app.js"), compileScript(descriptor, { id: "app", inlineTemplate: true }).content);
  await bundle("vue", {
    code: `import { createApp } from "vue";\nimport App from "${resolve(www, "vue-app.js")}";\ncreateApp(App).mount("#app");\n`,
    define: VITE_DEV,
    body: '<div id="app"></div>\n',
  });
}
{
  // The page's <script> (Svelte runs onMount once the markup is in the
  // page; the stub runs it once the module runs, after the markup here)
  // and its markup.
  const page = snippet("sveltekit-page");
  const m = page.match(/^<script>\n([\s\S]*?)<\/script>\n([\s\S]*)$/);
  assert(m, `sveltekit-page (${where("sveltekit-page")}): a <script> then markup`);
  writeFileSync(resolve(www, "svelte-stub.js"), "export function onMount(fn) { window.__cleanup = fn(); }\n");
  await bundle("svelte", { code: m[1], alias: { svelte: resolve(www, "svelte-stub.js") }, body: m[2].trim() + "\n" });
}

// ---- the steps ----------------------------------------------------------
const standIn = `
const me = [...document.querySelectorAll('script[id^="operator-chat-panel-script"]')].find((s) => s.src === import.meta.url);
(window.__widget ||= []).push({ id: me ? me.id : null, token: me ? me.getAttribute("token") : null });
`;
// Every widget evaluation a page saw: the vendor URL's stand-in (this
// test's) and the dev server's.
const evaluations = (pg) =>
  pg.evaluate(() => [...(window.__widget ?? []), ...(window.__chathubWidget?.evaluations ?? []).map((e) => ({ token: e.token, org: e.org }))]);
const widgetTags = (pg) =>
  pg.evaluate(() => [...document.querySelectorAll("script[id^=operator-chat-panel-script]")].map((s) => ({ id: s.id, token: s.getAttribute("token") })));

let failed = false;
let passed = 0;
let server;
let browser;
try {
  server = await startDevServer({ www });
  browser = await chromium.launch({ executablePath: "/usr/bin/chromium", headless: true, args: ["--no-sandbox", "--disable-gpu"] });

  async function step(names, path, check) {
    const name = `${names.join(", ")} (${names.map(where).join("; ")})`;
    const ctx = await browser.newContext();
    await ctx.route("https://widget.smsbat.com/**", (route) =>
      route.fulfill({ status: 200, contentType: "text/javascript", headers: { "Access-Control-Allow-Origin": "*" }, body: standIn }),
    );
    await ctx.addInitScript(() => {
      window.__events = [];
      addEventListener("chathub:statechange", (e) => window.__events.push(e.detail));
    });
    const pg = await ctx.newPage();
    const seen = { console: [], pageErrors: [], requests: [] };
    pg.on("console", (m) => seen.console.push({ type: m.type(), text: m.text() }));
    pg.on("pageerror", (e) => seen.pageErrors.push(e.message));
    pg.on("request", (r) => seen.requests.push(new URL(r.url())));
    const t = Date.now();
    try {
      await pg.goto(server.base + path);
      await check(pg, seen);
      assert(seen.pageErrors.length === 0, `uncaught: ${seen.pageErrors.join(" | ")}`);
      const errors = seen.console.filter((m) => m.type === "error").map((m) => m.text);
      assert(errors.length === 0, `console errors: ${errors.join(" | ")}`);
      const tokens = (await evaluations(pg)).map((e) => e.token).filter(Boolean);
      assert(!seen.console.some((m) => tokens.some((tok) => m.text.includes(tok))), "a token in the console");
      passed++;
      console.log(`ok   ${name} (${((Date.now() - t) / 1000).toFixed(1)} s)`);
    } catch (e) {
      failed = true;
      console.log(`FAIL ${name}: ${e.message}`);
    } finally {
      await ctx.close();
    }
  }
  const ready = (pg, n = 1) =>
    pg.waitForFunction((n) => new Set(window.__events.filter((d) => d.state === "ready").map((d) => d.org)).size >= n, n, { timeout: STEP_TIMEOUT });
  const tokenRequests = (seen) => seen.requests.filter((u) => u.pathname === "/api/chathub/token");

  for (const [names, path] of [
    [["one-tag"], "/one-tag.html"],
    [["astro-tag"], "/astro.html"],
  ]) {
    await step(names, path, async (pg) => {
      await ready(pg);
      const tags = await widgetTags(pg);
      assert(tags.length === 1 && tags[0].id === "operator-chat-panel-script", `widget tags: ${JSON.stringify(tags)}`);
      const evals = await evaluations(pg);
      assert(evals.length === 1 && evals[0].token === tags[0].token, `the widget ran once with the tag's token: ${evals.length}`);
    });
  }

  await step(["by-hand"], "/by-hand.html", async (pg, seen) => {
    await ready(pg);
    assert((await widgetTags(pg)).length === 1, "one widget tag");
    // prefetchToken's request is the loader's: one request, not two.
    assert(tokenRequests(seen).length === 1, `token requests: ${tokenRequests(seen).length}`);
  });

  await step(["orgs-static"], "/orgs-static.html", async (pg) => {
    await ready(pg, 2);
    const ids = (await widgetTags(pg)).map((t) => t.id).sort();
    assert(ids.join() === "operator-chat-panel-script-sales,operator-chat-panel-script-support", `widget tags: ${ids}`);
  });

  await step(["npm"], "/npm.html", async (pg, seen) => {
    // The snippet runs to its end: initialize(), then destroy().
    await pg.waitForFunction(() => window.__events.some((d) => d.state === "destroyed"), null, { timeout: STEP_TIMEOUT });
    // prefetchToken()'s request is the manager's: one request, not two.
    assert(tokenRequests(seen).length === 1, `token requests: ${tokenRequests(seen).length}`);
    const states = await pg.evaluate(() => window.__events.map((d) => d.state));
    assert(states.includes("ready") && states.at(-1) === "destroyed", `states: ${states}`);
    assert((await evaluations(pg)).length === 1, "the widget ran once");
    assert((await widgetTags(pg)).length === 0, "destroy() left a widget tag");
  });

  await step(["orgs-npm"], "/orgs-npm.html", async (pg, seen) => {
    await pg.waitForFunction(() => window.__events.filter((d) => d.state === "destroyed").length === 2, null, { timeout: STEP_TIMEOUT });
    const readyOrgs = await pg.evaluate(() => window.__events.filter((d) => d.state === "ready").map((d) => d.org).sort());
    assert(readyOrgs.join() === "sales,support", `ready: ${readyOrgs}`);
    const logs = seen.console.filter((m) => m.type === "log").map((m) => m.text.trim());
    assert(logs.includes("sales ready") && logs.includes("support ready"), `console lines: ${logs.join(" | ")}`);
    assert(new Set((await evaluations(pg)).map((e) => e.id)).size === 2, "one widget per org");
    assert((await widgetTags(pg)).length === 0, "destroy() left a widget tag");
  });

  await step(["init-url"], "/init-url.html", async (pg, seen) => {
    await ready(pg);
    const wasm = seen.requests.filter((u) => u.pathname.endsWith(".wasm")).map((u) => u.pathname);
    assert(wasm.join() === "/assets/chathub_loader_bg.wasm", `.wasm requests: ${wasm}`);
  });

  for (const [name, path] of [
    ["react-app", "/react.html"],
    ["vue-app", "/vue.html"],
  ]) {
    await step([name], path, async (pg, seen) => {
      await pg.getByText("Chat: ready").waitFor({ timeout: STEP_TIMEOUT });
      const first = await evaluations(pg);
      assert(first.length === 1 && first[0].token, `the dev stand-in widget ran once with a token: ${JSON.stringify(first.length)}`);
      const before = tokenRequests(seen).length;
      // The dev server hands out its cached token until it is flushed.
      await server.admin("flush-token-cache");
      await pg.getByRole("button", { name: "New token" }).click();
      await pg.waitForFunction(() => (window.__chathubWidget?.evaluations ?? []).length === 2, null, { timeout: STEP_TIMEOUT });
      const [a, b] = await evaluations(pg);
      assert(a.token !== b.token, "the new evaluation has a new token");
      assert(tokenRequests(seen).length === before + 1, "one token request for the new token");
      await pg.getByText("Chat: ready").waitFor({ timeout: STEP_TIMEOUT });
    });
  }

  await step(["sveltekit-page"], "/svelte.html", async (pg) => {
    await ready(pg);
    assert((await widgetTags(pg)).length === 1, "one widget tag");
    await pg.evaluate(() => window.__cleanup());
    await pg.waitForFunction(() => window.__events.some((d) => d.state === "destroyed"), null, { timeout: STEP_TIMEOUT });
    assert((await widgetTags(pg)).length === 0, "the cleanup left a widget tag");
  });
} catch (e) {
  failed = true;
  console.log(`FAIL ${e.stack || e.message}`);
  if (server) console.log(server.log().slice(-2000));
} finally {
  await browser?.close();
  await server?.stop();
}
console.log(failed ? "docs snippets: FAILED" : `docs snippets: ${passed} pages passed`);
process.exit(failed ? 1 : 0);
