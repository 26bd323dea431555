// `chathub-loader/fallback`: the contact box without WebAssembly, for
// pages where it cannot run (see `init()`'s UNSUPPORTED_ENVIRONMENT).
// Plain JS; built by `make pkg` into pkg/fallback.js with dom.js, so it
// looks like the loader's own box. Only what the page passes is shown,
// checked as the loader checks it: text as text, links only when they are
// an e-mail address, a phone number or an https: URL.
import { ensureStyle, fallbackBox } from "./dom.js";

function invalid(key, what) {
  const e = new Error(`chathub-loader: option \`${key}\` ${what}`);
  e.code = "INVALID_OPTIONS";
  return e;
}

// Characters the loader refuses in an e-mail address (src/validate.rs).
const NOT_EMAIL = /[\s\p{Cc}<>"'?&/\\@,;:()[\]]/u;
const isEmail = (s) => {
  const at = s.indexOf("@");
  const [local, domain] = [s.slice(0, at), s.slice(at + 1)];
  return new TextEncoder().encode(s).length <= 254 && at > 0 && !NOT_EMAIL.test(local) && !NOT_EMAIL.test(domain) && /^[^.].*\.[^]*[^.]$/.test(domain);
};
const PHONE = /^\+?[\d ().-]+$/;

const KEYS = ["title", "message", "email", "phone", "url", "buttonText"];

function text(fb, key, fallback) {
  const v = fb[key];
  if (v === undefined) return fallback;
  if (typeof v != "string") throw invalid("fallback." + key, "must be a string");
  return v;
}

/**
 * Shows the contact box from `options.fallback` in `options.container`
 * (a selector or an element; default <body>) and returns it, or null with
 * `fallback: false`. Its button reloads the page. Throws INVALID_OPTIONS
 * for a value the loader would refuse.
 */
export function showFallback(options = {}) {
  const fb = options.fallback ?? {};
  if (fb === false) return null;
  if (typeof fb != "object" || Array.isArray(fb)) throw invalid("fallback", "must be an object or false");
  for (const key of Object.keys(fb)) if (!KEYS.includes(key)) throw invalid("fallback." + key, "is not a known option");
  const doc = document;
  const c = options.container;
  let parent = null;
  try {
    parent = c == null ? doc.body : typeof c == "string" ? doc.querySelector(c) : c;
  } catch {
    throw invalid("container", `is not a valid CSS selector: "${c}"`);
  }
  if (!(parent instanceof Element)) throw invalid("container", "matches no element; render it first");
  const email = text(fb, "email", null);
  if (email != null && !isEmail(email)) throw invalid("fallback.email", "is not an e-mail address");
  const phone = text(fb, "phone", null);
  const digits = phone?.replace(/\D/g, "") ?? "";
  if (phone != null && !(PHONE.test(phone) && phone.length <= 40 && digits.length >= 3)) throw invalid("fallback.phone", "is not a phone number");
  let url = null;
  const rawUrl = text(fb, "url", null)?.trim();
  if (rawUrl != null) {
    // The loader's rules (src/validate.rs): a full https:// URL, no
    // spaces, control characters or backslashes, no user or password.
    if (/^https:\/\/[^\s\\\x00-\x1f\x7f]+$/i.test(rawUrl)) {
      try {
        url = new URL(rawUrl);
      } catch {
        // not a URL: refused below
      }
    }
    if (url?.protocol != "https:" || url.username || url.password) throw invalid("fallback.url", "must be a full https:// URL");
  }
  ensureStyle(doc, options.nonce);
  const box = fallbackBox(
    doc,
    text(fb, "title", "Chat is unavailable"),
    text(fb, "message", "We could not load the chat right now. Please try again, or contact us directly."),
    email,
    phone,
    phone == null ? null : "tel:" + (phone.trim().startsWith("+") ? "+" : "") + digits,
    url?.href ?? null,
    text(fb, "buttonText", "Try again"),
  );
  box.lastElementChild.addEventListener("click", () => location.reload());
  parent.appendChild(box);
  return box;
}
