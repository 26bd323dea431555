// The option checks in js/dom.js that the loader's Rust side and its
// plain-JS entries share (the contact box's options, the URL spellings
// every URL option refuses), in Node: the rules as examples, and as
// properties over random input (seeded, reproducible; a failure prints the
// input). These checks were Rust (src/validate.rs, with its proptests)
// before they moved here; on 200,000 random strings (e-mail, phone) and
// 300,000 (URLs) the two gave the same answers.
//
//   node tests/pkg/options.test.mjs        (in make pkg-test)

import { headerRecord, readFallback, urlTrick } from "../../js/dom.js";

const BASE = "https://shop.example/help/page.html";
let failed = 0;
let checks = 0;
function check(cond, what) {
  checks += 1;
  if (!cond) {
    failed += 1;
    console.log(`FAIL ${what}`);
  }
}
/** The error code and message `readFallback(value)` throws, or its result. */
function read(value, base = BASE) {
  try {
    return { ok: readFallback(value, base) };
  } catch (e) {
    return { code: e.code, message: e.message };
  }
}
const refused = (value, key) => {
  const r = read(value);
  check(r.code === "INVALID_OPTIONS" && r.message.includes(`\`${key}\``), `${JSON.stringify(value)} is refused naming ${key}: ${JSON.stringify(r)}`);
  return r;
};

// Defaults, false, null.
const defaults = read(undefined).ok;
check(defaults.title === "Chat is unavailable" && defaults.buttonText === "Try again" && defaults.email === null && defaults.url === null, "undefined is the default box");
check(read({}).ok.title === "Chat is unavailable", "{} is the default box");
check(read(false).ok === null, "false is no box");
for (const v of [null, true, "x", 5, [], () => {}]) refused(v, "fallback");
check(/must be an object .* or false \(got null\)/.test(read(null).message), `null's message: ${read(null).message}`);

// Unknown keys, with a "did you mean".
check(/did you mean `fallback.title`\?/.test(refused({ Title: "x" }, "fallback.Title").message), "did you mean title");
check(/known options are: title, message, email, phone, url, buttonText/.test(refused({ colour: "red" }, "fallback.colour").message), "the known options listed");
refused(JSON.parse('{"__proto__": {"url": "https://evil.example/"}}'), "fallback.__proto__");
refused({ constructor: {} }, "fallback.constructor");
for (const key of ["title", "message", "email", "phone", "url", "buttonText"]) refused({ [key]: 5 }, `fallback.${key}`);
check(/must be a string, got null/.test(read({ title: null }).message), "null text: 'got null'");

// E-mail addresses (the examples of the former validate.rs tests).
for (const ok of ["support@example.com", "first.last+chat@sub.example.co.uk"]) check(read({ email: ok }).ok?.email === ok, `accepts ${ok}`);
for (const bad of ["a@example.com?bcc=x@evil.com", "<b>@example.com", "no-at-sign", "a@localhost", "a b@example.com", "a@@example.com", "@example.com", "a@.example.com", "a@example.com.", "a\u00a0b@example.com", "a@exa\u2003mple.com", "a\u0085@example.com", "x".repeat(250) + "@e.com"])
  refused({ email: bad }, "fallback.email");

// Phone numbers become tel: links of digits (and a leading +).
check(read({ phone: "+39 02 1234-567" }).ok?.tel === "tel:+39021234567", "tel:+39021234567");
check(read({ phone: "(555) 010.0199" }).ok?.tel === "tel:5550100199", "tel:5550100199");
check(read({ phone: "+39 02 1234-567" }).ok?.phone === "+39 02 1234-567", "the label stays as written");
check(read({ phone: "1".repeat(40) }).ok?.tel === "tel:" + "1".repeat(40), "40 characters are fine");
for (const bad of ["call us", "javascript:alert(1)", "12", "1+2345", "", " +39 02 1234", "1".repeat(41), "١٢٣٤"]) refused({ phone: bad }, "fallback.phone");

// Links: https only; what would mean something else than it reads is refused.
check(read({ url: "https://example.com/contact" }).ok?.url === "https://example.com/contact", "an https URL");
check(read({ url: "  https://example.com/x\n" }).ok?.url === "https://example.com/x", "white space around is dropped");
check(read({ url: "/contact" }).ok?.url === "https://shop.example/contact", "a path on an https page");
check(read({ url: "/contact" }, "http://127.0.0.1:8080/").code === "INVALID_OPTIONS", "a path on an http page is not https");
for (const bad of [
  "javascript:alert(1)",
  "JavaScript:alert(1)",
  " javascript:alert(1)",
  "java\tscript:alert(1)",
  "data:text/html,x",
  "blob:https://example.com/0b6e",
  "//evil.example/x",
  "\\\\evil.example\\x",
  "/\\evil.example/x",
  "https:evil.example/x",
  "https:/evil.example/x",
  "http://example.com/",
  "https://user:pw@example.com/",
  "https://exa mple.com/",
  "https://[bad/",
])
  refused({ url: bad }, "fallback.url");

// The URL spellings every URL option refuses (tokenUrl, widgetSrc too).
for (const ok of ["/api/chathub/token", "api/token?org=a:b", "https://widget.example.com/w.js", "HTTP://localhost:8080/w.js", "?org=x"])
  check(urlTrick(ok) === null, `${ok} is an ordinary URL: ${urlTrick(ok)}`);
for (const bad of [
  "javascript:alert(1)",
  "JavaScript:alert(1)",
  " javascript:alert(1)",
  "java\tscript:alert(1)",
  "java\nscript:x",
  "data:text/javascript,alert(1)",
  "blob:https://example.com/x",
  "//evil.example/w.js",
  "\\\\evil.example/w.js",
  "/\\evil.example/w.js",
  "https:evil.example/w.js",
  "https:/evil.example/w.js",
])
  check(typeof urlTrick(bad) == "string", `${JSON.stringify(bad)} is refused`);

// Own properties only: a polluted Object.prototype configures nothing.
for (const key of ["title", "message", "email", "phone", "url", "buttonText"]) Object.prototype[key] = key == "url" ? "https://evil.example/" : "Pwned";
try {
  const r = read({ email: "help@example.com" });
  check(r.ok && r.ok.url === null && r.ok.title === "Chat is unavailable" && r.ok.phone === null, `inherited keys are not options: ${JSON.stringify(r)}`);
  check(read(undefined).ok?.url === null, "inherited keys do not fill the defaults");
} finally {
  for (const key of ["title", "message", "email", "phone", "url", "buttonText"]) delete Object.prototype[key];
}

// Properties over random strings (seeded): what is accepted is safe.
let seed = 0x5eed;
const random = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
const ALPHABET = [..."ab.@+-() 0123456789<>\"'?&/\\,;:[]", "\t", "\n", "\u00a0", "\u2003", "\u0085", "\u200b", "é", "\ufeff", "😀"];
const randomString = (max) => Array.from({ length: Math.floor(random() * max) }, () => ALPHABET[Math.floor(random() * ALPHABET.length)]).join("");
for (let i = 0; i < 10_000; i++) {
  const s = randomString(30);
  const email = read({ email: s });
  if (email.ok) {
    check(s.split("@").length == 2 && !/[<>"'?&\\ ]/.test(s) && !/\p{White_Space}/u.test(s), `an accepted e-mail address is one address without markup or headers: ${JSON.stringify(s)}`);
  } else check(email.code === "INVALID_OPTIONS", `refused as INVALID_OPTIONS: ${JSON.stringify(s)}`);
  const phone = read({ phone: s });
  if (phone.ok) {
    const rest = phone.ok.tel.slice(4);
    check(phone.ok.tel.startsWith("tel:") && /^\+?\d{3,}$/.test(rest), `a phone link is digits only: ${JSON.stringify(s)} -> ${phone.ok.tel}`);
  } else check(phone.code === "INVALID_OPTIONS", `refused as INVALID_OPTIONS: ${JSON.stringify(s)}`);
  for (const scheme of ["javascript", "data", "blob", "vbscript", "file", "JAVASCRIPT"]) {
    const r = read({ url: `${scheme}:${s}` });
    check(r.code === "INVALID_OPTIONS", `${scheme}: URLs are refused: ${JSON.stringify(s)}`);
  }
  for (const scheme of ["javascript", "data", "blob", "vbscript", "file"])
    for (const refused of [`${scheme}:${s}`, `${scheme.toUpperCase()}:${s}`, `//${s}`])
      check(typeof urlTrick(refused) == "string", `refused before parsing: ${JSON.stringify(refused)}`);
  const around = randomString(10).replace(/[^a-z:/.]/g, "");
  for (const c of ["\t", "\n", "\r", "\0", "\\", " ", "\x7f"])
    check(typeof urlTrick(around + c + around) == "string", `control characters, spaces and backslashes: ${JSON.stringify(around + c + around)}`);
  const link = read({ url: s });
  if (link.ok) check(link.ok.url.startsWith("https://"), `an accepted link is https: ${JSON.stringify(s)} -> ${link.ok.url}`);
}

// fetchInit.headers, one reading for the loader and prefetchToken.
{
  const rec = (h) => {
    try {
      return JSON.stringify(headerRecord(h));
    } catch {
      return "throws";
    }
  };
  const plain = { "X-User": "ann" };
  check(headerRecord(plain) === plain, "headers: a plain object is read as itself");
  check(rec(new Map([["X-User", "ann"]])) === '{"X-User":"ann"}', "headers: a Map is its entries");
  check(rec(new Headers({ "X-User": "ann" })) === '{"x-user":"ann"}', "headers: a Headers is its entries");
  check(rec([["X-User", "ann"], ["X-User", "bob"]]) === '{"X-User":"bob"}', "headers: repeated pairs, the last wins");
  check(rec(new Set(["X-User: ann"])) === "throws", "headers: an iterable not of pairs throws");
  check(headerRecord(null) === null && headerRecord("x") === "x", "headers: not an object is the caller's to refuse");
  Object.prototype[Symbol.iterator] = function* () {
    yield ["X-User", "evil"];
  };
  try {
    check(headerRecord(plain) === plain, "headers: a polluted Object.prototype iterator does not make a plain object iterable");
    const bare = Object.assign(Object.create(null), plain);
    check(headerRecord(bare) === bare, "headers: a null-prototype object is read as itself");
  } finally {
    delete Object.prototype[Symbol.iterator];
  }
}

console.log(failed ? `options: ${failed} of ${checks} checks FAILED` : `options: ${checks} checks passed`);
process.exit(failed ? 1 : 0);
