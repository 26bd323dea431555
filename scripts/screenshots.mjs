// The README's screenshots of the demo page (what `make demo` serves), taken
// from the real page in headless Chromium: `make screenshots` retakes them
// into www/screenshots/{loading,ready,fallback}.png.
//
//   loading   the page's "Slow backend" (a dev-server knob: the next fake
//             ChatHub calls wait 7 s), then "Restart loader": the token
//             request is pending, the loader's loading status shows
//   ready     the stand-in widget's panel, connected with its token
//   fallback  the page's "Break backend" (every fake ChatHub call answers
//             503), then "Restart loader": the contact box
//
// Each shot waits for states (the page's #state and #backend outputs, the
// element it is about), never for a fixed time. Needs `make pkg` and `cargo build
// -p chathub-token-server --features dev` first (the Makefile's screenshots target does both).

import { mkdirSync, statSync } from "node:fs";
import { resolve } from "node:path";
import { chromium } from "playwright-core";
import { root, startDevServer } from "../tests/e2e/dev-server.mjs";

const out = resolve(root, "www/screenshots");
const TIMEOUT = 30_000;
const VIEWPORT = { width: 1040, height: 1060 };

mkdirSync(out, { recursive: true });
const server = await startDevServer();
const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", headless: true, args: ["--no-sandbox", "--disable-gpu"] });
let failed = false;

/** Opens the demo, waits for `ready(pg)` (which may use the page's buttons), saves <name>.png. */
async function shot(name, ready) {
  await server.admin("reset");
  const ctx = await browser.newContext({ viewport: VIEWPORT, deviceScaleFactor: 1, reducedMotion: "reduce" });
  const pg = await ctx.newPage();
  const errors = [];
  pg.on("pageerror", (e) => errors.push(e.message));
  try {
    await pg.goto(server.base + "/");
    await ready(pg);
    if (errors.length) throw new Error(`uncaught: ${errors.join("; ")}`);
    const file = resolve(out, `${name}.png`);
    await pg.screenshot({ path: file });
    console.log(`screenshots: ${name}.png (${statSync(file).size} bytes)`);
  } catch (e) {
    failed = true;
    console.log(`screenshots: ${name} FAILED: ${e.message}`);
  } finally {
    await ctx.close();
  }
}

const state = (pg, value) => pg.locator("#state", { hasText: new RegExp(`^${value}$`) }).waitFor({ timeout: TIMEOUT });
const visible = (pg, selector, hasText) => pg.locator(selector, hasText ? { hasText } : {}).first().waitFor({ state: "visible", timeout: TIMEOUT });

/** The demo ready, then its own buttons: `knob` (waiting for the page to say `backend`), then "Restart loader". */
async function restartWith(pg, knob, backend) {
  await state(pg, "ready");
  await pg.click(knob);
  await visible(pg, "#backend", backend);
  await pg.click("#restart");
}

try {
  await shot("loading", async (pg) => {
    // "Slow backend": the next ChatHub calls wait 7 s, so the new manager's
    // token request stays pending (the token endpoint gives up at 5 s).
    await restartWith(pg, "#slow", /^slow/);
    await state(pg, "loading");
    await visible(pg, "#chat .chathub-loader-status");
  });
  await shot("ready", async (pg) => {
    await state(pg, "ready");
    await visible(pg, '.operator-chat-panel [data-role="status"]', /^Connected$/);
    await visible(pg, '.operator-chat-panel [data-role="operator"]', /\w/);
    // The page's once-a-second counters have caught up.
    await visible(pg, "#evaluations", /^1$/);
    await visible(pg, "#stats", /token/);
  });
  await shot("fallback", async (pg) => {
    // "Break backend": every ChatHub call answers 503; the new manager
    // retries, then shows the contact box.
    await restartWith(pg, "#break", /^broken/);
    await state(pg, "fallback");
    await visible(pg, "#chat .chathub-loader-fallback");
  });
} finally {
  await browser.close();
  await server.stop();
}
process.exit(failed ? 1 : 0);
