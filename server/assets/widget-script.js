// Stand-in for the ChatHub operator chat panel, served by
// `chathub-token-server dev` at /operator-chat-panel/widget-script.js.
// It behaves like the real widget where the loader cares:
// - an ES module, evaluated once per URL; it finds its own tag by
//   import.meta.url (document.currentScript is null in modules);
// - reads the tag's `token`, checks it against the (fake) API, renders a panel;
// - observes the `token` attribute and re-renders when it changes;
// - raises a window error containing "token expired" when its token expires,
//   unless its tag has been removed (replaced by a newer evaluation).
// Each evaluation is recorded on window.__chathubWidget.evaluations for tests.

const PREFIX = "operator-chat-panel-script";
const PLACEHOLDER = "test-token-for-development";
const selfUrl = import.meta.url;

function findTag() {
  for (const el of document.querySelectorAll(`script[id^="${PREFIX}"]`)) {
    if (el.src === selfUrl) return el;
  }
  return document.getElementById(PREFIX);
}

const tag = findTag();
const org = tag && tag.id.startsWith(`${PREFIX}-`) ? tag.id.slice(PREFIX.length + 1) : "";
let token = (tag && tag.getAttribute("token")) || "";

const record = (window.__chathubWidget ||= {});
record.evaluations ||= [];
record.tokenUpdates ||= [];
record.evaluations.push({ token, at: Date.now(), url: selfUrl, org: org || null });

// ---- the panel (built synchronously, before any await) ----
const el = (name, style, text) => {
  const node = document.createElement(name);
  if (style) Object.assign(node.style, style);
  if (text !== undefined) node.textContent = text;
  return node;
};

const panel = el("section", {
  position: "fixed", right: "20px", bottom: "20px", width: "320px", zIndex: "2147483000",
  font: "14px/1.4 system-ui, sans-serif", color: "#10243e", background: "#fff",
  border: "1px solid #c9d6e8", borderRadius: "12px", boxShadow: "0 8px 28px rgba(16,36,62,.18)",
  overflow: "hidden",
});
panel.id = `operator-chat-panel-${org || "default"}`;
panel.className = "operator-chat-panel";
panel.setAttribute("role", "region");
panel.setAttribute("aria-label", "Operator chat");

const head = el("header", { background: "#1b5fd1", color: "#fff", padding: "10px 14px" });
const title = el("div", { fontWeight: "600" }, "ChatHub operator chat");
const sub = el("div", { fontSize: "12px", opacity: ".85" }, "stand-in widget (dev mode)");
head.append(title, sub);

const status = el("p", { margin: "0", padding: "8px 14px", fontSize: "13px", background: "#eef3fb" }, "Connecting…");
status.setAttribute("data-role", "status");
status.setAttribute("role", "status");

const details = el("dl", { margin: "0", padding: "8px 14px", display: "grid", gridTemplateColumns: "auto 1fr", gap: "2px 10px", fontSize: "13px" });
const field = (label, role) => {
  const dt = el("dt", { color: "#5a6b82" }, label);
  const dd = el("dd", { margin: "0", fontWeight: "600" }, "…");
  dd.setAttribute("data-role", role);
  details.append(dt, dd);
  return dd;
};
const operatorField = field("Operator", "operator");
const orgField = field("Organisation", "organization");
const expiresField = field("Token expires", "expires");
const leftField = field("Time left", "left");

const log = el("ol", { listStyle: "none", margin: "0", padding: "8px 14px", height: "96px", overflowY: "auto", borderTop: "1px solid #e3eaf4", fontSize: "13px" });
const say = (who, text) => {
  const li = el("li", { margin: "4px 0" });
  li.append(el("strong", null, `${who}: `), document.createTextNode(text));
  log.append(li);
  log.scrollTop = log.scrollHeight;
};
const form = el("form", { display: "flex", gap: "6px", padding: "8px 14px 12px" });
const input = el("input", { flex: "1", padding: "6px 8px", border: "1px solid #c9d6e8", borderRadius: "6px" });
input.placeholder = "Reply as the operator…";
input.setAttribute("aria-label", "Message");
const send = el("button", { padding: "6px 10px", border: "0", borderRadius: "6px", background: "#1b5fd1", color: "#fff" }, "Send");
send.type = "submit";
form.append(input, send);
form.addEventListener("submit", (e) => {
  e.preventDefault();
  if (input.value.trim()) say("You", input.value.trim());
  input.value = "";
});

panel.append(head, status, details, log, form);
document.body.appendChild(panel);

function setStatus(text, kind) {
  status.textContent = text;
  status.dataset.state = kind;
  status.style.background = kind === "ok" ? "#e7f6ec" : kind === "error" ? "#fdecec" : "#eef3fb";
}

// ---- token checks and expiry ----
let expiresAt = NaN;
let raisedFor = null;
let generation = 0;
const alive = () => !tag || tag.isConnected;

function stop() {
  clearInterval(ticker);
  observer.disconnect();
}

function raiseExpired() {
  if (raisedFor === token) return;
  raisedFor = token;
  setStatus("Token expired", "error");
  setTimeout(() => {
    throw new Error("ChatHub widget: token expired");
  });
}

function tick() {
  if (!alive()) {
    stop();
    return;
  }
  if (Number.isNaN(expiresAt)) return;
  const left = Math.max(0, Math.round((expiresAt - Date.now()) / 1000));
  leftField.textContent = `${Math.floor(left / 60)} min ${left % 60} s`;
  if (left <= 0) raiseExpired();
}

async function check() {
  const mine = ++generation;
  const tok = token;
  expiresAt = NaN;
  setStatus("Connecting…", "connecting");
  if (!tok) {
    setStatus("No token on the widget tag", "error");
    return;
  }
  if (tok === PLACEHOLDER) {
    operatorField.textContent = "Development operator";
    orgField.textContent = org || "default";
    expiresField.textContent = "never (placeholder token)";
    setStatus("Connected with the development placeholder token", "ok");
    return;
  }
  let res;
  let body;
  try {
    res = await fetch(new URL("/fake-chathub/api/widget/session", selfUrl), {
      headers: { Authorization: `Bearer ${tok}` },
      cache: "no-store",
    });
    body = await res.json();
  } catch {
    if (mine === generation) setStatus("Cannot reach ChatHub", "error");
    return;
  }
  if (mine !== generation || !alive()) return;
  if (!res.ok || !body || body.valid !== true) {
    const reason = (body && body.error) || `HTTP ${res.status}`;
    setStatus(`Token refused: ${reason}`, "error");
    if (String(reason).includes("expired")) raiseExpired();
    return;
  }
  operatorField.textContent = body.operator.name;
  orgField.textContent = body.organization.name;
  expiresAt = Date.parse(body.expiresAt);
  expiresField.textContent = new Date(expiresAt).toLocaleTimeString();
  setStatus("Connected", "ok");
  tick();
  if (log.childElementCount === 0) {
    say("Visitor", "Hi! Is anyone there?");
    say(body.operator.name, "Hello, how can I help?");
  }
}

const observer = new MutationObserver(() => {
  const next = (tag && tag.getAttribute("token")) || "";
  if (next === token) return;
  token = next;
  record.tokenUpdates.push({ token, at: Date.now(), url: selfUrl, org: org || null });
  check();
});
if (tag) observer.observe(tag, { attributes: true, attributeFilter: ["token"] });
const ticker = setInterval(tick, 1000);
check();
