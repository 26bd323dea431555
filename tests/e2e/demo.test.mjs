// End-to-end check of `make demo`: starts `chathub-token-server dev` on a
// free port, drives Debian's Chromium through the demo page and saves a
// screenshot to target/demo.png. No test framework: exit code 0 or 1.
// Needs `cargo build -p chathub-token-server --features dev` and `make pkg` first
// (the Makefile's e2e-test target does both).

import { mkdirSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { chromium } from "playwright-core";
import { root, startDevServer } from "./dev-server.mjs";

const screenshot = resolve(root, "target/demo.png");
const STEP_TIMEOUT = 20_000;

const steps = [];
async function step(name, fn) {
  const started = Date.now();
  try {
    await fn();
    steps.push(`ok   ${name} (${Date.now() - started} ms)`);
    console.log(`ok   ${name}`);
  } catch (err) {
    console.log(`FAIL ${name}: ${err.message}`);
    throw err;
  }
}

function assert(cond, message) {
  if (!cond) throw new Error(message);
}

let server;
let browser;
let failed = false;

try {
  server = await startDevServer();
  const { base } = server;

  browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
    ],
  });
  const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
  const pageErrors = [];
  page.on("pageerror", (e) => pageErrors.push(e.message));
  page.on("console", (m) => {
    if (m.type() === "error") pageErrors.push(m.text());
  });

  const panel = page.locator("section.operator-chat-panel");
  const evaluations = () => page.evaluate(() => window.__chathubWidget?.evaluations ?? []);

  await step("the demo page says it is dev mode", async () => {
    await page.goto(`${base}/`);
    const banner = await page.locator("#dev-banner").textContent({ timeout: STEP_TIMEOUT });
    assert(/DEV MODE/.test(banner), `no dev banner: ${banner}`);
  });

  await step("the stand-in chat panel shows the operator", async () => {
    await page.locator('section.operator-chat-panel [data-role="status"]', { hasText: "Connected" })
      .waitFor({ timeout: STEP_TIMEOUT });
    const operator = await panel.locator('[data-role="operator"]').textContent();
    const org = await panel.locator('[data-role="organization"]').textContent();
    assert(operator === "Marta Kovalenko", `operator shown: ${operator}`);
    assert(org === "Sales", `organisation shown: ${org}`);
    await page.locator("#state", { hasText: "ready" }).waitFor({ timeout: STEP_TIMEOUT });
    const evals = await evaluations();
    assert(evals.length === 1, `expected 1 widget evaluation, got ${evals.length}`);
    assert(evals[0].token.split(".").length === 3, "the widget did not see a JWT");
  });

  await step("forcing a refresh evaluates the widget again with a new token", async () => {
    const before = await evaluations();
    await page.click("#refresh");
    await page.waitForFunction(
      (n) => (window.__chathubWidget?.evaluations ?? []).length > n,
      before.length,
      { timeout: STEP_TIMEOUT },
    );
    const after = await evaluations();
    const last = after[after.length - 1];
    assert(last.token !== before[before.length - 1].token, "the refresh gave the widget the same token");
    assert(last.url !== before[before.length - 1].url, "the widget module URL did not change");
    await page.locator('section.operator-chat-panel [data-role="status"]', { hasText: "Connected" })
      .waitFor({ timeout: STEP_TIMEOUT });
    const panels = await page.locator('[id^="operator-chat-panel"]:not(script)').count();
    assert(panels === 1, `expected one chat panel after the refresh, found ${panels}`);
  });

  await step("a broken backend makes the refresh fail visibly", async () => {
    await page.click("#break");
    await page.locator("#backend", { hasText: "broken" }).waitFor({ timeout: STEP_TIMEOUT });
    await page.click("#refresh");
    await page.waitForFunction(
      () => document.querySelector("#error")?.textContent !== "none",
      null,
      { timeout: STEP_TIMEOUT * 2 },
    );
    const error = await page.locator("#error").textContent();
    assert(/TOKEN_|UPSTREAM|502|503/.test(error), `unexpected error shown: ${error}`);
  });

  await step("restarting while broken shows the fallback contact box", async () => {
    await page.click("#restart");
    const fallback = page.locator(".chathub-loader-fallback");
    await fallback.waitFor({ state: "visible", timeout: STEP_TIMEOUT * 2 });
    const text = await fallback.textContent();
    assert(text.includes("support@example.com"), `fallback without the contact e-mail: ${text}`);
    await page.locator("#state", { hasText: "fallback" }).waitFor({ timeout: STEP_TIMEOUT });
    mkdirSync(dirname(screenshot), { recursive: true });
    await page.screenshot({ path: resolve(root, "target/demo-fallback.png") });
  });

  await step("recover brings the chat panel back", async () => {
    const before = (await evaluations()).length;
    await page.click("#recover");
    await page.waitForFunction(
      (n) => (window.__chathubWidget?.evaluations ?? []).length > n,
      before,
      { timeout: STEP_TIMEOUT * 2 },
    );
    await page.locator('section.operator-chat-panel [data-role="status"]', { hasText: "Connected" })
      .waitFor({ timeout: STEP_TIMEOUT });
    await page.locator("#state", { hasText: "ready" }).waitFor({ timeout: STEP_TIMEOUT });
    const fallbacks = await page.locator(".chathub-loader-fallback").count();
    assert(fallbacks === 0, "the fallback box is still there after recovering");
    const operator = await panel.locator('[data-role="operator"]').textContent();
    assert(operator === "Marta Kovalenko", `operator shown after recovery: ${operator}`);
  });

  await step("switching the organisation loads that org's widget", async () => {
    await page.selectOption("#org", "support");
    await page.locator('#operator-chat-panel-support [data-role="operator"]', { hasText: "Ivan Petrenko" })
      .waitFor({ timeout: STEP_TIMEOUT });
    const tag = await page.locator("script#operator-chat-panel-script-support").count();
    assert(tag === 1, "no tag with the org suffix");
    await page.selectOption("#org", "");
    await page.locator('#operator-chat-panel-default [data-role="operator"]', { hasText: "Marta Kovalenko" })
      .waitFor({ timeout: STEP_TIMEOUT });
    const panels = await page.locator("section.operator-chat-panel").count();
    assert(panels === 1, `expected one panel after switching back, found ${panels}`);
  });

  await step("only the widget's own `token expired` error refreshes, not the host app's", async () => {
    let requests = 0;
    const count = (r) => {
      if (r.url().includes("/api/chathub/token")) requests += 1;
    };
    page.on("request", count);
    const fire = (filename) =>
      page.evaluate((f) => {
        window.dispatchEvent(new ErrorEvent("error", { message: "Uncaught Error: Session token expired", filename: f }));
      }, filename);
    // The widget is served from the page's own origin here: the host app's
    // scripts (the page itself, /demo.js) are outside the widget's folder.
    await fire(`${base}/`);
    await fire(`${base}/demo.js`);
    await page.waitForTimeout(1000); // past the 200 ms debounce: nothing may follow
    assert(requests === 0, `the host app's error made ${requests} token request(s)`);
    const src = await page.evaluate(() => document.querySelector('script[id^="operator-chat-panel-script"]').src);
    await fire(src);
    const deadline = Date.now() + STEP_TIMEOUT;
    while (requests === 0 && Date.now() < deadline) await page.waitForTimeout(50);
    assert(requests >= 1, "the widget's error made no token request");
    await page.waitForTimeout(1000); // a duplicate would come within the debounce
    assert(requests === 1, `the widget's error made ${requests} token request(s), expected 1`);
    await page.locator("#state", { hasText: "ready" }).waitFor({ timeout: STEP_TIMEOUT });
    page.off("request", count);
  });

  await step("screenshot saved to target/demo.png", async () => {
    mkdirSync(dirname(screenshot), { recursive: true });
    await page.waitForTimeout(1200); // let the page's stats line update once
    await page.screenshot({ path: screenshot, fullPage: false });
  });

  // The stand-in widget on its own, without the loader: it must behave like
  // the real one where the loader depends on it.
  const raw = await browser.newPage();
  await raw.goto(`${base}/healthz`); // any same-origin document
  const { admin } = server;
  const freshToken = async (org) => {
    await admin("flush-token-cache");
    const res = await fetch(`${base}/api/chathub/token${org ? `?org=${org}` : ""}`);
    return (await res.json()).token;
  };
  const insertTag = (token, v) =>
    raw.evaluate(
      ([token, v]) => {
        window.__errors ||= [];
        if (!window.__listening) {
          window.addEventListener("error", (e) => window.__errors.push(String(e.message)));
          window.__listening = true;
        }
        document.getElementById("operator-chat-panel-script")?.remove();
        document.querySelectorAll('[id^="operator-chat-panel"]:not(script), [class^="operator-chat-panel"]').forEach((n) => n.remove());
        const s = document.createElement("script");
        s.type = "module";
        s.id = "operator-chat-panel-script";
        s.src = `/operator-chat-panel/widget-script.js?chathub_v=${v}`;
        s.setAttribute("token", token);
        document.body.appendChild(s);
      },
      [token, v],
    );

  await step("stand-in widget: raises `token expired` when its token expires", async () => {
    await admin("token-lifetime", { seconds: 3 });
    const short = await freshToken();
    await insertTag(short, 1);
    await raw.locator('section.operator-chat-panel [data-role="operator"]', { hasText: "Marta" })
      .waitFor({ timeout: STEP_TIMEOUT });
    await raw.waitForFunction(() => (window.__errors || []).some((m) => m.includes("token expired")), null, {
      timeout: 8000,
    });
  });

  await step("stand-in widget: a replaced evaluation stays silent; the attribute is observed", async () => {
    const short = await freshToken();
    await insertTag(short, 2);
    await raw.waitForFunction(() => window.__chathubWidget.evaluations.length === 2, null, { timeout: STEP_TIMEOUT });
    await admin("token-lifetime", { seconds: null });
    const long = await freshToken();
    await raw.evaluate(() => (window.__errors = []));
    await insertTag(long, 3);
    await raw.locator('section.operator-chat-panel [data-role="status"]', { hasText: "Connected" })
      .waitFor({ timeout: STEP_TIMEOUT });
    await raw.waitForTimeout(4000); // the replaced evaluation's 3 s token expires meanwhile
    const errors = await raw.evaluate(() => window.__errors);
    assert(errors.length === 0, `a replaced widget raised: ${errors.join(" | ")}`);
    const panels = await raw.locator("section.operator-chat-panel").count();
    assert(panels === 1, `expected one panel, found ${panels}`);

    const support = await freshToken("support");
    await raw.evaluate((t) => document.getElementById("operator-chat-panel-script").setAttribute("token", t), support);
    await raw.locator('section.operator-chat-panel [data-role="operator"]', { hasText: "Ivan Petrenko" })
      .waitFor({ timeout: STEP_TIMEOUT });
    const rec = await raw.evaluate(() => window.__chathubWidget);
    assert(rec.evaluations.length === 3, `evaluations: ${rec.evaluations.length}`);
    assert(rec.tokenUpdates.length === 1 && rec.tokenUpdates[0].token === support, "token update not recorded");
  });
  await raw.close();

  const unexpected = pageErrors.filter((m) => !/token expired|503|502|Failed to load resource/.test(m));
  await step("no unexpected page errors", async () => {
    assert(unexpected.length === 0, `page errors: ${unexpected.join(" | ")}`);
  });
} catch (err) {
  failed = true;
  console.error(`\ne2e failed: ${err.stack || err}`);
  if (server) console.error(`--- dev server log (tail) ---\n${server.log().split("\n").slice(-30).join("\n")}`);
} finally {
  if (browser) await browser.close().catch(() => {});
  if (server) await server.stop();
}

console.log(failed ? "\ne2e: FAILED" : `\ne2e: ${steps.length} steps passed`);
process.exit(failed ? 1 : 0);
