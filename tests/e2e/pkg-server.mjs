// A real HTTP server for end-to-end tests of the built package (pkg/): a
// token endpoint, a stand-in widget module, pkg/ itself, and the test's
// pages, each with its own Content-Security-Policy header. Records every
// request (path, org) so tests can wait for counts.
import http from "node:http";
import { readFileSync, existsSync } from "node:fs";
import { chromium } from "playwright-core";
import { dirname, resolve, extname } from "node:path";
import { fileURLToPath } from "node:url";

export const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const pkgDir = resolve(root, "pkg");
const TYPES = { ".js": "text/javascript", ".wasm": "application/wasm", ".json": "application/json" };
const b64 = (v) => Buffer.from(JSON.stringify(v)).toString("base64url");

/** The stand-in widget: records each evaluation with the tag id and token it found. */
export function widgetCode(version = 1) {
  return `
const me = [...document.querySelectorAll('script[id^="operator-chat-panel-script"]')].find((s) => s.src === import.meta.url);
(window.__widget ||= []).push({ id: me ? me.id : null, token: me ? me.getAttribute("token") : null, version: ${version} });
`;
}

/**
 * Starts the server. `pages`: path -> () => { csp, html, type?, status?,
 * drop? } (`drop`: close the connection without an answer). `widget()`
 * gives the widget's code. Returns { base, requests, close() }.
 */
export async function startPkgServer(pages, widget = () => widgetCode()) {
  const requests = [];
  let issued = 0;
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, "http://x");
    requests.push({ path: url.pathname, org: url.searchParams.get("org") });
    if (url.pathname === "/token") {
      const now = Date.now();
      issued += 1;
      const claims = { sub: "operator-1", iat: Math.floor(now / 1000), exp: Math.floor(now / 1000) + 3600, n: issued };
      const body = { token: `${b64({ alg: "HS256", typ: "JWT" })}.${b64(claims)}.c2ln`, expiresAt: new Date(now + 3_600_000).toISOString() };
      res.writeHead(200, { "Content-Type": "application/json", "Cache-Control": "no-store" });
      return res.end(JSON.stringify(body));
    }
    if (url.pathname === "/widget.js") {
      res.writeHead(200, { "Content-Type": "text/javascript", "Cache-Control": "no-store", "Access-Control-Allow-Origin": "*" });
      return res.end(widget());
    }
    if (url.pathname.startsWith("/pkg/")) {
      const file = resolve(pkgDir, url.pathname.slice(5));
      if (!file.startsWith(pkgDir) || !existsSync(file)) return res.writeHead(404).end();
      res.writeHead(200, { "Content-Type": TYPES[extname(file)] ?? "application/octet-stream" });
      return res.end(readFileSync(file));
    }
    const page = pages[url.pathname];
    if (!page) return res.writeHead(404).end();
    const { csp, html, type = "text/html", status = 200, drop } = page();
    // A network error as the browser meets one: the connection closes
    // without an answer.
    if (drop) return req.socket.destroy();
    const headers = { "Content-Type": type };
    if (csp) headers["Content-Security-Policy"] = csp;
    res.writeHead(status, headers);
    res.end(html);
  });
  await new Promise((ok) => server.listen(0, "127.0.0.1", ok));
  return { base: `http://127.0.0.1:${server.address().port}`, requests, close: () => server.close() };
}

/**
 * Runs named steps, each in a fresh browser context; prints ok/FAIL lines.
 * `setup(ctx)`, when given, runs before the page loads (routes, say).
 */
export function stepper(browser, base) {
  const results = { passed: 0, failed: 0 };
  async function step(name, path, check, setup) {
    const ctx = await browser.newContext();
    if (setup) await setup(ctx);
    const pg = await ctx.newPage();
    const console_ = [];
    const pageErrors = [];
    pg.on("console", (m) => console_.push({ type: m.type(), text: m.text() }));
    pg.on("pageerror", (e) => pageErrors.push(e.message));
    try {
      await pg.goto(base + path);
      await check(pg, { console: console_, pageErrors });
      results.passed += 1;
      console.log(`ok   ${name}`);
    } catch (e) {
      results.failed += 1;
      console.log(`FAIL ${name}: ${e.message}`);
    } finally {
      await ctx.close();
    }
  }
  return { step, results };
}

export function assert(cond, message) {
  if (!cond) throw new Error(message);
}

/**
 * Runs one e2e file: the server with `pages` (and `widget`), headless
 * Chromium, then `body({ step, server })`; prints the summary and exits
 * 0 or 1. `needs`: the built file it checks for first.
 */
export async function suite(name, { pages, widget, needs = "pkg/chathub_loader.js" }, body) {
  let failed = false;
  let browser;
  let server;
  try {
    assert(existsSync(resolve(root, needs)), `missing ${needs} (run make pkg)`);
    server = await startPkgServer(pages, widget);
    browser = await chromium.launch({ executablePath: "/usr/bin/chromium", headless: true, args: ["--no-sandbox", "--disable-gpu"] });
    const { step, results } = stepper(browser, server.base);
    await body({ step, server });
    failed = results.failed > 0;
    console.log(failed ? `${name}: FAILED` : `${name}: ${results.passed} steps passed`);
  } catch (e) {
    failed = true;
    console.log(`FAIL ${e.message}`);
  } finally {
    await browser?.close();
    server?.close();
  }
  process.exit(failed ? 1 : 0);
}
