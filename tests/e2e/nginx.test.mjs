// The token server as server/README.md's "Run it in production" runs it:
// nginx (Debian's package; scripts/setup.sh installs it for `make test`)
// with server/deploy/nginx.conf in front of two replicas of
// `chathub-token-server` in serve mode, against the fake ChatHub API of a
// third process (`chathub-token-server dev`), all on loopback with free
// ports, nginx's pid, logs and temp files in a temporary directory.
//
// Checks:
// 1. server/README.md shows server/deploy/nginx.conf unchanged;
// 2. /healthz and /readyz of each replica;
// 3. the per-client rate limit keys on the visitor's address, which nginx
//    passes in X-Forwarded-For (visitors 127.0.0.2 and 127.0.0.3): a
//    visitor over its budget stays refused with a forged X-Forwarded-For,
//    another visitor is still served;
// 4. one replica stopped with SIGTERM under steady load: no visitor sees
//    an error (nginx sends the GET to the other replica, the stopping one
//    drains), its /readyz answers 503 as soon as the shutdown starts, and
//    it exits 0;
// 5. docs/token-server.md's nginx lines for development (the dev mode's
//    three paths through nginx in front of an app), as written, inside a
//    server { } of their own: the token, the stand-in widget and the fake
//    ChatHub's widget session answer through it.
//
// Needs `cargo build -p chathub-token-server --features dev` first (the
// Makefile's nginx-test target does both). Prints the time of each step.

import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { snippet as docSnippet } from "../docs/markdown.mjs";
import { freePort, root } from "./dev-server.mjs";

const binary = resolve(root, "target/debug/chathub-token-server");
const snippetPath = resolve(root, "server/deploy/nginx.conf");
const readmePath = resolve(root, "server/README.md");
const nginxBinary = process.env.NGINX || ["/usr/sbin/nginx", "/usr/bin/nginx"].find((p) => existsSync(p)) || "nginx";
const BURST = 30;

const started = Date.now();
const step = (what) => console.log(`nginx test: ${what} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
function assert(cond, message) {
  if (!cond) throw new Error(message);
}

/// Polls `check` every 20 ms until it returns a truthy value; fails after
/// a generous deadline naming `what`.
async function waitFor(what, check, seconds = 30) {
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    const value = await check().catch(() => undefined);
    if (value) return value;
    assert(Date.now() < deadline, `timed out waiting for ${what}`);
    await sleep(20);
  }
}

/// GET `url` from the local address `from`; resolves to { status, body, headers }
/// ({ status: 0 } on a connection error).
function get(url, { from, headers = {} } = {}) {
  return new Promise((done) => {
    const req = http.get(url, { localAddress: from, headers, agent: false }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c) => (body += c));
      res.on("end", () => done({ status: res.statusCode, body, headers: res.headers }));
      res.on("error", (e) => done({ status: 0, body: String(e) }));
    });
    req.on("error", (e) => done({ status: 0, body: String(e) }));
    req.setTimeout(20_000, () => req.destroy(new Error("timeout")));
  });
}

class Process {
  constructor(name, command, args, env) {
    this.name = name;
    this.log = "";
    this.child = spawn(command, args, { env, stdio: ["ignore", "pipe", "pipe"] });
    this.child.stdout.on("data", (d) => (this.log += d));
    this.child.stderr.on("data", (d) => (this.log += d));
    this.exited = new Promise((r) => this.child.once("exit", (code, signal) => r({ code, signal })));
  }
  signal(sig) {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(sig);
  }
  async stop() {
    this.signal("SIGTERM");
    const t = setTimeout(() => this.signal("SIGKILL"), 20_000);
    await this.exited;
    clearTimeout(t);
  }
}

const processes = [];
const tmp = mkdtempSync(join(tmpdir(), "chathub-nginx-"));
let failed = false;
try {
  // 1. The README shows the tested file as it is.
  const snippet = readFileSync(snippetPath, "utf8");
  assert(readFileSync(readmePath, "utf8").includes("```nginx\n" + snippet + "```"), "server/README.md does not show server/deploy/nginx.conf unchanged");
  assert(existsSync(binary), `missing ${binary} (run: cargo build -p chathub-token-server --features dev)`);

  // The fake ChatHub: dev mode's /fake-chathub (login dev-company / dev-password).
  const devPort = await freePort();
  const dev = new Process("dev", binary, ["dev", "--port", String(devPort), "--www", tmp, "--pkg", tmp], { ...process.env, RUST_LOG: "warn", NO_COLOR: "1" });
  processes.push(dev);
  const fake = `http://127.0.0.1:${devPort}`;
  await waitFor("the fake ChatHub", async () => (await get(`${fake}/healthz`)).status === 200);

  // The login check nginx asks (auth_request): every visitor is "visitor".
  const auth = http.createServer((req, res) => {
    res.writeHead(200, { "x-user": "visitor", "content-length": 0 });
    res.end();
  });
  const authPort = await new Promise((r) => auth.listen(0, "127.0.0.1", () => r(auth.address().port)));

  // Two replicas.
  const replicaPorts = [await freePort(), await freePort()];
  const replica = (port) =>
    new Process(`replica ${port}`, binary, [], {
      PATH: process.env.PATH,
      NO_COLOR: "1",
      RUST_LOG: "info",
      CHATHUB_API_URL: `${fake}/fake-chathub`,
      CHATHUB_LOGIN: "dev-company",
      CHATHUB_PASSWORD: "dev-password",
      CHATHUB_ORGS: "sales=name:Sales,support=id:2",
      CHATHUB_AUTH: "proxy-header",
      CHATHUB_CLIENT_IP_HEADER: "x-forwarded-for",
      CHATHUB_RATE_LIMIT: "1/h",
      CHATHUB_RATE_LIMIT_BURST: String(BURST),
      CHATHUB_BIND: `127.0.0.1:${port}`,
      CHATHUB_SHUTDOWN_DELAY: "5s",
    });
  const replicas = replicaPorts.map(replica);
  processes.push(...replicas);
  const direct = (port, path) => get(`http://127.0.0.1:${port}${path}`);
  for (const port of replicaPorts) await waitFor(`replica ${port}`, async () => (await direct(port, "/healthz")).status === 200);

  // nginx with the snippet, on other ports.
  const nginxPort = await freePort();
  const conf = snippet
    .replace("server 127.0.0.1:8081 ", `server 127.0.0.1:${replicaPorts[0]} `)
    .replace("server 127.0.0.1:8082 ", `server 127.0.0.1:${replicaPorts[1]} `)
    .replace("listen 127.0.0.1:8080;", `listen 127.0.0.1:${nginxPort};`)
    .replace("http://127.0.0.1:9000/session", `http://127.0.0.1:${authPort}/session`);
  // 5's site: an app's server { } with the docs' lines, make demo's port
  // (8080) being the dev process's here.
  const devSitePort = await freePort();
  const devLines = docSnippet("nginx-dev");
  assert(devLines.includes("http://127.0.0.1:8080;"), "docs/token-server.md's nginx lines proxy to make demo's port");
  const devSite = `server {\n    listen 127.0.0.1:${devSitePort};\n${devLines.replaceAll("http://127.0.0.1:8080;", `http://127.0.0.1:${devPort};`).replace(/^(?=.)/gm, "    ")}}\n`;
  for (const dir of ["body", "proxy", "fastcgi", "uwsgi", "scgi"]) mkdirSync(join(tmp, dir));
  writeFileSync(
    join(tmp, "nginx.conf"),
    `${process.getuid?.() === 0 ? "user root;\n" : ""}daemon off;
worker_processes 1;
pid ${tmp}/nginx.pid;
error_log ${tmp}/error.log info;
events { worker_connections 1024; }
http {
    access_log ${tmp}/access.log;
    client_body_temp_path ${tmp}/body;
    proxy_temp_path ${tmp}/proxy;
    fastcgi_temp_path ${tmp}/fastcgi;
    uwsgi_temp_path ${tmp}/uwsgi;
    scgi_temp_path ${tmp}/scgi;
${conf.replace(/^(?=.)/gm, "    ")}
${devSite.replace(/^(?=.)/gm, "    ")}
}
`,
  );
  const nginx = new Process("nginx", nginxBinary, ["-p", `${tmp}/`, "-e", `${tmp}/error.log`, "-c", `${tmp}/nginx.conf`], process.env);
  processes.push(nginx);
  const site = `http://127.0.0.1:${nginxPort}`;
  const token = `${site}/api/chathub/token`;
  await waitFor("nginx", async () => {
    if (nginx.child.exitCode !== null) throw new Error(`nginx exited: ${nginx.log}${readFileSync(join(tmp, "error.log"), "utf8")}`);
    return (await get(token, { from: "127.0.0.9" })).status === 200;
  });
  step("nginx, two replicas and the fake ChatHub are up");

  // 2. Health endpoints.
  for (const port of replicaPorts) {
    const health = await direct(port, "/healthz");
    const ready = await direct(port, "/readyz");
    assert(health.status === 200 && JSON.parse(health.body).status === "ok", `/healthz of ${port}: ${health.status} ${health.body}`);
    assert(ready.status === 200 && JSON.parse(ready.body).status === "ready", `/readyz of ${port}: ${ready.status} ${ready.body}`);
  }
  step("/healthz and /readyz answer on both replicas");

  // 3. The rate limit keys on the visitor, not on nginx. Visitor A asks
  // until both replicas refuse it (each keeps its own budget).
  let served = 0;
  let refusedInARow = 0;
  for (let i = 0; refusedInARow < 2; i++) {
    assert(i < 4 * BURST, `visitor 127.0.0.2 was never refused after ${i} requests`);
    const r = await get(token, { from: "127.0.0.2" });
    if (r.status === 200) {
      served++;
      refusedInARow = 0;
    } else {
      assert(r.status === 429 && JSON.parse(r.body).code === "RATE_LIMITED", `visitor A: ${r.status} ${r.body}`);
      refusedInARow++;
    }
  }
  assert(served >= BURST && served <= 2 * BURST, `visitor A was served ${served} times with a budget of ${BURST} per replica`);
  const forged = await get(token, { from: "127.0.0.2", headers: { "x-forwarded-for": "203.0.113.77" } });
  assert(forged.status === 429, `a forged X-Forwarded-For gave visitor A a new budget: ${forged.status}`);
  const other = await get(token, { from: "127.0.0.3" });
  assert(other.status === 200, `visitor B shares visitor A's budget (keyed on nginx?): ${other.status} ${other.body}`);
  step(`rate limit per visitor: A served ${served} times then 429 (also with a forged X-Forwarded-For), B served`);

  // 4. Steady load: 20 at a time, each request from a visitor address of
  // its own (127.1.x.y, so no budget runs out); one replica gets SIGTERM in
  // the middle.
  const statuses = {};
  const errors = [];
  let requests = 0;
  let stopLoad = false;
  const visitor = async (n) => {
    while (!stopLoad) {
      const k = requests + 1;
      const from = `127.1.${(k >> 8) & 255}.${(k & 255) || 1}`;
      const r = await get(`${token}?org=${n % 2 ? "sales" : "support"}`, { from });
      requests++;
      statuses[r.status] = (statuses[r.status] || 0) + 1;
      if (r.status !== 200) errors.push(`${r.status} ${r.body.slice(0, 120)}`);
      await sleep(50);
    }
  };
  const load = Array.from({ length: 20 }, (_, i) => visitor(i + 1));
  await waitFor("some load", async () => requests >= 100);
  const [stopping, staying] = [replicas[0], replicas[1]];
  const stoppingPort = replicaPorts[0];
  const sigtermAt = Date.now();
  stopping.signal("SIGTERM");
  const notReady = await waitFor(
    "/readyz of the stopping replica to say 503",
    async () => {
      const r = await direct(stoppingPort, "/readyz");
      return r.status === 503 ? r : undefined;
    },
    10,
  );
  assert(JSON.parse(notReady.body).code === "SHUTTING_DOWN", `/readyz while stopping: ${notReady.body}`);
  const exit = await stopping.exited;
  const stoppedIn = Date.now() - sigtermAt;
  assert(exit.code === 0, `the stopped replica exited with ${JSON.stringify(exit)}: ${stopping.log}`);
  const atExit = requests;
  await waitFor("load on the remaining replica", async () => requests >= atExit + 100);
  stopLoad = true;
  await Promise.all(load);
  assert(errors.length === 0, `${errors.length} visitor errors while a replica stopped: ${errors.slice(0, 5).join(" | ")}`);
  assert((await direct(replicaPorts[1], "/readyz")).status === 200, "the remaining replica is not ready");
  assert(staying.child.exitCode === null, "the remaining replica exited");
  step(
    `SIGTERM under load: ${requests} requests, statuses ${JSON.stringify(statuses)}, no error; /readyz 503 during the drain; exited 0 after ${(stoppedIn / 1000).toFixed(1)} s (drain delay 5 s)`,
  );
  // 5. The docs' development lines: the page's origin (nginx) reaches
  // the dev mode's three paths.
  const app = `http://127.0.0.1:${devSitePort}`;
  const devToken = await get(`${app}/api/chathub/token?org=support`);
  assert(devToken.status === 200 && JSON.parse(devToken.body).token, `token through the dev lines: ${devToken.status} ${devToken.body}`);
  const standIn = await get(`${app}/operator-chat-panel/widget-script.js`);
  assert(standIn.status === 200 && /javascript/.test(standIn.headers["content-type"]), `stand-in widget: ${standIn.status} ${standIn.headers["content-type"]}`);
  const session = await get(`${app}/fake-chathub/api/widget/session`, { headers: { authorization: `Bearer ${JSON.parse(devToken.body).token}` } });
  assert(session.status === 200 && JSON.parse(session.body).valid === true, `widget session: ${session.status} ${session.body}`);
  step("docs/token-server.md's nginx lines for development: token, stand-in widget and widget session through nginx");
  auth.close();
} catch (e) {
  failed = true;
  console.error(`nginx test FAILED: ${e.stack || e}`);
  for (const p of processes) console.error(`--- ${p.name} log (last 2000 chars) ---\n${p.log.slice(-2000)}`);
  if (existsSync(join(tmp, "error.log"))) console.error(`--- nginx error.log ---\n${readFileSync(join(tmp, "error.log"), "utf8").slice(-3000)}`);
} finally {
  for (const p of processes.reverse()) await p.stop();
  rmSync(tmp, { recursive: true, force: true });
}
step(failed ? "failed" : "passed");
process.exit(failed ? 1 : 0);
