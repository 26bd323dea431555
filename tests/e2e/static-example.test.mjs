// The static example (www/examples/static: plain HTML pages with
// `chathub-loader/auto` tags, no bundler) end to end, built from the
// `npm pack` tarball as a user's site would be:
//
//   1. pack pkg/ into target/chathub-loader-<version>.tgz (the example
//      depends on it by a file: path; skipped when the tarball is newer
//      than every file of pkg/);
//   2. `npm ci` (skipped when package.json, package-lock.json and the
//      tarball are unchanged since the last install), `npm run build`
//      (copies the pages and the package's auto.js, glue, .wasm and
//      fallback.js into dist/);
//   3. serve dist/ with `chathub-token-server dev --www dist` (token
//      endpoint, stand-in widget and admin knobs on the same origin) and
//      drive it in headless Chromium:
//
//   two orgs (index.html)     two widget tags, two panels, each org ready
//                             with its own token, one token request each
//   short tokens (8 s)        two separate refresh cycles: each org's widget
//                             evaluates again with new tokens of its own, a
//                             change of one org's tag never touches the
//                             other's, one token request per new token,
//                             still two tags and two panels
//   backend down at start     one contact box per org; "Try again" in each
//                             after the backend recovers brings both chats
//   data-trigger (help.html)  for idle, visible and interaction: once auto.js
//                             is provably waiting (its idle callback, its
//                             observed container, its keydown listener) and
//                             the network is idle, no glue, .wasm or token
//                             request; one of each after the trigger fires
//                             (idle: requestIdleCallback stubbed and fired by
//                             the test; visible: the container scrolled into
//                             view; interaction: a key press). eager, the
//                             control: one of each without anything.
//                             help.html ships with "visible"; for the others
//                             the test serves it with the tag's data-trigger
//                             rewritten (page.route).
//
// Every step also checks: nothing uncaught, no token in the console or in
// any request URL. Needs `make pkg` and `cargo build -p
// chathub-token-server --features dev` first (the Makefile's examples-test target does
// both). Prints the pack, install, build and test times. No test framework:
// exit code 0 or 1.

import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { chromium } from "playwright-core";
import { root, startDevServer } from "./dev-server.mjs";
import { install, pack } from "./tarball.mjs";

const STEP_TIMEOUT = 20_000;
const ORGS = ["sales", "support"];
const VENDORED = ["auto.js", "chathub_loader.js", "chathub_loader_bg.wasm", "fallback.js"];
const dir = resolve(root, "www/examples/static");

function assert(cond, message) {
  if (!cond) throw new Error(message);
}
const seconds = (ms) => `${(ms / 1000).toFixed(1)} s`;

function build() {
  execFileSync("npm", ["run", "--silent", "build"], { cwd: dir, stdio: ["ignore", "ignore", "inherit"] });
  for (const f of VENDORED) {
    const built = resolve(dir, "dist/vendor/chathub-loader", f);
    assert(existsSync(built) && readFileSync(built).equals(readFileSync(resolve(root, "pkg", f))), `dist/vendor/chathub-loader/${f} is not pkg/${f}`);
  }
}

async function run(browser, server) {
  const results = { passed: 0, failed: 0 };
  const { base, admin } = server;

  /**
   * One step in a fresh browser context, the dev server reset first;
   * `path` (null: the check navigates itself) opened before `check`.
   * `init`: an init script (with `initArg`); `trigger`: help.html is served
   * with its tag's data-trigger set to this instead.
   */
  async function step(name, path, check, { init, initArg, trigger } = {}) {
    await admin("reset");
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const pg = await ctx.newPage();
    const started = Date.now();
    const seen = { console: [], pageErrors: [], urls: [], token: {}, wasm: 0, glue: 0 };
    pg.on("console", (m) => seen.console.push(m.text()));
    pg.on("pageerror", (e) => seen.pageErrors.push(e.message));
    pg.on("request", (r) => {
      const url = new URL(r.url());
      seen.urls.push(r.url());
      if (url.pathname === "/api/chathub/token") {
        const org = url.searchParams.get("org") ?? "default";
        seen.token[org] = (seen.token[org] ?? 0) + 1;
      }
      if (url.pathname === "/vendor/chathub-loader/chathub_loader_bg.wasm") seen.wasm += 1;
      if (url.pathname === "/vendor/chathub-loader/chathub_loader.js") seen.glue += 1;
    });
    // Every widget tag's token after each change (for the refresh cycles).
    await pg.addInitScript(() => {
      window.__tagSnapshots = [];
      let last = "{}";
      new MutationObserver(() => {
        const snap = {};
        for (const t of document.querySelectorAll('script[id^="operator-chat-panel-script-"]')) {
          snap[t.id.slice("operator-chat-panel-script-".length)] = t.getAttribute("token");
        }
        const json = JSON.stringify(snap);
        if (json !== last) window.__tagSnapshots.push(snap);
        last = json;
      }).observe(document, { subtree: true, childList: true, attributes: true, attributeFilter: ["token"] });
    });
    if (init) await pg.addInitScript(init, initArg);
    if (trigger) {
      await pg.route(
        (url) => url.pathname === "/help.html",
        async (route) => {
          const response = await route.fetch();
          const html = (await response.text()).replace(/(<script[^>]*?)data-trigger="visible"/, `$1data-trigger="${trigger}"`);
          await route.fulfill({ response, body: html });
        },
      );
    }
    try {
      if (path) await pg.goto(base + path);
      if (trigger) assert((await count(pg, `script[data-trigger="${trigger}"]`)) === 1, `help.html served with data-trigger="${trigger}"`);
      await check(pg, seen);
      assert(seen.pageErrors.length === 0, `uncaught: ${seen.pageErrors.join("; ")}`);
      const tokens = (await evaluations(pg)).map((e) => e.token).filter(Boolean);
      const leaked = seen.console.filter((text) => tokens.some((t) => text.includes(t)));
      assert(leaked.length === 0, `${leaked.length} console message(s) contain a token`);
      const inUrls = seen.urls.filter((u) => tokens.some((t) => u.includes(t)));
      assert(inUrls.length === 0, `${inUrls.length} request URL(s) contain a token`);
      results.passed += 1;
      console.log(`ok   static: ${name} (${seconds(Date.now() - started)})`);
    } catch (e) {
      results.failed += 1;
      console.log(`FAIL static: ${name}: ${e.message}`);
    } finally {
      await ctx.close();
    }
  }

  const evaluations = (pg) => pg.evaluate(() => window.__chathubWidget?.evaluations ?? []);
  const count = (pg, sel) => pg.locator(sel).count();
  const tags = (pg) => count(pg, 'script[id^="operator-chat-panel-script"]');
  const panels = (pg) => count(pg, "section.operator-chat-panel");
  const state = (pg, org, value, timeout = STEP_TIMEOUT) =>
    pg.locator(`#state-${org}`, { hasText: new RegExp(`^${value}$`) }).waitFor({ timeout });
  const connected = (pg, org) =>
    pg.locator(`#operator-chat-panel-${org} [data-role="status"]`, { hasText: /^Connected$/ }).waitFor({ timeout: STEP_TIMEOUT });
  const until = (pg, fn, arg, timeout = STEP_TIMEOUT) => pg.waitForFunction(fn, arg, { timeout });

  await step("two orgs: two widget tags, two panels, each ready with its own token", "/index.html", async (pg, seen) => {
    for (const org of ORGS) {
      await state(pg, org, "ready");
      await connected(pg, org);
    }
    const evals = await evaluations(pg);
    assert(evals.length === 2, `widget evaluations: ${evals.length}`);
    for (const org of ORGS) {
      const mine = evals.filter((e) => e.org === org);
      assert(mine.length === 1 && mine[0].token.split(".").length === 3, `${org}: one evaluation with a JWT`);
      assert((await count(pg, `script#operator-chat-panel-script-${org}`)) === 1, `${org}: one widget tag`);
      assert((await count(pg, `#operator-chat-panel-${org}`)) === 1, `${org}: one panel`);
      assert(seen.token[org] === 1, `${org}: token requests ${seen.token[org]}`);
      assert((await pg.locator(`#error-${org}`).textContent()) === "none", `${org}: no error`);
    }
    assert(evals[0].token !== evals[1].token, "each org has its own token");
    assert((await tags(pg)) === 2 && (await panels(pg)) === 2, "two tags, two panels");
    assert(Object.keys(seen.token).length === 2, `token requests for: ${Object.keys(seen.token)}`);
    assert(seen.wasm === 1 && seen.glue === 1, `one .wasm and one glue request for both tags: ${seen.wasm}, ${seen.glue}`);
  });

  await step(
    "short tokens: two separate refresh cycles, each org's tag changes on its own, one request per new token",
    null,
    async (pg) => {
      // Operator tokens living 8 s: each manager refreshes ~1.6 s before
      // its token expires (20% of the lifetime), on its own timer.
      await admin("token-lifetime", { seconds: 8 });
      await pg.goto(base + "/index.html");
      const REFRESHES = 2;
      for (const org of ORGS) {
        await pg.locator(`#refreshes-${org}`, { hasText: new RegExp(`^[${REFRESHES}-9]$`) }).waitFor({ timeout: STEP_TIMEOUT });
      }
      // One consistent reading, taken in the page while both orgs are
      // "ready" (no refresh round in flight): the widget evaluations, the
      // token responses (resource timing) and the tags' tokens over time.
      const reading = await until(pg, (orgs) => {
        if (orgs.some((o) => document.getElementById(`state-${o}`).textContent !== "ready")) return null;
        const requests = performance
          .getEntriesByType("resource")
          .map((e) => new URL(e.name))
          .filter((u) => u.pathname === "/api/chathub/token")
          .map((u) => u.searchParams.get("org"));
        const evals = (window.__chathubWidget?.evaluations ?? []).map(({ org, token }) => ({ org, token }));
        return { requests, evals, snapshots: window.__tagSnapshots };
      }, ORGS).then((h) => h.jsonValue());
      const { evals, snapshots } = reading;
      for (const org of ORGS) {
        const mine = evals.filter((e) => e.org === org).map((e) => e.token);
        assert(mine.length >= REFRESHES + 1, `${org}: widget evaluations ${mine.length}`);
        assert(new Set(mine).size === mine.length, `${org}: every evaluation has a new token`);
        // Each new token was one request (no request without a new token, no retry loop).
        const requests = reading.requests.filter((o) => o === org).length;
        assert(requests === mine.length, `${org}: ${requests} token requests for ${mine.length} tokens`);
        // The tag's token over time: only new tokens of this org.
        const seenTokens = [...new Set(snapshots.map((s) => s[org]).filter(Boolean))];
        assert(seenTokens.every((t) => mine.includes(t)), `${org}: its tag carried a token its widget never evaluated`);
        await connected(pg, org);
      }
      assert(snapshots.length >= evals.length, `tag changes recorded: ${snapshots.length} for ${evals.length} evaluations`);
      const others = evals.filter((e) => !ORGS.includes(e.org));
      assert(others.length === 0, `evaluations for other orgs: ${others.map((e) => e.org)}`);
      // A refresh of one org never changes the other's tag in the same step.
      for (let i = 1; i < snapshots.length; i += 1) {
        const changed = ORGS.filter((o) => snapshots[i][o] !== snapshots[i - 1][o]);
        assert(changed.length <= 1, `one change touched both orgs' tags: ${JSON.stringify(changed)}`);
      }
      const salesTokens = new Set(evals.filter((e) => e.org === "sales").map((e) => e.token));
      assert(!evals.some((e) => e.org === "support" && salesTokens.has(e.token)), "the orgs never shared a token");
      assert((await tags(pg)) === 2 && (await panels(pg)) === 2, `two tags, two panels: ${await tags(pg)}, ${await panels(pg)}`);
      for (const org of ORGS) assert((await count(pg, `#operator-chat-panel-${org}`)) === 1, `${org}: one panel`);
    },
  );

  await step("backend down at start: one contact box per org; \"Try again\" recovers each after the backend does", null, async (pg) => {
    await admin("fail", { count: 100000, status: 503 });
    await admin("flush-token-cache");
    await pg.goto(base + "/index.html");
    for (const org of ORGS) await state(pg, org, "fallback", STEP_TIMEOUT * 2);
    const boxes = pg.locator(".chathub-loader-fallback");
    assert((await boxes.count()) === 2, `contact boxes: ${await boxes.count()}`);
    for (const org of ORGS) {
      const box = pg.locator(`#chat-${org} .chathub-loader-fallback`);
      assert((await box.count()) === 1, `${org}: contact boxes in its container: ${await box.count()}`);
      assert((await box.textContent()).includes(`${org}@example.com`), `${org}: its own contact e-mail`);
      assert(/^(TOKEN_|UPSTREAM)/.test(await pg.locator(`#error-${org}`).textContent()), `${org}: the error code is shown`);
    }
    assert((await count(pg, ".chathub-loader-status")) === 0, "no loading status beside the boxes");
    assert((await tags(pg)) === 0 && (await panels(pg)) === 0, "no widget tag, no panel");
    await admin("recover");
    for (const org of ORGS) {
      await pg.locator(`#chat-${org} .chathub-loader-fallback`).getByRole("button").click();
      await state(pg, org, "ready");
      await connected(pg, org);
    }
    assert((await boxes.count()) === 0, "the boxes are gone");
    assert((await tags(pg)) === 2 && (await panels(pg)) === 2, "two tags, two panels");
    for (const org of ORGS) assert((await pg.locator(`#error-${org}`).textContent()) === "none", `${org}: the error is cleared`);
  });

  // help.html: one tag (org support, container #chat at the end of a long
  // article), data-trigger="visible" as shipped, rewritten for the others.
  const ready = async (pg) => {
    await state(pg, "support", "ready");
    await connected(pg, "support");
  };
  const one = (seen) => {
    assert(seen.glue === 1 && seen.wasm === 1, `glue and .wasm requests after the trigger: ${seen.glue}, ${seen.wasm}`);
    assert(seen.token.support === 1 && Object.keys(seen.token).length === 1, `token requests after the trigger: ${JSON.stringify(seen.token)}`);
  };
  /** The page loaded, auto.js waiting (`waiting` holds), the network idle: nothing of the loader fetched. */
  const nothingYet = async (pg, seen, waiting) => {
    await pg.waitForLoadState("load");
    await until(pg, waiting);
    await pg.waitForLoadState("networkidle");
    assert(seen.glue === 0 && seen.wasm === 0, `glue and .wasm requests before the trigger: ${seen.glue}, ${seen.wasm}`);
    assert(Object.keys(seen.token).length === 0, `token requests before the trigger: ${JSON.stringify(seen.token)}`);
    assert((await pg.locator("#state-support").textContent()) === "idle", "the state is idle until the trigger");
  };

  await step("data-trigger=eager (control): one glue, one .wasm and one token request without any trigger", "/help.html", async (pg, seen) => {
    await ready(pg);
    await pg.waitForLoadState("networkidle");
    one(seen);
  }, { trigger: "eager" });

  await step(
    "data-trigger=idle: nothing fetched before the idle callback runs, one of each after",
    "/help.html",
    async (pg, seen) => {
      await nothingYet(pg, seen, () => window.__idleCallbacks.length > 0);
      await pg.evaluate(() => {
        for (const cb of window.__idleCallbacks.splice(0)) cb?.({ didTimeout: false, timeRemaining: () => 50 });
      });
      await ready(pg);
      one(seen);
    },
    {
      trigger: "idle",
      // The page's idle callbacks are held until the test runs them.
      init: () => {
        window.__idleCallbacks = [];
        window.requestIdleCallback = (cb) => window.__idleCallbacks.push(cb);
        window.cancelIdleCallback = (id) => (window.__idleCallbacks[id - 1] = null);
      },
    },
  );

  await step(
    "data-trigger=visible (as shipped): nothing fetched while the chat is below the fold, one of each once it scrolls into view",
    "/help.html",
    async (pg, seen) => {
      await nothingYet(pg, seen, () => window.__observed.includes("chat"));
      assert(!(await pg.locator("#chat").isVisible()) || (await pg.evaluate(() => document.querySelector("#chat").getBoundingClientRect().top > innerHeight)), "the chat is below the fold");
      await pg.evaluate(() => document.querySelector("#chat").scrollIntoView());
      await ready(pg);
      one(seen);
    },
    {
      // Records what IntersectionObservers watch (proof that auto.js waits).
      init: () => {
        window.__observed = [];
        const observe = IntersectionObserver.prototype.observe;
        IntersectionObserver.prototype.observe = function (target) {
          window.__observed.push(target.id);
          return observe.call(this, target);
        };
      },
    },
  );

  await step(
    "data-trigger=interaction: nothing fetched before the first key press, one of each after",
    "/help.html",
    async (pg, seen) => {
      await nothingYet(pg, seen, () => window.__windowListeners.includes("keydown"));
      await pg.keyboard.press("Tab");
      await ready(pg);
      one(seen);
    },
    {
      trigger: "interaction",
      // Records the listeners added on window (proof that auto.js waits).
      init: () => {
        window.__windowListeners = [];
        const add = EventTarget.prototype.addEventListener;
        EventTarget.prototype.addEventListener = function (type, ...rest) {
          if (this === window) window.__windowListeners.push(type);
          return add.call(this, type, ...rest);
        };
      },
    },
  );

  return results;
}

let failed = false;
let results = { passed: 0, failed: 0 };
let browser;
let times = "";
try {
  let t = Date.now();
  const [tarball, packed] = pack();
  const packMs = Date.now() - t;
  t = Date.now();
  const how = install(dir, tarball, VENDORED);
  const installMs = Date.now() - t;
  t = Date.now();
  build();
  const buildMs = Date.now() - t;
  t = Date.now();
  browser = await chromium.launch({ executablePath: "/usr/bin/chromium", headless: true, args: ["--no-sandbox", "--disable-gpu"] });
  const server = await startDevServer({ www: resolve(dir, "dist") });
  try {
    results = await run(browser, server);
  } finally {
    await server.stop();
  }
  times = `pack ${seconds(packMs)} (${packed}), install ${seconds(installMs)} (${how}), build ${seconds(buildMs)}, e2e ${seconds(Date.now() - t)}`;
  if (results.failed) failed = true;
} catch (e) {
  failed = true;
  console.log(`FAIL ${e.message}`);
} finally {
  await browser?.close();
}
if (times) console.log(`static example: ${times}`);
if (failed) console.log("static example: FAILED");
console.log(`static example: ${results.passed} passed, ${results.failed} failed`);
process.exit(failed ? 1 : 0);
