// The retry budget, measured in real time: one page with the built
// package (pkg/, default options) against a token endpoint that is down
// (503, or a dropped connection with --drop) from before initialize().
// Prints how many token requests the page made after 1 minute and at the
// end (default 10 minutes), and the gaps between them.
//
//   node bench/outage.mjs [--minutes 10] [--drop] [--retry-after 30]
//
// Needs `make pkg` first. Chromium keeps the page visible (headless).

import http from "node:http";
import { readFileSync, existsSync } from "node:fs";
import { dirname, resolve, extname } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { freePort } from "./procs.mjs";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const arg = (name, dflt) => {
  const i = process.argv.indexOf(name);
  return i < 0 ? dflt : process.argv[i + 1];
};
const minutes = Number(arg("--minutes", 10));
const drop = process.argv.includes("--drop");
const retryAfter = arg("--retry-after", null);

// PKG_DIR: a copy of pkg/ (so a rebuild during a long run does not matter).
const pkgDir = resolve(process.env.PKG_DIR ?? resolve(root, "pkg"));
const times = [];
const TYPES = { ".js": "text/javascript", ".wasm": "application/wasm" };
const page = `<!doctype html><meta charset="utf-8"><body><script type="module">
import init, { WidgetTokenManager } from "/pkg/chathub_loader.js";
await init();
window.__states = [];
addEventListener("chathub:statechange", (e) => window.__states.push(e.detail.state));
new WidgetTokenManager({ tokenUrl: "/token", widgetSrc: location.origin + "/widget.js" }).initialize().catch(() => {});
</script>`;
const server = http.createServer((req, res) => {
  const url = new URL(req.url, "http://x");
  if (url.pathname === "/token") {
    times.push(Date.now());
    if (drop) return req.socket.destroy();
    const headers = { "Content-Type": "application/json" };
    if (retryAfter != null) headers["Retry-After"] = retryAfter;
    return res.writeHead(503, headers).end('{"error":"down"}');
  }
  if (url.pathname.startsWith("/pkg/")) {
    const file = resolve(pkgDir, url.pathname.slice(5));
    if (!file.startsWith(pkgDir) || !existsSync(file)) return res.writeHead(404).end();
    return res.writeHead(200, { "Content-Type": TYPES[extname(file)] ?? "application/octet-stream" }).end(readFileSync(file));
  }
  if (url.pathname === "/") return res.writeHead(200, { "Content-Type": "text/html" }).end(page);
  res.writeHead(404).end();
});

const port = await freePort();
await new Promise((ok) => server.listen(port, "127.0.0.1", ok));
const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", headless: true, args: ["--no-sandbox", "--disable-gpu"] });
try {
  const pg = await browser.newPage();
  await pg.goto(`http://127.0.0.1:${server.address().port}/`);
  await new Promise((r) => setTimeout(r, minutes * 60_000));
  const t0 = times[0];
  const within = (ms) => times.filter((t) => t - t0 < ms).length;
  const gaps = times.slice(1).map((t, i) => ((t - times[i]) / 1000).toFixed(1));
  const states = await pg.evaluate(() => window.__states);
  console.log(
    JSON.stringify(
      {
        outage: drop ? "dropped connections" : `503${retryAfter != null ? ` Retry-After ${retryAfter}` : ""}`,
        minutes,
        requests_first_minute: within(60_000),
        requests_total: times.length,
        gaps_s: gaps,
        states: [...new Set(states)],
      },
      null,
      1,
    ),
  );
} finally {
  await browser.close();
  server.close();
}
