// make bench, part page_trigger: what a load trigger saves on the page
// before it fires. Each condition is a first visit (new context) of the
// same small page, watched for TRIGGER_WINDOW_MS after `load` without any
// interaction; then the trigger is pulled (a click, or scrolling the
// container into view) and the time until the widget tag is in the
// document is taken. Its own server serves pkg/ uncompressed, so the bytes
// keep their documented meaning (bytes as served, uncompressed).
import fs from "node:fs";
import path from "node:path";
import { pageSignal, RESOURCE_BYTES } from "./browser.mjs";
import { knob } from "./knobs.mjs";
import { freePort, sleep } from "./procs.mjs";
import { startBenchServer } from "./server.mjs";
import { quantile, r1 } from "./stats.mjs";

const TRIGGER_RUNS = knob("BENCH_TRIGGER_RUNS", 10, 2);
// How long a trigger page is watched after its `load` without any interaction.
const TRIGGER_WINDOW_MS = 2000;
const TRIGGER_CONDITIONS = [
  { name: "no chat (the page alone)", key: "none", path: "/none.html" },
  { name: "npm, trigger eager", key: "npm_eager", path: "/trigger.html?trigger=eager" },
  { name: "npm, trigger idle", key: "npm_idle", path: "/trigger.html?trigger=idle" },
  { name: "npm, trigger visible (below the fold)", key: "npm_visible", path: "/trigger.html?trigger=visible&fold=1", pull: "scroll" },
  { name: "npm, trigger interaction", key: "npm_interaction", path: "/trigger.html?trigger=interaction", pull: "click" },
  { name: "auto.js, data-trigger eager", key: "auto_eager", path: "/auto.html?trigger=eager" },
  { name: "auto.js, data-trigger interaction", key: "auto_interaction", path: "/auto.html?trigger=interaction", pull: "click" },
];

async function triggerRun(browser, origin, c) {
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  const cdp = await ctx.newCDPSession(page);
  await cdp.send("Performance.enable");
  await page.goto(origin + c.path, { waitUntil: "load", timeout: 15000 });
  await sleep(TRIGGER_WINDOW_MS);
  const { metrics } = await cdp.send("Performance.getMetrics");
  const m = Object.fromEntries(metrics.map((x) => [x.name, x.value]));
  const before = {
    ...(await page.evaluate(RESOURCE_BYTES)),
    ...(await page.evaluate(() => ({ tagAt: window.__bench.tagAt, error: window.__bench.error }))),
  };
  let fireToTag = null;
  if (c.pull) {
    const tag = pageSignal(page, "__bench_tag");
    if (c.pull === "click") await page.mouse.click(5, 5);
    else await page.evaluate(() => document.getElementById("chat").scrollIntoView());
    await tag;
    fireToTag = await page.evaluate(() => window.__bench.tagAt - window.__bench.inputAt);
  }
  await ctx.close();
  if (before.error) throw new Error(`${c.path}: ${before.error}`);
  return { ...before, taskMs: m.TaskDuration * 1000, scriptMs: m.ScriptDuration * 1000, fireToTag };
}

/** Returns the figures of results.json's page_trigger. */
export async function triggerCost(browser, { pkgDir, log, out }) {
  const bench = await startBenchServer({ pkgDir, compress: false, port: await freePort() });
  const samples = Object.fromEntries(TRIGGER_CONDITIONS.map((c) => [c.key, []]));
  try {
    await triggerRun(browser, bench.origin, TRIGGER_CONDITIONS[1]); // warm-up, not recorded
    for (let i = 0; i < TRIGGER_RUNS; i++) {
      const order = i % 2 ? [...TRIGGER_CONDITIONS].reverse() : TRIGGER_CONDITIONS;
      for (const c of order) samples[c.key].push(await triggerRun(browser, bench.origin, c));
      if ((i + 1) % 5 === 0) log(`page_trigger: ${i + 1}/${TRIGGER_RUNS} runs`);
    }
  } finally {
    await bench.close();
  }
  const p50 = (xs) => quantile(xs.filter((x) => x != null), 0.5);
  const conditions = {};
  for (const c of TRIGGER_CONDITIONS) {
    const s = samples[c.key];
    const kinds = [...new Set(s.flatMap((r) => Object.keys(r.byKind)))].sort();
    conditions[c.key] = {
      name: c.name,
      bytes_p50: p50(s.map((r) => r.bytes)),
      requests_p50: p50(s.map((r) => r.requests)),
      bytes_by_kind_p50: Object.fromEntries(kinds.map((k) => [k, p50(s.map((r) => r.byKind[k] || 0))])),
      main_thread_ms_p50: r1(p50(s.map((r) => r.taskMs))),
      script_ms_p50: r1(p50(s.map((r) => r.scriptMs))),
      token_requested_runs: s.filter((r) => r.tokenAt != null).length,
      token_at_ms_p50: r1(p50(s.map((r) => r.tokenAt))),
      tag_before_trigger_runs: s.filter((r) => r.tagAt != null).length,
      fire_to_tag_ms_p50: c.pull ? r1(p50(s.map((r) => r.fireToTag))) : null,
      fire_to_tag_ms_p95: c.pull ? r1(quantile(s.map((r) => r.fireToTag).filter((x) => x != null), 0.95)) : null,
    };
  }
  fs.writeFileSync(path.join(out, "page-trigger-samples.json"), JSON.stringify(samples, null, 1));
  return { runs: TRIGGER_RUNS, window_ms: TRIGGER_WINDOW_MS, conditions };
}
