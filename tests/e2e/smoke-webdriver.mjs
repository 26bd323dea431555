// Smoke test of the demo page in the engines Playwright cannot drive here,
// through W3C WebDriver (tests/e2e/webdriver.mjs, Node's fetch):
// Firefox ESR (geckodriver) and WebKitGTK (WebKitWebDriver + MiniBrowser;
// it needs a display, so run under xvfb-run). For each engine, in turn,
// against its own `chathub-token-server dev`:
//   1. the chat panel appears with a token (state "ready");
//   1b. after going to another page and back, the chat is there, once;
//   2. a forced refresh makes the stand-in widget evaluate again with a new
//      token, and leaves one panel;
//   3. with a broken backend, a restarted loader shows the contact box;
//   4. recovering brings the panel back.
// Screenshots go to target/smoke-<engine>.png.
//
//   node tests/e2e/smoke-webdriver.mjs [firefox] [webkit]   (default: both)
//
// No test framework: exit code 0 when every engine passed; the summary
// names each engine's result.

import { mkdirSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { root, startDevServer } from "./dev-server.mjs";
import { ENGINES, startDriver } from "./webdriver.mjs";

const STEP_TIMEOUT = 20_000;
const engines = process.argv.slice(2).length ? process.argv.slice(2) : ["firefox", "webkit"];
for (const e of engines) if (!ENGINES[e]) throw new Error(`unknown engine ${e} (firefox, webkit)`);

function assert(cond, message) {
  if (!cond) throw new Error(message);
}

// Page probes (function bodies run by WebDriver "execute script").
const PANEL_CONNECTED = `
  const s = document.querySelector('section.operator-chat-panel [data-role="status"]');
  return !!s && s.textContent.includes("Connected");`;
const STATE = `return document.querySelector("#state").textContent;`;
const EVALS = "((window.__chathubWidget && window.__chathubWidget.evaluations) || [])";
const EVALUATIONS = `return ${EVALS};`;
const PANELS = `return document.querySelectorAll('[id^="operator-chat-panel"]:not(script)').length;`;
const stateIs = (s) => `return document.querySelector("#state").textContent === ${JSON.stringify(s)};`;

async function smoke(engine) {
  const steps = [];
  const step = async (name, fn) => {
    const started = Date.now();
    try {
      await fn();
    } catch (err) {
      console.log(`FAIL [${engine}] ${name}: ${err.message}`);
      throw err;
    }
    steps.push(name);
    console.log(`ok   [${engine}] ${name} (${Date.now() - started} ms)`);
  };
  const server = await startDevServer();
  let driver;
  let session;
  try {
    driver = await startDriver(engine);
    session = await driver.newSession();
    const s = session;
    console.log(`     [${engine}] ${driver.name}: ${s.browser()}`);
    await s.cmd("POST", "/window/rect", { width: 1100, height: 900 }).catch(() => {});

    await step("the chat panel appears with a token", async () => {
      await s.navigate(`${server.base}/`);
      await s.waitFor(PANEL_CONNECTED, [], STEP_TIMEOUT, "the panel to say Connected");
      await s.waitFor(stateIs("ready"), [], STEP_TIMEOUT, 'state "ready"');
      const evals = await s.execute(EVALUATIONS);
      assert(evals.length === 1, `expected 1 widget evaluation, got ${evals.length}`);
      assert(evals[0].token.split(".").length === 3, "the widget did not see a JWT");
      const tag = await s.execute(`return document.querySelector("script#operator-chat-panel-script").getAttribute("token");`);
      assert(tag === evals[0].token, "the widget's token is not the tag's");
      assert((await s.execute(PANELS)) === 1, "expected one panel");
    });

    await step("back from another page: the chat is there, one panel (back/forward cache)", async () => {
      await s.execute(`window.__smokeBeforeLeaving = true;`);
      await s.navigate(`${server.base}/healthz`);
      await s.cmd("POST", "/back", {});
      await s.waitFor(PANEL_CONNECTED, [], STEP_TIMEOUT, "the panel to say Connected");
      await s.waitFor(stateIs("ready"), [], STEP_TIMEOUT, 'state "ready"');
      const page = await s.execute(`return {
        restored: window.__smokeBeforeLeaving === true,
        tags: document.querySelectorAll('script[id^="operator-chat-panel-script"]').length,
        evaluations: ${EVALS}.length };`);
      assert((await s.execute(PANELS)) === 1, "expected one panel");
      assert(page.tags === 1, `expected one widget tag, found ${page.tags}`);
      // Restored from the cache, the page keeps its widget; reloaded, it loads it anew.
      assert(page.evaluations === 1, `expected one widget evaluation, got ${page.evaluations}`);
      console.log(`     [${engine}] ${page.restored ? "restored from the back/forward cache" : "reloaded (not cached)"}`);
    });

    await step("a forced refresh evaluates the widget with a new token, one panel", async () => {
      const before = await s.execute(EVALUATIONS);
      await s.click("#refresh");
      await s.waitFor(`return ${EVALS}.length > ${before.length};`, [], STEP_TIMEOUT, "a new evaluation");
      await s.waitFor(PANEL_CONNECTED, [], STEP_TIMEOUT, "the new panel to say Connected");
      await s.waitFor(stateIs("ready"), [], STEP_TIMEOUT, 'state "ready"');
      const after = await s.execute(EVALUATIONS);
      const [was, now] = [before[before.length - 1], after[after.length - 1]];
      assert(after.length === before.length + 1, `expected one more evaluation, got ${after.length - before.length}`);
      assert(now.token !== was.token, "the refresh gave the widget the same token");
      assert(now.url !== was.url, "the widget module URL did not change");
      const panels = await s.execute(PANELS);
      assert(panels === 1, `expected one chat panel after the refresh, found ${panels}`);
    });

    await step("a broken backend shows the contact box", async () => {
      await s.click("#break");
      await s.waitFor(`return document.querySelector("#backend").textContent.includes("broken");`, [], STEP_TIMEOUT, "the backend to be broken");
      await s.click("#restart");
      // initialize() retries (1 + maxRetries attempts with backoff) first.
      const text = await s.waitFor(
        `const b = document.querySelector(".chathub-loader-fallback");
         return b && b.getClientRects().length > 0 ? b.textContent : null;`,
        [],
        STEP_TIMEOUT * 2,
        "the contact box",
      );
      assert(text.includes("support@example.com"), `contact box without the e-mail: ${text}`);
      await s.waitFor(stateIs("fallback"), [], STEP_TIMEOUT, 'state "fallback"');
      assert((await s.execute(PANELS)) === 0, "a chat panel next to the contact box");
    });

    await step("recover brings the chat panel back", async () => {
      await s.click("#recover");
      await s.waitFor(PANEL_CONNECTED, [], STEP_TIMEOUT * 2, "the panel to say Connected");
      await s.waitFor(stateIs("ready"), [], STEP_TIMEOUT, 'state "ready"');
      const boxes = await s.execute(`return document.querySelectorAll(".chathub-loader-fallback").length;`);
      assert(boxes === 0, "the contact box is still there after recovering");
      assert((await s.execute(PANELS)) === 1, "expected one panel");
      mkdirSync(resolve(root, "target"), { recursive: true });
      writeFileSync(resolve(root, `target/smoke-${engine}.png`), await s.screenshot());
    });
    return { engine, ok: true, steps: steps.length, browser: s.browser() };
  } catch (err) {
    console.error(`\nsmoke [${engine}] failed: ${err.stack || err}`);
    if (session) console.error(`state shown: ${await session.execute(STATE).catch(() => "?")}`);
    console.error(`--- dev server log (tail) ---\n${server.log().split("\n").slice(-20).join("\n")}`);
    if (driver) console.error(`--- driver log (tail) ---\n${driver.log().split("\n").slice(-20).join("\n")}`);
    return { engine, ok: false, steps: steps.length };
  } finally {
    if (session) await session.close();
    if (driver) await driver.stop();
    await server.stop();
  }
}

const results = [];
for (const engine of engines) results.push(await smoke(engine));
console.log("");
for (const r of results)
  console.log(`demo smoke: ${r.engine} ${r.ok ? `passed (${r.steps} steps, ${r.browser})` : `FAILED after ${r.steps} steps`}`);
const failed = results.filter((r) => !r.ok).length;
console.log(`smoke: ${results.length - failed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
