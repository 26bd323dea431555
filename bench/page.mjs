// make bench, part page: the loader's page against the vendor's plain-JS
// sample (the baseline), in pairs, per condition: ms from navigation start
// until the widget tag with its token is in the document.
//
// A pair is both pages in the same condition one right after the other,
// which goes first alternating. The pairs of every condition are taken in
// BLOCKS blocks that run at different times of the whole bench (run.mjs
// puts them between the other parts); in each block every condition gets
// its share of pairs, one round at a time, the conditions' order rotating.
// So a drift of the shared machine during the run reaches every condition
// alike, and the interval (a two-stage bootstrap over blocks, then pairs,
// stats.mjs) widens with it instead of hiding it.
import fs from "node:fs";
import path from "node:path";
import { openPage, measure, PHONE_CPU_RATE } from "./browser.mjs";
import { knob } from "./knobs.mjs";
import { attributeLongTasks } from "./longtasks.mjs";
import { blockBootstrapMedianCI, median, quantile, r1, r3 } from "./stats.mjs";

export const PAIRS = knob("BENCH_PAIRS", 64, 12, "BENCH_RUNS");
export const BLOCKS = Math.max(1, Math.min(PAIRS, knob("BENCH_BLOCKS", 8, 3)));

// hints: the loader page's preload hints (server.mjs): "modules" = the glue
// (modulepreload) and the .wasm; "all" = those and the token endpoint.
// mobile: the slow mobile network; cpu: CPU slowdown (browser.mjs).
// warm: the same context loads the page again (second visit, cache warm).
export const PAGE_CONDITIONS = [
  { delay: 0, hints: "modules", cold: "cold_instant", warm: "warm_instant" },
  { delay: 100, hints: "modules", cold: "cold_100ms", warm: "warm_100ms" },
  { delay: 100, hints: "modules", mobile: true, cold: "cold_mobile" },
  { delay: 100, hints: "all", cold: "cold_100ms_token_hint" },
  { delay: 100, hints: "all", mobile: true, cold: "cold_mobile_token_hint" },
  { delay: 100, hints: "modules", mobile: true, cpu: PHONE_CPU_RATE, cold: "cold_phone" },
  { delay: 100, hints: "all", mobile: true, cpu: PHONE_CPU_RATE, cold: "cold_phone_token_hint" },
];
// ratio loader/baseline: met when the interval's upper end is within it
export const PAGE_GOALS = {
  cold_instant: 1.3,
  warm_instant: 1.1,
  cold_100ms: 1.02,
  warm_100ms: 1.05,
  cold_mobile: 1.2,
  cold_100ms_token_hint: 1.02,
  cold_mobile_token_hint: 1.2,
  cold_phone: 1.25,
  cold_phone_token_hint: 1.25,
};
export const PAGE_NAMES = {
  cold_instant: "first visit, endpoint instant",
  warm_instant: "second visit, endpoint instant",
  cold_100ms: "first visit, endpoint 100 ms",
  warm_100ms: "second visit, endpoint 100 ms",
  cold_mobile: "first visit, slow mobile, endpoint 100 ms",
  cold_100ms_token_hint: "first visit, endpoint 100 ms, token hint",
  cold_mobile_token_hint: "first visit, slow mobile, endpoint 100 ms, token hint",
  cold_phone: `first visit, phone (slow mobile + ${PHONE_CPU_RATE}x CPU), endpoint 100 ms`,
  cold_phone_token_hint: `first visit, phone (slow mobile + ${PHONE_CPU_RATE}x CPU), endpoint 100 ms, token hint`,
};

/** What a condition measures, kept in results.json: a run measured otherwise is not compared with. */
function setup(c, visit) {
  return [
    visit === "warm" ? "second visit" : "first visit",
    `endpoint ${c.delay} ms`,
    `loader hints: ${c.hints === "all" ? "glue, .wasm, token" : "glue, .wasm"}`,
    c.mobile ? "slow mobile network" : "loopback network",
    `CPU ${c.cpu || 1}x`,
  ].join("; ");
}

/** The figures of one condition (null until measured). */
export const pageFigures = () => ({
  loader_p50: null,
  loader_p95: null,
  baseline_p50: null,
  baseline_p95: null,
  ratio_p50: null,
  ratio_ci95: null,
  pairs: null,
});

/** How many pairs block `b` (0-based) of BLOCKS takes. */
function blockPairs(b) {
  return Math.floor((PAIRS * (b + 1)) / BLOCKS) - Math.floor((PAIRS * b) / BLOCKS);
}

/**
 * The page part, run block by block: `await pages.block()` BLOCKS times
 * (run.mjs spreads them over the run), then `pages.summary()`.
 */
export function pageRunner(browser, bench, { log, out }) {
  const keys = PAGE_CONDITIONS.flatMap((c) => [c.cold, c.warm].filter(Boolean));
  const samples = Object.fromEntries(keys.map((k) => [k, { blocks: [], loader: [], baseline: [], stages: [], tokens: [] }]));
  const longTasks = { loader: [], baseline: [] };
  const extra = { preload: null };
  let blocksDone = 0;
  let round = 0;

  async function load(page, url) {
    bench.resetStats();
    const b = await measure(page, url);
    b.tokenRequests = bench.stats.token;
    return b;
  }

  async function pair(c, order) {
    const got = {};
    for (const v of order) {
      const { ctx, page } = await openPage(browser, c);
      const url = `${bench.origin}/${v}.html?delay=${c.delay}${v === "loader" ? `&hints=${c.hints}` : ""}`;
      try {
        const cold = await load(page, url);
        const warm = c.warm ? await load(page, url) : null; // second visit: same context, cache warm
        got[v] = { cold, warm };
        const ownerPage = v === "loader" ? url : null;
        longTasks[v].push(...attributeLongTasks(cold, c.cold, ownerPage));
        if (warm) longTasks[v].push(...attributeLongTasks(warm, c.warm, ownerPage));
      } finally {
        await ctx.close();
      }
    }
    return got;
  }

  async function warmUp() {
    // one pair, not recorded: the block's first page loads pay for a
    // browser and a server that sat idle (or busy with another part)
    const c = PAGE_CONDITIONS[0];
    const got = await pair(c, ["loader", "baseline"]);
    // were the module hints used? (an unused preload means a second download)
    const n = got.loader.cold.resources.count;
    extra.preload ??= { wasm: n.wasm || 0, js: n.glue || 0 };
  }

  async function block() {
    const b = blocksDone++;
    const n = blockPairs(b);
    for (const k of keys) samples[k].blocks.push([]);
    await warmUp();
    for (let i = 0; i < n; i++, round++) {
      // rotate which condition goes first; alternate which page goes first
      const order = round % 2 ? ["baseline", "loader"] : ["loader", "baseline"];
      const cs = PAGE_CONDITIONS.map((_, j) => PAGE_CONDITIONS[(j + round) % PAGE_CONDITIONS.length]);
      for (const c of cs) {
        const got = await pair(c, order);
        for (const [k, visit] of [[c.cold, "cold"], [c.warm, "warm"]]) {
          if (!k) continue;
          const l = got.loader[visit];
          const bl = got.baseline[visit];
          const s = samples[k];
          s.blocks[b].push(l.tagAt / bl.tagAt);
          s.loader.push(l.tagAt);
          s.baseline.push(bl.tagAt);
          s.tokens.push(l.tokenRequests);
          s.stages.push({ glued: l.gluedAt, init: l.initAt, tag: l.tagAt, bytes: l.resources.bytes, baselineToken: bl.tokenAt, baselineTag: bl.tagAt, baselineBytes: bl.resources.bytes });
        }
      }
    }
    log(`page: block ${b + 1}/${BLOCKS} done (${n} pairs per condition)`);
  }

  function summary() {
    const figures = {};
    const stages = {};
    const tokenRequests = {};
    for (const c of PAGE_CONDITIONS) {
      for (const [k, visit] of [[c.cold, "cold"], [c.warm, "warm"]]) {
        if (!k) continue;
        const s = samples[k];
        const ratios = s.blocks.flat();
        if (!ratios.length) continue;
        const ci = blockBootstrapMedianCI(s.blocks);
        figures[k] = {
          loader_p50: r1(quantile(s.loader, 0.5)),
          loader_p95: r1(quantile(s.loader, 0.95)),
          baseline_p50: r1(quantile(s.baseline, 0.5)),
          baseline_p95: r1(quantile(s.baseline, 0.95)),
          ratio_p50: r3(median(ratios)),
          ratio_ci95: ci && ci.map(r3),
          pairs: ratios.length,
          blocks: s.blocks.filter((x) => x.length).length,
          block_ratio_p50: s.blocks.filter((x) => x.length).map((x) => r3(median(x))),
          goal: PAGE_GOALS[k],
          met: ci ? ci[1] <= PAGE_GOALS[k] : null,
          setup: setup(c, visit),
        };
        const p50 = (f) => r1(median(s.stages.map(f).filter((x) => x != null)));
        stages[k] = {
          glue_evaluated: p50((x) => x.glued),
          init_done: p50((x) => x.init),
          tag: p50((x) => x.tag),
          loader_kib: p50((x) => x.bytes / 1024),
          baseline_token: p50((x) => x.baselineToken),
          baseline_tag: p50((x) => x.baselineTag),
          baseline_kib: p50((x) => x.baselineBytes / 1024),
        };
        tokenRequests[k] = { min: Math.min(...s.tokens), max: Math.max(...s.tokens) };
      }
    }
    const byCondition = Object.fromEntries(keys.map((k) => [k, 0]));
    for (const t of longTasks.loader) if (t.ours) byCondition[t.where]++;
    const loaderLoads = keys.reduce((a, k) => a + samples[k].loader.length, 0);
    fs.writeFileSync(path.join(out, "page-samples.json"), JSON.stringify({ samples, longTasks }, null, 1));
    return {
      figures: {
        runs: PAIRS,
        long_tasks: longTasks.loader.length,
        long_tasks_ours: longTasks.loader.filter((t) => t.ours).length,
        long_tasks_ours_by_condition: byCondition,
        long_tasks_baseline: longTasks.baseline.length,
        long_task_loads: loaderLoads,
        ...figures,
      },
      extra: { ...extra, stages, tokenRequests, longTasksLoader: longTasks.loader },
    };
  }

  return { block, summary };
}
