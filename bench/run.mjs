// make bench: size, page cost, memory, requests and server throughput.
// Writes bench/results.json and prints the tables (also bench/out/table.txt).
// See docs/performance.md, "## Benchmarks (`make bench`)".
//
// Environment knobs (for quick runs while developing; defaults are the real bench):
//   BENCH_PAIRS=60         loader/baseline pairs per page condition (BENCH_RUNS is the old name)
//   BENCH_MOBILE_RUNS=10   runs of the slow-mobile hints/trigger rows (page_mobile)
//   BENCH_TRACE_RUNS=4     traced loader loads per condition for long-task attribution (page_trace)
//   BENCH_CYCLES=1000      refresh cycles of the memory part
//   BENCH_MEMORY_RUNS=2    loader and control memory runs each (alternating; medians)
//   BENCH_WRK_SECONDS=20   duration of each wrk run
//   BENCH_TRIGGER_RUNS=10  page loads per load-trigger condition
//   BENCH_ONLY=size,page,page_mobile,page_trace,page_trigger,memory,requests,server,server_fault
//   run only these parts (page includes page_mobile, page_trace and page_trigger)
//   (server_fault has its own knobs: see bench/server_fault.mjs)
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import zlib from "node:zlib";
import net from "node:net";
import { spawn, spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { controlRefreshes } from "./control.mjs";
import { startBenchServer } from "./server.mjs";
import { serverFault, serverFaultFigures, serverFaultReport } from "./server_fault.mjs";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const PKG = path.join(ROOT, "pkg");
const OUT = path.join(ROOT, "bench", "out");
const RESULTS = path.join(ROOT, "bench", "results.json");
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const PAIRS = Number(process.env.BENCH_PAIRS || process.env.BENCH_RUNS || 60);
const MOBILE_RUNS = Number(process.env.BENCH_MOBILE_RUNS || 10);
const TRACE_RUNS = Number(process.env.BENCH_TRACE_RUNS || 4);
const BOOT_RESAMPLES = 2000;
const BOOT_SEED = 12;
// The slow mobile profile (DevTools protocol network emulation): 150 ms
// round trip, 1.6 Mbit/s down, 750 kbit/s up; throughput in bytes/s.
const MOBILE = { latency: 150, downloadThroughput: 1.6e6 / 8, uploadThroughput: 750e3 / 8 };
const MOBILE_PROFILE_TEXT = "150 ms RTT, 1.6 Mbit/s down, 750 kbit/s up (CDP Network.emulateNetworkConditions)";
const CYCLES = Number(process.env.BENCH_CYCLES || 1000);
const WARMUP_CYCLES = 20;
// loader and control memory runs, alternating (BENCH_MEMORY_RUNS)
const MEMORY_RUNS = Math.max(1, Number(process.env.BENCH_MEMORY_RUNS || 2));
const CONCURRENT = 20;
const WRK_SECONDS = Number(process.env.BENCH_WRK_SECONDS || 20);
const WRK_CONNECTIONS = 256;
const ONLY = process.env.BENCH_ONLY ? new Set(process.env.BENCH_ONLY.split(",")) : null;
const TRIGGER_RUNS = Number(process.env.BENCH_TRIGGER_RUNS || 10);
// How long a trigger page is watched after its `load` without any interaction.
const TRIGGER_WINDOW_MS = 2000;
const want = (part) => !ONLY || ONLY.has(part) || (["page_trigger", "page_mobile", "page_trace"].includes(part) && ONLY.has("page"));
const started = Date.now();
fs.mkdirSync(OUT, { recursive: true });

const log = (...a) => console.error(`[bench ${((Date.now() - started) / 1000).toFixed(0).padStart(3)}s]`, ...a);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const skipped = []; // [part, reason]

function pageFigures() {
  // ms from navigation start until the widget tag with its token is in the
  // document; ratio: median of the per-pair ratios loader/baseline, with
  // its 95 % percentile-bootstrap interval
  return { loader_p50: null, loader_p95: null, baseline_p50: null, baseline_p95: null, ratio_p50: null, ratio_ci95: null, pairs: null };
}
const results = {
  size: { wasm_raw: null, wasm_gzip: null, wasm_brotli: null, js_gzip: null, js_brotli: null, total_brotli: null },
  page: {
    runs: null, // pairs per condition
    long_tasks: null,
    long_task_sources: null,
    cold_instant: pageFigures(),
    warm_instant: pageFigures(),
    cold_100ms: pageFigures(),
    warm_100ms: pageFigures(),
    cold_mobile: pageFigures(),
  },
  // Slow mobile profile, first visits: what the preload hints and a
  // non-eager trigger change (see pageMobile).
  page_mobile: { runs: null, profile: null, window_ms: null, rows: null },
  // Per load-trigger condition, before the trigger (TRIGGER_WINDOW_MS after
  // load, no interaction): bytes fetched (response bodies, the document
  // excluded), requests, main-thread task time, token requests; then the
  // trigger and the ms until the widget tag (see triggerCost).
  page_trigger: { runs: null, window_ms: null, conditions: null },
  memory: {
    cycles: null,
    heap_growth_pct: null,
    dom_nodes_growth: null,
    listeners_growth: null,
    wasm_memory_growth_bytes: null,
    // JS heap bytes per refresh after forced GC: the loader page (reload
    // "module"), the control page without the loader doing the same per
    // refresh, and reload "attribute"'s growth over the cycles
    loader_bytes_per_refresh: null,
    control_bytes_per_refresh: null,
    attribute_heap_growth_pct: null,
    // the next CYCLES refreshes on the same page: per refresh, or one-time?
    attribute_second_run_growth_pct: null,
  },
  requests: { concurrent_initializers: null, token_requests: null },
  server: { rps: null, p99_ms: null, baseline_rps: null, baseline_p99_ms: null, upstream_token_calls: null, clients: null },
  server_fault: serverFaultFigures(),
};
const extra = {}; // printed, not written to results.json

function quantile(xs, q) {
  if (!xs.length) return null;
  const s = [...xs].sort((a, b) => a - b);
  // nearest-rank
  const i = Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1));
  return s[i];
}
const r1 = (x) => (x == null ? null : Math.round(x * 10) / 10);
const r2 = (x) => (x == null ? null : Math.round(x * 100) / 100);

// ---------------------------------------------------------------- machine
function machine() {
  let cpu = os.cpus()[0]?.model || "unknown";
  try {
    const m = fs.readFileSync("/proc/cpuinfo", "utf8").match(/^model name\s*:\s*(.+)$/m);
    if (m) cpu = m[1].trim();
  } catch {}
  return { cpu, cores: os.cpus().length, memGiB: Math.round(os.totalmem() / 2 ** 30), node: process.version, kernel: os.release() };
}

// ---------------------------------------------------------------- size
function size() {
  const wasm = fs.readFileSync(path.join(PKG, "chathub_loader_bg.wasm"));
  const js = fs.readFileSync(path.join(PKG, "chathub_loader.js"));
  const gz = (b) => zlib.gzipSync(b, { level: 9 }).length;
  const br = (b) =>
    zlib.brotliCompressSync(b, {
      params: {
        [zlib.constants.BROTLI_PARAM_QUALITY]: 11,
        [zlib.constants.BROTLI_PARAM_LGWIN]: 24,
        [zlib.constants.BROTLI_PARAM_SIZE_HINT]: b.length,
      },
    }).length;
  Object.assign(results.size, {
    wasm_raw: wasm.length,
    wasm_gzip: gz(wasm),
    wasm_brotli: br(wasm),
    js_gzip: gz(js),
    js_brotli: br(js),
  });
  results.size.total_brotli = results.size.wasm_brotli + results.size.js_brotli;
  extra.js_raw = js.length;
}

// ---------------------------------------------------------------- statistics
// The median (the mean of the two middle values for an even count).
function median(xs) {
  if (!xs.length) return null;
  const s = [...xs].sort((a, b) => a - b);
  const h = s.length >> 1;
  return s.length % 2 ? s[h] : (s[h - 1] + s[h]) / 2;
}
// A small seeded PRNG (mulberry32): the bootstrap gives the same interval
// for the same samples on every run.
function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
// 95 % percentile-bootstrap interval of the median of xs.
function bootstrapMedianCI(xs, resamples = BOOT_RESAMPLES, seed = BOOT_SEED) {
  if (xs.length < 2) return null;
  const rnd = mulberry32(seed);
  const meds = new Float64Array(resamples);
  const pick = new Array(xs.length);
  for (let b = 0; b < resamples; b++) {
    for (let i = 0; i < xs.length; i++) pick[i] = xs[Math.floor(rnd() * xs.length)];
    meds[b] = median(pick);
  }
  meds.sort();
  return [meds[Math.floor(0.025 * resamples)], meds[Math.ceil(0.975 * resamples) - 1]];
}
const r3 = (x) => (x == null ? null : Math.round(x * 1000) / 1000);

// ---------------------------------------------------------------- browser
async function launch() {
  const { chromium } = await import("playwright-core");
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
  });
}

// A new context (first visit: empty cache) and page; on `mobile`, the
// DevTools protocol's network emulation at MOBILE for everything the page
// fetches (document, modules, the .wasm, the token, the widget).
async function openPage(browser, mobile) {
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  if (mobile) {
    const cdp = await ctx.newCDPSession(page);
    await cdp.send("Network.enable");
    await cdp.send("Network.emulateNetworkConditions", { offline: false, ...MOBILE });
  }
  return { ctx, page };
}

// Bytes of the page's subresources as they came over the wire (compressed
// bodies, Resource Timing's encodedBodySize; the HTML excluded), by kind.
const RESOURCE_BYTES = () => {
  const kind = (name) => {
    const p = new URL(name).pathname;
    if (p.endsWith(".wasm")) return "wasm";
    if (p.endsWith("/chathub_loader.js")) return "glue";
    if (p.endsWith("/auto.js")) return "auto";
    if (p.startsWith("/api/chathub/token")) return "token";
    if (p.startsWith("/widget/")) return "widget";
    return "other";
  };
  const byKind = {};
  let bytes = 0;
  let requests = 0;
  let tokenAt = null;
  for (const e of performance.getEntriesByType("resource")) {
    const k = kind(e.name);
    byKind[k] = (byKind[k] || 0) + e.encodedBodySize;
    bytes += e.encodedBodySize;
    requests++;
    if (k == "token" && tokenAt == null) tokenAt = e.startTime;
  }
  return { bytes, requests, byKind, tokenAt };
};

// Resolves on the page's console message `text` (the probe's "__bench_done"
// and "__bench_tag"): nothing runs in the page while the bench waits.
function pageSignal(page, text, ms = 30000) {
  let on;
  let timer;
  const p = new Promise((resolve, reject) => {
    on = (msg) => msg.text() === text && resolve();
    page.on("console", on);
    timer = setTimeout(() => reject(new Error(`no ${text} within ${ms} ms`)), ms);
  });
  p.catch(() => {}).finally(() => {
    page.off("console", on);
    clearTimeout(timer);
  });
  return p;
}

async function measure(page, url) {
  const done = pageSignal(page, "__bench_done");
  await page.goto(url, { waitUntil: "load", timeout: 30000 });
  await done;
  await sleep(60); // let late long-task entries arrive
  const b = await page.evaluate(() => window.__bench);
  if (b.error) throw new Error(`${url}: ${b.error}`);
  if (b.tagAt == null) throw new Error(`${url}: the widget tag never appeared`);
  b.resources = await page.evaluate(RESOURCE_BYTES);
  return b;
}

// What a long task on a loader page was: the scripts of the long animation
// frame that holds it (source URL and invoker), named by whose they are.
function whose(url) {
  if (!url) return "browser";
  const p = (() => {
    try {
      return new URL(url).pathname;
    } catch {
      return url;
    }
  })();
  if (p.endsWith("/chathub_loader.js")) return "ours: the glue (chathub_loader.js)";
  if (p.endsWith(".wasm")) return "ours: the .wasm";
  if (p.endsWith("/loader.html") || p.endsWith("/trigger.html")) return "ours: the page's module script (init() and initialize())";
  if (p.startsWith("/widget/")) return "the widget's own script";
  return `other script (${p})`;
}
function attributeLongTasks(b, where) {
  return b.longTaskDetail.map((t) => {
    const end = t.start + t.duration;
    const frames = b.loaf.filter((f) => f.start < end && f.start + f.duration > t.start);
    const scripts = frames.flatMap((f) => f.scripts).filter((s) => s.duration > 0);
    scripts.sort((a, c) => c.duration - a.duration);
    const top = scripts[0];
    return {
      where,
      start: t.start,
      duration: t.duration,
      source: top
        ? `${whose(top.url)}${top.fn ? ` ${top.fn}()` : ""}, ${top.type || "?"} ${top.invoker || ""}`.replace(/https?:\/\/127\.0\.0\.1:\d+/g, "").trim()
        : "browser (no script in the frame: parsing, style, layout, GC)",
      script_ms: top ? top.duration : 0,
      scripts,
    };
  });
}

const PAGE_CONDITIONS = [
  { delay: 0, cold: "cold_instant", warm: "warm_instant" },
  { delay: 100, cold: "cold_100ms", warm: "warm_100ms" },
  { delay: 100, cold: "cold_mobile", mobile: true }, // first visit only
];
const PAGE_GOALS = { cold_instant: 1.3, warm_instant: 1.1, cold_100ms: 1.05, warm_100ms: 1.05, cold_mobile: 1.2 };
const PAGE_NAMES = {
  cold_instant: "first visit, endpoint instant",
  warm_instant: "second visit, endpoint instant",
  cold_100ms: "first visit, endpoint 100 ms",
  warm_100ms: "second visit, endpoint 100 ms",
  cold_mobile: "first visit, slow mobile, endpoint 100 ms",
};

async function pageCost(browser, origin) {
  const samples = {};
  for (const c of PAGE_CONDITIONS) for (const k of [c.cold, c.warm].filter(Boolean)) samples[k] = { loader: [], baseline: [], ratio: [], stages: [] };
  const longTasks = { loader: [], baseline: [] };
  // one warm-up pair, not recorded (first Chromium process start, JIT of the server)
  for (const v of ["loader", "baseline"]) {
    const { ctx, page } = await openPage(browser, false);
    await measure(page, `${origin}/${v}.html?delay=0`);
    if (v === "loader") {
      // were the preload hints used? (an unused preload means a second download)
      extra.preload = await page.evaluate(() => {
        const n = (suffix) => performance.getEntriesByType("resource").filter((e) => new URL(e.name).pathname.endsWith(suffix)).length;
        return { wasm: n("/chathub_loader_bg.wasm"), js: n("/chathub_loader.js") };
      });
    }
    await ctx.close();
  }
  for (let i = 0; i < PAIRS; i++) {
    for (const c of PAGE_CONDITIONS) {
      // a pair: both pages in the same condition one right after the other;
      // which goes first alternates, so neither always has the warmer machine
      const order = i % 2 ? ["baseline", "loader"] : ["loader", "baseline"];
      const got = {};
      for (const v of order) {
        const { ctx, page } = await openPage(browser, c.mobile);
        const url = `${origin}/${v}.html?delay=${c.delay}`;
        const cold = await measure(page, url);
        const warm = c.warm ? await measure(page, url) : null; // second visit: same context, cache warm
        await ctx.close();
        got[v] = { cold, warm };
        longTasks[v].push(...attributeLongTasks(cold, c.cold));
        if (warm) longTasks[v].push(...attributeLongTasks(warm, c.warm));
      }
      for (const [k, visit] of [[c.cold, "cold"], [c.warm, "warm"]]) {
        if (!k) continue;
        const l = got.loader[visit];
        const b = got.baseline[visit];
        samples[k].loader.push(l.tagAt);
        samples[k].baseline.push(b.tagAt);
        samples[k].ratio.push(l.tagAt / b.tagAt);
        samples[k].stages.push({ glued: l.gluedAt, init: l.initAt, tag: l.tagAt, bytes: l.resources.bytes, baselineToken: b.tokenAt, baselineTag: b.tagAt, baselineBytes: b.resources.bytes });
      }
    }
    if ((i + 1) % 10 === 0) log(`page: ${i + 1}/${PAIRS} pairs`);
  }
  for (const [k, s] of Object.entries(samples)) {
    const ci = bootstrapMedianCI(s.ratio);
    results.page[k] = {
      loader_p50: r1(quantile(s.loader, 0.5)),
      loader_p95: r1(quantile(s.loader, 0.95)),
      baseline_p50: r1(quantile(s.baseline, 0.5)),
      baseline_p95: r1(quantile(s.baseline, 0.95)),
      ratio_p50: r3(median(s.ratio)),
      ratio_ci95: ci && ci.map(r3),
      pairs: s.ratio.length,
    };
    const st = s.stages;
    const p50 = (f) => r1(median(st.map(f).filter((x) => x != null)));
    extra.stages = extra.stages || {};
    extra.stages[k] = {
      glue_evaluated: p50((x) => x.glued),
      init_done: p50((x) => x.init),
      tag: p50((x) => x.tag),
      loader_kib: p50((x) => x.bytes / 1024),
      baseline_token: p50((x) => x.baselineToken),
      baseline_tag: p50((x) => x.baselineTag),
      baseline_kib: p50((x) => x.baselineBytes / 1024),
    };
  }
  results.page.runs = PAIRS;
  results.page.long_tasks = longTasks.loader.length;
  extra.long_tasks_loader = longTasks.loader;
  extra.long_tasks_baseline = longTasks.baseline.length;
  extra.page_loads = { loader: PAIRS * 5, baseline: PAIRS * 5 };
  fs.writeFileSync(path.join(OUT, "page-samples.json"), JSON.stringify({ samples, longTasks }, null, 1));
}

// ---------------------------------------------------------------- long tasks, traced
// Loader pages only, in each condition, with a DevTools trace: every task
// on the page's main thread over 50 ms, named by the events inside it
// (script compile / evaluate / function call with its URL, the .wasm's
// compile and instantiate, parsing, style, layout, GC). Apart from the
// timed pairs, since tracing slows the page down.
const TRACE_CATEGORIES = [
  "devtools.timeline",
  "disabled-by-default-devtools.timeline.stack",
  "disabled-by-default-v8.compile",
  "disabled-by-default-devtools.timeline",
  "v8",
  "v8.wasm",
  "v8.execute",
  "blink",
  "loading",
  "toplevel",
];
function traceLongTasks(trace, where) {
  const ev = trace.traceEvents || trace;
  const mains = new Set(ev.filter((e) => e.ph === "M" && e.name === "thread_name" && e.args?.name === "CrRendererMain").map((e) => `${e.pid}:${e.tid}`));
  const byThread = new Map();
  for (const e of ev) {
    const key = `${e.pid}:${e.tid}`;
    if (!mains.has(key) || e.ph !== "X" || e.dur == null) continue;
    if (!byThread.has(key)) byThread.set(key, []);
    byThread.get(key).push(e);
  }
  const found = [];
  for (const [, list] of byThread) {
    list.sort((a, b) => a.ts - b.ts);
    for (const t of list) {
      if (t.name !== "RunTask" || t.dur < 50000) continue;
      const inside = list.filter((e) => e !== t && e.ts >= t.ts && e.ts + e.dur <= t.ts + t.dur);
      found.push({ where, ms: Math.round(t.dur / 1000), ...classifyTask(inside) });
    }
  }
  return found;
}
// Names a long task by what ran inside it: the DevTools protocol message
// or navigation it served, or, for script work, the .wasm's compile
// (streaming finish, lazy compilation of each function at its first call),
// instantiation, the calls into the glue and the loader's <style>.
function classifyTask(inside) {
  const ms = (pred) => {
    // time in matching events, nested matches counted once
    let total = 0;
    let end = -1;
    for (const e of inside) {
      if (!pred(e)) continue;
      if (e.ts >= end) {
        total += e.dur;
        end = e.ts + e.dur;
      } else if (e.ts + e.dur > end) {
        total += e.ts + e.dur - end;
        end = e.ts + e.dur;
      }
    }
    return Math.round(total / 100) / 10;
  };
  const url = (e) => e.args?.data?.url || "";
  const mojo = inside.find((e) => e.name === "Receive mojo message")?.args?.chrome_mojo_event_info?.mojo_interface_tag || "";
  const parts = {
    wasm_compile: ms((e) => /^(wasm\.|v8\.wasm\.)/.test(e.name) || e.name === "FlushInstructionCache"),
    instantiate: ms((e) => e.name === "v8.newInstance"),
    glue_calls: ms((e) => e.name === "FunctionCall" && /\/chathub_loader\.js/.test(url(e))),
    module_eval: ms((e) => e.name === "v8.evaluateModule"),
    style_element: ms((e) => e.name === "StyleElement::processStyleSheet"),
    lifecycle: ms((e) => e.name === "WebFrameWidgetImpl::UpdateLifecycle"),
    parse_html: ms((e) => e.name === "ParseHTML" || e.name === "HTMLDocumentParser::append"),
    gc: ms((e) => /GC|Oilpan/.test(e.name) && !/Finalize/.test(e.name)),
    js_compile: ms((e) => e.name === "V8.CompileCode" || e.name === "V8.ParseProgram"),
  };
  let source;
  if (/DevToolsSession/.test(mojo)) source = "the bench harness: a DevTools protocol call (Playwright), not the page";
  else if (/NavigationClient|AgentSchedulingGroup/.test(mojo)) source = "browser: navigation commit and HTML parsing";
  else if (parts.module_eval > Math.max(parts.wasm_compile, parts.glue_calls))
    source = "ours: evaluating the page's module script and the glue (compile, top level, init() up to its first await)";
  else if (parts.wasm_compile || parts.instantiate || parts.glue_calls)
    source = "ours: the .wasm's start (streaming compile finish, instantiate, the first calls into the wasm with their lazy compilation, the loader's <style>)";
  else if (parts.lifecycle) source = "browser: style, layout and paint";
  else if (parts.gc) source = "browser: garbage collection";
  else source = `browser: ${inside[0]?.name || "a task with no traced work"}`;
  return { source, parts: Object.fromEntries(Object.entries(parts).filter(([, v]) => v > 0)) };
}

async function pageTrace(browser, origin) {
  const found = [];
  let loads = 0;
  for (let i = 0; i < TRACE_RUNS; i++) {
    for (const c of PAGE_CONDITIONS) {
      const { ctx, page } = await openPage(browser, c.mobile);
      await browser.startTracing(page, { categories: TRACE_CATEGORIES });
      const url = `${origin}/loader.html?delay=${c.delay}`;
      let trace;
      try {
        await measure(page, url);
        loads++;
        if (c.warm) {
          await measure(page, url);
          loads++;
        }
      } finally {
        trace = JSON.parse((await browser.stopTracing()).toString("utf8"));
        await ctx.close();
      }
      found.push(...traceLongTasks(trace, c.warm ? `${c.cold} + ${c.warm}` : c.cold));
    }
  }
  extra.traced = { loads, longTasks: found };
  fs.writeFileSync(path.join(OUT, "page-trace-long-tasks.json"), JSON.stringify(extra.traced, null, 1));
}

// The list for results.json: each distinct source with how often and how
// long, from the timed page loads (PerformanceObserver + long animation
// frames) and the traced ones.
function longTaskSources() {
  const count = new Map();
  const add = (src, ms, kind, parts) => {
    const key = `${src} [${kind}]`;
    const c = count.get(key) || { n: 0, ms: [], parts: {} };
    c.n++;
    c.ms.push(ms);
    for (const [k, v] of Object.entries(parts || {})) c.parts[k] = Math.max(c.parts[k] || 0, v);
    count.set(key, c);
  };
  for (const t of extra.long_tasks_loader || []) add(t.source, t.duration, `${t.where}, timed loads`);
  for (const t of extra.traced?.longTasks || []) add(t.source, t.ms, `${t.where}, traced loads`, t.parts);
  const partNames = { wasm_compile: "wasm compile", instantiate: "instantiate", glue_calls: "calls into the glue/wasm", module_eval: "module evaluation", style_element: "<style>", lifecycle: "style/layout/paint", parse_html: "HTML parsing", gc: "GC", js_compile: "JS compile" };
  return [...count].map(([k, c]) => {
    const parts = Object.entries(c.parts).map(([p, v]) => `${partNames[p] || p} ≤ ${v} ms`);
    return `${k}: ${c.n}× ${Math.min(...c.ms)}–${Math.max(...c.ms)} ms${parts.length ? ` (${parts.join(", ")})` : ""}`;
  });
}

// ---------------------------------------------------------------- slow mobile: hints and triggers
// First visits under MOBILE, endpoint 100 ms, one run = each row once,
// fresh context each, order alternating: what the preload hints and a
// non-eager trigger change when bytes cost time. Eager rows: navigation →
// widget tag (and its ratio to the baseline of the same run); trigger
// rows: what came over the wire in MOBILE_WINDOW_MS after `load` with no
// interaction, then a click and the ms until the widget tag.
const MOBILE_WINDOW_MS = 1500;
const MOBILE_ROWS = [
  { key: "baseline", name: "vendor's plain-JS sample (the baseline)", path: "/baseline.html?delay=100" },
  { key: "hints", name: "loader, preload hints, eager (as in the page table)", path: "/loader.html?delay=100" },
  { key: "no_hints", name: "loader, no preload hints, eager", path: "/loader.html?delay=100&hints=0" },
  { key: "npm_interaction", name: "npm, module preload hints, trigger interaction", path: "/trigger.html?trigger=interaction&delay=100", pull: true },
  { key: "auto_interaction", name: "auto.js, data-trigger interaction", path: "/auto.html?trigger=interaction&delay=100", pull: true },
];
async function mobileRun(browser, origin, row) {
  const { ctx, page } = await openPage(browser, true);
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
async function pageMobile(browser, origin) {
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
  results.page_mobile = { runs: MOBILE_RUNS, profile: MOBILE_PROFILE_TEXT, window_ms: MOBILE_WINDOW_MS, rows };
  fs.writeFileSync(path.join(OUT, "page-mobile-samples.json"), JSON.stringify(s, null, 1));
}

// ---------------------------------------------------------------- load triggers
// What a load trigger saves on the page before it fires. Each condition is
// a first visit (new context) of the same small page, watched for
// TRIGGER_WINDOW_MS after `load` without any interaction; then the trigger
// is pulled (a click, or scrolling the container into view) and the time
// until the widget tag is in the document is taken.
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

async function triggerCost(browser, bench) {
  const samples = Object.fromEntries(TRIGGER_CONDITIONS.map((c) => [c.key, []]));
  await triggerRun(browser, bench.origin, TRIGGER_CONDITIONS[1]); // warm-up, not recorded
  for (let i = 0; i < TRIGGER_RUNS; i++) {
    const order = i % 2 ? [...TRIGGER_CONDITIONS].reverse() : TRIGGER_CONDITIONS;
    for (const c of order) samples[c.key].push(await triggerRun(browser, bench.origin, c));
    if ((i + 1) % 5 === 0) log(`page_trigger: ${i + 1}/${TRIGGER_RUNS} runs`);
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
  Object.assign(results.page_trigger, { runs: TRIGGER_RUNS, window_ms: TRIGGER_WINDOW_MS, conditions });
  fs.writeFileSync(path.join(OUT, "page-trigger-samples.json"), JSON.stringify(samples, null, 1));
}

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
  // reload "plainjs": a control without the loader: what the vendor's sample
  // does on each refresh (fetch the token, replace the tag with a fresh module URL)
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

// JS heap bytes per refresh of a memoryRun between two of its readings
// ("before", "after", "after2": the second CYCLES).
function bytesPerRefresh(run, from = "before", to = "after") {
  return Math.round((run.detail[to].heap - run.detail[from].heap) / run.cycles);
}

async function memory(browser, origin) {
  // The loader page (reload "module", the default) and the control without
  // the loader, alternating, MEMORY_RUNS times each, each run CYCLES
  // refreshes and then CYCLES more on the same page. Per refresh is read
  // from the second CYCLES (steady state): the first ones also pay the
  // engine's one-time warm-up (optimised JS, wasm tier-up: ~60 KB, see
  // docs/performance.md), which spread over 1000 refreshes moved the
  // control by ~60 bytes per refresh between two runs of the same code (909 and 973),
  // about the size of the loader's own share. Medians of the runs and their
  // difference are reported; the first CYCLES' figures are kept beside.
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
  Object.assign(results.memory, r);
  extra.memory = detail;
  results.memory.loader_bytes_per_refresh = perRefresh(loader);
  results.memory.loader_bytes_per_refresh_runs = loaderRuns.map(perRefresh);
  results.memory.loader_bytes_per_refresh_first = bytesPerRefresh(loader);
  if (controlRuns.length) {
    extra.memoryPlain = medianRun(controlRuns);
    results.memory.control_bytes_per_refresh = perRefresh(extra.memoryPlain);
    results.memory.control_bytes_per_refresh_runs = controlRuns.map(perRefresh);
    results.memory.control_bytes_per_refresh_first = bytesPerRefresh(extra.memoryPlain);
  }
  // for reading it: the same with reload "attribute" (no module re-evaluation)
  try {
    const a = await memoryRun(browser, origin, "attribute", CYCLES, true);
    extra.memoryAttribute = a;
    results.memory.attribute_heap_growth_pct = a.heap_growth_pct;
    results.memory.attribute_second_run_growth_pct = r2(((a.detail.after2.heap - a.detail.after.heap) / a.detail.after.heap) * 100);
  } catch (e) {
    extra.memoryAttribute = { error: String(e.message || e).split("\n")[0] };
  }
}

async function requests(browser, bench) {
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  await page.goto(`${bench.origin}/driven.html`);
  await page.waitForFunction(() => window.__bench && window.__bench.ready, null, { timeout: 15000 });
  bench.resetStats();
  const outcome = await page.evaluate(async (n) => {
    const ps = [];
    const managers = new Set();
    for (let i = 0; i < n; i++) {
      // a fresh but equal options object each time, all in one tick
      const m = new window.WidgetTokenManager({ tokenUrl: "/api/chathub/token", org: "acme", widgetSrc: "/widget/widget-script.js", container: "#chat" });
      managers.add(m);
      ps.push(m.initialize());
    }
    const settled = await Promise.allSettled(ps);
    return {
      fulfilled: settled.filter((s) => s.status === "fulfilled").length,
      rejected: settled.filter((s) => s.status === "rejected").map((s) => String(s.reason && (s.reason.code || s.reason.message))),
      tags: document.querySelectorAll('script[id^="operator-chat-panel-script"]').length,
    };
  }, CONCURRENT);
  await sleep(100);
  await ctx.close();
  results.requests.concurrent_initializers = CONCURRENT;
  results.requests.token_requests = bench.stats.tokenByOrg.acme || 0;
  extra.requests = outcome;
}

// ---------------------------------------------------------------- server
function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function waitHttp(url, tries = 100) {
  for (let i = 0; i < tries; i++) {
    try {
      const r = await fetch(url);
      if (r.ok) return r;
    } catch {}
    await sleep(100);
  }
  throw new Error(`${url} did not answer`);
}

function wrk(url, seconds) {
  const args = ["-t2", `-c${WRK_CONNECTIONS}`, `-d${seconds}s`, "--latency", url];
  const r = spawnSync("wrk", args, { encoding: "utf8" });
  if (r.error) throw new Error(`wrk: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`wrk exited ${r.status}: ${r.stderr}`);
  const out = r.stdout;
  const rps = Number(out.match(/Requests\/sec:\s*([\d.]+)/)?.[1]);
  const p99m = out.match(/^\s*99%\s+([\d.]+)(us|ms|s)\s*$/m);
  const p99 = p99m ? Number(p99m[1]) * { us: 0.001, ms: 1, s: 1000 }[p99m[2]] : null;
  const non2xx = Number(out.match(/Non-2xx or 3xx responses:\s*(\d+)/)?.[1] || 0);
  const sockErr = out.match(/Socket errors:.*$/m)?.[0] || null;
  return { rps, p99, non2xx, sockErr, out };
}

function stop(child) {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once("exit", () => resolve());
    child.kill("SIGTERM");
    setTimeout(() => child.kill("SIGKILL"), 3000).unref();
  });
}

async function serverThroughput() {
  const bin = path.join(ROOT, "target/release/chathub-token-server");
  const baselineBin = path.join(ROOT, "target/release/examples/bench_baseline");
  if (!fs.existsSync(baselineBin) || process.env.BENCH_SKIP_CARGO !== "1") {
    log("server: cargo build --release --example bench_baseline");
    const b = spawnSync("cargo", ["build", "-q", "-p", "chathub-token-server", "--release", "--example", "bench_baseline"], { cwd: ROOT, stdio: "inherit" });
    if (b.status !== 0) throw new Error("cargo build of the bench_baseline example failed");
  }
  if (!fs.existsSync(bin)) throw new Error(`${bin} missing (cargo build -p chathub-token-server --release --features dev)`);
  const which = spawnSync("wrk", ["--version"], { encoding: "utf8" });
  if (which.error) throw new Error("wrk is not installed (apt-get install wrk)");

  const children = [];
  try {
    // the token server, dev mode (auth none, fake upstream on the same port)
    const port = await freePort();
    const devLog = fs.openSync(path.join(OUT, "token-server.log"), "w");
    const dev = spawn(bin, ["dev", "--port", String(port)], {
      cwd: ROOT,
      stdio: ["ignore", devLog, devLog],
      env: { ...process.env, RUST_LOG: process.env.BENCH_RUST_LOG || "warn" },
    });
    children.push(dev);
    const origin = `http://127.0.0.1:${port}`;
    await waitHttp(`${origin}/healthz`);
    const warm = await (await waitHttp(`${origin}/api/chathub/token`)).text(); // fills the cache
    const bodyBytes = Buffer.byteLength(warm);
    // One retry: spawnSync(wrk) blocks this event loop for the whole run, so
    // the pooled connection may have been closed by the server's keep-alive
    // idle timeout (CHATHUB_IDLE_TIMEOUT, 60 s) without fetch noticing.
    const stats = async () => {
      for (let attempt = 0; ; attempt++) {
        try {
          return (await (await fetch(`${origin}/dev/admin/stats`)).json()).get_token || 0;
        } catch (e) {
          if (attempt > 0) throw e;
        }
      }
    };
    // the baseline: bare axum, fixed body of the same size, up at the same time
    const bport = await freePort();
    const base = spawn(baselineBin, [String(bport), String(bodyBytes)], { stdio: ["ignore", "ignore", "inherit"] });
    children.push(base);
    const borigin = `http://127.0.0.1:${bport}`;
    const bbody = await (await waitHttp(`${borigin}/api/chathub/token`)).text();

    // Each side gets WRK_SECONDS in two halves, in the order A B B A, so a
    // neighbour's load on this shared machine hits both sides alike.
    const half = Math.max(1, Math.round(WRK_SECONDS / 2));
    const runs = { token: [], baseline: [] };
    const before = await stats();
    for (const side of ["token", "baseline", "baseline", "token"]) {
      log(`server: wrk ${half}s × ${WRK_CONNECTIONS} connections against the ${side === "token" ? "token server" : "axum baseline"}`);
      runs[side].push(wrk(`${side === "token" ? origin : borigin}/api/chathub/token`, half));
    }
    const after = await stats();
    fs.writeFileSync(path.join(OUT, "wrk-token-server.txt"), runs.token.map((r) => r.out).join("\n"));
    fs.writeFileSync(path.join(OUT, "wrk-baseline.txt"), runs.baseline.map((r) => r.out).join("\n"));
    await stop(dev);
    await stop(base);
    const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const t = { rps: mean(runs.token.map((r) => r.rps)), p99: mean(runs.token.map((r) => r.p99)) };
    const b = { rps: mean(runs.baseline.map((r) => r.rps)), p99: mean(runs.baseline.map((r) => r.p99)) };
    const sum = (xs, k) => xs.reduce((a, r) => a + (r[k] || 0), 0);

    Object.assign(results.server, {
      rps: Math.round(t.rps),
      p99_ms: r2(t.p99),
      baseline_rps: Math.round(b.rps),
      baseline_p99_ms: r2(b.p99),
      upstream_token_calls: after - before,
      clients: WRK_CONNECTIONS,
    });
    extra.server = {
      bodyBytes,
      baselineBodyBytes: Buffer.byteLength(bbody),
      non2xx: sum(runs.token, "non2xx"),
      baselineNon2xx: sum(runs.baseline, "non2xx"),
      sockErr: runs.token.map((r) => r.sockErr).filter(Boolean).join("; ") || null,
      baselineSockErr: runs.baseline.map((r) => r.sockErr).filter(Boolean).join("; ") || null,
      halves: { token: runs.token.map((r) => [Math.round(r.rps), r2(r.p99)]), baseline: runs.baseline.map((r) => [Math.round(r.rps), r2(r.p99)]) },
    };
  } finally {
    for (const c of children) await stop(c);
  }
}

// ---------------------------------------------------------------- table
function ratio(a, b) {
  return a == null || b == null || b === 0 ? "" : `${(a / b).toFixed(2)}x`;
}
function fmt(x, unit = "") {
  return x == null ? "n/a" : `${x}${unit}`;
}
function table(rows, head) {
  const all = [head, ...rows].map((r) => r.map(String));
  const w = head.map((_, i) => Math.max(...all.map((r) => r[i].length)));
  const line = (r) => "| " + r.map((c, i) => (i === 0 ? c.padEnd(w[i]) : c.padStart(w[i]))).join(" | ") + " |";
  return [line(all[0]), "|" + w.map((n, i) => (i === 0 ? "-".repeat(n + 1) + "-" : "-".repeat(n + 1) + ":")).join("|") + "|", ...all.slice(1).map(line)].join("\n");
}

function report(m) {
  const s = results.size;
  const p = results.page;
  const me = results.memory;
  const rq = results.requests;
  const sv = results.server;
  const out = [];
  out.push(`Machine: ${m.cpu}, ${m.cores} cores, ${m.memGiB} GiB; ${m.chromium || "Chromium n/a"}; Node ${m.node}; Linux ${m.kernel}`);
  out.push("");
  out.push("Size (what `npm pack` in pkg/ ships; gzip -9, brotli -q 11), bytes");
  out.push(
    table(
      [
        ["chathub_loader_bg.wasm", fmt(s.wasm_raw), fmt(s.wasm_gzip), fmt(s.wasm_brotli)],
        ["chathub_loader.js (glue)", fmt(extra.js_raw), fmt(s.js_gzip), fmt(s.js_brotli)],
        ["total", s.wasm_raw == null ? "n/a" : s.wasm_raw + extra.js_raw, s.wasm_gzip == null ? "n/a" : s.wasm_gzip + s.js_gzip, fmt(s.total_brotli)],
      ],
      ["file", "raw", "gzip", "brotli"],
    ),
  );
  out.push("");
  out.push(
    `Page: ms from navigation start until script#operator-chat-panel-script[token] is in the document; ${fmt(p.runs)} pairs per condition (loader and baseline one after the other, order alternating); ratio = median of the per-pair ratios loader/baseline, 95 % percentile-bootstrap interval (${BOOT_RESAMPLES} resamples, seed ${BOOT_SEED}); met = the interval's upper end within the goal`,
  );
  const x2 = (v) => (v == null ? "n/a" : `${v.toFixed(2)}x`);
  out.push(
    table(
      Object.keys(PAGE_GOALS).map((k) => {
        const f = p[k] || {};
        return [
          PAGE_NAMES[k],
          fmt(f.pairs),
          fmt(f.loader_p50),
          fmt(f.baseline_p50),
          x2(f.ratio_p50),
          f.ratio_ci95 ? `${x2(f.ratio_ci95[0])}–${x2(f.ratio_ci95[1])}` : "n/a",
          `≤${PAGE_GOALS[k].toFixed(2)}x`,
          f.ratio_ci95 ? (f.ratio_ci95[1] <= PAGE_GOALS[k] ? "met" : "not met") : "n/a",
          fmt(f.loader_p95),
          fmt(f.baseline_p95),
        ];
      }),
      ["condition", "pairs", "loader p50", "baseline p50", "ratio p50", "95% interval", "goal", "", "loader p95", "baseline p95"],
    ),
  );
  out.push(`(slow mobile: ${MOBILE_PROFILE_TEXT}, set on each page before it loads; pkg/ files compressed as negotiated (brotli -q 11 or gzip -9)${extra.encodings ? `: ${Object.entries(extra.encodings).map(([k, v]) => `${v} ${k}`).join(", ")} responses` : ""})`);
  if (extra.stages) {
    out.push(
      "(p50 stage times, ms from navigation: loader page glue evaluated / init() done / widget tag, and KiB over the wire; baseline page token read / widget tag, KiB: " +
        Object.entries(extra.stages)
          .map(([k, v]) => `${k} ${fmt(v.glue_evaluated)} / ${fmt(v.init_done)} / ${fmt(v.tag)}, ${fmt(v.loader_kib)} KiB; baseline ${fmt(v.baseline_token)} / ${fmt(v.baseline_tag)}, ${fmt(v.baseline_kib)} KiB`)
          .join("; ") +
        ")",
    );
  }
  if (extra.preload) out.push(`Preload hints: on a first visit the loader page fetched the .wasm ${extra.preload.wasm} time(s) and the glue ${extra.preload.js} time(s) (1 each: the hints were used)`);
  out.push(
    `Long tasks (> 50 ms) on loader pages: ${fmt(p.long_tasks)} in ${p.runs == null ? "n/a" : p.runs * 5} timed loads (PerformanceObserver "longtask", attributed with "long-animation-frame" scripts); ` +
      `${extra.traced ? `${extra.traced.longTasks.length} in ${extra.traced.loads} traced loads (DevTools trace, tasks over 50 ms on the page's main thread)` : "traced loads: not run"}; on baseline pages: ${fmt(extra.long_tasks_baseline)} (goal 0 that are ours)`,
  );
  for (const src of p.long_task_sources || []) out.push(`- ${src}`);
  const pm = results.page_mobile;
  if (pm.rows) {
    out.push("");
    out.push(
      `Slow mobile, first visit, endpoint 100 ms: preload hints and triggers (${pm.runs} runs, each row once per run, order alternating; p50; KiB are compressed bodies over the wire, the HTML excluded; trigger rows: ${pm.window_ms} ms after load without interaction, then a click)`,
    );
    const kb = (b) => (b == null ? "" : (b / 1024).toFixed(1));
    out.push(
      table(
        Object.values(pm.rows).map((r) => [
          r.name,
          r.tag_ms_p50 == null ? "" : fmt(r.tag_ms_p50),
          r.ratio_p50 == null ? "" : `${x2(r.ratio_p50)} (${r.ratio_ci95 ? `${x2(r.ratio_ci95[0])}–${x2(r.ratio_ci95[1])}` : "n/a"})`,
          kb(r.bytes_before_trigger_p50),
          r.trigger_to_tag_ms_p50 == null ? "" : `${r.trigger_to_tag_ms_p50} / ${r.trigger_to_tag_ms_p95}`,
          kb(r.bytes_p50),
        ]),
        ["page", "nav → tag ms", "ratio to baseline (95%)", "KiB before trigger", "click → tag ms p50 / p95", "KiB in all"],
      ),
    );
  }
  const pt = results.page_trigger;
  if (pt.conditions) {
    out.push("");
    out.push(
      `Load triggers: the first ${pt.window_ms} ms after load without interaction (${pt.runs} first visits each, interleaved; p50; bytes are response bodies, uncompressed, the HTML excluded; main thread = CDP TaskDuration from navigation)`,
    );
    const kb = (b) => (b == null ? "n/a" : (b / 1024).toFixed(1));
    out.push(
      table(
        Object.values(pt.conditions).map((c) => [
          c.name,
          kb(c.bytes_p50),
          fmt(c.requests_p50),
          fmt(c.main_thread_ms_p50),
          fmt(c.script_ms_p50),
          `${c.token_requested_runs}/${pt.runs}`,
          fmt(c.token_at_ms_p50),
          c.fire_to_tag_ms_p50 == null ? "" : `${c.fire_to_tag_ms_p50} / ${c.fire_to_tag_ms_p95}`,
        ]),
        ["condition", "KiB fetched", "requests", "main thread ms", "script ms", "token requested", "token at ms", "trigger → tag ms p50 / p95"],
      ),
    );
    out.push(
      "(KiB by kind, p50: " +
        Object.values(pt.conditions)
          .map((c) => `${c.name}: ${Object.entries(c.bytes_by_kind_p50).map(([k, v]) => `${k} ${kb(v)}`).join(", ") || "none"}`)
          .join("; ") +
        ")",
    );
  }
  out.push("");
  out.push(
    `Memory: ${fmt(me.cycles)} forced refreshes after ${WARMUP_CYCLES} warm-up ones, JS heap after forced GC (DevTools protocol); loader page: refreshToken() on one manager; control: the same page without the loader doing what the vendor's sample does per refresh (fetch the token, a new module tag with a new URL of the same shape); loader and control ${MEMORY_RUNS} runs each, alternating, each ${fmt(me.cycles)} refreshes then ${fmt(me.cycles)} more: bytes per refresh from the second ${fmt(me.cycles)} (steady state), medians (runs: loader ${(me.loader_bytes_per_refresh_runs || []).join(", ")}; control ${(me.control_bytes_per_refresh_runs || []).join(", ")}); over the first ${fmt(me.cycles)}, with the engine's one-time warm-up: loader ${fmt(me.loader_bytes_per_refresh_first)}, control ${fmt(me.control_bytes_per_refresh_first)}`,
  );
  const mb = extra.memory?.before;
  const ma = extra.memory?.after;
  const own = me.loader_bytes_per_refresh == null || me.control_bytes_per_refresh == null ? null : me.loader_bytes_per_refresh - me.control_bytes_per_refresh;
  const at = extra.memoryAttribute && !extra.memoryAttribute.error ? extra.memoryAttribute : null;
  const metMark = (ok) => (ok == null ? "n/a" : ok ? "met" : "not met");
  out.push(
    table(
      [
        ['loader page, reload "module": heap bytes per refresh (steady)', fmt(me.loader_bytes_per_refresh), "", ""],
        ["control without the loader: heap bytes per refresh (steady)", fmt(me.control_bytes_per_refresh), "", ""],
        ["the loader's own share (difference)", fmt(own), "≤ 100", metMark(own == null ? null : own <= 100)],
        ['loader page, reload "module": heap growth over the cycles', me.heap_growth_pct == null ? "n/a" : `${me.heap_growth_pct}%`, "", ""],
        ['reload "attribute": heap growth over the cycles', me.attribute_heap_growth_pct == null ? "n/a" : `${me.attribute_heap_growth_pct}% (${fmt(at && bytesPerRefresh(at))} bytes per refresh)`, "< 1%", metMark(me.attribute_heap_growth_pct == null ? null : me.attribute_heap_growth_pct < 1)],
        ["DOM nodes (module / attribute)", `${fmt(me.dom_nodes_growth)} / ${fmt(at?.dom_nodes_growth)}`, "+0", metMark(me.dom_nodes_growth == null ? null : me.dom_nodes_growth === 0 && (!at || at.dom_nodes_growth === 0))],
        ["JS event listeners (module / attribute)", `${fmt(me.listeners_growth)} / ${fmt(at?.listeners_growth)}`, "+0", metMark(me.listeners_growth == null ? null : me.listeners_growth === 0 && (!at || at.listeners_growth === 0))],
        ["wasm memory, bytes (module / attribute)", `${fmt(me.wasm_memory_growth_bytes)} / ${fmt(at?.wasm_memory_growth_bytes)}`, "+0", metMark(me.wasm_memory_growth_bytes == null ? null : me.wasm_memory_growth_bytes === 0 && (!at || at.wasm_memory_growth_bytes === 0))],
      ],
      ["", "figure", "goal", ""],
    ),
  );
  const line = (label, r) =>
    r && !r.error
      ? `${label}: heap ${r.detail.before.heap} → ${r.detail.after.heap} bytes, DOM nodes ${r.detail.before.nodes} → ${r.detail.after.nodes}, listeners ${r.detail.before.listeners} → ${r.detail.after.listeners}${r.detail.before.wasm == null ? "" : `, wasm memory ${r.detail.before.wasm} → ${r.detail.after.wasm}`}; ${r.detail.ms} ms for the cycles; widget evaluations ${r.detail.evaluations}${r.detail.state && r.detail.state !== "n/a" ? `; state after: ${r.detail.state}` : ""}`
      : r && r.error
        ? `${label}: could not run: ${r.error}`
        : null;
  const mm = extra.memory ? { detail: extra.memory } : null;
  if (at?.detail.after2) {
    const a2 = at.detail.after2;
    out.push(
      `(reload "attribute", the next ${at.cycles} refreshes on the same page: heap ${at.detail.after.heap} → ${a2.heap} bytes, ${r2(((a2.heap - at.detail.after.heap) / at.detail.after.heap) * 100)}%, ${Math.round((a2.heap - at.detail.after.heap) / at.cycles)} bytes per refresh; growth in the first ${at.cycles} that does not come again here is one-time, not kept per refresh)`,
    );
  }
  for (const l of [line('(loader, reload "module"', mm), line('(loader, reload "attribute"', extra.memoryAttribute), line("(control", extra.memoryPlain)]) if (l) out.push(l + ")");
  out.push("");
  out.push(
    `Requests: ${fmt(rq.concurrent_initializers)} managers initialised in one tick for one org → ${fmt(rq.token_requests)} token request(s) (goal 1)` +
      (extra.requests ? `; ${extra.requests.fulfilled} resolved, ${extra.requests.rejected.length} rejected${extra.requests.rejected.length ? ` (${[...new Set(extra.requests.rejected)].join(", ")})` : ""}, ${extra.requests.tags} widget tag(s)` : ""),
  );
  out.push("");
  out.push(
    `Server: wrk -t2 -c${fmt(sv.clients)} --latency on GET /api/chathub/token, ${WRK_SECONDS} s per side in two halves (order A B B A; figures are the means of the halves), loopback, same machine`,
  );
  out.push(
    table(
      [
        ["requests/s", fmt(sv.rps), fmt(sv.baseline_rps), ratio(sv.rps, sv.baseline_rps), "≥0.80x"],
        ["p99 latency, ms", fmt(sv.p99_ms), fmt(sv.baseline_p99_ms), ratio(sv.p99_ms, sv.baseline_p99_ms), ""],
      ],
      ["", "token server (dev, cached)", "axum baseline", "ratio", "goal"],
    ),
  );
  out.push(`Upstream get-token calls during the run: ${fmt(sv.upstream_token_calls)} (goal 0: the token was cached before; 1 per org per token lifetime)`);
  if (extra.server) out.push(`(halves, rps/p99 ms: token server ${extra.server.halves.token.map((h) => h.join("/")).join(", ")}; baseline ${extra.server.halves.baseline.map((h) => h.join("/")).join(", ")})`);
  if (extra.server) out.push(`(body ${extra.server.bodyBytes} vs ${extra.server.baselineBodyBytes} bytes; non-2xx: ${extra.server.non2xx} / ${extra.server.baselineNon2xx}${extra.server.sockErr ? `; token server ${extra.server.sockErr}` : ""}${extra.server.baselineSockErr ? `; baseline ${extra.server.baselineSockErr}` : ""})`);
  out.push("");
  out.push(...serverFaultReport(results.server_fault, extra.server_fault, table));
  if (skipped.length) {
    out.push("");
    out.push("Not run:");
    for (const [part, why] of skipped) out.push(`- ${part}: ${why}`);
  }
  return out.join("\n");
}

// ---------------------------------------------------------------- main
async function part(name, fn) {
  if (!want(name)) {
    skipped.push([name, "not selected (BENCH_ONLY)"]);
    return;
  }
  const t0 = Date.now();
  try {
    await fn();
    log(`${name}: done in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  } catch (e) {
    const why = String(e && e.message ? e.message : e).split("\n")[0];
    skipped.push([name, why]);
    log(`${name}: could not run: ${why}`);
  }
}

const m = machine();
await part("size", size);

let browser = null;
let bench = null;
if (["page", "page_trace", "page_mobile", "page_trigger", "memory", "requests"].some(want)) {
  try {
    if (!fs.existsSync(path.join(PKG, "chathub_loader_bg.wasm"))) throw new Error("pkg/ is not built (make pkg)");
    browser = await launch();
    m.chromium = `Chromium ${browser.version()}`;
    bench = await startBenchServer({ pkgDir: PKG });
  } catch (e) {
    const why = String(e.message || e).split("\n")[0];
    for (const p of ["page", "page_trace", "page_mobile", "page_trigger", "memory", "requests"]) if (want(p)) skipped.push([p, `browser: ${why}`]);
    log(`browser parts could not run: ${why}`);
  }
}
if (browser && bench) {
  await part("page", () => pageCost(browser, bench.origin));
  await part("page_trace", () => pageTrace(browser, bench.origin));
  if (want("page") || want("page_trace")) results.page.long_task_sources = longTaskSources();
  await part("page_mobile", () => pageMobile(browser, bench.origin));
  extra.encodings = { ...bench.stats.encodings };
  // page_trigger keeps its documented meaning: bytes as served uncompressed
  await part("page_trigger", async () => {
    const raw = await startBenchServer({ pkgDir: PKG, compress: false });
    try {
      await triggerCost(browser, raw);
    } finally {
      await raw.close();
    }
  });
  await part("memory", () => memory(browser, bench.origin));
  await part("requests", () => requests(browser, bench));
  await browser.close();
  await bench.close();
}
if (!m.chromium) {
  const v = spawnSync(CHROMIUM, ["--version"], { encoding: "utf8" });
  if (!v.error) m.chromium = v.stdout.trim();
}
await part("server", serverThroughput);
await part("server_fault", async () => {
  const r = await serverFault({ root: ROOT, out: OUT, log, freePort, waitHttp, stop });
  Object.assign(results.server_fault, r.figures);
  extra.server_fault = r.extra;
});

const text = report(m);
console.log(text);
fs.writeFileSync(RESULTS, JSON.stringify(results, null, 2) + "\n");
fs.writeFileSync(path.join(OUT, "table.txt"), text + "\n");
fs.writeFileSync(path.join(OUT, "details.json"), JSON.stringify({ machine: m, extra, skipped }, null, 2) + "\n");
log(`wrote ${path.relative(ROOT, RESULTS)} (total ${((Date.now() - started) / 1000).toFixed(0)} s)`);
