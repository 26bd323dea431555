// make bench, part requests: CONCURRENT `new WidgetTokenManager(sameOptions)
// .initialize()` in one tick for one org; the bench server counts the token
// requests (goal 1).
import { sleep } from "./procs.mjs";

const CONCURRENT = 20;

/** Returns { figures } for results.json's requests and { extra } for the report. */
export async function requests(browser, bench) {
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  await page.goto(`${bench.origin}/driven.html`);
  await page.waitForFunction(() => window.__bench && window.__bench.ready, null, { timeout: 15000 });
  bench.resetStats();
  const outcome = await page.evaluate(async (n) => {
    const ps = [];
    const managers = new Set();
    for (let i = 0; i < n; i++) {
      // a fresh but equal options object each time, all in one tick
      const m = new window.WidgetTokenManager({ tokenUrl: "/api/chathub/token", org: "acme", widgetSrc: "/widget/widget-script.js", container: "#chat" });
      managers.add(m);
      ps.push(m.initialize());
    }
    const settled = await Promise.allSettled(ps);
    return {
      fulfilled: settled.filter((s) => s.status === "fulfilled").length,
      rejected: settled.filter((s) => s.status === "rejected").map((s) => String(s.reason && (s.reason.code || s.reason.message))),
      tags: document.querySelectorAll('script[id^="operator-chat-panel-script"]').length,
    };
  }, CONCURRENT);
  await sleep(100);
  await ctx.close();
  return { figures: { concurrent_initializers: CONCURRENT, token_requests: bench.stats.tokenByOrg.acme || 0 }, extra: outcome };
}
