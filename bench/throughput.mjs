// make bench, part server: `chathub-token-server dev` with a cached token
// against server/examples/bench_baseline.rs (a bare axum handler returning
// a fixed body of the same size), `wrk -t2 -cWRK_CONNECTIONS --latency`
// from a second process, WRK_SECONDS per side in two halves ordered A B B A
// (a neighbour's load on this shared machine hits both sides alike); plus
// the fake ChatHub's count of get-token calls during the run (goal 0).
import fs from "node:fs";
import path from "node:path";
import { spawn, spawnSync } from "node:child_process";
import { knob } from "./knobs.mjs";
import { freePort, stop, waitHttp } from "./procs.mjs";
import { r2 } from "./stats.mjs";

export const WRK_SECONDS = knob("BENCH_WRK_SECONDS", 20, 4);
export const WRK_CONNECTIONS = 256;

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

/** Returns { figures } for results.json's server and { extra } for the report. */
export async function serverThroughput({ root, out, log }) {
  const bin = path.join(root, "target/release/chathub-token-server");
  const baselineBin = path.join(root, "target/release/examples/bench_baseline");
  if (!fs.existsSync(baselineBin) || process.env.BENCH_SKIP_CARGO !== "1") {
    log("server: cargo build --release --example bench_baseline");
    const b = spawnSync("cargo", ["build", "-q", "-p", "chathub-token-server", "--release", "--example", "bench_baseline"], { cwd: root, stdio: "inherit" });
    if (b.status !== 0) throw new Error("cargo build of the bench_baseline example failed");
  }
  if (!fs.existsSync(bin)) throw new Error(`${bin} missing (cargo build -p chathub-token-server --release --features dev)`);
  const which = spawnSync("wrk", ["--version"], { encoding: "utf8" });
  if (which.error) throw new Error("wrk is not installed (apt-get install wrk)");

  const children = [];
  try {
    // the token server, dev mode (auth none, fake upstream on the same port)
    const port = await freePort();
    const devLog = fs.openSync(path.join(out, "token-server.log"), "w");
    const dev = spawn(bin, ["dev", "--port", String(port)], {
      cwd: root,
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

    const half = Math.max(1, Math.round(WRK_SECONDS / 2));
    const runs = { token: [], baseline: [] };
    const before = await stats();
    for (const side of ["token", "baseline", "baseline", "token"]) {
      log(`server: wrk ${half}s × ${WRK_CONNECTIONS} connections against the ${side === "token" ? "token server" : "axum baseline"}`);
      runs[side].push(wrk(`${side === "token" ? origin : borigin}/api/chathub/token`, half));
    }
    const after = await stats();
    fs.writeFileSync(path.join(out, "wrk-token-server.txt"), runs.token.map((r) => r.out).join("\n"));
    fs.writeFileSync(path.join(out, "wrk-baseline.txt"), runs.baseline.map((r) => r.out).join("\n"));
    const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const t = { rps: mean(runs.token.map((r) => r.rps)), p99: mean(runs.token.map((r) => r.p99)) };
    const b = { rps: mean(runs.baseline.map((r) => r.rps)), p99: mean(runs.baseline.map((r) => r.p99)) };
    const sum = (xs, k) => xs.reduce((a, r) => a + (r[k] || 0), 0);
    return {
      figures: {
        rps: Math.round(t.rps),
        p99_ms: r2(t.p99),
        baseline_rps: Math.round(b.rps),
        baseline_p99_ms: r2(b.p99),
        upstream_token_calls: after - before,
        clients: WRK_CONNECTIONS,
      },
      extra: {
        bodyBytes,
        baselineBodyBytes: Buffer.byteLength(bbody),
        non2xx: sum(runs.token, "non2xx"),
        baselineNon2xx: sum(runs.baseline, "non2xx"),
        sockErr: runs.token.map((r) => r.sockErr).filter(Boolean).join("; ") || null,
        baselineSockErr: runs.baseline.map((r) => r.sockErr).filter(Boolean).join("; ") || null,
        halves: { token: runs.token.map((r) => [Math.round(r.rps), r2(r.p99)]), baseline: runs.baseline.map((r) => [Math.round(r.rps), r2(r.p99)]) },
      },
    };
  } finally {
    for (const c of children) await stop(c);
  }
}
