// make bench, part server_fault: the token server through a fault storm and
// an outage, against `chathub-token-server dev` on loopback.
//
// 1. Fault storm: CLIENTS concurrent keep-alive clients (half per org), each
//    asking for a token about every THINK_MS (jittered), for FAULT_SECONDS
//    while the fake ChatHub fails 30 % of calls
//    (28 % answer 503 at once, 2 % hang past dev mode's 5 s upstream
//    timeout) and tokens live 20 s, so each org renews a few times a run.
//    client_errors_with_valid_token counts error answers that arrived while
//    a token of that org with more than MIN_LEFT_MS left had already been
//    handed out (the server keeps serving a cached token until 10 % of its
//    lifetime is left): each one is a visitor who would get the contact box
//    although the server held a working token.
// 2. Outage: every ChatHub call answers 503 and the token cache is flushed;
//    the same clients hammer on for OUTAGE_SECONDS. Upstream calls come from
//    the fake's own counters; per-org attempts from the server's /metrics,
//    checked against the backoff (1 s doubling to 60 s: at most one attempt
//    per org per window).
// rss_growth_pct compares the server's RSS after a WARMUP_SECONDS warm-up
// under the same faults (not counted otherwise) with its RSS at the end of
// the outage: the allocator settles in the first tens of seconds, a leak
// would go on growing.
//
// The clients pause between requests because they run in one Node process
// on the same 2 cores as the server: without pauses Node saturates at about
// 6,000 requests/s and the latencies measure its own queue, not the server.
//
// Knobs (smaller defaults in the quick mode, knobs.mjs): BENCH_FAULT_CLIENTS, BENCH_FAULT_SECONDS,
// BENCH_OUTAGE_SECONDS, BENCH_FAULT_WARMUP_SECONDS, BENCH_FAULT_THINK_MS;
// CHATHUB_SERVER_BIN picks the binary.
import fs from "node:fs";
import http from "node:http";
import path from "node:path";
import { spawn } from "node:child_process";
import { knob } from "./knobs.mjs";
import { freePort, stop, waitHttp } from "./procs.mjs";

const CLIENTS = knob("BENCH_FAULT_CLIENTS", 1000, 200);
const FAULT_SECONDS = knob("BENCH_FAULT_SECONDS", 60, 10);
const OUTAGE_SECONDS = knob("BENCH_OUTAGE_SECONDS", 30, 8);
const THINK_MS = knob("BENCH_FAULT_THINK_MS", 250);
const TOKEN_SECONDS = 20;
const FAIL_PCT = 28;
const HANG_PCT = 2;
const HANG_MS = 6000;
// A 20 s token's lifetime reads as up to 22 s (its expiry and issue time are
// whole seconds), so a token with more than 2.2 s left must still be served.
const MIN_LEFT_MS = 2200;
const ORGS = ["sales", "support"];
const WARMUP_SECONDS = knob("BENCH_FAULT_WARMUP_SECONDS", 20, 4);

/// The keys this part writes to results.json (null when it did not run).
export const serverFaultFigures = () => ({
  clients: null,
  duration_s: null,
  upstream_failure_pct: null,
  requests: null,
  client_errors_with_valid_token: null,
  upstream_calls: null,
  upstream_calls_per_s_in_outage: null,
  p99_ms: null,
  rss_growth_pct: null,
});

const r1 = (x) => (x == null ? null : Math.round(x * 10) / 10);
const r2 = (x) => (x == null ? null : Math.round(x * 100) / 100);

function rssKiB(pid) {
  try {
    const m = fs.readFileSync(`/proc/${pid}/status`, "utf8").match(/^VmRSS:\s+(\d+) kB/m);
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/// Latencies in 0.1 ms buckets up to 60 s: constant memory for any count.
class Histogram {
  constructor() {
    this.buckets = new Uint32Array(600_001);
    this.n = 0;
  }
  add(ms) {
    this.buckets[Math.min(this.buckets.length - 1, Math.max(0, Math.round(ms * 10)))]++;
    this.n++;
  }
  quantile(q) {
    const rank = Math.ceil(q * this.n);
    let seen = 0;
    for (let i = 0; i < this.buckets.length && this.n; i++) {
      seen += this.buckets[i];
      if (seen >= rank) return i / 10;
    }
    return null;
  }
}

/// The most attempts per org that a backoff of 1 s doubling to 60 s allows in `seconds`.
export function maxAttempts(seconds) {
  let attempts = 1;
  for (let k = 1, at = Math.min(2 ** (k - 1), 60); at <= seconds; k++, at += Math.min(2 ** (k - 1), 60)) attempts++;
  return attempts;
}

/// CLIENTS keep-alive loops against `origin` for `seconds`, half per org.
/// Records latency and status, and the error answers that came while a
/// token of that org with more than MIN_LEFT_MS left had been handed out
/// before the request started.
async function load(origin, agent, seconds) {
  const end = Date.now() + seconds * 1000;
  const hist = new Histogram();
  const statuses = {};
  const seen = Object.fromEntries(ORGS.map((o) => [o, 0])); // latest expiresAt handed out, ms
  const errorsWithValid = [];
  const once = (url) =>
    new Promise((resolve) => {
      const req = http.get(url, { agent }, (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (c) => (body += c));
        res.on("end", () => resolve({ status: res.statusCode, body }));
        res.on("error", () => resolve({ status: 0, body: "" }));
      });
      req.on("error", () => resolve({ status: 0, body: "" }));
      req.setTimeout(40_000, () => req.destroy());
    });
  const pause = (ms) => new Promise((r) => setTimeout(r, ms));
  const client = async (i) => {
    const org = ORGS[i % ORGS.length];
    const url = `${origin}/api/chathub/token?org=${org}`;
    await pause(Math.random() * THINK_MS);
    while (Date.now() < end) {
      const known = seen[org];
      const t0 = performance.now();
      const { status, body } = await once(url);
      hist.add(performance.now() - t0);
      statuses[status] = (statuses[status] || 0) + 1;
      if (status === 200) {
        seen[org] = Math.max(seen[org], Date.parse(JSON.parse(body).expiresAt));
      } else if (known - Date.now() > MIN_LEFT_MS) {
        errorsWithValid.push({ org, status, msLeft: known - Date.now(), body: body.slice(0, 100) });
      }
      await pause(THINK_MS * (0.5 + Math.random()));
    }
  };
  await Promise.all(Array.from({ length: CLIENTS }, (_, i) => client(i)));
  return { hist, statuses, errorsWithValid, requests: hist.n };
}

async function admin(origin, what, body) {
  const r = await fetch(`${origin}/dev/admin/${what}`, {
    method: body === undefined ? "GET" : "POST",
    headers: { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!r.ok) throw new Error(`/dev/admin/${what}: HTTP ${r.status}`);
  return r.json();
}

/// ChatHub calls the fake counted (the stand-in widget's own check aside).
const upstreamCalls = (stats) => Object.entries(stats).reduce((n, [k, v]) => (k === "widget_session" ? n : n + v), 0);

/// From the server's /metrics: upstream flows per org, answers by cache outcome.
async function serverCounts(origin) {
  const text = await (await fetch(`${origin}/metrics`)).text();
  const flows = Object.fromEntries(ORGS.map((o) => [o, 0]));
  for (const m of text.matchAll(/^chathub_token_renewals_total\{org="([^"]+)",[^}]*\} (\d+)/gm)) flows[m[1]] += Number(m[2]);
  const outcomes = {};
  for (const m of text.matchAll(/^chathub_token_requests_total\{org="[^"]+",result="([^"]+)"\} (\d+)/gm)) outcomes[m[1]] = (outcomes[m[1]] || 0) + Number(m[2]);
  return { flows, outcomes };
}

const diff = (after, before) => Object.fromEntries(Object.keys(after).map((k) => [k, after[k] - (before[k] || 0)]));

/// Runs both phases; returns the figures for results.json and details.
export async function serverFault({ root, out, log }) {
  const bin = process.env.CHATHUB_SERVER_BIN || path.join(root, "target/release/chathub-token-server");
  if (!fs.existsSync(bin)) throw new Error(`${bin} missing (cargo build -p chathub-token-server --release --features dev)`);
  const port = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  const logFile = fs.openSync(path.join(out, "server-fault.log"), "w");
  // 1000 connections need more than the common limit of 1024 descriptors.
  const dev = spawn("sh", ["-c", 'ulimit -n 8192 2>/dev/null; exec "$0" "$@"', bin, "dev", "--port", String(port)], {
    cwd: root,
    stdio: ["ignore", logFile, logFile],
    env: { ...process.env, RUST_LOG: process.env.BENCH_RUST_LOG || "warn" },
  });
  const agent = new http.Agent({ keepAlive: true, maxSockets: CLIENTS, maxFreeSockets: CLIENTS });
  try {
    await waitHttp(`${origin}/healthz`);
    await admin(origin, "reset", {});
    await admin(origin, "token-lifetime", { seconds: TOKEN_SECONDS });
    for (const org of ORGS) await waitHttp(`${origin}/api/chathub/token?org=${org}`);

    // ---- 1. fault storm, after a warm-up under the same faults
    await admin(origin, "chaos", { failPercent: FAIL_PCT, hangPercent: HANG_PCT, hangMs: HANG_MS, status: 503 });
    let rssMax = 0;
    const rssTimeline = [];
    const sampler = setInterval(() => {
      const rss = rssKiB(dev.pid) || 0;
      rssMax = Math.max(rssMax, rss);
    }, 500);
    const every5s = setInterval(() => rssTimeline.push(rssKiB(dev.pid)), 5000);
    log(`server_fault: warm-up, ${CLIENTS} clients for ${WARMUP_SECONDS} s under the same faults`);
    await load(origin, agent, WARMUP_SECONDS);
    const rssStart = rssKiB(dev.pid);
    const callsBefore = upstreamCalls(await admin(origin, "stats"));
    const countsBefore = await serverCounts(origin);
    log(`server_fault: ${CLIENTS} clients for ${FAULT_SECONDS} s; fake ChatHub fails ${FAIL_PCT + HANG_PCT} % of calls (${HANG_PCT} % hang ${HANG_MS} ms); ${TOKEN_SECONDS} s tokens`);
    const storm = await load(origin, agent, FAULT_SECONDS);
    const stormCalls = upstreamCalls(await admin(origin, "stats")) - callsBefore;
    const stormCounts = await serverCounts(origin);

    // ---- 2. outage with an empty cache
    await admin(origin, "recover", {});
    await admin(origin, "fail", { count: 1_000_000_000, status: 503 });
    await admin(origin, "flush-token-cache", {});
    const outageBefore = upstreamCalls(await admin(origin, "stats"));
    log(`server_fault: outage (every ChatHub call 503, cache flushed), ${CLIENTS} clients for ${OUTAGE_SECONDS} s`);
    const outage = await load(origin, agent, OUTAGE_SECONDS);
    const outageCalls = upstreamCalls(await admin(origin, "stats")) - outageBefore;
    const outageCounts = await serverCounts(origin);
    const rssEnd = rssKiB(dev.pid);
    clearInterval(sampler);
    clearInterval(every5s);

    const allowedPerOrg = maxAttempts(OUTAGE_SECONDS);
    const attempts = diff(outageCounts.flows, stormCounts.flows);
    fs.writeFileSync(
      path.join(out, "server-fault.json"),
      JSON.stringify({ storm: { ...storm, hist: undefined }, outage: { ...outage, hist: undefined }, attempts }, null, 2) + "\n",
    );
    return {
      figures: {
        clients: CLIENTS,
        duration_s: FAULT_SECONDS,
        upstream_failure_pct: FAIL_PCT + HANG_PCT,
        requests: storm.requests,
        client_errors_with_valid_token: storm.errorsWithValid.length,
        upstream_calls: stormCalls,
        upstream_calls_per_s_in_outage: r2(outageCalls / OUTAGE_SECONDS),
        p99_ms: r1(storm.hist.quantile(0.99)),
        rss_growth_pct: rssStart && rssEnd ? r2(((rssEnd - rssStart) / rssStart) * 100) : null,
      },
      extra: {
        storm: {
          statuses: storm.statuses,
          p50_ms: r1(storm.hist.quantile(0.5)),
          outcomes: diff(stormCounts.outcomes, countsBefore.outcomes),
          flows: diff(stormCounts.flows, countsBefore.flows),
          errorsWithValid: storm.errorsWithValid.slice(0, 5),
        },
        outage: {
          seconds: OUTAGE_SECONDS,
          requests: outage.requests,
          statuses: outage.statuses,
          p50_ms: r1(outage.hist.quantile(0.5)),
          p99_ms: r1(outage.hist.quantile(0.99)),
          upstreamCalls: outageCalls,
          attempts,
          allowedPerOrg,
        },
        rssKiB: { start: rssStart, end: rssEnd, max: rssMax, every5s: rssTimeline },
      },
    };
  } finally {
    agent.destroy();
    await stop(dev);
  }
}

/// The printed lines for this part.
export function serverFaultReport(f, extra, table) {
  const lines = [];
  lines.push(
    `Server under faults: ${f.clients ?? "n/a"} concurrent keep-alive clients (one request each ~${THINK_MS} ms) for ${f.duration_s ?? "n/a"} s against dev, fake ChatHub failing ${f.upstream_failure_pct ?? "n/a"} % of calls (some hang past the timeout), 20 s tokens; then a full outage with an empty cache`,
  );
  const ok = (cond) => (cond == null ? "" : cond ? "met" : "NOT met");
  const perS = extra ? r2((extra.outage.allowedPerOrg * ORGS.length) / extra.outage.seconds) : null;
  lines.push(
    table(
      [
        ["requests in the storm", f.requests ?? "n/a", "", ""],
        ["errors while a valid token was cached", f.client_errors_with_valid_token ?? "n/a", "0", ok(f.client_errors_with_valid_token == null ? null : f.client_errors_with_valid_token === 0)],
        ["upstream calls in the storm", f.upstream_calls ?? "n/a", "", ""],
        ["p99 latency in the storm, ms", f.p99_ms ?? "n/a", "", ""],
        ["upstream calls/s in the outage", f.upstream_calls_per_s_in_outage ?? "n/a", perS == null ? "" : `≤${perS}`, ok(perS == null || f.upstream_calls_per_s_in_outage == null ? null : f.upstream_calls_per_s_in_outage <= perS)],
        ["server RSS growth, %", f.rss_growth_pct ?? "n/a", "<5", ok(f.rss_growth_pct == null ? null : f.rss_growth_pct < 5)],
      ],
      ["", "measured", "goal", ""],
    ),
  );
  if (extra) {
    const s = extra.storm;
    const o = extra.outage;
    lines.push(
      `(storm: statuses ${JSON.stringify(s.statuses)}, p50 ${s.p50_ms} ms; cache answers ${JSON.stringify(s.outcomes)}; upstream flows per org ${JSON.stringify(s.flows)})`,
    );
    lines.push(
      `(outage: ${o.requests} requests in ${o.seconds} s, statuses ${JSON.stringify(o.statuses)}, p50 ${o.p50_ms} ms, p99 ${o.p99_ms} ms; ${o.upstreamCalls} upstream calls; attempts per org ${JSON.stringify(o.attempts)}, the backoff allows at most ${o.allowedPerOrg} per org in ${o.seconds} s)`,
    );
    lines.push(`(server RSS, KiB: ${extra.rssKiB.start} after the ${WARMUP_SECONDS} s warm-up, ${extra.rssKiB.end} at the end, ${extra.rssKiB.max} at most; every 5 s from the warm-up on: ${extra.rssKiB.every5s.join(" ")})`);
  }
  return lines;
}
