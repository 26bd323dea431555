// `chathub-loader/fallback`: the contact box without WebAssembly, for
// pages where it cannot run (see `init()`'s UNSUPPORTED_ENVIRONMENT).
// Plain JS; built by `make pkg` into pkg/fallback.js with dom.js, so it
// looks like the loader's own box and `fallback` is checked by the very
// code the loader checks it with (readFallback): text as text, links only
// when they are an e-mail address, a phone number or an https: URL.
// Options are read from their own properties only.
import { ensureStyle, fallbackBox, invalid, own, readFallback } from "./dom.js";

/**
 * Shows the contact box from `options.fallback` in `options.container`
 * (a selector or an element; default <body>) and returns it, or null with
 * `fallback: false`. Its button reloads the page. Throws INVALID_OPTIONS
 * for a value the loader would refuse. Other options (a whole
 * WidgetTokenManager options object) are ignored.
 */
export function showFallback(options = {}) {
  if (options === null || typeof options != "object") throw invalid("options", "must be an object such as { fallback: { email } }");
  const doc = document;
  // Resolved against the page URL, as the loader resolves its URL options.
  const fb = readFallback(own(options, "fallback"), location.href);
  if (!fb) return null;
  const c = own(options, "container");
  let parent = null;
  try {
    parent = c == null ? doc.body : typeof c == "string" ? doc.querySelector(c) : c;
  } catch {
    throw invalid("container", `is not a valid CSS selector: "${c}"`);
  }
  if (!(parent instanceof Element)) throw invalid("container", "matches no element; render it first");
  const nonce = own(options, "nonce");
  if (nonce != null && typeof nonce != "string") throw invalid("nonce", "must be a string");
  ensureStyle(doc, nonce);
  const box = fallbackBox(doc, fb.title, fb.message, fb.email, fb.phone, fb.tel, fb.url, fb.buttonText);
  box.lastElementChild.addEventListener("click", () => location.reload());
  parent.appendChild(box);
  return box;
}
