// A minimal W3C WebDriver client over Node's fetch (no dependency), for
// the engines Playwright cannot drive here: Firefox ESR through
// geckodriver and WebKitGTK through WebKitWebDriver; and Chromium through
// Debian's chromedriver, for tests that run the same steps in all three.
// One session per driver process, as the drivers allow.
//
//   const driver = await startDriver("firefox");   // or "webkit", "chromium"
//   const s = await driver.newSession();
//   await s.navigate(url); await s.execute("return document.title");
//   await s.waitFor("return !!document.querySelector('x')", [], 20000, "x");
//   await s.close(); await driver.stop();

import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { freePort } from "./dev-server.mjs";

export const ENGINES = {
  chromium: {
    name: "Chromium",
    driver: () => process.env.CHROMEDRIVER || which("chromedriver"),
    args: (port) => [`--port=${port}`],
    capabilities: () => ({
      browserName: "chrome",
      "goog:chromeOptions": {
        binary: process.env.CHROMIUM_BINARY || which("chromium") || "/usr/bin/chromium",
        // As the Playwright tests launch it (docs/toolchain.md): without the
        // background-networking flags it spends its time on refused connections.
        args: ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
      },
    }),
  },
  firefox: {
    name: "Firefox ESR",
    driver: () => process.env.GECKODRIVER || which("geckodriver"),
    args: (port) => ["--port", String(port), "--host", "127.0.0.1"],
    capabilities: () => ({
      browserName: "firefox",
      "moz:firefoxOptions": {
        binary: process.env.FIREFOX_BINARY || which("firefox-esr") || which("firefox"),
        args: ["-headless"],
        prefs: { "browser.shell.checkDefaultBrowser": false },
      },
    }),
  },
  webkit: {
    name: "WebKitGTK",
    driver: () => process.env.WEBKIT_DRIVER || "/usr/bin/WebKitWebDriver",
    args: (port) => [`--port=${port}`],
    // MiniBrowser is WebKitGTK's own browser (also the driver's default);
    // it needs a display (run the test under xvfb-run).
    capabilities: () => {
      const binary = process.env.WEBKIT_BROWSER || "/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser";
      return existsSync(binary) ? { "webkitgtk:browserOptions": { binary, args: ["--automation"] } } : {};
    },
  },
};

function which(cmd) {
  for (const dir of (process.env.PATH || "").split(":")) {
    const p = `${dir}/${cmd}`;
    if (dir && existsSync(p)) return p;
  }
  return null;
}

// The W3C web element identifier (the key of an element reference).
const WEB_ELEMENT = "element-6066-11e4-a52e-4f735466cecf";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Starts the engine's WebDriver server; resolves once it answers /status. */
export async function startDriver(engine) {
  const spec = ENGINES[engine];
  if (!spec) throw new Error(`unknown engine ${engine}`);
  const binary = spec.driver();
  if (!binary || !existsSync(binary)) throw new Error(`${spec.name}: no WebDriver server found (run scripts/setup.sh test)`);
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const proc = spawn(binary, spec.args(port), { stdio: ["ignore", "pipe", "pipe"] });
  let log = "";
  proc.stdout.on("data", (d) => (log += d));
  proc.stderr.on("data", (d) => (log += d));
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`${binary} exited with ${proc.exitCode}: ${log}`);
    try {
      const r = await fetch(`${base}/status`);
      if (r.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`${binary} did not answer /status in 30 s`);
    await sleep(100);
  }
  return {
    engine,
    name: spec.name,
    log: () => log,
    async newSession() {
      const value = await command(base, "POST", "/session", {
        capabilities: { alwaysMatch: { ...spec.capabilities(), pageLoadStrategy: "normal" } },
      });
      return new Session(base, value.sessionId, value.capabilities || {});
    },
    async stop() {
      if (proc.exitCode !== null) return;
      proc.kill("SIGTERM");
      await Promise.race([new Promise((r) => proc.once("exit", r)), sleep(5000)]);
      if (proc.exitCode === null) proc.kill("SIGKILL");
    },
  };
}

async function command(base, method, path, body) {
  const res = await fetch(base + path, {
    method,
    headers: body ? { "content-type": "application/json; charset=utf-8" } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  const json = await res.json().catch(() => ({}));
  if (!res.ok || (json.value && json.value.error)) {
    const v = json.value || {};
    throw new Error(`WebDriver ${method} ${path}: ${v.error || res.status}: ${v.message || ""}`.trim());
  }
  return json.value;
}

export class Session {
  constructor(base, id, capabilities) {
    this.base = base;
    this.id = id;
    this.capabilities = capabilities;
  }
  cmd(method, path, body) {
    return command(this.base, method, `/session/${this.id}${path}`, body);
  }
  /** "browserName browserVersion" as the driver reports them. */
  browser() {
    return `${this.capabilities.browserName} ${this.capabilities.browserVersion}`;
  }
  navigate(url) {
    return this.cmd("POST", "/url", { url });
  }
  /** Runs `script` (a function body) in the page; its return value. */
  execute(script, args = []) {
    return this.cmd("POST", "/execute/sync", { script, args });
  }
  /** Polls `script` every 50 ms until it returns a truthy value; that value. */
  async waitFor(script, args, timeoutMs, what) {
    const deadline = Date.now() + timeoutMs;
    let last;
    for (;;) {
      last = await this.execute(script, args);
      if (last) return last;
      if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
      await sleep(50);
    }
  }
  /** Clicks the element matching `selector` as a user would (WebDriver element click). */
  async click(selector) {
    const el = await this.cmd("POST", "/element", { using: "css selector", value: selector });
    const ref = el[WEB_ELEMENT];
    await this.cmd("POST", `/element/${ref}/click`, {});
  }
  /** Selects `value` in the <select> matching `selector` by clicking its option. */
  async select(selector, value) {
    await this.click(`${selector} option[value="${value}"]`);
  }
  /** A PNG of the viewport (Buffer). */
  async screenshot() {
    return Buffer.from(await this.cmd("GET", "/screenshot"), "base64");
  }
  async close() {
    await this.cmd("DELETE", "").catch(() => {});
  }
}
