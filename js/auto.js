// `chathub-loader/auto`: one tag for static sites.
//
//   <script type="module" src="/vendor/chathub-loader/auto.js"
//           data-token-url="/api/chathub/token" data-org="sales"
//           data-fallback-email="support@example.com" data-trigger="idle"></script>
//
// Every data-* attribute is the option of the same name in camelCase;
// data-fallback-<field> fill `fallback`, data-fallback="false" turns it
// off. Several tags (one per org) may share this module: the browser
// evaluates it once, so it starts a manager for each of its tags, those
// in the page when it runs and those inserted later (a tag manager adds
// them one at a time: a tag whose module already ran only fires `load`).
// Plain JS, bundled by `make pkg` with the loader's own trigger wait and
// state event (js/dom.js) and nothing else: the glue and the .wasm are
// imported only when the tag's trigger fires.

import { emitState, waitTrigger } from "./dom.js";
import { prefetchToken } from "./prefetch.js";

const PREFIX = "chathub-loader/auto";
const NUMBERS = ["checkIntervalMs", "refreshMarginMs", "requestTimeoutMs", "maxRetries", "retryDelayMs", "maxRetryDelayMs"];
const FALLBACK = ["Title", "Message", "Email", "Phone", "Url", "ButtonText"];
// In the order of the loader's `trigger` kinds (waitTrigger's `kind`).
const TRIGGERS = ["eager", "idle", "visible", "interaction"];

/**
 * The options a tag's data-* attributes spell (see the header). Objects
 * without a prototype: a polluted Object.prototype (a `trigger` or
 * `tokenUrl` set there) adds nothing to them.
 */
function optionsOf(tag) {
  const options = Object.create(null);
  const fallback = Object.create(null);
  for (const [key, raw] of Object.entries(tag.dataset)) {
    const field = key.startsWith("fallback") && FALLBACK.find((f) => key == "fallback" + f);
    if (field) fallback[field[0].toLowerCase() + field.slice(1)] = raw;
    else if (key == "fallback") options.fallback = raw == "false" ? false : raw;
    // A number when it is one; otherwise the constructor says what is wrong.
    else options[key] = NUMBERS.includes(key) && raw.trim() != "" && !isNaN(raw) ? Number(raw) : raw;
  }
  if (options.fallback !== false && Object.keys(fallback).length) options.fallback = fallback;
  // The tag's own CSP nonce (the property: browsers hide the attribute).
  if (options.nonce == null && tag.nonce) options.nonce = tag.nonce;
  return options;
}

function report(code, message) {
  console.error(`${PREFIX}: ${code}: ${message}`);
}

let loader = null;
/** The package, loaded once for every tag: the glue's exports, or null without WebAssembly. */
function load() {
  loader ??= import("./chathub_loader.js").then(async (mod) => {
    try {
      await mod.default();
      return mod;
    } catch (e) {
      if (e?.code == "UNSUPPORTED_ENVIRONMENT") return null;
      throw e;
    }
  });
  // A failed download is not kept: a tag started later tries again.
  loader.catch(() => (loader = null));
  return loader;
}

/**
 * The chat cannot load here: the contact box from the tag's attributes,
 * the state event a manager would send, and one console error.
 */
async function fallBack(options, code, why) {
  let show;
  try {
    ({ showFallback: show } = await import("./fallback.js"));
  } catch (e) {
    return report(code, `${why}; no contact box either: ${e?.message ?? e}`);
  }
  try {
    show(options);
  } catch (e) {
    // A data-fallback-* the loader refuses: that is what to fix first.
    return report(e?.code ?? "INVALID_OPTIONS", e?.message ?? String(e));
  }
  emitState("chathub:statechange", options.org, "fallback", "idle", code, why);
  report(code, why + "; showing the contact box");
}

async function start(tag) {
  const options = optionsOf(tag);
  // Waited for here, before the glue and the .wasm are imported (the
  // constructor's own `trigger` would only wait after both are fetched and
  // compiled), and not passed on: the manager would wait a second time
  // (a second interaction, another idle period).
  const trigger = options.trigger ?? "eager";
  delete options.trigger;
  if (!TRIGGERS.includes(trigger))
    return report("INVALID_OPTIONS", `data-trigger must be one of ${TRIGGERS.join(", ")}, not "${trigger}"`);
  if (!options.tokenUrl?.trim())
    return report("INVALID_OPTIONS", 'data-token-url is required: the URL of your backend\'s token endpoint, e.g. data-token-url="/api/chathub/token"');
  // The loader's own wait (js/dom.js), bundled in: the same semantics as
  // the `trigger` option, before anything of the loader is downloaded.
  if (trigger != "eager") await waitTrigger(TRIGGERS.indexOf(trigger), options.container);
  // The token request beside the loader's download, not after it (none
  // once the loader is loaded: the manager then asks at once).
  else prefetchToken(options);
  let mod;
  try {
    mod = await load();
  } catch (e) {
    // init()'s code (WASM_HTTP, WASM_HTML, ...) when the .wasm failed: the
    // chat cannot load, as without WebAssembly.
    return fallBack(options, e?.code ?? "WIDGET_LOAD", `could not load the loader's files next to ${import.meta.url} (${e?.message ?? e})`);
  }
  // No WebAssembly here: the same contact box.
  if (!mod) return fallBack(options, "UNSUPPORTED_ENVIRONMENT", "WebAssembly cannot run on this page (turned off, or the CSP lacks 'wasm-unsafe-eval')");
  try {
    const manager = new mod.WidgetTokenManager(options);
    // The loader shows its own loading state and contact box, and reports
    // through `chathub:statechange`: nothing more to do with a failure.
    manager.initialize().catch(() => {});
  } catch (e) {
    report(e?.code ?? "INVALID_OPTIONS", e?.message ?? String(e));
  }
}

const me = import.meta.url;
const started = new WeakSet();
function startOnce(tag) {
  if (tag instanceof HTMLScriptElement && tag.src == me && !started.has(tag)) {
    started.add(tag);
    start(tag);
  }
}
// Imported where there is no page (a bundle's server-side render): no tag to start.
if (typeof document == "object") {
  for (const tag of document.querySelectorAll("script[src]")) startOnce(tag);
  // Tags inserted later: this module does not run again for them, but each
  // fires `load` (which does not bubble: caught on its way down).
  document.addEventListener("load", (e) => startOnce(e.target), true);
}
