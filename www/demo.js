// The demo page: WidgetTokenManager against `chathub-token-server dev`.
// Every DOM write uses textContent.

const $ = (sel) => document.querySelector(sel);
const admin = (path, body) =>
  fetch(`/dev/admin/${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body ?? {}),
  }).then((r) => r.json());

function log(text) {
  const li = document.createElement("li");
  li.textContent = `${new Date().toLocaleTimeString()}  ${text}`;
  $("#log").prepend(li);
}

function showError(err) {
  $("#error").textContent = err ? `${err.code || "ERROR"}: ${err.message}` : "none";
}

let WidgetTokenManager;
let manager;

function options() {
  const org = $("#org").value;
  return {
    tokenUrl: "/api/chathub/token",
    ...(org ? { org } : {}),
    widgetSrc: "/operator-chat-panel/widget-script.js",
    container: "#chat",
    requestTimeoutMs: 10000,
    fallback: {
      title: "Chat is unavailable",
      message: "Our operators cannot be reached right now. Please contact us directly.",
      email: "support@example.com",
      phone: "+380 44 000 00 00",
      url: "https://example.com/contact",
    },
  };
}

async function start() {
  if (manager) manager.destroy();
  manager = new WidgetTokenManager(options());
  window.demoManager = manager;
  try {
    await manager.initialize();
    log("initialize() resolved");
    showError(null);
  } catch (err) {
    log(`initialize() rejected: ${err.code}`);
    showError(err);
  }
}

async function refresh() {
  // The token endpoint caches tokens per org; forget them so the refresh
  // really fetches a new one (the loader itself does not need this).
  await admin("flush-token-cache");
  try {
    await manager.refreshToken();
    log("refreshToken() resolved");
    showError(null);
  } catch (err) {
    log(`refreshToken() rejected: ${err.code}`);
    showError(err);
  }
}

window.addEventListener("chathub:statechange", (e) => {
  const { org, state, previous, error } = e.detail;
  $("#state").textContent = state;
  $("#state").dataset.state = state;
  const exp = manager && manager.expiresAt;
  $("#expires").textContent = exp ? exp.toLocaleTimeString() : "–";
  if (error) showError(error);
  log(`${org ?? "default"}: ${previous} → ${state}${error ? ` (${error.code})` : ""}`);
});

window.addEventListener("error", (e) => {
  if (String(e.message).includes("token expired")) log("widget raised: token expired");
});

$("#refresh").addEventListener("click", refresh);
$("#break").addEventListener("click", async () => {
  await admin("fail", { count: 100000, status: 503 });
  await admin("flush-token-cache");
  $("#backend").textContent = "broken (ChatHub answers 503)";
  log("backend broken: every ChatHub call answers 503");
});
$("#recover").addEventListener("click", async () => {
  await admin("recover");
  $("#backend").textContent = "healthy";
  log("backend recovered");
  // What the fallback's "Try again" button does: the same manager
  // recovers, no restart needed (it also retries on its own with backoff).
  if (manager.state === "fallback" || manager.state === "ready") await refresh();
  else await start();
});
$("#restart").addEventListener("click", start);
$("#org").addEventListener("change", start);
$("#short-tokens").addEventListener("click", async () => {
  await admin("token-lifetime", { seconds: 40 });
  log("operator tokens now live 40 s");
  await refresh();
});
$("#normal-tokens").addEventListener("click", async () => {
  await admin("token-lifetime", { seconds: null });
  log("operator tokens live as long as asked (1 h)");
  await refresh();
});
$("#slow").addEventListener("click", async () => {
  await admin("fail", { count: 3, delayMs: 7000 });
  await admin("flush-token-cache");
  $("#backend").textContent = "slow (next 3 ChatHub calls wait 7 s)";
  log("backend slow: the next 3 ChatHub calls wait 7 s (token endpoint times out at 5 s)");
});

setInterval(async () => {
  const evals = (window.__chathubWidget && window.__chathubWidget.evaluations) || [];
  $("#evaluations").textContent = String(evals.length);
  try {
    const stats = await fetch("/dev/admin/stats", { cache: "no-store" }).then((r) => r.json());
    $("#stats").textContent = Object.entries(stats)
      .filter(([, n]) => n > 0)
      .map(([k, n]) => `${k} ${n}`)
      .join(", ") || "none yet";
  } catch {
    $("#stats").textContent = "unavailable";
  }
}, 1000);

try {
  const loader = await import("/pkg/chathub_loader.js");
  await loader.default();
  WidgetTokenManager = loader.WidgetTokenManager;
} catch (err) {
  $("#state").textContent = "loader not built";
  showError({ code: "NO_PKG", message: `cannot load /pkg/chathub_loader.js (run \`make pkg\`): ${err.message}` });
  throw err;
}
await start();
