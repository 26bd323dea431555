// make bench: size, page cost, memory, requests and server throughput.
// Writes bench/results.json and prints a table. See bench/README-section.md.
//
// Environment knobs (for quick runs while developing; defaults are the real bench):
//   BENCH_RUNS=30          page loads per variant and condition
//   BENCH_CYCLES=1000      refresh cycles of the memory part
//   BENCH_WRK_SECONDS=20   duration of each wrk run
//   BENCH_TRIGGER_RUNS=10  page loads per load-trigger condition
//   BENCH_ONLY=size,page,page_trigger,memory,requests,server,server_fault   run only these parts
//   (page includes page_trigger)
//   (server_fault has its own knobs: see bench/server_fault.mjs)
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import zlib from "node:zlib";
import net from "node:net";
import { spawn, spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { startBenchServer } from "./server.mjs";
import { serverFault, serverFaultFigures, serverFaultReport } from "./server_fault.mjs";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const PKG = path.join(ROOT, "pkg");
const OUT = path.join(ROOT, "bench", "out");
const RESULTS = path.join(ROOT, "bench", "results.json");
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const RUNS = Number(process.env.BENCH_RUNS || 30);
const CYCLES = Number(process.env.BENCH_CYCLES || 1000);
const WARMUP_CYCLES = 20;
const CONCURRENT = 20;
const WRK_SECONDS = Number(process.env.BENCH_WRK_SECONDS || 20);
const WRK_CONNECTIONS = 256;
const ONLY = process.env.BENCH_ONLY ? new Set(process.env.BENCH_ONLY.split(",")) : null;
const TRIGGER_RUNS = Number(process.env.BENCH_TRIGGER_RUNS || 10);
// How long a trigger page is watched after its `load` without any interaction.
const TRIGGER_WINDOW_MS = 2000;
const want = (part) => !ONLY || ONLY.has(part) || (part === "page_trigger" && ONLY.has("page"));
const started = Date.now();
fs.mkdirSync(OUT, { recursive: true });

const log = (...a) => console.error(`[bench ${((Date.now() - started) / 1000).toFixed(0).padStart(3)}s]`, ...a);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const skipped = []; // [part, reason]

const results = {
  size: { wasm_raw: null, wasm_gzip: null, wasm_brotli: null, js_gzip: null, js_brotli: null, total_brotli: null },
  page: {
    runs: null,
    long_tasks: null,
    cold_instant: { loader_p50: null, loader_p95: null, baseline_p50: null, baseline_p95: null },
    warm_instant: { loader_p50: null, loader_p95: null, baseline_p50: null, baseline_p95: null },
    cold_100ms: { loader_p50: null, loader_p95: null, baseline_p50: null, baseline_p95: null },
    warm_100ms: { loader_p50: null, loader_p95: null, baseline_p50: null, baseline_p95: null },
  },
  // Per load-trigger condition, before the trigger (TRIGGER_WINDOW_MS after
  // load, no interaction): bytes fetched (response bodies, the document
  // excluded), requests, main-thread task time, token requests; then the
  // trigger and the ms until the widget tag (see triggerCost).
  page_trigger: { runs: null, window_ms: null, conditions: null },
  memory: { cycles: null, heap_growth_pct: null, dom_nodes_growth: null, listeners_growth: null, wasm_memory_growth_bytes: null },
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

// ---------------------------------------------------------------- browser
async function launch() {
  const { chromium } = await import("playwright-core");
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
  });
}

async function measure(page, url) {
  await page.goto(url, { waitUntil: "load", timeout: 15000 });
  await page.waitForFunction(() => window.__bench && window.__bench.done, null, { timeout: 15000, polling: 10 });
  await sleep(60); // let late long-task entries arrive
  const b = await page.evaluate(() => window.__bench);
  if (b.error) throw new Error(`${url}: ${b.error}`);
  if (b.tagAt == null) throw new Error(`${url}: the widget tag never appeared`);
  return b;
}

async function pageCost(browser, origin) {
  const conditions = [
    { delay: 0, cold: "cold_instant", warm: "warm_instant" },
    { delay: 100, cold: "cold_100ms", warm: "warm_100ms" },
  ];
  const samples = {};
  for (const c of conditions) for (const k of [c.cold, c.warm]) samples[k] = { loader: [], baseline: [] };
  const longTasks = { loader: [], baseline: [] };
  // one warm-up pair, not recorded (first Chromium process start, JIT of the server)
  for (const v of ["loader", "baseline"]) {
    const ctx = await browser.newContext();
    const page = await ctx.newPage();
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
  for (let i = 0; i < RUNS; i++) {
    for (const c of conditions) {
      // interleaved; the order alternates so neither variant always goes first
      const order = i % 2 ? ["baseline", "loader"] : ["loader", "baseline"];
      for (const v of order) {
        const ctx = await browser.newContext(); // first visit: empty cache
        const page = await ctx.newPage();
        const url = `${origin}/${v}.html?delay=${c.delay}`;
        const cold = await measure(page, url);
        const warm = await measure(page, url); // second visit: same context, cache warm
        await ctx.close();
        samples[c.cold][v].push(cold.tagAt);
        samples[c.warm][v].push(warm.tagAt);
        longTasks[v].push(...cold.longTasks, ...warm.longTasks);
      }
    }
    if ((i + 1) % 10 === 0) log(`page: ${i + 1}/${RUNS} runs`);
  }
  for (const [k, s] of Object.entries(samples)) {
    results.page[k] = {
      loader_p50: r1(quantile(s.loader, 0.5)),
      loader_p95: r1(quantile(s.loader, 0.95)),
      baseline_p50: r1(quantile(s.baseline, 0.5)),
      baseline_p95: r1(quantile(s.baseline, 0.95)),
    };
  }
  results.page.runs = RUNS;
  results.page.long_tasks = longTasks.loader.length;
  extra.long_tasks_loader_ms = longTasks.loader;
  extra.long_tasks_baseline = longTasks.baseline.length;
  fs.writeFileSync(path.join(OUT, "page-samples.json"), JSON.stringify({ samples, longTasks }, null, 1));
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
  const before = await page.evaluate(() => {
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
    return { bytes, requests, byKind, tokenAt, tagAt: window.__bench.tagAt, error: window.__bench.error };
  });
  let fireToTag = null;
  if (c.pull) {
    if (c.pull === "click") await page.mouse.click(5, 5);
    else await page.evaluate(() => document.getElementById("chat").scrollIntoView());
    await page.waitForFunction(() => window.__bench.tagAt != null && window.__bench.inputAt != null, null, { timeout: 15000, polling: 10 });
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

async function memoryRun(browser, origin, reload, cycles) {
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
    page.evaluate(
      async ([n, plain]) => {
        for (let i = 0; i < n; i++) {
          if (!plain) {
            await window.__m.refreshToken();
            continue;
          }
          const { token } = await (await fetch("/api/chathub/token")).json();
          const old = document.getElementById("operator-chat-panel-script");
          const s = document.createElement("script");
          s.type = "module";
          s.id = "operator-chat-panel-script";
          s.src = `/widget/widget-script.js?v=${(window.__v = (window.__v || 0) + 1)}`;
          s.setAttribute("token", token);
          await new Promise((resolve, reject) => {
            s.onload = resolve;
            s.onerror = reject;
            if (old) old.remove();
            document.body.appendChild(s);
          });
          s.onload = s.onerror = null;
        }
        return window.__widgetEvaluations;
      },
      [n, plain],
    );
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
  const state = plain ? "n/a" : await page.evaluate(() => window.__m.state);
  await ctx.close();
  return {
    cycles,
    heap_growth_pct: r2(((after.heap - before.heap) / before.heap) * 100),
    dom_nodes_growth: after.nodes - before.nodes,
    listeners_growth: after.listeners - before.listeners,
    wasm_memory_growth_bytes: after.wasm - before.wasm,
    detail: { before, after, ms, evaluations, state },
  };
}

async function memory(browser, origin) {
  // the measured figure: the widget's default reload ("module")
  const { detail, ...r } = await memoryRun(browser, origin, null, CYCLES);
  Object.assign(results.memory, r);
  extra.memory = detail;
  // for reading it: the same with reload "attribute" (no module re-evaluation)
  try {
    const a = await memoryRun(browser, origin, "attribute", CYCLES);
    extra.memoryAttribute = a;
  } catch (e) {
    extra.memoryAttribute = { error: String(e.message || e).split("\n")[0] };
  }
  // and a control without the loader: plain JS replacing the module tag
  try {
    extra.memoryPlain = await memoryRun(browser, origin, "plainjs", CYCLES);
  } catch (e) {
    extra.memoryPlain = { error: String(e.message || e).split("\n")[0] };
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
  if (!fs.existsSync(bin)) throw new Error(`${bin} missing (cargo build -p chathub-token-server --release)`);
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
    const stats = async () => (await (await fetch(`${origin}/dev/admin/stats`)).json()).get_token || 0;
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
  out.push(`Page: ms from navigation start until script#operator-chat-panel-script[token] is in the document (${fmt(p.runs)} runs each, interleaved)`);
  const goals = { cold_instant: 1.3, warm_instant: 1.1, cold_100ms: 1.05, warm_100ms: 1.05 };
  const names = { cold_instant: "first visit, endpoint instant", warm_instant: "second visit, endpoint instant", cold_100ms: "first visit, endpoint 100 ms", warm_100ms: "second visit, endpoint 100 ms" };
  out.push(
    table(
      Object.keys(goals).map((k) => [
        names[k],
        fmt(p[k].loader_p50),
        fmt(p[k].baseline_p50),
        ratio(p[k].loader_p50, p[k].baseline_p50),
        `≤${goals[k].toFixed(2)}x`,
        fmt(p[k].loader_p95),
        fmt(p[k].baseline_p95),
        ratio(p[k].loader_p95, p[k].baseline_p95),
      ]),
      ["condition", "loader p50", "baseline p50", "ratio", "goal", "loader p95", "baseline p95", "ratio"],
    ),
  );
  if (extra.preload) out.push(`Preload hints: on a first visit the loader page fetched the .wasm ${extra.preload.wasm} time(s) and the glue ${extra.preload.js} time(s) (1 each: the hints were used)`);
  out.push(
    `Long tasks (>50 ms) on loader pages: ${fmt(p.long_tasks)}${extra.long_tasks_loader_ms?.length ? ` (${extra.long_tasks_loader_ms.join(", ")} ms)` : ""} (goal 0); on baseline pages: ${fmt(extra.long_tasks_baseline)}`,
  );
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
  out.push(`Memory: ${fmt(me.cycles)} forced refreshToken() cycles on one manager (reload "module"), after ${WARMUP_CYCLES} warm-up cycles`);
  const mb = extra.memory?.before;
  const ma = extra.memory?.after;
  out.push(
    table(
      [
        ["JS heap used (after GC), bytes", fmt(mb?.heap), fmt(ma?.heap), me.heap_growth_pct == null ? "n/a" : `${me.heap_growth_pct}%`, "< 1%"],
        ["DOM nodes", fmt(mb?.nodes), fmt(ma?.nodes), fmt(me.dom_nodes_growth), "0"],
        ["JS event listeners", fmt(mb?.listeners), fmt(ma?.listeners), fmt(me.listeners_growth), "0"],
        ["wasm memory, bytes", fmt(mb?.wasm), fmt(ma?.wasm), fmt(me.wasm_memory_growth_bytes), ""],
      ],
      ["metric", "before", "after", "growth", "goal"],
    ),
  );
  if (extra.memory) {
    out.push(
      `(${extra.memory.ms} ms for the cycles, ${(extra.memory.ms / me.cycles).toFixed(2)} ms each; heap ${Math.round((ma.heap - mb.heap) / me.cycles)} bytes per cycle; widget evaluations ${extra.memory.evaluations}; state after: ${extra.memory.state})`,
    );
  }
  for (const [label, at] of [
    ['Same with reload "attribute"', extra.memoryAttribute],
    ["Control without the loader (plain JS: fetch + new module tag per cycle)", extra.memoryPlain],
  ]) {
    if (at && at.error) out.push(`${label}: could not run: ${at.error}`);
    else if (at) {
      out.push(
        `${label} (for comparison, not in results.json): heap ${at.heap_growth_pct}% (${Math.round((at.detail.after.heap - at.detail.before.heap) / at.cycles)} bytes per cycle), DOM nodes ${at.dom_nodes_growth}, listeners ${at.listeners_growth}` +
          (label.startsWith("Control") ? "" : `, wasm memory ${at.wasm_memory_growth_bytes} bytes`) +
          `; widget evaluations ${at.detail.evaluations}`,
      );
    }
  }
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
if (["page", "page_trigger", "memory", "requests"].some(want)) {
  try {
    if (!fs.existsSync(path.join(PKG, "chathub_loader_bg.wasm"))) throw new Error("pkg/ is not built (make pkg)");
    browser = await launch();
    m.chromium = `Chromium ${browser.version()}`;
    bench = await startBenchServer({ pkgDir: PKG });
  } catch (e) {
    const why = String(e.message || e).split("\n")[0];
    for (const p of ["page", "page_trigger", "memory", "requests"]) if (want(p)) skipped.push([p, `browser: ${why}`]);
    log(`browser parts could not run: ${why}`);
  }
}
if (browser && bench) {
  await part("page", () => pageCost(browser, bench.origin));
  await part("page_trigger", () => triggerCost(browser, bench));
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
