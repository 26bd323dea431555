// `chathub-token-server dev` for the end-to-end tests: a free port, the
// process, its log, its /dev/admin knobs. Needs `cargo build -p
// chathub-token-server --features dev` and `make pkg` first.

import { spawn } from "node:child_process";
import { createServer } from "node:net";
import { existsSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const binary = resolve(root, "target/debug/chathub-token-server");

export function freePort() {
  return new Promise((ok, fail) => {
    const srv = createServer();
    srv.once("error", fail);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => ok(port));
    });
  });
}

async function waitForHealth(base, server) {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    if (server.exitCode !== null) throw new Error(`dev server exited with ${server.exitCode}`);
    try {
      const res = await fetch(`${base}/healthz`);
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error("dev server did not become healthy in 15 s");
}

/**
 * Starts the dev server on a free port; resolves once /healthz answers.
 * `www`: the directory it serves as its pages (default www/, the demo).
 * Returns { base, log(), admin(path, body), stop() }.
 */
export async function startDevServer({ www } = {}) {
  const pages = www ?? resolve(root, "www");
  for (const f of [binary, resolve(root, "pkg/chathub_loader.js"), resolve(pages, "index.html")]) {
    if (!existsSync(f)) throw new Error(`missing ${f} (run: cargo build -p chathub-token-server --features dev && make pkg)`);
  }
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const args = ["dev", "--port", String(port), ...(www ? ["--www", www] : [])];
  const server = spawn(binary, args, {
    cwd: root,
    env: { ...process.env, RUST_LOG: "info", NO_COLOR: "1" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let log = "";
  server.stdout.on("data", (d) => (log += d));
  server.stderr.on("data", (d) => (log += d));
  const stop = async () => {
    if (server.exitCode !== null) return;
    server.kill("SIGTERM");
    await new Promise((r) => {
      const t = setTimeout(() => {
        server.kill("SIGKILL");
        r();
      }, 5000);
      server.once("exit", () => {
        clearTimeout(t);
        r();
      });
    });
  };
  try {
    await waitForHealth(base, server);
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    base,
    log: () => log,
    /** POST /dev/admin/<path> with a JSON body; the JSON answer. */
    admin: (path, body) =>
      fetch(`${base}/dev/admin/${path}`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body ?? {}),
      }).then((r) => r.json()),
    stop,
  };
}
