// make bench, part memory: JS heap, DOM nodes, listeners and wasm memory
// over CYCLES forced refreshes after WARMUP_CYCLES warm-up ones, after a
// forced GC (DevTools protocol). The loader page (reload "module", the
// default) and the control without the loader (what the vendor's sample
// does per refresh: control.mjs), alternating, MEMORY_RUNS times each, each
// run CYCLES refreshes and then CYCLES more on the same page. Per refresh is
// read from the second CYCLES (steady state): the first ones also pay the
// engine's one-time warm-up (optimised JS, wasm tier-up: ~60 KB), which
// spread over 1000 refreshes moved the control by ~60 bytes per refresh
// between two runs of the same code (909 and 973), about the size of the
// loader's own share. Medians of the runs and their difference are
// reported; the first CYCLES' figures are kept beside. Then once with
// reload "attribute" (no module re-evaluation).
import { controlRefreshes } from "./control.mjs";
import { knob } from "./knobs.mjs";
import { sleep } from "./procs.mjs";
import { r2 } from "./stats.mjs";

export const CYCLES = knob("BENCH_CYCLES", 1000, 100);
export const WARMUP_CYCLES = 20;
export const MEMORY_RUNS = Math.max(1, knob("BENCH_MEMORY_RUNS", 2, 1));

async function metrics(cdp, page) {
  // the browser's resource-timing buffer (one entry per request, up to 250)
  // is not the loader's memory
  await page.evaluate(() => performance.clearResourceTimings());
  await cdp.send("HeapProfiler.collectGarbage");
  await sleep(50);
  await cdp.send("HeapProfiler.collectGarbage");
  const { metrics } = await cdp.send("Performance.getMetrics");
  const m = Object.fromEntries(metrics.map((x) => [x.name, x.value]));
  return { heap: m.JSHeapUsedSize, nodes: m.Nodes, listeners: m.JSEventListeners };
}

// second: after the measured cycles, as many again, measured on their own
// (is the growth a one-time warm-up of the engine, or per refresh?)
async function memoryRun(browser, origin, reload, cycles, second = false) {
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  await page.goto(`${origin}/driven.html`);
  await page.waitForFunction(() => window.__bench && window.__bench.ready, null, { timeout: 15000 });
  const cdp = await page.context().newCDPSession(page);
  await cdp.send("Performance.enable");
  // reload "plainjs": the control without the loader
  const plain = reload === "plainjs";
  const cycle = (n) =>
    plain
      ? page.evaluate(controlRefreshes, n)
      : page.evaluate(async (n) => {
          for (let i = 0; i < n; i++) await window.__m.refreshToken();
          return window.__widgetEvaluations;
        }, n);
  if (!plain) {
    await page.evaluate(async (reload) => {
      const opts = { tokenUrl: "/api/chathub/token", widgetSrc: "/widget/widget-script.js", container: "#chat" };
      if (reload) opts.reload = reload;
      window.__m = new window.WidgetTokenManager(opts);
      await window.__m.initialize();
    }, reload);
  }
  await cycle(WARMUP_CYCLES);
  const wasmBytes = () => page.evaluate(() => window.__wasm.memory.buffer.byteLength);
  const before = { ...(await metrics(cdp, page)), wasm: await wasmBytes() };
  const t0 = Date.now();
  const evaluations = await cycle(cycles);
  const ms = Date.now() - t0;
  const after = { ...(await metrics(cdp, page)), wasm: await wasmBytes() };
  let after2 = null;
  if (second) {
    await cycle(cycles);
    after2 = { ...(await metrics(cdp, page)), wasm: await wasmBytes() };
  }
  const state = plain ? "n/a" : await page.evaluate(() => window.__m.state);
  await ctx.close();
  return {
    cycles,
    heap_growth_pct: r2(((after.heap - before.heap) / before.heap) * 100),
    dom_nodes_growth: after.nodes - before.nodes,
    listeners_growth: after.listeners - before.listeners,
    wasm_memory_growth_bytes: after.wasm - before.wasm,
    detail: { before, after, after2, ms, evaluations, state },
  };
}

/**
 * JS heap bytes per refresh of a memoryRun between two of its readings
 * ("before", "after", "after2": the second CYCLES).
 */
export function bytesPerRefresh(run, from = "before", to = "after") {
  return Math.round((run.detail[to].heap - run.detail[from].heap) / run.cycles);
}

/** Returns { figures } for results.json's memory and { extra } for the report. */
export async function memory(browser, origin) {
  const extra = {};
  const figures = {};
  const loaderRuns = [];
  const controlRuns = [];
  for (let i = 0; i < MEMORY_RUNS; i++) {
    loaderRuns.push(await memoryRun(browser, origin, null, CYCLES, true));
    try {
      controlRuns.push(await memoryRun(browser, origin, "plainjs", CYCLES, true));
    } catch (e) {
      extra.memoryPlain = { error: String(e.message || e).split("\n")[0] };
    }
  }
  const perRefresh = (r) => bytesPerRefresh(r, "after", "after2");
  const medianRun = (runs) => [...runs].sort((a, b) => perRefresh(a) - perRefresh(b))[(runs.length - 1) >> 1];
  const loader = medianRun(loaderRuns);
  const { detail, ...r } = loader;
  Object.assign(figures, r);
  extra.memory = detail;
  figures.loader_bytes_per_refresh = perRefresh(loader);
  figures.loader_bytes_per_refresh_runs = loaderRuns.map(perRefresh);
  figures.loader_bytes_per_refresh_first = bytesPerRefresh(loader);
  if (controlRuns.length) {
    extra.memoryPlain = medianRun(controlRuns);
    figures.control_bytes_per_refresh = perRefresh(extra.memoryPlain);
    figures.control_bytes_per_refresh_runs = controlRuns.map(perRefresh);
    figures.control_bytes_per_refresh_first = bytesPerRefresh(extra.memoryPlain);
  }
  try {
    const a = await memoryRun(browser, origin, "attribute", CYCLES, true);
    extra.memoryAttribute = a;
    figures.attribute_heap_growth_pct = a.heap_growth_pct;
    figures.attribute_second_run_growth_pct = r2(((a.detail.after2.heap - a.detail.after.heap) / a.detail.after.heap) * 100);
  } catch (e) {
    extra.memoryAttribute = { error: String(e.message || e).split("\n")[0] };
  }
  return { figures, extra };
}
