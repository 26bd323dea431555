// make bench: size, page cost, memory, requests and server throughput.
// Chooses the parts, runs them in order with the page part's blocks spread
// between them, writes bench/results.json and prints the report (also
// bench/out/table.txt). See bench/README.md. Each part is its own module:
//   size.mjs      size (and the machine)         page.mjs       page (pairs, conditions, blocks)
//   longtasks.mjs page_trace and attribution     mobile.mjs     page_mobile
//   triggers.mjs  page_trigger                   memory.mjs     memory
//   requests.mjs  requests                       throughput.mjs server
//   server_fault.mjs server_fault                report.mjs     the printed text
//   stats.mjs     medians, bootstrap intervals   stability.mjs  the two-run rule
//   browser.mjs, server.mjs (the pages), procs.mjs (ports), knobs.mjs (env knobs)
//
// Environment knobs (defaults are the real bench; BENCH_QUICK=1 makes them
// small, writes bench/out/results-quick.json instead of bench/results.json):
//   BENCH_PAIRS=64         loader/baseline pairs per page condition (BENCH_RUNS is the old name)
//   BENCH_BLOCKS=8         blocks the pairs are taken in, spread over the run
//   BENCH_MOBILE_RUNS=10   runs of the slow-mobile hints/trigger rows (page_mobile)
//   BENCH_TRACE_RUNS=4     traced loader loads per condition (page_trace)
//   BENCH_TRIGGER_RUNS=10  page loads per load-trigger condition
//   BENCH_CYCLES=1000      refresh cycles of the memory part
//   BENCH_MEMORY_RUNS=2    loader and control memory runs each (alternating; medians)
//   BENCH_WRK_SECONDS=20   duration of each wrk run
//   BENCH_PORTS=9400-9499  the ports the bench's servers may use (default: any free one)
//   BENCH_ONLY=size,page,page_mobile,page_trace,page_trigger,memory,requests,server,server_fault
//   run only these parts (page includes page_mobile, page_trace and page_trigger)
//   (server_fault has its own knobs: see bench/server_fault.mjs)
import fs from "node:fs";
import path from "node:path";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { CHROMIUM, launch } from "./browser.mjs";
import { QUICK } from "./knobs.mjs";
import { longTaskSources, pageTrace } from "./longtasks.mjs";
import { memory } from "./memory.mjs";
import { pageMobile } from "./mobile.mjs";
import { BLOCKS, PAGE_CONDITIONS, PAGE_GOALS, pageFigures, pageRunner } from "./page.mjs";
import { freePort } from "./procs.mjs";
import { report } from "./report.mjs";
import { requests } from "./requests.mjs";
import { startBenchServer } from "./server.mjs";
import { serverFault, serverFaultFigures } from "./server_fault.mjs";
import { machine, size } from "./size.mjs";
import { addVerdicts, previousResults } from "./stability.mjs";
import { serverThroughput } from "./throughput.mjs";
import { triggerCost } from "./triggers.mjs";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const PKG = path.join(ROOT, "pkg");
const OUT = path.join(ROOT, "bench", "out");
const RESULTS = QUICK ? path.join(OUT, "results-quick.json") : path.join(ROOT, "bench", "results.json");
const ONLY = process.env.BENCH_ONLY ? new Set(process.env.BENCH_ONLY.split(",")) : null;
const BROWSER_PARTS = ["page", "page_trace", "page_mobile", "page_trigger", "memory", "requests"];
const want = (part) => !ONLY || ONLY.has(part) || (["page_trigger", "page_mobile", "page_trace"].includes(part) && ONLY.has("page"));
const started = Date.now();
fs.mkdirSync(OUT, { recursive: true });
const log = (...a) => console.error(`[bench ${((Date.now() - started) / 1000).toFixed(0).padStart(4)}s]`, ...a);

// every key of results.json, null until its part has run
const results = {
  size: { wasm_raw: null, wasm_gzip: null, wasm_brotli: null, js_gzip: null, js_brotli: null, total_brotli: null },
  page: {
    runs: null, // pairs per condition
    long_tasks: null,
    long_task_sources: null,
    ...Object.fromEntries(Object.keys(PAGE_GOALS).map((k) => [k, pageFigures()])),
  },
  page_mobile: { runs: null, profile: null, window_ms: null, rows: null },
  page_trigger: { runs: null, window_ms: null, conditions: null },
  memory: {
    cycles: null,
    heap_growth_pct: null,
    dom_nodes_growth: null,
    listeners_growth: null,
    wasm_memory_growth_bytes: null,
    loader_bytes_per_refresh: null,
    control_bytes_per_refresh: null,
    attribute_heap_growth_pct: null,
    attribute_second_run_growth_pct: null,
  },
  requests: { concurrent_initializers: null, token_requests: null },
  server: { rps: null, p99_ms: null, baseline_rps: null, baseline_p99_ms: null, upstream_token_calls: null, clients: null },
  server_fault: serverFaultFigures(),
};
const extra = {}; // printed, and kept in bench/out/details.json
const skipped = []; // [part, reason]
const previous = previousResults(RESULTS, path.join(OUT, "results.previous.json"));

// Runs a part if selected; `fn` returns { figures, extra } or the figures.
// A part that fails is reported as not run; the others go on.
async function part(name, fn) {
  if (!want(name)) {
    skipped.push([name, "not selected (BENCH_ONLY)"]);
    return;
  }
  const t0 = Date.now();
  try {
    const r = await fn();
    const figures = r && "figures" in r ? r.figures : r;
    if (figures && results[name]) Object.assign(results[name], figures);
    if (r && "extra" in r) extra[name] = r.extra;
    log(`${name}: done in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  } catch (e) {
    const why = String(e && e.message ? e.message : e).split("\n")[0];
    skipped.push([name, why]);
    log(`${name}: could not run: ${why}`);
  }
}

const m = machine();
await part("size", () => size(PKG));

let browser = null;
let bench = null;
if (BROWSER_PARTS.some(want)) {
  try {
    if (!fs.existsSync(path.join(PKG, "chathub_loader_bg.wasm"))) throw new Error("pkg/ is not built (make pkg)");
    browser = await launch();
    m.chromium = `Chromium ${browser.version()}`;
    bench = await startBenchServer({ pkgDir: PKG, port: await freePort() });
  } catch (e) {
    const why = String(e.message || e).split("\n")[0];
    for (const p of BROWSER_PARTS) if (want(p)) skipped.push([p, `browser: ${why}`]);
    log(`browser parts could not run: ${why}`);
  }
}
if (!m.chromium) {
  const v = spawnSync(CHROMIUM, ["--version"], { encoding: "utf8" });
  if (!v.error) m.chromium = v.stdout.trim();
}
const ctx = { root: ROOT, pkgDir: PKG, out: OUT, log };
const browserUp = !!(browser && bench);
const steps = [
  ["page_trace", browserUp, async () => (extra.traced = await pageTrace(browser, bench.origin, PAGE_CONDITIONS, OUT)) && null],
  ["page_mobile", browserUp, () => pageMobile(browser, bench.origin, ctx)],
  ["page_trigger", browserUp, () => triggerCost(browser, ctx)],
  ["memory", browserUp, () => memory(browser, bench.origin)],
  ["requests", browserUp, () => requests(browser, bench)],
  ["server", true, () => serverThroughput(ctx)],
  ["server_fault", true, () => serverFault(ctx)],
];

// The page part's blocks: one in each gap between the other parts (before
// the first, between two, after the last), spread evenly when the counts
// differ, so each condition's pairs come from the whole length of the run.
const pages = browserUp && want("page") ? pageRunner(browser, bench, ctx) : null;
let pageError = null;
const gaps = steps.length + 1;
const blocksAt = (gap) => Array.from({ length: BLOCKS }, (_, j) => (BLOCKS === 1 ? 0 : Math.round((j * (gaps - 1)) / (BLOCKS - 1)))).filter((g) => g === gap).length;
async function pageBlocks(gap) {
  for (let n = blocksAt(gap); n > 0 && pages && !pageError; n--) {
    try {
      await pages.block();
    } catch (e) {
      pageError = String(e && e.message ? e.message : e).split("\n")[0];
      log(`page: could not run: ${pageError}`);
    }
  }
}

await pageBlocks(0);
for (const [i, [name, can, fn]] of steps.entries()) {
  if (can) await part(name, fn);
  else if (want(name) && !skipped.some(([p]) => p === name)) skipped.push([name, "the browser did not start"]);
  await pageBlocks(i + 1);
}

if (pages) {
  if (pageError) skipped.push(["page", pageError]);
  else {
    const s = pages.summary();
    Object.assign(results.page, s.figures);
    extra.page = s.extra;
    addVerdicts(results.page, previous?.page, PAGE_GOALS);
  }
} else if (!want("page")) skipped.push(["page", "not selected (BENCH_ONLY)"]);
if (extra.page || extra.traced) results.page.long_task_sources = longTaskSources(extra.page?.longTasksLoader, extra.traced);
if (bench) {
  extra.encodings = { ...bench.stats.encodings };
  await bench.close();
}
if (browser) await browser.close();

const text = report({ results, extra, machine: m, skipped, quick: QUICK });
console.log(text);
fs.writeFileSync(RESULTS, JSON.stringify(results, null, 2) + "\n");
fs.writeFileSync(path.join(OUT, "table.txt"), text + "\n");
fs.writeFileSync(path.join(OUT, "details.json"), JSON.stringify({ machine: m, extra, skipped }, null, 2) + "\n");
log(`wrote ${path.relative(ROOT, RESULTS)} (total ${((Date.now() - started) / 1000).toFixed(0)} s)`);
