// `chathub-loader/auto` (the one-tag entry for static sites), end to end
// with the built package in headless Chromium: real pages with real
// <script type="module" src=".../auto.js" data-*> tags, a real HTTP server.
//
//   two tags, two orgs          two managers, two widget tags, one request each
//   data-* options              numbers parsed, fallback fields, fallback off
//   missing data-token-url      one console.error with the code; no tag; no page error
//   a bad value                 the constructor's INVALID_OPTIONS, logged
//   data-trigger=interaction    no token and no .wasm request before the first
//                               interaction, one of each after
//   data-trigger=idle|visible   the widget loads without any interaction
//   nonce-only CSP              the tag's own nonce reaches the widget tag
//   no 'wasm-unsafe-eval'       the contact box from data-fallback-*
//
// Needs `make pkg` first. No test framework: exit code 0 or 1.

import { assert, suite } from "./pkg-server.mjs";

const STEP_TIMEOUT = 20_000;
const NONCE = "auto-n0nce";
const WIDGET = `data-widget-src="/widget.js"`;

const tag = (attrs, nonce = "") =>
  `<script type="module" src="/pkg/auto.js" ${nonce ? `nonce="${nonce}"` : ""} ${WIDGET} ${attrs}></script>`;
const page = (tags, { csp = "", body = "" } = {}) => () => ({
  csp,
  html: `<!doctype html><meta charset="utf-8"><title>auto</title>
<script nonce="${NONCE}">window.__events = []; addEventListener("chathub:statechange", (e) => window.__events.push(e.detail));</script>
<body>${body}<div id="chat-sales"></div><div id="chat-support"></div>${tags}</body>`,
});

const pages = {
  "/two-orgs.html": page(
    tag(`data-token-url="/token" data-org="sales" data-container="#chat-sales" data-check-interval-ms="600000"`) +
      tag(`data-token-url="/token" data-org="support" data-container="#chat-support"`),
  ),
  "/no-token-url.html": page(tag(`data-org="sales"`)),
  "/bad-value.html": page(tag(`data-token-url="/token" data-retry-delay-ms="soon"`)),
  "/interaction.html": page(tag(`data-token-url="/token" data-trigger="interaction"`)),
  "/idle.html": page(tag(`data-token-url="/token" data-trigger="idle"`)),
  "/visible.html": page(tag(`data-token-url="/token" data-trigger="visible" data-container="#below"`), {
    body: `<div style="height:3000px"></div><div id="below"></div>`,
  }),
  "/nonce.html": page(tag(`data-token-url="/token"`, NONCE), {
    csp: `script-src 'nonce-${NONCE}' 'wasm-unsafe-eval'; style-src 'nonce-${NONCE}'`,
  }),
  "/no-wasm.html": page(
    tag(`data-token-url="/token" data-fallback-title="Write to us" data-fallback-email="help@example.com"`, NONCE),
    { csp: `script-src 'nonce-${NONCE}'; style-src 'nonce-${NONCE}'` },
  ),
};

await suite("auto", { pages, needs: "pkg/auto.js" }, async ({ step, server }) => {
  const since = (mark, path) => server.requests.slice(mark).filter((r) => r.path === path).length;
  const widgets = (pg) => pg.evaluate(() => window.__widget ?? []);
  const readyOrgs = (pg, n) =>
    pg.waitForFunction((n) => window.__events.filter((d) => d.state === "ready").length >= n, n, { timeout: STEP_TIMEOUT });

  await step("two tags, two orgs: two managers, two widget tags with their own tokens", "/two-orgs.html", async (pg, seen) => {
    await readyOrgs(pg, 2);
    const ws = await widgets(pg);
    const ids = ws.map((w) => w.id).sort();
    assert(
      JSON.stringify(ids) === JSON.stringify(["operator-chat-panel-script-sales", "operator-chat-panel-script-support"]),
      `widget tags: ${ids}`,
    );
    assert(ws[0].token !== ws[1].token, "each org has its own token");
    const orgs = server.requests.filter((r) => r.path === "/token").map((r) => r.org).slice(-2).sort();
    assert(JSON.stringify(orgs) === '["sales","support"]', `token requests per org: ${orgs}`);
    assert(seen.pageErrors.length === 0, `page errors: ${seen.pageErrors}`);
  });

  await step("a missing data-token-url: one console.error with the code and the fix, no widget tag", "/no-token-url.html", async (pg, seen) => {
    await pg.waitForFunction(() => document.readyState === "complete");
    await pg.waitForTimeout(0);
    const errors = seen.console.filter((m) => m.type === "error").map((m) => m.text);
    assert(errors.length === 1 && /INVALID_OPTIONS/.test(errors[0]) && /data-token-url/.test(errors[0]), `console errors: ${errors}`);
    assert((await pg.locator("script[id^=operator-chat-panel-script]").count()) === 0, "no widget tag");
    assert(seen.pageErrors.length === 0, `nothing uncaught: ${seen.pageErrors}`);
  });

  await step("a bad value: the constructor's INVALID_OPTIONS, logged, nothing uncaught", "/bad-value.html", async (pg, seen) => {
    await pg.waitForFunction(() => document.readyState === "complete");
    const deadline = Date.now() + STEP_TIMEOUT;
    while (!seen.console.some((m) => m.type === "error") && Date.now() < deadline) await pg.waitForTimeout(50);
    const errors = seen.console.filter((m) => m.type === "error").map((m) => m.text);
    assert(errors.length === 1 && /INVALID_OPTIONS/.test(errors[0]) && /retryDelayMs/.test(errors[0]), `console errors: ${errors}`);
    assert((await pg.locator("script[id^=operator-chat-panel-script]").count()) === 0, "no widget tag");
    assert(seen.pageErrors.length === 0, `nothing uncaught: ${seen.pageErrors}`);
  });

  await step("data-trigger=interaction: nothing is fetched before the first interaction, one of each after", "/interaction.html", async (pg) => {
    const mark = server.requests.length - 1;
    await pg.waitForFunction(() => document.readyState === "complete");
    // The page is loaded and idle; the loader has fetched nothing of its own.
    await pg.evaluate(() => new Promise((r) => requestIdleCallback(() => r(), { timeout: 2000 })));
    assert(since(mark, "/token") === 0, "no token request before the trigger");
    assert(since(mark, "/pkg/chathub_loader_bg.wasm") === 0, "no .wasm request before the trigger");
    assert(since(mark, "/pkg/chathub_loader.js") === 0, "no glue request before the trigger");
    await pg.keyboard.press("Tab");
    await readyOrgs(pg, 1);
    assert(since(mark, "/token") === 1 && since(mark, "/pkg/chathub_loader_bg.wasm") === 1, "one of each after");
  });

  await step("data-trigger=idle: loads by itself once the page is idle", "/idle.html", async (pg) => {
    await readyOrgs(pg, 1);
    assert((await widgets(pg)).length === 1, "one widget");
  });

  await step("data-trigger=visible: loads when the container scrolls into view", "/visible.html", async (pg) => {
    const mark = server.requests.length - 1;
    await pg.waitForFunction(() => document.readyState === "complete");
    await pg.evaluate(() => new Promise((r) => requestIdleCallback(() => r(), { timeout: 2000 })));
    assert(since(mark, "/token") === 0, "no token request while the container is below the fold");
    await pg.evaluate(() => document.querySelector("#below").scrollIntoView());
    await readyOrgs(pg, 1);
    assert(since(mark, "/token") === 1, "one token request");
  });

  await step("nonce-only CSP: the tag's own nonce reaches the widget tag", "/nonce.html", async (pg) => {
    await readyOrgs(pg, 1);
    const nonce = await pg.evaluate(() => document.querySelector("script[id^=operator-chat-panel-script]").nonce);
    assert(nonce === "auto-n0nce", `widget tag nonce: ${nonce}`);
  });

  await step("no 'wasm-unsafe-eval': the contact box from data-fallback-*", "/no-wasm.html", async (pg, seen) => {
    const box = pg.locator(".chathub-loader-fallback");
    await box.waitFor({ timeout: STEP_TIMEOUT });
    assert((await box.locator("h2").textContent()) === "Write to us", "the tag's title");
    assert((await box.locator('a[href="mailto:help@example.com"]').count()) === 1, "the tag's e-mail");
    assert(seen.pageErrors.length === 0, `nothing uncaught: ${seen.pageErrors}`);
    const errors = seen.console.filter((m) => m.type === "error" && /UNSUPPORTED_ENVIRONMENT/.test(m.text));
    assert(errors.length === 1, "one console.error says why");
  });
});
