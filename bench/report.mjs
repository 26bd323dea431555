// make bench: the printed report (also bench/out/table.txt), from the
// figures of results.json and the details each part handed back.
import { MOBILE_PROFILE_TEXT, PHONE_PROFILE_TEXT } from "./browser.mjs";
import { WARMUP_CYCLES, MEMORY_RUNS, bytesPerRefresh } from "./memory.mjs";
import { BLOCKS, PAGE_GOALS, PAGE_NAMES } from "./page.mjs";
import { serverFaultReport } from "./server_fault.mjs";
import { BOOT_RESAMPLES, BOOT_SEED, r2 } from "./stats.mjs";
import { WRK_SECONDS } from "./throughput.mjs";

function ratio(a, b) {
  return a == null || b == null || b === 0 ? "" : `${(a / b).toFixed(2)}x`;
}
function fmt(x, unit = "") {
  return x == null ? "n/a" : `${x}${unit}`;
}
const x2 = (v) => (v == null ? "n/a" : `${v.toFixed(2)}x`);
const interval = (ci) => (ci ? `${x2(ci[0])}–${x2(ci[1])}` : "n/a");
const metMark = (ok) => (ok == null ? "n/a" : ok ? "met" : "not met");

/** A Markdown table, the first column left-aligned, the others right. */
export function table(rows, head) {
  const all = [head, ...rows].map((r) => r.map(String));
  const w = head.map((_, i) => Math.max(...all.map((r) => r[i].length)));
  const line = (r) => "| " + r.map((c, i) => (i === 0 ? c.padEnd(w[i]) : c.padStart(w[i]))).join(" | ") + " |";
  return [line(all[0]), "|" + w.map((n, i) => (i === 0 ? "-".repeat(n + 1) + "-" : "-".repeat(n + 1) + ":")).join("|") + "|", ...all.slice(1).map(line)].join("\n");
}

function sizeLines(s, extra) {
  const jsRaw = extra.size?.js_raw;
  return [
    "Size (what `npm pack` in pkg/ ships; gzip -9, brotli -q 11), bytes",
    table(
      [
        ["chathub_loader_bg.wasm", fmt(s.wasm_raw), fmt(s.wasm_gzip), fmt(s.wasm_brotli)],
        ["chathub_loader.js (glue)", fmt(jsRaw), fmt(s.js_gzip), fmt(s.js_brotli)],
        ["total", s.wasm_raw == null ? "n/a" : s.wasm_raw + jsRaw, s.wasm_gzip == null ? "n/a" : s.wasm_gzip + s.js_gzip, fmt(s.total_brotli)],
      ],
      ["file", "raw", "gzip", "brotli"],
    ),
  ];
}

function pageLines(p, extra) {
  const out = [];
  const ex = extra.page || {};
  out.push(
    `Page: ms from navigation start until script#operator-chat-panel-script[token] is in the document; ${fmt(p.runs)} pairs per condition (loader and baseline one after the other, order alternating) in ${BLOCKS} blocks spread over the whole run; ratio = median of the per-pair ratios loader/baseline, 95 % interval by a two-stage bootstrap (blocks, then pairs in them; ${BOOT_RESAMPLES} resamples, seed ${BOOT_SEED}); this run: met when the interval's upper end is within the goal; two runs: "met (2 runs)" only when the previous run, measured the same way, met it too`,
  );
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
          interval(f.ratio_ci95),
          `≤${PAGE_GOALS[k].toFixed(2)}x`,
          f.ratio_ci95 ? metMark(f.met) : "n/a",
          f.verdict || "n/a",
          f.previous_ratio_ci95 ? interval(f.previous_ratio_ci95) : "",
          fmt(f.loader_p95),
          fmt(f.baseline_p95),
        ];
      }),
      ["condition", "pairs", "loader p50", "baseline p50", "ratio p50", "95% interval", "goal", "this run", "two runs", "previous run", "loader p95", "baseline p95"],
    ),
  );
  out.push(
    `(loader page: preload hints for the glue and the .wasm; "token hint": also <link rel="preload" as="fetch" crossorigin> for the token endpoint; slow mobile: ${MOBILE_PROFILE_TEXT}; phone: ${PHONE_PROFILE_TEXT}; set on each page of both kinds before it loads; pkg/ files compressed as negotiated (brotli -q 11 or gzip -9)${extra.encodings ? `: ${Object.entries(extra.encodings).map(([k, v]) => `${v} ${k}`).join(", ")} responses` : ""})`,
  );
  const blocks = Object.keys(PAGE_GOALS).filter((k) => p[k]?.block_ratio_p50);
  if (blocks.length) out.push(`(ratio p50 per block, in run order: ${blocks.map((k) => `${k} ${p[k].block_ratio_p50.map((x) => x.toFixed(2)).join(" ")}`).join("; ")})`);
  if (ex.stages) {
    out.push(
      "(p50 stage times, ms from navigation: loader page glue evaluated / init() done / widget tag, and KiB over the wire; baseline page token read / widget tag, KiB: " +
        Object.entries(ex.stages)
          .map(([k, v]) => `${k} ${fmt(v.glue_evaluated)} / ${fmt(v.init_done)} / ${fmt(v.tag)}, ${fmt(v.loader_kib)} KiB; baseline ${fmt(v.baseline_token)} / ${fmt(v.baseline_tag)}, ${fmt(v.baseline_kib)} KiB`)
          .join("; ") +
        ")",
    );
  }
  if (ex.preload) out.push(`Preload hints: on a first visit the loader page fetched the .wasm ${ex.preload.wasm} time(s) and the glue ${ex.preload.js} time(s) (1 each: the hints were used)`);
  if (ex.tokenRequests) {
    const tr = Object.entries(ex.tokenRequests).map(([k, v]) => `${k} ${v.min === v.max ? v.min : `${v.min}–${v.max}`}`);
    out.push(`Token requests per loader load, counted by the bench server: ${tr.join(", ")} (1 with the token hint: the loader's request was answered from the preload, not made twice)`);
  }
  const by = p.long_tasks_ours_by_condition || {};
  out.push(
    `Long tasks (> 50 ms) on loader pages: ${fmt(p.long_tasks)} in ${fmt(p.long_task_loads)} timed loads (PerformanceObserver "longtask"), of which the loader's: ${fmt(p.long_tasks_ours)} (goal 0${Object.keys(by).length ? `; ${Object.entries(by).map(([k, n]) => `${k} ${n}`).join(", ")}` : ""}); ` +
      `${extra.traced ? `${extra.traced.longTasks.length} in ${extra.traced.loads} traced loads (DevTools trace, tasks over 50 ms on the page's main thread), of which the loader's: ${extra.traced.longTasks.filter((t) => t.ours).length}` : "traced loads: not run"}; on baseline pages: ${fmt(p.long_tasks_baseline)}. ` +
      "A task is the loader's when a callback or promise settlement the loader's code asked for ran in it (timer, idle, animation frame, fetch, WebAssembly compile/instantiate: the call's stack), else when a script of it has the loader's code as its source (long animation frames); see bench/README.md",
  );
  for (const src of p.long_task_sources || []) out.push(`- ${src}`);
  return out;
}

function mobileLines(pm) {
  if (!pm.rows) return [];
  const kb = (b) => (b == null ? "" : (b / 1024).toFixed(1));
  return [
    "",
    `Slow mobile, first visit, endpoint 100 ms: preload hints and triggers (${pm.runs} runs, each row once per run, order alternating; p50; KiB are compressed bodies over the wire, the HTML excluded; trigger rows: ${pm.window_ms} ms after load without interaction, then a click)`,
    table(
      Object.values(pm.rows).map((r) => [
        r.name,
        r.tag_ms_p50 == null ? "" : fmt(r.tag_ms_p50),
        r.ratio_p50 == null ? "" : `${x2(r.ratio_p50)} (${interval(r.ratio_ci95)})`,
        kb(r.bytes_before_trigger_p50),
        r.trigger_to_tag_ms_p50 == null ? "" : `${r.trigger_to_tag_ms_p50} / ${r.trigger_to_tag_ms_p95}`,
        kb(r.bytes_p50),
      ]),
      ["page", "nav → tag ms", "ratio to baseline (95%)", "KiB before trigger", "click → tag ms p50 / p95", "KiB in all"],
    ),
  ];
}

function triggerLines(pt) {
  if (!pt.conditions) return [];
  const kb = (b) => (b == null ? "n/a" : (b / 1024).toFixed(1));
  return [
    "",
    `Load triggers: the first ${pt.window_ms} ms after load without interaction (${pt.runs} first visits each, interleaved; p50; bytes are response bodies, uncompressed, the HTML excluded; main thread = CDP TaskDuration from navigation)`,
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
    "(KiB by kind, p50: " +
      Object.values(pt.conditions)
        .map((c) => `${c.name}: ${Object.entries(c.bytes_by_kind_p50).map(([k, v]) => `${k} ${kb(v)}`).join(", ") || "none"}`)
        .join("; ") +
      ")",
  ];
}

function memoryLines(me, ex) {
  const out = [];
  out.push(
    `Memory: ${fmt(me.cycles)} forced refreshes after ${WARMUP_CYCLES} warm-up ones, JS heap after forced GC (DevTools protocol); loader page: refreshToken() on one manager; control: the same page without the loader doing what the vendor's sample does per refresh (fetch the token, a new module tag with a new URL of the same shape); loader and control ${MEMORY_RUNS} runs each, alternating, each ${fmt(me.cycles)} refreshes then ${fmt(me.cycles)} more: bytes per refresh from the second ${fmt(me.cycles)} (steady state), medians (runs: loader ${(me.loader_bytes_per_refresh_runs || []).join(", ")}; control ${(me.control_bytes_per_refresh_runs || []).join(", ")}); over the first ${fmt(me.cycles)}, with the engine's one-time warm-up: loader ${fmt(me.loader_bytes_per_refresh_first)}, control ${fmt(me.control_bytes_per_refresh_first)}`,
  );
  const own = me.loader_bytes_per_refresh == null || me.control_bytes_per_refresh == null ? null : me.loader_bytes_per_refresh - me.control_bytes_per_refresh;
  const at = ex.memoryAttribute && !ex.memoryAttribute.error ? ex.memoryAttribute : null;
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
  if (at?.detail.after2) {
    const a2 = at.detail.after2;
    out.push(
      `(reload "attribute", the next ${at.cycles} refreshes on the same page: heap ${at.detail.after.heap} → ${a2.heap} bytes, ${r2(((a2.heap - at.detail.after.heap) / at.detail.after.heap) * 100)}%, ${Math.round((a2.heap - at.detail.after.heap) / at.cycles)} bytes per refresh; growth in the first ${at.cycles} that does not come again here is one-time, not kept per refresh)`,
    );
  }
  const mm = ex.memory ? { detail: ex.memory } : null;
  for (const l of [line('(loader, reload "module"', mm), line('(loader, reload "attribute"', ex.memoryAttribute), line("(control", ex.memoryPlain)]) if (l) out.push(l + ")");
  return out;
}

function serverLines(sv, ex) {
  const out = [];
  out.push(`Server: wrk -t2 -c${fmt(sv.clients)} --latency on GET /api/chathub/token, ${WRK_SECONDS} s per side in two halves (order A B B A; figures are the means of the halves), loopback, same machine`);
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
  if (ex) {
    out.push(`(halves, rps/p99 ms: token server ${ex.halves.token.map((h) => h.join("/")).join(", ")}; baseline ${ex.halves.baseline.map((h) => h.join("/")).join(", ")})`);
    out.push(`(body ${ex.bodyBytes} vs ${ex.baselineBodyBytes} bytes; non-2xx: ${ex.non2xx} / ${ex.baselineNon2xx}${ex.sockErr ? `; token server ${ex.sockErr}` : ""}${ex.baselineSockErr ? `; baseline ${ex.baselineSockErr}` : ""})`);
  }
  return out;
}

/** The whole printed text. */
export function report({ results, extra, machine: m, skipped, quick }) {
  const rq = results.requests;
  const exr = extra.requests;
  const out = [];
  if (quick) out.push("QUICK MODE (BENCH_QUICK=1): few samples, for checking the bench; not figures to quote", "");
  out.push(`Machine: ${m.cpu}, ${m.cores} cores, ${m.memGiB} GiB; ${m.chromium || "Chromium n/a"}; Node ${m.node}; Linux ${m.kernel}`);
  out.push("", ...sizeLines(results.size, extra));
  out.push("", ...pageLines(results.page, extra));
  out.push(...mobileLines(results.page_mobile));
  out.push(...triggerLines(results.page_trigger));
  out.push("", ...memoryLines(results.memory, extra.memory || {}));
  out.push(
    "",
    `Requests: ${fmt(rq.concurrent_initializers)} managers initialised in one tick for one org → ${fmt(rq.token_requests)} token request(s) (goal 1)` +
      (exr ? `; ${exr.fulfilled} resolved, ${exr.rejected.length} rejected${exr.rejected.length ? ` (${[...new Set(exr.rejected)].join(", ")})` : ""}, ${exr.tags} widget tag(s)` : ""),
  );
  out.push("", ...serverLines(results.server, extra.server));
  out.push("", ...serverFaultReport(results.server_fault, extra.server_fault, table));
  if (skipped.length) {
    out.push("", "Not run:");
    for (const [part, why] of skipped) out.push(`- ${part}: ${why}`);
  }
  return out.join("\n");
}
