// make bench, part page_mobile: first visits on the slow mobile network,
// endpoint 100 ms: what the preload hints and a non-eager trigger change
// when bytes cost time. One run = each row once, a fresh context each,
// order alternating. Eager rows: navigation → widget tag (and its ratio to
// the baseline of the same run); trigger rows: what came over the wire in
// MOBILE_WINDOW_MS after `load` with no interaction, then a click and the
// ms until the widget tag.
import fs from "node:fs";
import path from "node:path";
import { openPage, pageSignal, RESOURCE_BYTES, MOBILE_PROFILE_TEXT } from "./browser.mjs";
import { knob } from "./knobs.mjs";
import { sleep } from "./procs.mjs";
import { bootstrapMedianCI, median, quantile, r1, r3 } from "./stats.mjs";

const MOBILE_RUNS = knob("BENCH_MOBILE_RUNS", 10, 2);
const MOBILE_WINDOW_MS = 1500;
const MOBILE_ROWS = [
  { key: "baseline", name: "vendor's plain-JS sample (the baseline)", path: "/baseline.html?delay=100" },
  { key: "hints", name: "loader, preload hints for glue, .wasm and token, eager (as cold_mobile_token_hint)", path: "/loader.html?delay=100&hints=all" },
  { key: "no_hints", name: "loader, no preload hints, eager", path: "/loader.html?delay=100&hints=0" },
  { key: "npm_interaction", name: "npm, module preload hints, trigger interaction", path: "/trigger.html?trigger=interaction&delay=100", pull: true },
  { key: "auto_interaction", name: "auto.js, data-trigger interaction", path: "/auto.html?trigger=interaction&delay=100", pull: true },
];

async function mobileRun(browser, origin, row) {
  const { ctx, page } = await openPage(browser, { mobile: true });
  try {
    const done = row.pull ? null : pageSignal(page, "__bench_done");
    await page.goto(origin + row.path, { waitUntil: "load", timeout: 30000 });
    if (done) {
      await done;
      await sleep(60);
    } else await sleep(MOBILE_WINDOW_MS);
    const before = await page.evaluate(RESOURCE_BYTES);
    const b = await page.evaluate(() => window.__bench);
    if (b.error) throw new Error(`${row.path}: ${b.error}`);
    let fireToTag = null;
    if (row.pull) {
      if (b.tagAt != null) throw new Error(`${row.path}: the widget tag came before the trigger`);
      const tag = pageSignal(page, "__bench_tag");
      await page.mouse.click(5, 5);
      await tag;
      fireToTag = await page.evaluate(() => window.__bench.tagAt - window.__bench.inputAt);
    }
    const after = row.pull ? await page.evaluate(RESOURCE_BYTES) : before;
    return { tagAt: row.pull ? null : b.tagAt, bytesBefore: before.bytes, bytesAll: after.bytes, byKind: before.byKind, fireToTag };
  } finally {
    await ctx.close();
  }
}

/** Returns the figures of results.json's page_mobile. */
export async function pageMobile(browser, origin, { log, out }) {
  const s = Object.fromEntries(MOBILE_ROWS.map((r) => [r.key, []]));
  for (let i = 0; i < MOBILE_RUNS; i++) {
    const order = i % 2 ? [...MOBILE_ROWS].reverse() : MOBILE_ROWS;
    for (const r of order) s[r.key].push(await mobileRun(browser, origin, r));
    if ((i + 1) % 5 === 0) log(`page_mobile: ${i + 1}/${MOBILE_RUNS} runs`);
  }
  const rows = {};
  for (const r of MOBILE_ROWS) {
    const x = s[r.key];
    const ratios = r.pull ? [] : x.map((v, i) => v.tagAt / s.baseline[i].tagAt);
    const ci = ratios.length ? bootstrapMedianCI(ratios) : null;
    rows[r.key] = {
      name: r.name,
      tag_ms_p50: r.pull ? null : r1(median(x.map((v) => v.tagAt))),
      ratio_p50: r.pull || r.key === "baseline" ? null : r3(median(ratios)),
      ratio_ci95: r.pull || r.key === "baseline" ? null : ci && ci.map(r3),
      bytes_before_trigger_p50: r.pull ? median(x.map((v) => v.bytesBefore)) : null,
      bytes_p50: median(x.map((v) => v.bytesAll)),
      trigger_to_tag_ms_p50: r.pull ? r1(median(x.map((v) => v.fireToTag))) : null,
      trigger_to_tag_ms_p95: r.pull ? r1(quantile(x.map((v) => v.fireToTag), 0.95)) : null,
    };
  }
  fs.writeFileSync(path.join(out, "page-mobile-samples.json"), JSON.stringify(s, null, 1));
  return { runs: MOBILE_RUNS, profile: MOBILE_PROFILE_TEXT, window_ms: MOBILE_WINDOW_MS, rows };
}
