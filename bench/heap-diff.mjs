// What the JS heap keeps per refresh, by kind: two heap snapshots of the
// bench's driven page (DevTools protocol), 300 refreshes apart, after 300
// warm-up ones; prints the object kinds that grew (bytes, count, kind).
//
//   node bench/heap-diff.mjs module|attribute|control   (after make pkg)
//
// module/attribute: refreshToken() on one manager with that reload;
// control: the page without a manager doing what the vendor's sample does
// per refresh (as bench/run.mjs's memory control). Compare the outputs:
// what only the loader's run shows is the loader's.
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { controlRefreshes } from "./control.mjs";
import { freePort } from "./procs.mjs";
import { startBenchServer } from "./server.mjs";
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const bench = await startBenchServer({ pkgDir: path.join(ROOT, "pkg"), port: await freePort() });
const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--no-sandbox"] });
const page = await (await browser.newContext()).newPage();
await page.goto(`${bench.origin}/driven.html`);
await page.waitForFunction(() => window.__bench && window.__bench.ready);
const cdp = await page.context().newCDPSession(page);
const mode = process.argv[2] || "module";
if (mode !== "control") await page.evaluate(async (mode) => {
  const opts = { tokenUrl: "/api/chathub/token", widgetSrc: "/widget/widget-script.js", container: "#chat" };
  if (mode === "attribute") opts.reload = "attribute";
  window.__m = new window.WidgetTokenManager(opts);
  await window.__m.initialize();
}, mode);
const cycle = (n) =>
  mode === "control"
    ? page.evaluate(controlRefreshes, n)
    : page.evaluate(async (n) => {
        for (let i = 0; i < n; i++) await window.__m.refreshToken();
      }, n);
async function snap() {
  await page.evaluate(() => performance.clearResourceTimings());
  await cdp.send("HeapProfiler.collectGarbage");
  await new Promise((r) => setTimeout(r, 100));
  await cdp.send("HeapProfiler.collectGarbage");
  let chunks = "";
  const on = (e) => (chunks += e.chunk);
  cdp.on("HeapProfiler.addHeapSnapshotChunk", on);
  await cdp.send("HeapProfiler.takeHeapSnapshot", { reportProgress: false });
  cdp.off("HeapProfiler.addHeapSnapshotChunk", on);
  const s = JSON.parse(chunks);
  const f = s.snapshot.meta.node_fields, nf = f.length;
  const types = s.snapshot.meta.node_types[0];
  const ti = f.indexOf("type"), ni = f.indexOf("name"), si = f.indexOf("self_size");
  const counts = new Map();
  for (let i = 0; i < s.nodes.length; i += nf) {
    const key = types[s.nodes[i + ti]] + ":" + (types[s.nodes[i + ti]] === "string" || types[s.nodes[i+ti]]==="concatenated string" ? "" : s.strings[s.nodes[i + ni]]).slice(0, 60);
    const c = counts.get(key) || [0, 0];
    c[0]++; c[1] += s.nodes[i + si];
    counts.set(key, c);
  }
  return counts;
}
await cycle(300);
const a = await snap();
await cycle(300);
const b = await snap();
const diff = [];
for (const [k, [n, sz]] of b) { const [n0, s0] = a.get(k) || [0, 0]; if (sz - s0 > 1000 || n - n0 > 50) diff.push([sz - s0, n - n0, k]); }
diff.sort((x, y) => y[0] - x[0]);
for (const d of diff.slice(0, 25)) console.log(d.join("\t"));
await browser.close(); await bench.close();
