// make bench: whose are the long tasks (> 50 ms) of the loader's page.
//
// Timed loads (every load of the page part): the page's PerformanceObserver
// gives the long tasks; the loader's page also notes, for every timer,
// idle and animation-frame callback, fetch and WebAssembly compile or
// instantiate it asks for, the stack of the call and the moment its
// callback (or its promise's first reaction) runs (server.mjs, PROVENANCE).
// A long task is the loader's when
//   1. a callback or promise settlement asked for by the loader's code (the
//      glue chathub_loader.js, the .wasm, auto.js anywhere on the call's
//      stack, async frames included) ran inside it: the task is that
//      callback with the promise jobs it set off (init()'s continuation,
//      the calls into the .wasm), whatever script URL the browser gives it;
//   2. else, a script of its long animation frame that started inside it
//      has the loader's code as source URL (an event listener, a closure of
//      the .wasm) or is the page's module script (the import of the glue,
//      init() and initialize() up to their first await).
// Otherwise: the bench's probe (the page's inline classic scripts), the
// widget or another script by URL, or the browser when no script ran in it
// (parsing, style, layout, GC).
//
// Traced loads (page_trace, apart from the timed ones, since tracing slows
// the page): a DevTools trace, each main-thread task over 50 ms named by the
// events inside it; a timer, idle or animation-frame callback fired in it
// is the loader's when its install event's stack holds the loader's code.
import fs from "node:fs";
import path from "node:path";
import { openPage, measure } from "./browser.mjs";
import { knob } from "./knobs.mjs";

export const TRACE_RUNS = knob("BENCH_TRACE_RUNS", 4, 1);

const LOADER_CODE = /\/pkg\/(chathub_loader\.js|chathub_loader_bg\.wasm|auto\.js)\b|wasm-function\[/;

function pathOf(url) {
  try {
    return new URL(url).pathname;
  } catch {
    return url;
  }
}

/** Which of the loader's files asked for a call, from its stack (null: none). */
function askedBy(stack) {
  if (!LOADER_CODE.test(stack)) return null;
  if (/chathub_loader_bg\.wasm|wasm-function\[/.test(stack)) return "the .wasm";
  if (/\/pkg\/auto\.js/.test(stack)) return "auto.js";
  return "the glue";
}

function scriptOwner(s, pageUrl) {
  const p = pathOf(s.url || "");
  if (p.endsWith("/chathub_loader.js")) return { ours: true, source: `ours: the glue (chathub_loader.js), ${s.type} ${s.invoker || ""}` };
  if (p.endsWith(".wasm")) return { ours: true, source: "ours: the .wasm" };
  if (p.endsWith("/auto.js")) return { ours: true, source: "ours: auto.js" };
  if (s.url && s.url === pageUrl && s.type === "module-script") return { ours: true, source: "ours: the page's module script (the glue's import, init() and initialize() to their first await)" };
  if (s.url && s.url === pageUrl && /^__bench/.test(s.fn || "")) return null; // the provenance wrappers: counted by their marks
  if (s.url && s.url === pageUrl) return { ours: false, source: `the bench's probe (the page's inline classic scripts: ${s.type})` };
  if (p.startsWith("/widget/")) return { ours: false, source: "the widget's own script" };
  if (s.url) return { ours: false, source: `other script (${p})` };
  return null;
}

/**
 * The long tasks of one timed load, each with whose it is (see above).
 * `b`: the probe's record from measure(); `where`: the condition's key.
 */
export function attributeLongTasks(b, where, pageUrl) {
  const calls = b.calls || [];
  return (b.longTaskDetail || []).map((t) => {
    const from = t.start - 0.5;
    const to = t.start + t.duration + 0.5;
    const marks = (b.fires || [])
      .filter(([, at]) => at >= from && at <= to)
      .map(([i]) => calls[i])
      .filter((c) => c && askedBy(c.stack));
    let ours = false;
    let source;
    if (marks.length) {
      ours = true;
      const c = marks[0];
      source = `ours: ${c.kind}${c.what ? ` (${c.what})` : ""} asked for by ${askedBy(c.stack)}, with the promise jobs it set off`;
    } else {
      const scripts = (b.loaf || [])
        .flatMap((f) => f.scripts)
        .filter((s) => s.start >= from && s.start <= to)
        .sort((a, c) => c.duration - a.duration);
      const owners = scripts.map((s) => scriptOwner(s, pageUrl)).filter(Boolean);
      const o = owners.find((x) => x.ours) || owners[0];
      ours = !!o?.ours;
      source = o ? o.source.replace(/https?:\/\/127\.0\.0\.1:\d+/g, "").trim() : "browser (no script in the task: parsing, style, layout, GC)";
    }
    return { where, start: t.start, duration: Math.round(t.duration), ours, source };
  });
}

// ---------------------------------------------------------------- traced loads
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

// install event → fire event of the callbacks a trace shows, by id
const CALLBACK_EVENTS = [
  { install: "TimerInstall", fire: "TimerFire", id: "timerId", kind: "timer" },
  { install: "RequestIdleCallback", fire: "FireIdleCallback", id: "id", kind: "idle callback" },
  { install: "RequestAnimationFrame", fire: "FireAnimationFrame", id: "id", kind: "animation frame" },
];

function traceLongTasks(trace, where) {
  const ev = trace.traceEvents || trace;
  const mains = new Set(ev.filter((e) => e.ph === "M" && e.name === "thread_name" && e.args?.name === "CrRendererMain").map((e) => `${e.pid}:${e.tid}`));
  // which callbacks the loader's code installed: pid:kind:id → its stack's files
  const installedByLoader = new Map();
  for (const e of ev) {
    const c = CALLBACK_EVENTS.find((k) => k.install === e.name);
    const d = e.args?.data;
    if (!c || !d) continue;
    const urls = (d.stackTrace || []).map((f) => f.url || "").join(" ");
    installedByLoader.set(`${e.pid}:${c.kind}:${d[c.id]}`, askedBy(urls));
  }
  const byThread = new Map();
  for (const e of ev) {
    const key = `${e.pid}:${e.tid}`;
    if (!mains.has(key) || e.dur == null || e.ph !== "X") continue;
    if (!byThread.has(key)) byThread.set(key, []);
    byThread.get(key).push(e);
  }
  // instant events (TimerFire is one in some versions) on the main threads
  const instants = ev.filter((e) => mains.has(`${e.pid}:${e.tid}`) && (e.ph === "I" || e.ph === "i" || e.ph === "X") && CALLBACK_EVENTS.some((c) => c.fire === e.name));
  const found = [];
  for (const [, list] of byThread) {
    list.sort((a, b) => a.ts - b.ts);
    for (const t of list) {
      if (t.name !== "RunTask" || t.dur < 50000) continue;
      const inside = list.filter((e) => e !== t && e.ts >= t.ts && e.ts + e.dur <= t.ts + t.dur);
      const fired = instants
        .filter((e) => e.pid === t.pid && e.tid === t.tid && e.ts >= t.ts && e.ts <= t.ts + t.dur)
        .map((e) => {
          const c = CALLBACK_EVENTS.find((k) => k.fire === e.name);
          return { kind: c.kind, by: installedByLoader.get(`${e.pid}:${c.kind}:${e.args?.data?.[c.id]}`) };
        });
      found.push({ where, ms: Math.round(t.dur / 1000), ...classifyTask(inside, fired) });
    }
  }
  return found;
}

// Names a long task by what ran inside it: a callback the loader installed,
// the DevTools protocol message or navigation it served, or, for script
// work, the .wasm's compile (streaming finish, lazy compilation of each
// function at its first call), instantiation, the calls into the glue and
// the loader's <style>.
function classifyTask(inside, fired) {
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
  const loaderCallback = fired.find((f) => f.by);
  let source;
  if (/DevToolsSession/.test(mojo)) source = "the bench harness: a DevTools protocol call (Playwright), not the page";
  else if (loaderCallback) source = `ours: a ${loaderCallback.kind} installed by ${loaderCallback.by}, with the promise jobs it set off`;
  else if (/NavigationClient|AgentSchedulingGroup/.test(mojo)) source = "browser: navigation commit and HTML parsing";
  else if (parts.module_eval > Math.max(parts.wasm_compile, parts.glue_calls))
    source = "ours: evaluating the page's module script and the glue (compile, top level, init() up to its first await)";
  else if (parts.wasm_compile || parts.instantiate || parts.glue_calls)
    source = "ours: the .wasm's start (streaming compile finish, instantiate, the first calls into the wasm with their lazy compilation, the loader's <style>)";
  else if (parts.lifecycle) source = "browser: style, layout and paint";
  else if (parts.gc) source = "browser: garbage collection";
  else source = `browser: ${inside[0]?.name || "a task with no traced work"}`;
  return { source, ours: source.startsWith("ours"), parts: Object.fromEntries(Object.entries(parts).filter(([, v]) => v > 0)) };
}

/**
 * TRACE_RUNS traced loader loads per page condition (cold, then warm in
 * the same context where the condition has a second visit).
 */
export async function pageTrace(browser, origin, conditions, out) {
  const found = [];
  let loads = 0;
  for (let i = 0; i < TRACE_RUNS; i++) {
    for (const c of conditions) {
      const { ctx, page } = await openPage(browser, c);
      await browser.startTracing(page, { categories: TRACE_CATEGORIES });
      const url = `${origin}/loader.html?delay=${c.delay}&hints=${c.hints}`;
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
  const traced = { loads, longTasks: found };
  fs.writeFileSync(path.join(out, "page-trace-long-tasks.json"), JSON.stringify(traced, null, 1));
  return traced;
}

/**
 * The list for results.json: each distinct source with where, how often
 * and how long, from the timed loads (attributeLongTasks) and the traced
 * ones (pageTrace).
 */
export function longTaskSources(timed, traced) {
  const count = new Map();
  const add = (src, ms, kind, parts) => {
    const key = `${src} [${kind}]`;
    const c = count.get(key) || { n: 0, ms: [], parts: {} };
    c.n++;
    c.ms.push(ms);
    for (const [k, v] of Object.entries(parts || {})) c.parts[k] = Math.max(c.parts[k] || 0, v);
    count.set(key, c);
  };
  for (const t of timed || []) add(t.source, t.duration, `${t.where}, timed loads`);
  for (const t of traced?.longTasks || []) add(t.source, t.ms, `${t.where}, traced loads`, t.parts);
  const partNames = { wasm_compile: "wasm compile", instantiate: "instantiate", glue_calls: "calls into the glue/wasm", module_eval: "module evaluation", style_element: "<style>", lifecycle: "style/layout/paint", parse_html: "HTML parsing", gc: "GC", js_compile: "JS compile" };
  return [...count]
    .sort((a, b) => Number(b[0].startsWith("ours")) - Number(a[0].startsWith("ours")) || b[1].n - a[1].n)
    .map(([k, c]) => {
      const parts = Object.entries(c.parts).map(([p, v]) => `${partNames[p] || p} ≤ ${v} ms`);
      return `${k}: ${c.n}× ${Math.min(...c.ms)}–${Math.max(...c.ms)} ms${parts.length ? ` (${parts.join(", ")})` : ""}`;
    });
}
