// The example apps (www/examples/react, vue, angular, nextjs, sveltekit,
// astro) end to end, each built from the `npm pack` tarball as a user's
// project would be:
//
//   1. pack pkg/ into target/chathub-loader-<version>.tgz (the examples
//      depend on it by a file: path);
//   2. per example: its guide's snippets (docs/guides/<name>.md) are its
//      files, word for word; `npm ci` (skipped when package.json,
//      package-lock.json and the tarball are unchanged since the last
//      install), its build (`vite build`, React in development mode so
//      <StrictMode> double-mounts; `ng build`, production; `next build`;
//      SvelteKit's `vite build`; `astro build`);
//   3. serve it: a static build (dist/) with `chathub-token-server dev --www
//      dist` (token endpoint, stand-in widget and admin knobs on the same
//      origin); an app with a server of its own (`next start`, SvelteKit's
//      `vite preview` and `vite dev`) on its port, proxying the token
//      endpoint and the stand-in widget to the dev server (the app's
//      rewrites or proxy, pointed there by CHATHUB_DEV at build or start);
//      then drive it in headless Chromium:
//
//   mount (StrictMode)        the panel appears with a token: one tag, one
//                             evaluation, at most one extra token request;
//                             the chat's statechange listener added once
//                             (React: added, removed, added)
//   equal options again       no new token request, no new evaluation
//                             (the apps with a re-render button)
//   forced refresh            the widget evaluates again with a new token,
//                             one panel, one tag, one request (auto.js, with
//                             no refresh call: the loader's own refresh of
//                             8-second tokens)
//   another org               the chat is re-created for that org, one tag
//                             (the apps with an org select)
//   navigate away (unmount)   no tag, no panel, no status or fallback
//                             element, the page's listeners on window and
//                             document as before the chat (DevTools
//                             protocol; Astro's pages are separate documents:
//                             one widget on the chat page, none after the link)
//   backend down at start     one contact box; "Try again" after the backend
//                             recovers brings the chat
//   no WebAssembly            (a CSP without 'wasm-unsafe-eval') the contact
//                             box from showFallback(), state "fallback",
//                             error UNSUPPORTED_ENVIRONMENT; gone on unmount
//                             (the apps whose pages run under script-src
//                             'self': Next.js and SvelteKit inline their
//                             bootstrap scripts)
//
// Every step also checks: nothing uncaught, no token in the console.
// The Angular guide (docs/guides/angular.md) is checked against the
// example too: its service is the example's file word for word, and its
// app.ts type-checks with that service against the installed @angular/core.
// Needs `make pkg` and `cargo build -p chathub-token-server --features dev` first (the
// Makefile's examples-test target does both). Prints the install, build
// and test time of each example. Arguments: the names of the examples to
// run (all without). No test framework: exit code 0 or 1.

import { execFileSync, spawn } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { chromium } from "playwright-core";
import { snippet, where } from "../docs/markdown.mjs";
import { freePort, root, startDevServer } from "./dev-server.mjs";
import { checkGuide } from "./guides.mjs";
import { install, pack } from "./tarball.mjs";

const STEP_TIMEOUT = 20_000;
// Each example: its folder under www/examples (`dir`, default its name);
// its build (a command in its node_modules/.bin, null: none), with `env`;
// where it is served: `dist` (by the dev server with --www) or `serve` (its
// own server on `port`, the dev server's URL in CHATHUB_DEV at build and
// start); its routes; how often the page adds and removes the chat's
// `chathub:statechange` listener while the chat mounts; `skip`: the steps
// it has no part for (see the header); `guide`: docs/guides/<guide>.md,
// whose snippets are its files; `ssr`: its pages are rendered on the
// server (their HTML is there before the app hydrates).
const vite = (...args) => ["vite", "build", "--logLevel", "warn", ...args];
const HASH_ROUTES = { chat: "/#/", about: "/#/about" };
const ONE_LISTENER = { added: 1, removed: 0 };
// Next.js and SvelteKit inline their bootstrap scripts: no page of theirs runs under script-src 'self'.
const INLINE_BOOTSTRAP = ["no-wasm"];
// The stand-in widget of the dev server, for the builds that read its URL from the environment.
const WIDGET = "/operator-chat-panel/widget-script.js";
const EXAMPLES = [
  // React's development build: StrictMode mounts, unmounts and mounts again.
  {
    name: "react",
    build: vite("--mode", "development"),
    env: { NODE_ENV: "development" },
    dist: "dist",
    listeners: { added: 2, removed: 1 },
  },
  { name: "vue", build: vite(), env: {}, dist: "dist", listeners: ONE_LISTENER },
  // The production build (angular.json's default configuration), written
  // straight into dist/ (outputPath browser: ""). Its service is the
  // Angular guide's copy-paste: the same text in both.
  {
    name: "angular",
    build: ["ng", "build", "--configuration", "production"],
    env: { NG_CLI_ANALYTICS: "false" },
    dist: "dist",
    listeners: ONE_LISTENER,
    inGuide: { file: "src/app/chathub.service.ts", snippet: "angular-service", component: "angular-app" },
  },
  // `next build && next start`: rewrites() to the dev server fixed at
  // build time, the widget's URL inlined from NEXT_PUBLIC_*.
  {
    name: "nextjs",
    build: ["next", "build"],
    env: { NEXT_TELEMETRY_DISABLED: "1", NEXT_PUBLIC_CHATHUB_WIDGET_SRC: WIDGET },
    serve: (port) => ["next", "start", "--port", port, "--hostname", "127.0.0.1"],
    routes: { chat: "/", about: "/about" },
    ssr: true,
    listeners: ONE_LISTENER,
    skip: ["equal-options", "org", ...INLINE_BOOTSTRAP],
    guide: "nextjs",
  },
  // SvelteKit's `vite build` (adapter-static, every page prerendered) and `vite preview`.
  {
    name: "sveltekit",
    build: vite(),
    env: { VITE_CHATHUB_WIDGET_SRC: WIDGET },
    serve: (port) => ["vite", "preview", "--port", port, "--strictPort", "--host", "127.0.0.1"],
    routes: { chat: "/", about: "/about" },
    ssr: true,
    listeners: ONE_LISTENER,
    skip: ["equal-options", ...INLINE_BOOTSTRAP],
    guide: "sveltekit",
  },
  // The same app under `vite dev` (optimizeDeps.exclude, the widget's URL
  // from .env.development): the steps where the dev server's module
  // loading differs (the .wasm found next to the glue, one module instance
  // across pages); the others run the same component code as above.
  {
    name: "sveltekit-dev",
    dir: "sveltekit",
    build: null,
    env: {},
    serve: (port) => ["vite", "dev", "--port", port, "--strictPort", "--host", "127.0.0.1"],
    routes: { chat: "/", about: "/about" },
    ssr: true,
    listeners: ONE_LISTENER,
    skip: ["equal-options", "refresh", "org", "down", ...INLINE_BOOTSTRAP],
  },
  // A static build (two pages, about/index.html, as Astro writes by default) with the one-tag
  // auto.js entry, served by the dev server like the static example.
  {
    name: "astro",
    build: ["astro", "build", "--silent"],
    env: { ASTRO_TELEMETRY_DISABLED: "1", PUBLIC_CHATHUB_WIDGET_SRC: WIDGET },
    dist: "dist",
    routes: { chat: "/", about: "/about/" },
    pages: true,
    listeners: ONE_LISTENER,
    skip: ["equal-options", "org"],
    guide: "astro",
  },
];
const only = process.argv.slice(2);

function assert(cond, message) {
  if (!cond) throw new Error(message);
}
const seconds = (ms) => `${(ms / 1000).toFixed(1)} s`;

// The guide's component (its app.ts) with the guide's service, type-checked
// by the example's TypeScript against its installed @angular/core, in a
// folder of node_modules (ignored by git, thrown away by the next npm ci).
function typeCheckGuide(dir, { snippet: service, component }) {
  const check = resolve(dir, "node_modules/.docs-check");
  mkdirSync(check, { recursive: true });
  writeFileSync(resolve(check, "chathub.service.ts"), snippet(service));
  writeFileSync(resolve(check, "app.ts"), snippet(component));
  writeFileSync(
    resolve(check, "tsconfig.json"),
    JSON.stringify({ extends: "../../tsconfig.json", compilerOptions: { noEmit: true, types: [] }, files: ["chathub.service.ts", "app.ts"] }),
  );
  try {
    execFileSync(resolve(dir, "node_modules/.bin/tsc"), ["-p", check], { cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
  } catch (e) {
    throw new Error(`the Angular guide's ${component} (${where(component)}) does not type-check: ${e.stdout}${e.stderr}`);
  }
}

function build(dir, example, env) {
  const [bin, ...args] = example.build;
  execFileSync(resolve(dir, "node_modules/.bin", bin), args, {
    cwd: dir,
    env: { ...process.env, ...example.env, ...env },
    stdio: ["ignore", "inherit", "inherit"],
  });
}

/**
 * The example's own server (`example.serve`) on a free port, in a process
 * group of its own (stopped as a whole); resolves once its chat page
 * answers 200. Returns { base, stop() }.
 */
async function startApp(dir, example, env) {
  const port = String(await freePort());
  const [bin, ...args] = example.serve(port);
  const app = spawn(resolve(dir, "node_modules/.bin", bin), args, {
    cwd: dir,
    env: { ...process.env, ...example.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  let log = "";
  app.stdout.on("data", (d) => (log += d));
  app.stderr.on("data", (d) => (log += d));
  const exited = new Promise((r) => app.once("exit", r));
  const stop = async () => {
    if (app.exitCode !== null || app.signalCode !== null) return;
    process.kill(-app.pid, "SIGTERM");
    const t = setTimeout(() => process.kill(-app.pid, "SIGKILL"), 5000);
    await exited;
    clearTimeout(t);
  };
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (app.exitCode !== null) throw new Error(`${example.name}: ${bin} ${args.join(" ")} exited with ${app.exitCode}:\n${log}`);
    const ok = await fetch(base + example.routes.chat).then((r) => r.ok, () => false);
    if (ok) return { base, stop };
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`${example.name}: ${base}${example.routes.chat} did not answer in 60 s:\n${log}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

/**
 * The listeners on window and document of the page's own scripts (those
 * served from `base`: the app, the loader, the widget), from the DevTools
 * protocol, as sorted strings. Playwright's injected scripts have no URL
 * and add listeners of their own as the test drives the page: left out.
 */
async function pageListeners(pg, base) {
  const cdp = await pg.context().newCDPSession(pg);
  const urls = new Map();
  cdp.on("Debugger.scriptParsed", (e) => urls.set(e.scriptId, e.url));
  const out = [];
  try {
    await cdp.send("Debugger.enable"); // reports every script already parsed
    for (const target of ["window", "document"]) {
      const { result } = await cdp.send("Runtime.evaluate", { expression: target });
      const { listeners } = await cdp.send("DOMDebugger.getEventListeners", { objectId: result.objectId, depth: 0 });
      for (const l of listeners) {
        const url = urls.get(l.scriptId) ?? "";
        if (!url.startsWith(base)) continue;
        out.push(`${target} ${l.type}${l.useCapture ? " (capture)" : ""} from ${url.slice(base.length)}:${l.lineNumber + 1}:${l.columnNumber + 1}`);
      }
      await cdp.send("Runtime.releaseObject", { objectId: result.objectId });
    }
    await cdp.send("Debugger.disable");
  } finally {
    await cdp.detach();
  }
  return out.sort();
}

async function runExample(browser, example, server) {
  const results = { passed: 0, failed: 0 };
  const { base, admin } = server;
  const { chat, about } = example.routes ?? HASH_ROUTES;
  const skip = new Set(example.skip ?? []);

  /**
   * One step in a fresh browser context, the dev server reset first (then
   * `before`, e.g. an admin knob); `id` names it for example.skip.
   */
  async function step(id, name, path, check, { csp, before } = {}) {
    if (skip.has(id)) return;
    await admin("reset");
    await before?.();
    const ctx = await browser.newContext();
    const pg = await ctx.newPage();
    if (csp) {
      // The app's page with a Content-Security-Policy header.
      await pg.route(
        (url) => url.pathname === new URL(chat, base).pathname,
        async (route) => {
          const response = await route.fetch();
          await route.fulfill({ response, headers: { ...response.headers(), "content-security-policy": csp } });
        },
      );
    }
    const seen = { console: [], pageErrors: [], tokenRequests: 0 };
    pg.on("console", (m) => seen.console.push(m.text()));
    pg.on("pageerror", (e) => seen.pageErrors.push(e.message));
    pg.on("request", (r) => {
      if (new URL(r.url()).pathname === "/api/chathub/token") seen.tokenRequests += 1;
    });
    // Counts the chat's own listener (React's StrictMode adds, removes, adds it).
    await pg.addInitScript(() => {
      // What the page's CSP blocked (the no-WebAssembly step).
      window.__cspViolations = [];
      document.addEventListener("securitypolicyviolation", (e) => window.__cspViolations.push(`${e.effectiveDirective} ${e.blockedURI}`));
      window.__stateListeners = { added: 0, removed: 0 };
      const add = EventTarget.prototype.addEventListener;
      const remove = EventTarget.prototype.removeEventListener;
      EventTarget.prototype.addEventListener = function (type, ...rest) {
        if (this === window && type === "chathub:statechange") window.__stateListeners.added += 1;
        return add.call(this, type, ...rest);
      };
      EventTarget.prototype.removeEventListener = function (type, ...rest) {
        if (this === window && type === "chathub:statechange") window.__stateListeners.removed += 1;
        return remove.call(this, type, ...rest);
      };
    });
    try {
      await pg.goto(base + path);
      await check(pg, seen);
      assert(seen.pageErrors.length === 0, `uncaught: ${seen.pageErrors.join("; ")}`);
      const tokens = (await evaluations(pg)).map((e) => e.token).filter(Boolean);
      const leaked = seen.console.filter((text) => tokens.some((t) => text.includes(t)));
      assert(leaked.length === 0, `${leaked.length} console message(s) contain a token`);
      results.passed += 1;
      console.log(`ok   ${example.name}: ${name}`);
    } catch (e) {
      results.failed += 1;
      console.log(`FAIL ${example.name}: ${name}: ${e.message}`);
    } finally {
      await ctx.close();
    }
  }

  const evaluations = (pg) => pg.evaluate(() => window.__chathubWidget?.evaluations ?? []);
  const tags = (pg) => pg.locator('script[id^="operator-chat-panel-script"]').count();
  const panels = (pg) => pg.locator("section.operator-chat-panel").count();
  const state = (pg, value) => pg.locator("#state", { hasText: new RegExp(`^${value}$`) }).waitFor({ timeout: STEP_TIMEOUT });
  const connected = (pg, org = "default") =>
    pg.locator(`#operator-chat-panel-${org} [data-role="status"]`, { hasText: /^Connected$/ }).waitFor({ timeout: STEP_TIMEOUT });
  const until = (pg, fn, arg) => pg.waitForFunction(fn, arg, { timeout: STEP_TIMEOUT });

  await step("mount", "mount: the panel appears with a token, one tag, one evaluation", chat, async (pg, seen) => {
    await state(pg, "ready");
    await connected(pg);
    const evals = await evaluations(pg);
    assert(evals.length === 1, `widget evaluations: ${evals.length}`);
    assert(evals[0].token.split(".").length === 3, "the widget did not get a JWT");
    assert((await tags(pg)) === 1, "one widget tag");
    assert((await panels(pg)) === 1, "one panel");
    assert(seen.tokenRequests >= 1 && seen.tokenRequests <= 2, `token requests: ${seen.tokenRequests} (at most one extra)`);
    // (auto.js's page shows no expiry: its state event has none)
    if (!example.pages) assert((await pg.locator("#expires").textContent()) !== "–", "expiresAt is shown");
    assert((await pg.locator("#error").textContent()) === "none", "no error");
    // React: StrictMode's mount → unmount → mount really happened.
    const listeners = await pg.evaluate(() => window.__stateListeners);
    const want = example.listeners;
    assert(
      listeners.added === want.added && listeners.removed === want.removed,
      `statechange listeners added/removed: ${JSON.stringify(listeners)}, expected ${JSON.stringify(want)}`,
    );
  });

  // Without a refresh call (auto.js): operator tokens living 8 s, which
  // the loader refreshes ~1.6 s before they expire.
  const scheduled = example.pages;
  const refreshName = scheduled
    ? "the loader's own refresh (8-s tokens) evaluates the widget with a new token, one panel"
    : skip.has("equal-options")
      ? "a forced refresh evaluates the widget with a new token, one panel"
      : "equal options again keep the chat; a forced refresh evaluates the widget with a new token, one panel";
  const refreshOptions = scheduled ? { before: () => admin("token-lifetime", { seconds: 8 }) } : {};
  await step("refresh", refreshName, chat, async (pg, seen) => {
    await state(pg, "ready");
    await connected(pg);
    // Record every state the page shows from here on.
    await pg.evaluate(() => {
      window.__states = [];
      new MutationObserver(() => window.__states.push(document.querySelector("#state").textContent)).observe(
        document.querySelector("#state"),
        { childList: true, characterData: true, subtree: true },
      );
    });
    const requests = seen.tokenRequests;
    if (!skip.has("equal-options")) {
      for (let i = 1; i <= 3; i += 1) {
        await pg.click("#rerender");
        await pg.locator("#renders", { hasText: new RegExp(`^${i}$`) }).waitFor({ timeout: STEP_TIMEOUT });
      }
    }
    const before = await evaluations(pg);
    if (!scheduled) {
      await admin("flush-token-cache"); // else the dev server hands out its cached token again
      await pg.click("#refresh");
    }
    await until(pg, (n) => (window.__chathubWidget?.evaluations ?? []).length > n, before.length);
    await state(pg, "ready");
    await connected(pg);
    const after = await evaluations(pg);
    assert(after.length === before.length + 1, `evaluations: ${before.length} → ${after.length}`);
    const [prev, last] = [before.at(-1), after.at(-1)];
    assert(last.token !== prev.token, "the refresh gave the widget the same token");
    assert(last.url !== prev.url, "the widget's module URL did not change");
    assert(seen.tokenRequests === requests + 1, `token requests for the re-renders and the refresh: ${seen.tokenRequests - requests}, expected 1`);
    assert((await tags(pg)) === 1, "one widget tag");
    assert((await panels(pg)) === 1, "one panel");
    const states = await pg.evaluate(() => window.__states);
    assert(!states.includes("loading") && !states.includes("idle"), `the chat was re-created: ${states.join(" → ")}`);
  }, refreshOptions);

  await step("org", "another org re-creates the chat for that org, one tag", chat, async (pg) => {
    await state(pg, "ready");
    await pg.selectOption("#org", "support");
    await pg.locator('#operator-chat-panel-support [data-role="operator"]', { hasText: "Ivan Petrenko" }).waitFor({ timeout: STEP_TIMEOUT });
    await state(pg, "ready");
    assert((await pg.locator("script#operator-chat-panel-script-support").count()) === 1, "the support org's tag");
    assert((await tags(pg)) === 1, "one widget tag");
    assert((await panels(pg)) === 1, "one panel");
    const orgs = (await evaluations(pg)).map((e) => e.org);
    assert(orgs.at(-1) === "support", `the last evaluation's org: ${orgs.at(-1)}`);
  });

  // Astro's pages: two documents, plain links.
  if (example.pages) {
    await step("navigate", "the chat page has one widget, the page its link leads to none", about, async (pg) => {
      await pg.locator("#about").waitFor({ timeout: STEP_TIMEOUT });
      assert((await tags(pg)) === 0 && (await panels(pg)) === 0, "no widget on the page without the chat");
      await pg.click("#to-chat");
      await state(pg, "ready");
      await connected(pg);
      assert((await tags(pg)) === 1 && (await panels(pg)) === 1, "one tag, one panel");
      await pg.click("#to-about");
      await pg.locator("#about").waitFor({ timeout: STEP_TIMEOUT });
      assert((await tags(pg)) === 0 && (await panels(pg)) === 0, "no widget tag or panel after the link");
      for (const sel of [".chathub-loader-status", ".chathub-loader-fallback"]) assert((await pg.locator(sel).count()) === 0, `no ${sel}`);
    });
  } else {
    const name = "navigating away unmounts: no tag, panel, status, box or listener of ours left";
    await step("navigate", name, example.ssr ? chat : about, async (pg) => {
      // Navigation by the links' own click(): Playwright's pg.click() adds
      // listeners of its own to window, which would blur the comparison.
      const follow = (id) => pg.evaluate((id) => document.getElementById(id).click(), id);
      if (example.ssr) {
        // Server-rendered: #about is in the page before the app hydrates.
        // From the chat page, whose "ready" shows that it has: the
        // listeners the framework adds the first time a page needs them
        // (Svelte's one document listener for every onclick) are then in
        // the baseline too. Once to /about, then the round trip measured.
        await state(pg, "ready");
        await follow("to-about");
      }
      await pg.locator("#about").waitFor({ timeout: STEP_TIMEOUT });
      // The first waitForFunction sets up Playwright's script in the page's
      // own world, which adds window listeners of its own: before the
      // baseline, since through zone.js's patched addEventListener (Angular)
      // they would look like the app's.
      await until(pg, () => document.getElementById("about") !== null);
      const baseline = await pageListeners(pg, base);
      await follow("to-chat");
      await state(pg, "ready");
      await connected(pg);
      const during = await pageListeners(pg, base);
      assert(during.some((l) => l.startsWith("window chathub:statechange")), "the measurement sees the adapter's listener");
      await follow("to-about");
      await pg.locator("#about").waitFor({ timeout: STEP_TIMEOUT });
      await until(pg, () => !document.querySelector('script[id^="operator-chat-panel-script"]'));
      assert((await panels(pg)) === 0, "the widget's panel is gone");
      for (const sel of [".chathub-loader-status", ".chathub-loader-fallback"]) assert((await pg.locator(sel).count()) === 0, `no ${sel}`);
      const after = await pageListeners(pg, base);
      const extra = after.filter((l, i) => after.indexOf(l) === i && after.filter((x) => x === l).length > baseline.filter((x) => x === l).length);
      const missing = baseline.filter((l) => !after.includes(l));
      assert(extra.length === 0 && missing.length === 0, `listeners left: ${extra.join(", ") || "none"}; gone: ${missing.join(", ") || "none"}`);
      assert(during.length > baseline.length, "the chat had listeners of its own while mounted");
    });
  }

  await step("down", "backend down at start: one contact box; \"Try again\" recovers after the backend does", about, async (pg) => {
    await admin("fail", { count: 100000, status: 503 });
    await admin("flush-token-cache");
    await pg.click("#to-chat");
    const box = pg.locator(".chathub-loader-fallback");
    await box.waitFor({ state: "visible", timeout: STEP_TIMEOUT * 2 });
    await state(pg, "fallback");
    assert((await box.count()) === 1, `contact boxes: ${await box.count()}`);
    assert((await pg.locator(".chathub-loader-status").count()) === 0, "no loading status beside the box");
    assert((await box.textContent()).includes("support@example.com"), "the example's contact e-mail");
    assert(/^(TOKEN_|UPSTREAM)/.test(await pg.locator("#error").textContent()), "the error code is shown");
    assert((await tags(pg)) === 0, "no widget tag");
    await admin("recover");
    await box.getByRole("button").click();
    await state(pg, "ready");
    await connected(pg);
    assert((await box.count()) === 0, "the box is gone");
    assert((await tags(pg)) === 1 && (await panels(pg)) === 1, "one tag, one panel");
    assert((await pg.locator("#error").textContent()) === "none", "the error is cleared");
  });

  await step(
    "no-wasm",
    "no WebAssembly (a CSP without 'wasm-unsafe-eval'): the contact box, state fallback; unmounting removes it",
    chat,
    async (pg, seen) => {
      const box = pg.locator(".chathub-loader-fallback");
      await box.waitFor({ state: "visible", timeout: STEP_TIMEOUT });
      await state(pg, "fallback");
      assert((await pg.locator("#error").textContent()) === "UNSUPPORTED_ENVIRONMENT", "the error code is shown");
      assert((await box.count()) === 1, `contact boxes: ${await box.count()}`);
      assert((await box.textContent()).includes("support@example.com"), "the example's contact e-mail");
      assert(seen.tokenRequests === 0 && (await tags(pg)) === 0, "no token request, no widget tag");
      // The policy blocked WebAssembly only: no inline script or handler
      // of the app's build (which would not run under it).
      const blocked = await pg.evaluate(() => window.__cspViolations);
      assert(blocked.length > 0 && blocked.every((v) => v.endsWith(" wasm-eval")), `CSP violations: ${blocked.join(", ")}`);
      await pg.evaluate(() => document.getElementById("to-about").click());
      await pg.locator("#about").waitFor({ timeout: STEP_TIMEOUT });
      assert((await box.count()) === 0, "the box went with the component");
    },
    { csp: "script-src 'self'" },
  );

  return results;
}

/**
 * Builds and serves `example` (see EXAMPLES); the servers' { base, admin }
 * and stop(). An app with a server of its own is built with the dev
 * server's URL in CHATHUB_DEV (Next.js fixes its rewrites at build time).
 */
async function serve(dir, example) {
  const t = Date.now();
  if (!example.serve) {
    if (example.build) build(dir, example);
    const buildMs = Date.now() - t;
    const dev = await startDevServer({ www: resolve(dir, example.dist) });
    return { base: dev.base, admin: dev.admin, stop: dev.stop, buildMs };
  }
  const dev = await startDevServer();
  try {
    const env = { CHATHUB_DEV: dev.base };
    const b = Date.now();
    if (example.build) build(dir, example, env);
    const buildMs = Date.now() - b;
    const app = await startApp(dir, example, env);
    const stop = async () => {
      await app.stop();
      await dev.stop();
    };
    return { base: app.base, admin: dev.admin, stop, buildMs };
  } catch (e) {
    await dev.stop();
    throw e;
  }
}

/**
 * `vite dev` optimises the dependencies it discovers on the first visit
 * and may reload the page for them: one visit of each page, until the
 * chat is ready, before the steps.
 */
async function warmUp(browser, example, { base, admin }) {
  await admin("reset");
  const ctx = await browser.newContext();
  try {
    const pg = await ctx.newPage();
    await pg.goto(base + example.routes.chat);
    await pg.locator("#state", { hasText: /^ready$/ }).waitFor({ timeout: STEP_TIMEOUT * 3 });
    await pg.goto(base + example.routes.about);
    await pg.locator("#about").waitFor({ timeout: STEP_TIMEOUT * 3 });
  } finally {
    await ctx.close();
  }
}

let failed = false;
let passed = 0;
let failedSteps = 0;
let browser;
const times = [];
try {
  // The guides first: a snippet that differs from its file fails at once.
  for (const example of EXAMPLES) {
    if (example.guide && (!only.length || only.includes(example.name))) checkGuide(`docs/guides/${example.guide}.md`);
  }
  const [tarball] = pack();
  browser = await chromium.launch({ executablePath: "/usr/bin/chromium", headless: true, args: ["--no-sandbox", "--disable-gpu"] });
  for (const example of EXAMPLES) {
    if (only.length && !only.includes(example.name)) continue;
    const dir = resolve(root, "www/examples", example.dir ?? example.name);
    if (example.inGuide) {
      const file = readFileSync(resolve(dir, example.inGuide.file), "utf8");
      assert(snippet(example.inGuide.snippet) === file, `the guide's copy of ${example.name}/${example.inGuide.file} (${where(example.inGuide.snippet)}) differs from the file`);
    }
    let t = Date.now();
    const how = install(dir, tarball, ["chathub_loader.js", "chathub_loader_bg.wasm", "react.js", "vue.js"]);
    if (example.inGuide) typeCheckGuide(dir, example.inGuide);
    const installMs = Date.now() - t;
    t = Date.now();
    const server = await serve(dir, example);
    const startMs = Date.now() - t - server.buildMs;
    t = Date.now();
    let results;
    try {
      if (example.build === null) await warmUp(browser, example, server);
      results = await runExample(browser, example, server);
    } finally {
      await server.stop();
    }
    const e2eMs = Date.now() - t;
    const built = example.build ? `build ${seconds(server.buildMs)}` : "no build";
    times.push(`${example.name}: install ${seconds(installMs)} (${how}), ${built}, start ${seconds(startMs)}, e2e ${seconds(e2eMs)} (${results.passed} passed, ${results.failed} failed)`);
    passed += results.passed;
    failedSteps += results.failed;
    if (results.failed) failed = true;
  }
} catch (e) {
  failed = true;
  console.log(`FAIL ${e.message}`);
} finally {
  await browser?.close();
}
for (const line of times) console.log(`examples: ${line}`);
if (failed) console.log("examples: FAILED");
console.log(`examples: ${passed} passed, ${failedSteps} failed`);
process.exit(failed ? 1 : 0);
