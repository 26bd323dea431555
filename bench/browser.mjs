// make bench: the browser. Headless Chromium (playwright-core), a fresh
// context per first visit, the network and CPU profiles of the conditions
// (DevTools protocol), and one page load measured the same way everywhere.
import { sleep } from "./procs.mjs";

export const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";

// The slow mobile network (DevTools protocol network emulation): 150 ms
// round trip, 1.6 Mbit/s down, 750 kbit/s up; throughput in bytes/s. The
// "phone" adds 4x CPU slowdown, as Lighthouse's mobile preset does.
export const MOBILE = { latency: 150, downloadThroughput: 1.6e6 / 8, uploadThroughput: 750e3 / 8 };
export const MOBILE_PROFILE_TEXT = "150 ms RTT, 1.6 Mbit/s down, 750 kbit/s up (CDP Network.emulateNetworkConditions)";
export const PHONE_CPU_RATE = 4;
export const PHONE_PROFILE_TEXT = `the slow mobile network and ${PHONE_CPU_RATE}x CPU slowdown (CDP Emulation.setCPUThrottlingRate, as Lighthouse's mobile preset)`;

export async function launch() {
  const { chromium } = await import("playwright-core");
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
  });
}

/**
 * A new context (first visit: empty cache) and page. `mobile`: the network
 * emulation at MOBILE for everything the page fetches (document, modules,
 * the .wasm, the token, the widget); `cpu`: the main thread slowed down
 * that many times. Both set before the page loads anything.
 */
export async function openPage(browser, { mobile = false, cpu = 1 } = {}) {
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  if (mobile || cpu > 1) {
    const cdp = await ctx.newCDPSession(page);
    if (mobile) {
      await cdp.send("Network.enable");
      await cdp.send("Network.emulateNetworkConditions", { offline: false, ...MOBILE });
    }
    if (cpu > 1) await cdp.send("Emulation.setCPUThrottlingRate", { rate: cpu });
  }
  return { ctx, page };
}

/**
 * Bytes of the page's subresources as they came over the wire (compressed
 * bodies, Resource Timing's encodedBodySize; the HTML excluded), by kind,
 * and the requests by kind.
 * A page function (for page.evaluate).
 */
export const RESOURCE_BYTES = () => {
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
  const count = {};
  let bytes = 0;
  let requests = 0;
  let tokenAt = null;
  for (const e of performance.getEntriesByType("resource")) {
    const k = kind(e.name);
    byKind[k] = (byKind[k] || 0) + e.encodedBodySize;
    count[k] = (count[k] || 0) + 1;
    bytes += e.encodedBodySize;
    requests++;
    if (k == "token" && tokenAt == null) tokenAt = e.startTime;
  }
  return { bytes, requests, byKind, count, tokenAt };
};

/**
 * Resolves on the page's console message `text` (the probe's "__bench_done"
 * and "__bench_tag"): nothing runs in the page while the bench waits.
 */
export function pageSignal(page, text, ms = 30000) {
  let on;
  let timer;
  const p = new Promise((resolve, reject) => {
    on = (msg) => msg.text() === text && resolve();
    page.on("console", on);
    timer = setTimeout(() => reject(new Error(`no ${text} within ${ms} ms`)), ms);
  });
  p.catch(() => {}).finally(() => {
    page.off("console", on);
    clearTimeout(timer);
  });
  return p;
}

/**
 * One load of a bench page until its probe says done: the probe's record
 * (widget tag time, stage marks, long tasks, long animation frames, and on
 * the loader's page the callbacks the page asked for with their stacks, see
 * server.mjs) and the page's resources.
 */
export async function measure(page, url) {
  const done = pageSignal(page, "__bench_done");
  await page.goto(url, { waitUntil: "load", timeout: 30000 });
  await done;
  await sleep(60); // let late long-task entries arrive
  const b = await page.evaluate(() => window.__bench);
  if (b.error) throw new Error(`${url}: ${b.error}`);
  if (b.tagAt == null) throw new Error(`${url}: the widget tag never appeared`);
  b.calls = await page.evaluate(() => (window.__bench.provenance ? window.__bench.provenance() : []));
  b.resources = await page.evaluate(RESOURCE_BYTES);
  return b;
}
