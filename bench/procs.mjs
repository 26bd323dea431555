// make bench: ports and child processes. Every server the bench starts (its
// page server, the token server, the axum baseline, the fault part's
// server) listens on a port from freePort(): with BENCH_PORTS=FROM-TO
// (e.g. 9400-9499, on a machine shared with others) the next free one in
// that range, else any free port the system gives.
import net from "node:net";

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function range() {
  const v = process.env.BENCH_PORTS;
  if (!v) return null;
  const m = v.match(/^(\d+)-(\d+)$/);
  if (!m || Number(m[1]) > Number(m[2]) || Number(m[2]) > 65535) throw new Error(`BENCH_PORTS=${v}: expected FROM-TO, e.g. 9400-9499`);
  return [Number(m[1]), Number(m[2])];
}

function tryListen(port) {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.unref();
    s.once("error", () => resolve(null));
    s.listen(port, "127.0.0.1", () => {
      const got = s.address().port;
      s.close(() => resolve(got));
    });
  });
}

let next = null;
/** A port nobody listens on now (see above). */
export async function freePort() {
  const r = range();
  if (!r) {
    const p = await tryListen(0);
    if (p == null) throw new Error("no free port");
    return p;
  }
  const [from, to] = r;
  // round robin through the range, so a port just closed is not reused at once
  if (next == null || next < from || next > to) next = from;
  for (let i = 0; i <= to - from; i++) {
    const p = next;
    next = next >= to ? from : next + 1;
    if ((await tryListen(p)) != null) return p;
  }
  throw new Error(`BENCH_PORTS=${process.env.BENCH_PORTS}: no free port in the range`);
}

/** Resolves with the first 2xx answer of `url`, polling every 100 ms. */
export async function waitHttp(url, tries = 100) {
  for (let i = 0; i < tries; i++) {
    try {
      const r = await fetch(url);
      if (r.ok) return r;
    } catch {}
    await sleep(100);
  }
  throw new Error(`${url} did not answer`);
}

/** SIGTERM to a child (SIGKILL 3 s later); resolves when it has exited. */
export function stop(child) {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once("exit", () => resolve());
    child.kill("SIGTERM");
    setTimeout(() => child.kill("SIGKILL"), 3000).unref();
  });
}
