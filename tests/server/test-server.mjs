// The real HTTP server behind the browser tests. Each test names a
// scenario and scripts its token endpoint's answers (status, body, delay,
// dropped connection), then reads what the endpoint saw. It also serves
// stand-in widget modules that record every evaluation.
//
//   POST /s/<id>/script   body: [step, ...]   (the last step repeats)
//     step: { status=200, body?: object|string, delay=0, drop=false,
//             ttlMs=3600000, jwtExpOffsetMs?: number, skewMs=0,
//             hideDate=false, sameToken=false }
//     A 200 step without body answers a fresh JWT whose exp and
//     expiresAt are now + ttlMs (or jwtExpOffsetMs for exp alone), with
//     iat = now. skewMs shifts the server's clock (Date header, iat, exp,
//     expiresAt): -7200000 is a visitor whose clock is 2 h ahead.
//     hideDate sends no Date header; sameToken answers the previous token
//     again (a backend serving its cached token). retryAfter: the
//     Retry-After header's value. bigBody: n bytes of JSON-ish filler
//     instead of a token answer, with Content-Length, or streamed in
//     64 KiB chunks without it when chunked is true (the server stops
//     writing when the client goes away).
//   GET  /s/<id>/token[?org=...]   the scripted endpoint
//   GET  /s/<id>/stats            { requests, orgs, tokens, times, headers }
//                                 (times: each request's Date.now())
//   GET  /widget.js?...           stand-in widget module
//   GET  /s/<id>/widget.js        the same, or the status set by
//   POST /s/<id>/widget-status    body: a number (e.g. 404); 200 restores;
//                                 "throw": the module throws while it
//                                 evaluates (after adding its panel);
//                                 "throw-in-import": a module it imports
//                                 throws (before the widget's own code runs)
//   POST /s/<id>/widget-delay     body: ms before the module is served
//   GET  /missing-widget.js       404
//   GET  /s/<id>/cdn/widget.js    302 to http://localhost:<port>/s/<id>/v1.2.3/widget.js
//   GET  /s/<id>/cdn/renamed.js   (the query kept): a widgetSrc that redirects to
//                                 a versioned URL on another origin, as a CDN
//                                 does, with the same file name or another; the
//                                 module there (status and "throw" as set for
//                                 /s/<id>/widget.js) finds its tag by the
//                                 redirecting URL (its import.meta.url is the
//                                 final one), and window.__cdnWidgetExpire()
//                                 makes it throw "token expired" from its own
//                                 code (a timer), as the vendor's widget reports
//                                 an expired token
//   The stats also list each token request's headers (`headers`, names in
//   lower case).
import http from "node:http";

const port = Number(process.argv[2] || 8787);
const scenarios = new Map();

function scenario(id) {
  if (!scenarios.has(id)) scenarios.set(id, { steps: [{}], next: 0, requests: 0, orgs: [], tokens: [], times: [], headers: [] });
  return scenarios.get(id);
}

const b64 = (v) => Buffer.from(JSON.stringify(v)).toString("base64url");

function jwt(nowMs, expMs, n) {
  const claims = { sub: "operator-1", iat: Math.floor(nowMs / 1000), exp: Math.floor(expMs / 1000), n };
  return `${b64({ alg: "HS256", typ: "JWT" })}.${b64(claims)}.c2lnbmF0dXJl`;
}

function cors(req, res) {
  res.setHeader("Access-Control-Allow-Origin", req.headers.origin || "*");
  res.setHeader("Access-Control-Allow-Credentials", "true");
  res.setHeader("Access-Control-Allow-Headers", req.headers["access-control-request-headers"] || "*");
  res.setHeader("Access-Control-Allow-Methods", "GET, POST, OPTIONS");
  res.setHeader("Access-Control-Expose-Headers", "Date, Retry-After");
  res.setHeader("Vary", "Origin");
}

const WIDGET = `
const me = [...document.querySelectorAll('script[id^="operator-chat-panel-script"]')]
  .find((s) => s.src === import.meta.url);
const token = me ? me.getAttribute("token") : null;
const w = (window.__testWidget ||= { evaluations: [] });
w.evaluations.push({ token, url: import.meta.url, id: me ? me.id : null, at: Date.now() });
const panel = document.createElement("div");
panel.className = "test-widget-panel";
panel.dataset.tagId = me ? me.id : "";
panel.dataset.src = import.meta.url;
panel.textContent = "chat for " + (me ? me.id : "?");
document.body.appendChild(panel);
if (me) {
  new MutationObserver(() => { panel.dataset.token = me.getAttribute("token"); w.attributeUpdates = (w.attributeUpdates || 0) + 1; })
    .observe(me, { attributes: true, attributeFilter: ["token"] });
}
`;

const server = http.createServer(async (req, res) => {
  cors(req, res);
  const url = new URL(req.url, "http://x");
  if (req.method === "OPTIONS") return res.writeHead(204).end();
  if (url.pathname === "/health") return res.writeHead(200).end("ok");
  if (url.pathname === "/widget.js") {
    res.writeHead(200, { "Content-Type": "text/javascript", "Cache-Control": "no-store" });
    return res.end(WIDGET);
  }
  const m = url.pathname.match(/^\/s\/([\w.-]+)\/(script|token|stats|widget\.js|widget-status|widget-delay|cdn\/widget\.js|cdn\/renamed\.js|v1\.2\.3\/widget\.js)$/);
  if (!m) return res.writeHead(404, { "Content-Type": "text/plain" }).end("not found");
  const sc = scenario(m[1]);
  if (m[2] === "script" && req.method === "POST") {
    let body = "";
    for await (const chunk of req) body += chunk;
    sc.steps = JSON.parse(body || "[{}]");
    sc.next = 0;
    return res.writeHead(204).end();
  }
  if ((m[2] === "widget-status" || m[2] === "widget-delay") && req.method === "POST") {
    let body = "";
    for await (const chunk of req) body += chunk;
    if (m[2] === "widget-delay") sc.widgetDelay = Number(body) || 0;
    else {
      sc.widgetThrows = body === "throw";
      sc.importThrows = body === "throw-in-import";
      sc.widgetStatus = Number(body) || 200;
    }
    return res.writeHead(204).end();
  }
  if (m[2].startsWith("cdn/")) {
    res.writeHead(302, { Location: `http://localhost:${port}/s/${m[1]}/v1.2.3/widget.js${url.search}`, "Cache-Control": "no-store" });
    return res.end();
  }
  if (m[2] === "widget.js" || m[2] === "v1.2.3/widget.js") {
    if (sc.widgetDelay) await new Promise((r) => setTimeout(r, sc.widgetDelay));
    const status = sc.widgetStatus || 200;
    res.writeHead(status, { "Content-Type": "text/javascript", "Cache-Control": "no-store" });
    let code = WIDGET;
    if (m[2] !== "widget.js") {
      // Redirected here: import.meta.url is this URL, the tag's src the first one.
      const first = JSON.stringify(`http://${req.headers.host.replace("localhost", "127.0.0.1")}/s/${m[1]}/cdn/`);
      code = code.replace(
        ".find((s) => s.src === import.meta.url);",
        `.find((s) => s.src.startsWith(${first}) && new URL(s.src).search === new URL(import.meta.url).search);`,
      );
      code += `window.__cdnWidgetExpire = () => setTimeout(() => { throw new Error("token expired"); });\n`;
    }
    if (sc.widgetThrows) code += "\nthrow new Error('stand-in widget: broken build');\n";
    if (sc.importThrows) code = `import "data:text/javascript,throw new Error('stand-in widget: broken dependency')";\n` + code;
    return res.end(status === 200 ? code : "");
  }
  if (m[2] === "stats") {
    res.writeHead(200, { "Content-Type": "application/json" });
    return res.end(JSON.stringify({ requests: sc.requests, orgs: sc.orgs, tokens: sc.tokens, times: sc.times, headers: sc.headers }));
  }
  sc.requests += 1;
  sc.times.push(Date.now());
  sc.orgs.push(url.searchParams.get("org"));
  sc.headers.push(req.headers);
  const step = sc.steps[Math.min(sc.next, sc.steps.length - 1)] || {};
  sc.next += 1;
  if (step.delay) await new Promise((r) => setTimeout(r, step.delay));
  if (step.drop) return req.socket.destroy();
  const status = step.status ?? 200;
  let body = step.body;
  const now = Date.now() + (step.skewMs ?? 0);
  if (step.hideDate) res.sendDate = false;
  else res.setHeader("Date", new Date(now).toUTCString());
  if (step.retryAfter !== undefined) res.setHeader("Retry-After", String(step.retryAfter));
  if (step.bigBody) {
    const chunk = Buffer.alloc(64 * 1024, "x");
    const headers = { "Content-Type": "application/json", "Cache-Control": "no-store" };
    if (!step.chunked) headers["Content-Length"] = String(step.bigBody);
    res.writeHead(status, headers);
    let sent = 0;
    const more = () => {
      while (sent < step.bigBody && !res.destroyed) {
        const n = Math.min(chunk.length, step.bigBody - sent);
        sent += n;
        if (!res.write(n === chunk.length ? chunk : chunk.subarray(0, n))) return res.once("drain", more);
      }
      res.end();
    };
    res.on("close", () => (sent = step.bigBody));
    return more();
  }
  if (body === undefined && status === 200 && step.sameToken && sc.last) {
    body = sc.last;
  } else if (body === undefined && status === 200) {
    const ttl = step.ttlMs ?? 3_600_000;
    const token = jwt(now, now + (step.jwtExpOffsetMs ?? ttl), sc.requests);
    sc.tokens.push(token);
    body = sc.last = { token, expiresAt: new Date(now + ttl).toISOString() };
  }
  const text = typeof body === "string" ? body : JSON.stringify(body ?? { error: "scripted" });
  res.writeHead(status, { "Content-Type": typeof body === "string" ? "text/html" : "application/json", "Cache-Control": "no-store" });
  res.end(text);
});

server.listen(port, "127.0.0.1", () => console.log(`test server on http://127.0.0.1:${port}`));
