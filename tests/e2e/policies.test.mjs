// Strict page policies, end to end with the built package (pkg/) in
// headless Chromium: each page is served by a real HTTP server with its
// own Content-Security-Policy header, imports the package as a site would,
// and the test waits for the state a user waits for.
//
//   nonce-only CSP            the widget loads without the `nonce` option
//   Trusted Types required    the widget loads through the policy
//   policy name not allowed   WIDGET_LOAD saying which CSP line to add
//   no 'wasm-unsafe-eval'     init() rejects UNSUPPORTED_ENVIRONMENT and
//                             showFallback() shows the contact box
//   SRI, right hash           ready
//   SRI, wrong hash           one contact box, WIDGET_LOAD
//   SRI, changed widget on a refresh: the working widget is kept
//   docs/page-policies.md's nonce policy, as written (the widget at its
//     default URL, answered by this test): ready
//   Google's strict CSP as written (nonce, 'strict-dynamic', https:,
//     'unsafe-inline', object-src 'none', base-uri 'none', Trusted Types
//     required): no 'wasm-unsafe-eval', so init() rejects
//     UNSUPPORTED_ENVIRONMENT and showFallback() shows the contact box
//   the same with 'wasm-unsafe-eval' added: ready, the widget (an http:
//     URL no allow-list names) loads, its tag carries the nonce, a refresh
//     re-evaluates it through the Trusted Types policy; and one auto.js tag
//     with the nonce does the same
//
// Needs `make pkg` first. No test framework: exit code 0 or 1.

import { createHash } from "node:crypto";
import { snippet } from "../docs/markdown.mjs";
import { assert, suite, widgetCode } from "./pkg-server.mjs";

const STEP_TIMEOUT = 20_000;
const NONCE = "r4nd0m-n0nce";

// The widget's code changes (a new version) to test SRI on a refresh.
let widgetVersion = 1;
const widget = () => widgetCode(widgetVersion);
const sha384 = (text) => "sha384-" + createHash("sha384").update(text).digest("base64");

// A page: its CSP and the module code it runs (with the nonce).
function page(csp, body) {
  return {
    csp,
    html: `<!doctype html><meta charset="utf-8"><title>policy</title><body><div id="chat"></div>
<script type="module" nonce="${NONCE}">
window.__events = [];
window.addEventListener("chathub:statechange", (e) => window.__events.push(e.detail));
${body}
</script>`,
  };
}

const start = (opts) => `
import init, { WidgetTokenManager } from "/pkg/chathub_loader.js";
await init();
window.__manager = new WidgetTokenManager({ tokenUrl: "/token", widgetSrc: location.origin + "/widget.js", container: "#chat", retryDelayMs: 10, ${opts} });
window.__manager.initialize().catch((e) => (window.__initError = { code: e.code, message: e.message }));
`;

const WASM = "'wasm-unsafe-eval'";
// The policies of docs/page-policies.md as written there (one header
// line; RANDOM is the page's nonce): the nonce policy, Google's
// recommended strict policy and the same with the one word the loader
// needs added to it.
const policy = (name) =>
  snippet(name)
    .replace(/^Content-Security-Policy:\s*/, "")
    .replace(/\s*\n\s*/g, " ")
    .trim()
    .replaceAll("RANDOM", NONCE);
const GOOGLE = policy("csp-google");
const GOOGLE_WASM = policy("csp-google-wasm");
assert(
  GOOGLE_WASM === GOOGLE.replace("'strict-dynamic' ", `'strict-dynamic' ${WASM} `),
  "docs/page-policies.md: the strict policy with 'wasm-unsafe-eval' should be Google's plus that one word",
);
// docs/page-policies.md's "No WebAssembly" code as written, with its
// `options`; the test keeps the manager (`window.__manager`) and the
// error init() rejected with (`window.__initError`).
const noWasm = snippet("no-wasm");
assert(noWasm.includes("new WidgetTokenManager(options)"), "the no-wasm snippet creates the manager from `options`");
const startOrFallback = `
import init, { WidgetTokenManager as Manager } from "/pkg/chathub_loader.js";
class WidgetTokenManager extends Manager { constructor(o) { super(o); window.__manager = this; } }
const options = { tokenUrl: "/token", widgetSrc: location.origin + "/widget.js", container: "#chat", fallback: { title: "Chat is offline", email: "help@example.com" } };
${noWasm.replace('import("chathub-loader/fallback")', 'import("/pkg/fallback.js")').replace("async (e) => {", "async (e) => {\n  window.__initError = { code: e.code, message: e.message };")}
`;
const pages = {
  "/nonce.html": () => page(`script-src 'nonce-${NONCE}' ${WASM}; style-src 'nonce-${NONCE}'`, start("")),
  "/tt.html": () =>
    page(`script-src 'nonce-${NONCE}' ${WASM}; require-trusted-types-for 'script'; trusted-types chathub-loader`, start("")),
  "/tt-forbidden.html": () =>
    page(`script-src 'nonce-${NONCE}' ${WASM}; require-trusted-types-for 'script'; trusted-types other-policy`, start("")),
  "/no-wasm.html": () =>
    page(
      `script-src 'nonce-${NONCE}'; style-src 'nonce-${NONCE}'`,
      `import init from "/pkg/chathub_loader.js";
       const options = { tokenUrl: "/token", container: "#chat", fallback: { title: "Chat is offline", email: "help@example.com" } };
       init().catch(async (e) => {
         window.__initError = { code: e.code, message: e.message };
         if (e.code === "UNSUPPORTED_ENVIRONMENT") (await import("/pkg/fallback.js")).showFallback(options);
       });`,
    ),
  "/sri-good.html": () => page(`script-src 'nonce-${NONCE}' ${WASM}`, start(`integrity: "${sha384(widget())}", crossOrigin: "anonymous"`)),
  "/doc-nonce.html": () =>
    page(
      policy("csp-nonce"),
      `import init, { WidgetTokenManager } from "/pkg/chathub_loader.js";
       await init();
       window.__manager = new WidgetTokenManager({ tokenUrl: "/token", container: "#chat" });
       window.__manager.initialize().catch((e) => (window.__initError = { code: e.code, message: e.message }));`,
    ),
  "/google-strict.html": () => page(GOOGLE, startOrFallback),
  "/google-strict-wasm.html": () => page(GOOGLE_WASM, startOrFallback),
  "/google-strict-auto.html": () => ({
    csp: GOOGLE_WASM,
    html: `<!doctype html><meta charset="utf-8"><title>policy</title><body><div id="chat"></div>
<script type="module" nonce="${NONCE}">window.__events = []; addEventListener("chathub:statechange", (e) => window.__events.push(e.detail));</script>
<script type="module" nonce="${NONCE}" src="/pkg/auto.js" data-token-url="/token" data-widget-src="/widget.js" data-container="#chat"></script>`,
  }),
  "/sri-bad.html": () => page(`script-src 'nonce-${NONCE}' ${WASM}`, start(`integrity: "${sha384("not the widget")}", crossOrigin: "anonymous"`)),
};

await suite("policies", { pages, widget }, async ({ step: runStep }) => {
  // CSP and Trusted Types violations the page reported.
  const violations = (seen) => seen.console.map((m) => m.text).filter((t) => /Content Security Policy|TrustedScriptURL|Trusted Type/i.test(t));
  const step = (name, path, check) => runStep(name, path, (pg, seen) => check(pg, violations(seen)));
  const state = (pg, s) => pg.waitForFunction((s) => window.__manager?.state === s, s, { timeout: STEP_TIMEOUT });
  const lastError = (pg) => pg.evaluate(() => window.__events.filter((d) => d.error).at(-1)?.error ?? null);

  await step("nonce-only CSP: the widget loads without the nonce option", "/nonce.html", async (pg, violations) => {
    await state(pg, "ready");
    const widgets = await pg.evaluate(() => window.__widget ?? []);
    assert(widgets.length === 1 && widgets[0].token?.split(".").length === 3, `widget evaluations: ${JSON.stringify(widgets)}`);
    const nonces = await pg.evaluate(() => [...document.querySelectorAll("script[id^=operator-chat-panel-script], style")].map((e) => e.nonce));
    assert(nonces.length >= 1 && nonces.every((n) => n === "r4nd0m-n0nce"), `nonces on the widget tag and style: ${nonces}`);
    assert(violations.length === 0, `CSP violations: ${violations.join(" | ")}`);
  });

  await step("Trusted Types required: the widget loads through the chathub-loader policy", "/tt.html", async (pg, violations) => {
    await state(pg, "ready");
    assert((await pg.evaluate(() => (window.__widget ?? []).length)) === 1, "the widget did not evaluate");
    // A refresh goes through the same policy (created once).
    await pg.evaluate(() => window.__manager.refreshToken());
    await pg.waitForFunction(() => (window.__widget ?? []).length === 2, null, { timeout: STEP_TIMEOUT });
    assert(violations.length === 0, `violations: ${violations.join(" | ")}`);
  });

  await step("Trusted Types with another policy name: WIDGET_LOAD says what to add", "/tt-forbidden.html", async (pg) => {
    await state(pg, "fallback");
    const err = await lastError(pg);
    assert(err?.code === "WIDGET_LOAD", `error: ${JSON.stringify(err)}`);
    assert(/trusted-types chathub-loader/.test(err.message), `message says the fix: ${err.message}`);
    assert((await pg.locator(".chathub-loader-fallback").count()) === 1, "one contact box");
  });

  await step("no 'wasm-unsafe-eval': init() rejects UNSUPPORTED_ENVIRONMENT, showFallback() shows the box", "/no-wasm.html", async (pg) => {
    await pg.locator(".chathub-loader-fallback").waitFor({ timeout: STEP_TIMEOUT });
    const err = await pg.evaluate(() => window.__initError);
    assert(err?.code === "UNSUPPORTED_ENVIRONMENT", `init error: ${JSON.stringify(err)}`);
    const box = pg.locator(".chathub-loader-fallback");
    assert((await box.locator("h2").textContent()) === "Chat is offline", "the page's title");
    assert((await box.locator('a[href="mailto:help@example.com"]').count()) === 1, "the e-mail link");
    const styled = await pg.evaluate(() => getComputedStyle(document.querySelector(".chathub-loader-fallback")).borderStyle);
    assert(styled === "solid", `the loader's style applies under the CSP (nonce): border ${styled}`);
    // It checks what it shows as the loader does: hostile values are typed errors, text stays text.
    const refused = await pg.evaluate(async () => {
      const { showFallback } = await import("/pkg/fallback.js");
      const codes = [];
      for (const fallback of [
        { url: "//evil.example/x" },
        { url: "javascript:alert(1)" },
        { url: "https:evil.example" },
        { email: "a@example.com?bcc=b@evil.example" },
        { phone: "javascript:1" },
        { title: null },
        { titel: "typo" },
      ]) {
        try {
          showFallback({ fallback });
          codes.push("shown");
        } catch (e) {
          codes.push(e.code);
        }
      }
      const box = showFallback({ fallback: { title: '<img src=x onerror="window.__pwned=1">' }, container: "#chat" });
      return { codes, title: box.querySelector("h2").textContent, imgs: box.querySelectorAll("img").length, pwned: window.__pwned };
    });
    assert(refused.codes.every((c) => c === "INVALID_OPTIONS"), `hostile fallback values: ${refused.codes}`);
    assert(refused.imgs === 0 && refused.pwned === undefined && refused.title.startsWith("<img"), `markup stays text: ${JSON.stringify(refused)}`);
  });

  // The vendor's widget URL (the default widgetSrc), answered here by the
  // stand-in widget, cross-origin as the real one is.
  const vendorWidget = (ctx) =>
    ctx.route("https://widget.smsbat.com/**", (route) =>
      route.fulfill({ status: 200, contentType: "text/javascript", headers: { "Access-Control-Allow-Origin": "*" }, body: widget() }),
    );
  await runStep(
    "docs/page-policies.md's nonce policy as written: ready, the vendor's widget with the nonce, Trusted Types through the policy",
    "/doc-nonce.html",
    async (pg, seen) => {
      await state(pg, "ready");
      const tag = await pg.evaluate(() => {
        const s = document.querySelector("script[id=operator-chat-panel-script]");
        return { nonce: s.nonce, src: s.src };
      });
      assert(tag.nonce === NONCE && tag.src === "https://widget.smsbat.com/operator-chat-panel/widget-script.js", `widget tag: ${JSON.stringify(tag)}`);
      assert((await pg.evaluate(() => (window.__widget ?? []).length)) === 1, "the widget evaluated once");
      assert(violations(seen).length === 0, `violations: ${violations(seen).join(" | ")}`);
    },
    vendorWidget,
  );

  await step("Google's strict CSP as written: no 'wasm-unsafe-eval', so UNSUPPORTED_ENVIRONMENT and the contact box", "/google-strict.html", async (pg, violations) => {
    await pg.locator(".chathub-loader-fallback").waitFor({ timeout: STEP_TIMEOUT });
    const err = await pg.evaluate(() => window.__initError);
    assert(err?.code === "UNSUPPORTED_ENVIRONMENT", `init error: ${JSON.stringify(err)}`);
    assert((await pg.locator(".chathub-loader-fallback h2").textContent()) === "Chat is offline", "the page's contact box");
    assert((await pg.evaluate(() => (window.__widget ?? []).length)) === 0, "no widget");
    // Nothing else was refused (Chromium logs none for WebAssembly either).
    assert(violations.every((v) => /WebAssembly|wasm-unsafe-eval/i.test(v)), `other violations: ${violations.join(" | ")}`);
  });

  await step("Google's strict CSP plus 'wasm-unsafe-eval': ready, the nonce on the widget tag, a refresh through the policy", "/google-strict-wasm.html", async (pg, violations) => {
    await state(pg, "ready");
    const tag = await pg.evaluate(() => {
      const s = document.querySelector("script[id=operator-chat-panel-script]");
      return { nonce: s.nonce, src: s.src };
    });
    assert(tag.nonce === NONCE && tag.src.startsWith("http://127.0.0.1:"), `widget tag: ${JSON.stringify(tag)}`);
    // Trusted Types are enforced on this page: a plain string is refused,
    // so the widget's URL went through the loader's policy.
    const plain = await pg.evaluate(() => {
      try {
        document.createElement("script").src = "/widget.js";
        return "accepted";
      } catch (e) {
        return e.name;
      }
    });
    assert(plain === "TypeError", `a plain script URL: ${plain}`);
    await pg.evaluate(() => window.__manager.refreshToken());
    await pg.waitForFunction(() => (window.__widget ?? []).length === 2, null, { timeout: STEP_TIMEOUT });
    const tokens = await pg.evaluate(() => window.__widget.map((w) => w.token));
    assert(tokens[0] !== tokens[1], "the refresh's evaluation has the new token");
    assert(violations.length === 0, `violations: ${violations.join(" | ")}`);
  });

  await step("Google's strict CSP plus 'wasm-unsafe-eval': one auto.js tag with the nonce", "/google-strict-auto.html", async (pg, violations) => {
    await pg.waitForFunction(() => window.__events.some((d) => d.state === "ready"), null, { timeout: STEP_TIMEOUT });
    const nonce = await pg.evaluate(() => document.querySelector("script[id=operator-chat-panel-script]").nonce);
    assert(nonce === NONCE, `widget tag nonce: ${nonce}`);
    assert(violations.length === 0, `violations: ${violations.join(" | ")}`);
  });

  await step("SRI with the right hash: ready", "/sri-good.html", async (pg) => {
    await state(pg, "ready");
    const tag = await pg.evaluate(() => {
      const s = document.querySelector("script[id=operator-chat-panel-script]");
      return { integrity: s.integrity, crossOrigin: s.crossOrigin };
    });
    assert(tag.integrity.startsWith("sha384-") && tag.crossOrigin === "anonymous", `tag: ${JSON.stringify(tag)}`);
  });

  await step("SRI with a changed widget on a refresh: the working widget is kept", "/sri-good.html", async (pg) => {
    await state(pg, "ready");
    widgetVersion += 1;
    try {
      const code = await pg.evaluate(() => window.__manager.refreshToken().then(() => "ok", (e) => e.code));
      assert(code === "WIDGET_LOAD", `refresh: ${code}`);
    } finally {
      widgetVersion -= 1;
    }
    assert((await pg.evaluate(() => window.__manager.state)) === "ready", "still ready");
    const tags = await pg.evaluate(() => document.querySelectorAll("script[id=operator-chat-panel-script]").length);
    assert(tags === 1, `one widget tag, got ${tags}`);
    assert((await pg.locator(".chathub-loader-fallback").count()) === 0, "no contact box");
  });

  await step("SRI with a wrong hash: one contact box, WIDGET_LOAD", "/sri-bad.html", async (pg) => {
    await state(pg, "fallback");
    const err = await lastError(pg);
    assert(err?.code === "WIDGET_LOAD", `error: ${JSON.stringify(err)}`);
    assert((await pg.locator(".chathub-loader-fallback").count()) === 1, "one contact box");
    assert((await pg.evaluate(() => (window.__widget ?? []).length)) === 0, "the widget never ran");
  });
});
