// The bench's own loopback HTTP server: the two bench pages (loader and the
// vendor's plain-JS sample), pkg/ with correct content types, a trivial
// stand-in widget module and a token endpoint whose delay the bench sets.
//
//   GET /loader.html?delay=MS[&hints=all|modules|0], /baseline.html?delay=MS, /driven.html
//                                       (hints: all = the glue, the .wasm and
//                                       the token endpoint preloaded, the
//                                       default; modules = the glue and the
//                                       .wasm only; 0 = none)
//   GET /trigger.html?trigger=T[&fold=1][&delay=MS], /auto.html?trigger=T[&delay=MS], /none.html
//                                       (the load-trigger conditions; fold:
//                                       the container below the fold)
//   GET /pkg/<file>                     (cacheable, like a versioned asset;
//                                       gzip or brotli as the browser accepts)
//   GET /widget/widget-script.js[?...]  (trivial ES module, cacheable)
//   GET /api/chathub/token[?delay=MS][&org=KEY]
//                                       → {"token": JWT-shaped, "expiresAt"}
import http from "node:http";
import fs from "node:fs";
import path from "node:path";
import zlib from "node:zlib";

const TYPES = {
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".wasm": "application/wasm",
  ".json": "application/json",
  ".ts": "text/plain; charset=utf-8",
  ".md": "text/markdown; charset=utf-8",
  ".html": "text/html; charset=utf-8",
};

const b64url = (s) => Buffer.from(s).toString("base64url");
let issued = 0;

// Every token is unique (a `jti`, as ChatHub's are): the loader does not
// remount the widget for a token it already has, so two tokens minted in
// the same second must differ for a refresh to be a real one.
export function makeToken(lifetimeSec = 3600) {
  const now = Math.floor(Date.now() / 1000);
  const exp = now + lifetimeSec;
  const header = b64url(JSON.stringify({ alg: "HS256", typ: "JWT" }));
  const payload = b64url(JSON.stringify({ sub: "operator-1", org: "bench", iat: now, exp, jti: `bench-${++issued}` }));
  const sig = b64url("bench-signature-not-checked-000000");
  return { token: `${header}.${payload}.${sig}`, expiresAt: new Date(exp * 1000).toISOString() };
}

// Records performance.now() when the widget tag with its token first appears,
// and counts long tasks. First thing in <head> on every bench page.
const PROBE = `<script>
(() => {
  const w = window;
  w.__bench = { tagAt: null, inputAt: null, longTasks: [], error: null };
  // The bench waits for these two console messages instead of polling the
  // page (Playwright's waitForFunction compiles its injected script in the
  // page, 10-20 ms on the main thread, while the loader is still at work).
  let done = false;
  Object.defineProperty(w.__bench, "done", {
    enumerable: true,
    get: () => done,
    set: (v) => {
      if (v && !done) console.debug("__bench_done");
      done = v;
    },
  });
  // When the visitor first did something (the "interaction" and
  // "visible" triggers' moment), in the capture phase, before the loader.
  for (const t of ["pointerdown", "keydown", "scroll"])
    addEventListener(t, () => (w.__bench.inputAt ??= performance.now()), { capture: true, passive: true });
  // Long tasks (> 50 ms) with what the browser attributes them to, and the
  // long animation frames (> 50 ms) with the scripts that ran in them
  // (source URL, function, invoker): the bench matches the two by time.
  w.__bench.longTaskDetail = [];
  w.__bench.loaf = [];
  const r1 = (x) => Math.round(x * 10) / 10;
  try {
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) {
        w.__bench.longTasks.push(Math.round(e.duration));
        w.__bench.longTaskDetail.push({ start: r1(e.startTime), duration: r1(e.duration), name: e.name,
          attribution: (e.attribution || []).map((a) => [a.containerType, a.containerName, a.containerSrc].filter(Boolean).join(" ")) });
      }
    }).observe({ type: "longtask", buffered: true });
  } catch (e) {}
  try {
    new PerformanceObserver((list) => {
      for (const e of list.getEntries())
        w.__bench.loaf.push({ start: Math.round(e.startTime), duration: Math.round(e.duration), blocking: Math.round(e.blockingDuration || 0),
          scripts: (e.scripts || []).map((s) => ({ start: r1(s.startTime), url: s.sourceURL, fn: s.sourceFunctionName, invoker: s.invoker, type: s.invokerType, duration: Math.round(s.duration) })) });
    }).observe({ type: "long-animation-frame", buffered: true });
  } catch (e) {}
  const check = () => {
    if (w.__bench.tagAt === null && document.querySelector("script#operator-chat-panel-script[token]")) {
      w.__bench.tagAt = performance.now();
      mo.disconnect();
      console.debug("__bench_tag");
    }
  };
  const mo = new MutationObserver(check);
  mo.observe(document, { childList: true, subtree: true, attributes: true, attributeFilter: ["token"] });
})();
</script>`;

// On the loader's page only, right after the probe: where each task that
// runs a callback the page asked for came from. Every timer, idle and
// animation-frame callback is wrapped, and every fetch and WebAssembly
// compile/instantiate gets a first reaction on its promise: the wrapper
// (or reaction) notes performance.now() when it runs, i.e. inside the task
// that runs the callback or settles the promise (a first reaction runs
// before the caller's `await` continues, in the same task), and keeps the
// stack of the call that asked for it (captured with
// Error.captureStackTrace, async frames included, formatted only when the
// bench reads it after the load). The bench attributes a long task to the
// loader when one of these marks whose stack holds the loader's code lies
// inside it, whatever script URL the browser gives the task: init()'s
// `await new Promise((r) => setTimeout(r))` has none, its callback is a
// builtin, and the rest of init() and the first calls into the .wasm run
// as promise jobs of that task. The wrappers hand back the same ids and
// promises, so the loader sees the browser's own behaviour.
const PROVENANCE = `<script>
(() => {
  const w = window;
  const calls = [];
  w.__bench.fires = [];
  const note = (kind, fn, what) => {
    const h = { kind, what };
    Error.captureStackTrace(h, fn);
    calls.push(h);
    return calls.length - 1;
  };
  const fired = (i) => w.__bench.fires.push([i, Math.round(performance.now() * 10) / 10]);
  Object.defineProperty(w.__bench, "provenance", { enumerable: false, value: () => calls.map((h) => ({ kind: h.kind, what: h.what, stack: String(h.stack) })) });
  // what a call asked for: a timer's delay, the path a fetch went to
  const path = (x) => {
    try {
      return new URL(x instanceof Request ? x.url : String(x), location.href).pathname;
    } catch {
      return "?";
    }
  };
  for (const name of ["setTimeout", "setInterval", "requestIdleCallback", "requestAnimationFrame"]) {
    const orig = w[name];
    if (typeof orig !== "function") continue;
    const wrapped = {
      [name](cb, ...rest) {
        if (typeof cb !== "function") return orig.call(this, cb, ...rest);
        const i = note(name, wrapped, name.startsWith("request") ? "" : (Number(rest[0]) || 0) + " ms");
        return orig.call(this, function __benchCallback(...a) {
          fired(i);
          return cb.apply(this, a);
        }, ...rest);
      },
    }[name];
    w[name] = wrapped;
  }
  const settles = (obj, key, name) => {
    const orig = obj && obj[key];
    if (typeof orig !== "function") return;
    const wrapped = {
      [name](...a) {
        const i = note(name, wrapped, name === "fetch" ? path(a[0]) : "");
        const p = orig.apply(this, a);
        const mark = function __benchSettled() { fired(i); };
        if (p && typeof p.then === "function") p.then(mark, mark);
        return p;
      },
    }[name];
    obj[key] = wrapped;
  };
  settles(w, "fetch", "fetch");
  for (const k of ["instantiateStreaming", "compileStreaming", "instantiate", "compile"]) settles(w.WebAssembly, k, "WebAssembly." + k);
})();
</script>`;

const BODY = `<header><h1>Shop</h1><nav><a href="#">Home</a> · <a href="#">Products</a> · <a href="#">Contact</a></nav></header>
<main><p>A small product page. The chat widget loads in the corner.</p>
<ul><li>Item one</li><li>Item two</li><li>Item three</li></ul></main>
<div id="chat"></div>`;

const WIDGET_SRC = "/widget/widget-script.js";

// hints: "all" (the glue, the .wasm and the token endpoint), "modules" (the
// glue and the .wasm) or "none". The token hint matches the loader's request
// so the browser hands the preloaded answer to it (one request, not two):
// the same URL (`tokenUrl` below), as="fetch" with `crossorigin` (mode
// "cors", credentials "same-origin": the loader's defaults, see
// js/net.js initFor); the loader's `cache: "no-store"` and `Accept`
// header do not stop Chromium from using it (the bench counts token
// requests per load).
function loaderPage(delay, hints = "all") {
  const modules = hints === "all" || hints === "modules";
  return `<!doctype html><html><head><meta charset="utf-8"><title>bench: loader</title>
${PROBE}
${PROVENANCE}
${modules ? `<link rel="modulepreload" href="/pkg/prefetch.js">
<link rel="modulepreload" href="/pkg/chathub_loader.js">
<link rel="preload" href="/pkg/chathub_loader_bg.wasm" as="fetch" type="application/wasm" crossorigin>` : ""}
${hints === "all" ? `<link rel="preload" href="/api/chathub/token?delay=${delay}" as="fetch" crossorigin>` : ""}
</head><body>
${BODY}
<script type="module">
  // The README's npm quick start: prefetchToken, init(), the manager.
  import { prefetchToken } from "/pkg/prefetch.js";
  import init, { WidgetTokenManager } from "/pkg/chathub_loader.js";
  const options = { tokenUrl: "/api/chathub/token?delay=${delay}", widgetSrc: "${WIDGET_SRC}", container: "#chat" };
  prefetchToken(options);
  // stage marks: the glue evaluated (this module runs), init() done (the .wasm compiled and instantiated)
  window.__bench.gluedAt = performance.now();
  try {
    await init();
    window.__bench.initAt = performance.now();
    await new WidgetTokenManager(options).initialize();
  } catch (e) { window.__bench.error = String(e && (e.code || e.message) || e); }
  window.__bench.done = true;
</script>
</body></html>`;
}

// The vendor's plain-JS sample (chathub-widget-integration: "Iniezione
// dinamica"): fetch the token endpoint, then create the script tag.
function baselinePage(delay) {
  return `<!doctype html><html><head><meta charset="utf-8"><title>bench: baseline</title>
${PROBE}
</head><body>
${BODY}
<script>
function loadChatHubWidget(operatorToken) {
  const existing = document.getElementById('operator-chat-panel-script');
  if (existing) {
    existing.remove();
  }
  const script = document.createElement('script');
  script.type = 'module';
  script.id = 'operator-chat-panel-script';
  script.src = '${WIDGET_SRC}';
  script.setAttribute('token', operatorToken);
  script.onload = () => { window.__bench.done = true; };
  script.onerror = () => { window.__bench.error = 'widget load'; window.__bench.done = true; };
  document.body.appendChild(script);
}
(async () => {
  try {
    const response = await fetch('/api/chathub/token?delay=${delay}');
    const data = await response.json();
    window.__bench.tokenAt = performance.now();
    loadChatHubWidget(data.token);
  } catch (e) { window.__bench.error = String(e); window.__bench.done = true; }
})();
</script>
</body></html>`;
}

// A page that only loads the module; the bench drives it with page.evaluate.
function drivenPage(title) {
  return `<!doctype html><html><head><meta charset="utf-8"><title>bench: ${title}</title>
${PROBE}
</head><body>
${BODY}
<script type="module">
  import init, { WidgetTokenManager } from "/pkg/chathub_loader.js";
  window.__wasm = await init();
  window.WidgetTokenManager = WidgetTokenManager;
  window.__bench.ready = true;
</script>
</body></html>`;
}

// The load-trigger conditions (make bench, "page_trigger"): the same page
// with the npm package and its preload hints for the glue and the .wasm (no
// token preload: a trigger defers the token, and a preloaded token that is
// never used is a wasted backend call), `trigger` as given; `fold` puts
// the container three viewports down. The page never interacts by itself.
function triggerPage(trigger, fold, delay = 0) {
  return `<!doctype html><html><head><meta charset="utf-8"><title>bench: trigger ${trigger}</title>
${PROBE}
<link rel="modulepreload" href="/pkg/chathub_loader.js">
<link rel="preload" href="/pkg/chathub_loader_bg.wasm" as="fetch" type="application/wasm" crossorigin>
</head><body>
${fold ? '<div style="height:300vh"></div>' : ""}${BODY}
<script type="module">
  import init, { WidgetTokenManager } from "/pkg/chathub_loader.js";
  try {
    await init();
    await new WidgetTokenManager({ tokenUrl: "/api/chathub/token${delay ? `?delay=${delay}` : ""}", widgetSrc: "${WIDGET_SRC}", container: "#chat", trigger: "${trigger}" }).initialize();
  } catch (e) { window.__bench.error = String(e && (e.code || e.message) || e); }
  window.__bench.done = true;
</script>
</body></html>`;
}

// The same with the one-tag entry (auto.js): it waits for the trigger
// before it imports the glue and the .wasm.
function autoPage(trigger, delay = 0) {
  return `<!doctype html><html><head><meta charset="utf-8"><title>bench: auto ${trigger}</title>
${PROBE}
</head><body>
${BODY}
<script type="module" src="/pkg/auto.js" data-token-url="/api/chathub/token${delay ? `?delay=${delay}` : ""}" data-widget-src="${WIDGET_SRC}" data-container="#chat" data-trigger="${trigger}"></script>
</body></html>`;
}

// The page without any chat: the floor.
function nonePage() {
  return `<!doctype html><html><head><meta charset="utf-8"><title>bench: no chat</title>
${PROBE}
</head><body>
${BODY}
</body></html>`;
}

// Trivial stand-in widget: no DOM, no listeners, counts its evaluations.
const WIDGET_JS = `const w = window;
w.__widgetEvaluations = (w.__widgetEvaluations || 0) + 1;
export {};
`;

// pkg/ files as served, per encoding, read and compressed once (the bench
// reads pkg/ after `make pkg`; nothing rebuilds it during a run)
const encodedCache = new Map();
function encoded(file, encoding) {
  const key = `${file}\0${encoding}`;
  if (!encodedCache.has(key)) {
    const raw = fs.readFileSync(file);
    const body =
      encoding === "br"
        ? zlib.brotliCompressSync(raw, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 11, [zlib.constants.BROTLI_PARAM_SIZE_HINT]: raw.length } })
        : encoding === "gzip"
          ? zlib.gzipSync(raw, { level: 9 })
          : raw;
    encodedCache.set(key, body);
  }
  return encodedCache.get(key);
}

// compress: serve pkg/ with Content-Encoding as negotiated (default); false: as is
export function startBenchServer({ pkgDir, port = 0, compress = true } = {}) {
  const stats = { token: 0, tokenByOrg: {}, encodings: {} };
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, "http://x");
    const p = url.pathname;
    const send = (status, type, body, cache = "no-store") => {
      res.writeHead(status, { "content-type": type, "cache-control": cache, "content-length": Buffer.byteLength(body) });
      res.end(body);
    };
    const delay = Number(url.searchParams.get("delay") || 0);
    if (p === "/api/chathub/token") {
      stats.token++;
      const org = url.searchParams.get("org") || "";
      stats.tokenByOrg[org] = (stats.tokenByOrg[org] || 0) + 1;
      const answer = () => send(200, "application/json", JSON.stringify(makeToken()));
      if (delay > 0) setTimeout(answer, delay);
      else answer();
      return;
    }
    if (p === "/loader.html") {
      const h = url.searchParams.get("hints") || "all";
      return send(200, TYPES[".html"], loaderPage(delay, h === "0" ? "none" : h), "no-cache");
    }
    if (p === "/baseline.html") return send(200, TYPES[".html"], baselinePage(delay), "no-cache");
    const trigger = (url.searchParams.get("trigger") || "eager").replace(/[^a-z]/g, "");
    if (p === "/trigger.html") return send(200, TYPES[".html"], triggerPage(trigger, url.searchParams.has("fold"), delay), "no-cache");
    if (p === "/auto.html") return send(200, TYPES[".html"], autoPage(trigger, delay), "no-cache");
    if (p === "/none.html") return send(200, TYPES[".html"], nonePage(), "no-cache");
    if (p === "/driven.html") return send(200, TYPES[".html"], drivenPage("driven"), "no-cache");
    if (p === WIDGET_SRC) return send(200, TYPES[".js"], WIDGET_JS, "public, max-age=3600");
    if (p.startsWith("/pkg/")) {
      const name = path.basename(p);
      const file = path.join(pkgDir, name);
      if (name.startsWith(".") || !fs.existsSync(file)) return send(404, "text/plain", "not found");
      // compressed as any real host serves it: brotli where the browser
      // accepts it (Chromium: HTTPS only), else gzip -9 (loopback HTTP)
      const accept = String(req.headers["accept-encoding"] || "");
      const encoding = compress ? (/\bbr\b/.test(accept) ? "br" : /\bgzip\b/.test(accept) ? "gzip" : null) : null;
      const body = encoded(file, encoding);
      stats.encodings[encoding || "identity"] = (stats.encodings[encoding || "identity"] || 0) + 1;
      res.writeHead(200, {
        "content-type": TYPES[path.extname(name)] || "application/octet-stream",
        "cache-control": "public, max-age=3600",
        "content-length": body.length,
        vary: "accept-encoding",
        ...(encoding ? { "content-encoding": encoding } : {}),
      });
      return res.end(body);
    }
    if (p === "/favicon.ico") return send(204, "text/plain", "", "public, max-age=3600");
    send(404, "text/plain", "not found");
  });
  return new Promise((resolve) => {
    server.listen(port, "127.0.0.1", () => {
      const { port } = server.address();
      resolve({
        server,
        stats,
        origin: `http://127.0.0.1:${port}`,
        resetStats() {
          stats.token = 0;
          stats.tokenByOrg = {};
        },
        close: () => new Promise((r) => server.close(() => r())),
      });
    });
  });
}
