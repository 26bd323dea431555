// The option checks the loader's Rust side (src/options/) and its plain-JS
// entries share, so that each rule has one definition: the contact box's
// options (`fallback`: `readFallback`, used by js/fallback.js and so by
// the adapters and auto.js; `fallbackFields` for src/options/parts.rs)
// and the URL spellings every URL option refuses (`urlTrick`, for
// tokenUrl, widgetSrc and fallback.url). Bundled by `make pkg` into the
// glue and into fallback.js; tested in Node by tests/pkg/options.test.mjs.
//
// Only an object's own properties count: a page whose Object.prototype
// was polluted (`url` or `title` set there by another script) must not
// put an attacker's link or words in the box.

const KEYS = ["title", "message", "email", "phone", "url", "buttonText"];

/** An INVALID_OPTIONS error naming `key`, worded as the loader's own. */
export function invalid(key, what) {
  const e = new Error(`chathub-loader: option \`${key}\` ${what}`);
  e.code = "INVALID_OPTIONS";
  return e;
}

/** `obj[key]` when `key` is the object's own property, else undefined. */
export const own = (obj, key) => (Object.prototype.hasOwnProperty.call(obj, key) ? obj[key] : undefined);

// Rust's eq_ignore_ascii_case, for the "did you mean".
const lower = (s) => s.replace(/[A-Z]/g, (c) => c.toLowerCase());
const typeName = (v) => (v === null ? "null" : Array.isArray(v) ? "an array" : typeof v);

// Characters an e-mail address behind `mailto:` must not have: white
// space, control characters, markup, and what would add headers (`?`,
// `&`) or a second address. \p{White_Space} and \p{Cc} are Rust's
// char::is_whitespace and char::is_control.
const NOT_EMAIL = /[\p{White_Space}\p{Cc}<>"'?&/\\@,;:()[\]]/u;

/** An address safe to put behind `mailto:`: one `@`, a dotted domain. */
function isEmail(s) {
  const at = s.indexOf("@");
  const local = s.slice(0, at);
  const domain = s.slice(at + 1);
  return (
    at > 0 &&
    new TextEncoder().encode(s).length <= 254 &&
    domain.includes(".") &&
    domain[0] != "." &&
    !domain.endsWith(".") &&
    !NOT_EMAIL.test(local) &&
    !NOT_EMAIL.test(domain)
  );
}

/**
 * The `tel:` href of a phone number written for humans (`+39 02 1234-567`
 * → `tel:+39021234567`), or null: digits, spaces and `+ - ( ) .` only, a
 * `+` only first, at least 3 digits, at most 40 characters.
 */
function telHref(s) {
  if (s.length > 40 || !/^\+?[\d ().-]*$/.test(s) || s.replace(/\D/g, "").length < 3) return null;
  return "tel:" + s.replace(/[^\d+]/g, "");
}

/**
 * Why a URL option as the page wrote it must be refused before it is
 * parsed, or null: control characters or spaces (`java\tscript:` parses
 * as `javascript:`), backslashes (parsers read them as `/`), a
 * protocol-relative `//host` (its protocol is whatever the page has), a
 * scheme other than http(s), or `https:` without `//` (which resolves as
 * a path on the page's own host). src/options/url.rs asks it for tokenUrl
 * and widgetSrc, with surrounding white space already trimmed.
 */
export function urlTrick(raw) {
  if (/[\0- \x7f]/.test(raw)) return "must not contain spaces or control characters";
  if (raw.includes("\\")) return "must not contain a backslash";
  if (raw.startsWith("//")) return "is protocol-relative (//host)";
  const scheme = /^([^:/?#]*):/.exec(raw);
  if (scheme && /^[a-z][a-z\d+.-]*$/i.test(scheme[1])) {
    if (!/^https?$/i.test(scheme[1])) return "must be an http(s) URL";
    if (!raw.startsWith("//", scheme[0].length)) return "has no // after its scheme";
  }
  return null;
}

/** `fallback.url`: an https: URL (a path resolves against `base`), without a user or password. */
function webLink(value, base) {
  // Surrounding white space goes, as the URL parser would drop it (and as
  // the loader's other URL options do); inside, it is refused. (A loop: a
  // `\s+$` regex backtracks quadratically over a long run of spaces.)
  let start = 0;
  let end = value.length;
  while (start < end && "\t\n\f\r ".includes(value[start])) start++;
  while (end > start && "\t\n\f\r ".includes(value[end - 1])) end--;
  const raw = value.slice(start, end);
  const why = urlTrick(raw);
  if (why) throw invalid("fallback.url", why + "; write the full https:// URL");
  let url;
  try {
    url = new URL(raw, base);
  } catch {
    throw invalid("fallback.url", `is not a valid URL: "${raw}"`);
  }
  if (url.protocol != "https:") throw invalid("fallback.url", "must be an https: URL");
  if (url.username || url.password) throw invalid("fallback.url", "must not contain a user name or password");
  return url.href;
}

/**
 * Checks and normalises the `fallback` option against the page URL
 * `base`. `undefined` is the default box, `false` none (null returned);
 * an object may have `title`, `message`, `email`, `phone`, `url` and
 * `buttonText`, each a string. Returns `{ title, message, email, phone,
 * tel, url, buttonText }` (`email`, `phone`, `tel`, `url` null when not
 * given), or throws INVALID_OPTIONS naming the key: any other value
 * (`null` too), an unknown key (with a "did you mean"), a value that is
 * not a string, an e-mail address, phone number or https: URL that is
 * none or could mean something else.
 */
export function readFallback(value, base) {
  if (value === false) return null;
  const fb = value === undefined ? {} : value;
  if (fb === null || typeof fb != "object" || Array.isArray(fb))
    throw invalid("fallback", `must be an object { title, message, email, phone, url, buttonText } or false (got ${typeName(fb)})`);
  for (const key of Object.keys(fb))
    if (!KEYS.includes(key)) {
      const near = KEYS.find((k) => lower(k) == lower(key));
      throw invalid("fallback." + key, "is not a known option" + (near ? `; did you mean \`fallback.${near}\`?` : "; known options are: " + KEYS.join(", ")));
    }
  const text = (key, otherwise) => {
    const v = own(fb, key);
    if (v === undefined) return otherwise;
    if (typeof v != "string") throw invalid("fallback." + key, "must be a string, got " + typeName(v));
    return v;
  };
  const email = text("email", null);
  if (email != null && !isEmail(email)) throw invalid("fallback.email", `is not an e-mail address: "${email}"`);
  const phone = text("phone", null);
  const tel = phone == null ? null : telHref(phone);
  if (phone != null && !tel) throw invalid("fallback.phone", `is not a phone number (digits, spaces, + - ( ) .): "${phone}"`);
  const url = text("url", null);
  const link = url == null ? null : webLink(url, base);
  return {
    title: text("title", "Chat is unavailable"),
    message: text("message", "We could not load the chat right now. Please try again, or contact us directly."),
    email,
    phone,
    tel,
    url: link,
    buttonText: text("buttonText", "Try again"),
  };
}

/**
 * `readFallback` for the loader's Rust side: the fields in the order
 * title, message, email, phone, tel, url, buttonText; null for `false`;
 * or the INVALID_OPTIONS message (a string) when the value is refused.
 */
export function fallbackFields(value, base) {
  try {
    const f = readFallback(value, base);
    return f && [f.title, f.message, f.email, f.phone, f.tel, f.url, f.buttonText];
  } catch (e) {
    return e.message;
  }
}
