// The memory control, shared by bench/run.mjs and bench/heap-diff.mjs: a
// page function (for Playwright's page.evaluate) doing `n` times what the
// vendor's sample does per refresh, without the loader: fetch the token,
// replace the widget's module tag with one whose URL is new. Returns the
// stand-in widget's evaluation count.
export async function controlRefreshes(n) {
  for (let i = 0; i < n; i++) {
    const { token } = await (await fetch("/api/chathub/token")).json();
    const old = document.getElementById("operator-chat-panel-script");
    const s = document.createElement("script");
    s.type = "module";
    s.id = "operator-chat-panel-script";
    // the same URL shape as the loader's reload "module" (`chathub_v=<n>`):
    // the module map keeps every URL, so a shorter one would grow less
    s.src = `/widget/widget-script.js?chathub_v=${(window.__v = (window.__v || 0) + 1)}`;
    s.setAttribute("token", token);
    await new Promise((resolve, reject) => {
      s.onload = resolve;
      s.onerror = reject;
      if (old) old.remove();
      document.body.appendChild(s);
    });
    s.onload = s.onerror = null;
  }
  return window.__widgetEvaluations;
}
