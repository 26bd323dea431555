// DOM building for the loader's own UI (see src/ui.rs). Plain
// createElement + textContent: no innerHTML. Bundled into the package's
// glue by `make pkg` (esbuild), so no separate file ships.

// Every element the loader creates has a class (or id) starting with this.
const PREFIX = "chathub-loader";
const STYLE_ID = PREFIX + "-style";
const CSS =
  ".chathub-loader-status{font:inherit;color:var(--chathub-loader-muted,#555);padding:.75em 0}.chathub-loader-fallback{box-sizing:border-box;max-width:28rem;margin:1em 0;padding:1em 1.25em;border:1px solid var(--chathub-loader-border,#d0d4da);border-radius:var(--chathub-loader-radius,8px);background:var(--chathub-loader-bg,#fff);color:var(--chathub-loader-fg,#1c1e21);font:inherit}.chathub-loader-fallback h2{font-size:1.1em;margin:0 0 .5em}.chathub-loader-fallback p{margin:0 0 .75em}.chathub-loader-fallback ul{list-style:none;margin:0 0 .75em;padding:0}.chathub-loader-fallback li{margin:.25em 0}.chathub-loader-fallback a{color:var(--chathub-loader-accent,#0a58ca)}.chathub-loader-fallback button{font:inherit;cursor:pointer;padding:.4em 1em;border:0;border-radius:var(--chathub-loader-radius,8px);background:var(--chathub-loader-accent,#0a58ca);color:var(--chathub-loader-accent-fg,#fff)}";

function el(doc, tag, cls, text) {
  const e = doc.createElement(tag);
  if (cls) e.className = cls;
  if (text != null) e.textContent = text;
  return e;
}

// This module's URL: the package's glue once bundled (`make pkg`).
const SELF = import.meta.url;

/**
 * The page's CSP nonce, for pages that did not pass `nonce`: the one on
 * the <script> that loaded this module, else the first script's. Read
 * from the `nonce` property: browsers hide the attribute's value.
 */
export function pageNonce(doc) {
  let first;
  for (const s of doc.scripts) {
    const n = s.nonce;
    if (!n) continue;
    if (s.src == SELF) return n;
    first ??= n;
  }
  return first;
}

/** Injects the loader's style once, first in <head>. */
export function ensureStyle(doc, nonce) {
  if (doc.getElementById(STYLE_ID)) return;
  const style = doc.createElement("style");
  style.id = STYLE_ID;
  nonce ??= pageNonce(doc);
  if (nonce != null) style.setAttribute("nonce", nonce);
  style.textContent = CSS;
  const head = doc.head;
  // First in <head>, so the page's own rules win without !important.
  if (head) head.insertBefore(style, head.firstChild);
}

/** The loading status element (not yet in the document). */
export function statusBox(doc, text) {
  const status = el(doc, "div", "chathub-loader-status", text);
  status.setAttribute("role", "status");
  status.setAttribute("aria-live", "polite");
  return status;
}

/** The contact box (not yet in the document); its last child is the button. */
export function fallbackBox(doc, title, message, email, phone, tel, url, buttonText) {
  const box = el(doc, "section", "chathub-loader-fallback");
  box.setAttribute("role", "region");
  box.setAttribute("aria-label", title);
  box.appendChild(el(doc, "h2", "", title));
  box.appendChild(el(doc, "p", "", message));
  const links = [];
  if (email != null) links.push(["mailto:" + email, email]);
  if (phone != null) links.push([tel, phone]);
  if (url != null) links.push([url, url]);
  if (links.length) {
    const list = el(doc, "ul");
    for (const [href, label] of links) {
      const a = el(doc, "a", "", label);
      a.setAttribute("href", href);
      if (href.startsWith("http")) {
        a.setAttribute("rel", "noopener noreferrer");
        a.setAttribute("target", "_blank");
      }
      const li = el(doc, "li");
      li.appendChild(a);
      list.appendChild(li);
    }
    box.appendChild(list);
  }
  const button = el(doc, "button", "", buttonText);
  button.setAttribute("type", "button");
  box.appendChild(button);
  return box;
}

// ---------------------------------------------------------------------
// The option checks the loader's Rust side (src/options/) and the plain-JS
// entries share, so that each rule has one definition: the contact box's
// options (`fallback`: `readFallback`, used by js/fallback.js and so by
// the adapters and auto.js; `fallbackFields` for src/options/parts.rs)
// and the URL spellings every URL option refuses (`urlTrick`, for
// tokenUrl, widgetSrc and fallback.url). Here rather than in a module of
// their own: the browser suite's runner serves each module the crate
// imports as a request of its own, and one more made its page load stall
// now and then. Tested in Node by tests/pkg/options.test.mjs.
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

// ---------------------------------------------------------------------

// Buttons that had focus when they were disabled (focus comes back after).
const hadFocus = new WeakSet();

/** The contact box's button while its attempt runs: disabled, saying `text`. */
export function setBusy(button, busy, text) {
  const doc = button.ownerDocument;
  if (busy && doc.activeElement == button) hadFocus.add(button);
  button.disabled = busy;
  button.setAttribute("aria-busy", String(busy));
  button.textContent = text;
  if (!busy && hadFocus.delete(button) && (doc.activeElement == null || doc.activeElement == doc.body)) button.focus();
}

/**
 * Waits for `target` (a module script, or a modulepreload link) to load.
 * A promise of "load", "error" or "throw" (the module at `url` threw while
 * it evaluated: the browser still fires `load` after reporting the
 * exception on window). The exception counts when its `filename` is
 * `url`, or when it is reported in the task that then fires `load`, as an
 * evaluation's is: a `url` that redirects (a CDN's versioned URL) is
 * reported with its final URL in Chromium and WebKit, or none. In that
 * task, the page's own scripts (its origin, outside the widget's folder:
 * a MutationObserver of the page that throws on the widget's elements)
 * do not count. No deadline here: the loader's machine gives the wait up
 * (`cancel()`) when its own passes.
 *
 * With `url` (a module script), it also watches what the evaluation adds to <body>:
 * `ui()` hands those elements over to the caller. A removed module script
 * that is already fetching still evaluates later, so `cancel()` (the wait
 * was dropped: destroy, or the deadline passed) keeps watching for a
 * minute, until the late evaluation happens, and removes what it added.
 */
export function waitLoad(doc, target, url) {
  // Only a module script (given with its `url`) evaluates, maybe late.
  const stop = url != null ? watchUi(doc) : null;
  let threw = false;
  // An error was reported in the current task (cleared by the next one).
  let recent = false;
  let ui = null;
  let reaping = false;
  let resolve;
  let timer;
  const wait = new Promise((r) => (resolve = r));
  // What the widget's evaluation may report as its file: anything but the
  // page's own scripts (for a widget on the page's origin, those outside
  // its folder).
  const page = location.origin + "/";
  let folder = null;
  if (url != null) {
    const w = new URL(url, page);
    if (w.origin == location.origin) folder = w.origin + w.pathname.slice(0, w.pathname.lastIndexOf("/") + 1);
  }
  const widgets = (f) => !f.startsWith(page) || (folder != null && f.startsWith(folder));
  const onThrow = (e) => {
    if (!(e instanceof ErrorEvent)) return;
    if (e.filename === url) threw = true;
    else if (widgets(String(e.filename))) {
      recent = true;
      setTimeout(() => (recent = false));
    }
  };
  const listen = (on) => {
    const f = on ? "addEventListener" : "removeEventListener";
    target[f]("load", onLoad);
    target[f]("error", onError);
    if (url != null) window[f]("error", onThrow);
  };
  const end = () => {
    clearTimeout(timer);
    listen(false);
  };
  const done = (what) => {
    end();
    if (reaping) {
      // The late evaluation happened: undo what it added. After `error` or
      // the minute nothing evaluated: what <body> got is somebody else's.
      const late = stop();
      if (what == "load") for (const n of late) n.remove();
      return;
    }
    ui = stop ? stop() : [];
    resolve(what == "load" && (threw || recent) ? "throw" : what);
  };
  const onLoad = () => done("load");
  const onError = () => done("error");
  listen(true);
  wait.ui = () => {
    const taken = ui || [];
    ui = [];
    return taken;
  };
  wait.cancel = () => {
    // Settled but not taken: nobody owns what the evaluation added.
    if (ui) for (const n of wait.ui()) n.remove();
    else if (!reaping) {
      resolve("error");
      // Nobody waits any more; a late evaluation is removed when it happens.
      if (!stop) return end();
      reaping = true;
      window.removeEventListener("error", onThrow);
      timer = setTimeout(done, 60000);
    }
  };
  return wait;
}

/**
 * Watches <body>'s children while the widget script runs. The returned
 * function stops watching (idempotent) and returns the elements (not ours,
 * not scripts, still connected) added in the current task: a module's
 * top-level code runs, its mutation records are delivered (a microtask)
 * and its `load` fires, all in one task, so what the page added in earlier
 * tasks, while the module was downloading, is forgotten by then.
 */
function watchUi(doc) {
  const added = (records) => {
    const out = [];
    for (const r of records)
      for (const n of r.addedNodes)
        if (n instanceof Element && !(String(n.className).startsWith(PREFIX) || n.tagName == "SCRIPT"))
          out.push(n);
    return out;
  };
  let last = [];
  let clear;
  let observer = null;
  const body = doc.body;
  if (body) {
    try {
      observer = new MutationObserver((records) => {
        const batch = added(records);
        if (!batch.length) return;
        last = batch;
        clearTimeout(clear);
        clear = setTimeout(() => (last = []));
      });
      observer.observe(body, { childList: true });
    } catch {
      observer = null;
    }
  }
  return () => {
    if (!observer) return [];
    clearTimeout(clear);
    const pending = added(observer.takeRecords());
    observer.disconnect();
    observer = null;
    return last.concat(pending).filter((n) => n.isConnected);
  };
}

/**
 * The page signals a manager listens to: `check(online)` on visibilitychange
 * (when visible), online (true) and pageshow; `signal(message)` on unhandledrejection
 * (which carries no URL) and on a window error raised by the widget's code,
 * so the host app's own "Session token expired" is not the widget's: its
 * `filename` must be on the widget's origin, and, for a widget served from
 * the page's own origin, under the widget's folder. With several orgs on
 * the page, an error whose `filename` is the module URL of one of the
 * widget tags counts only for the manager of that tag (`tagId`): sales'
 * expired token must not reload support's chat. A `widgetSrc` that
 * redirects (to a CDN's versioned URL) has its errors reported with the
 * final URL, on an origin or in a folder the loader does not know: a
 * `filename` whose file name is the widget's (`widget-script.js`) counts
 * as the widget's too (not one whose name the redirect changes). Returns
 * the function that removes the listeners.
 */
export function watchPage(doc, win, check, signal, widgetSrc, tagId) {
  const w = new URL(widgetSrc);
  const scope = w.origin + (w.origin == win.location.origin ? w.pathname.slice(0, w.pathname.lastIndexOf("/") + 1) : "/");
  // The last segment of a URL's path (`widget-script.js`), "" for none.
  const fileName = (url) => {
    try {
      return new URL(url).pathname.split("/").pop();
    } catch {
      return "";
    }
  };
  const name = fileName(widgetSrc);
  const fromWidget = (file) => {
    if (typeof file != "string") return false;
    const tags = [...doc.querySelectorAll('script[id^="operator-chat-panel-script"]')].filter((s) => s.src == file);
    return tags.length ? tags.some((s) => s.id == tagId) : file.startsWith(scope) || (name != "" && fileName(file) == name);
  };
  const listeners = [
    [doc, "visibilitychange", () => doc.visibilityState == "visible" && check(false)],
    [win, "online", () => check(true)],
    [win, "pageshow", () => check(false)],
    [win, "error", (e) => e instanceof ErrorEvent && fromWidget(e.filename) && signal(e.message)],
    [
      win,
      "unhandledrejection",
      (e) => {
        let message = "";
        if (e instanceof PromiseRejectionEvent) {
          const reason = e.reason;
          if (typeof reason == "string") message = reason;
          else {
            try {
              const m = Reflect.get(reason, "message");
              if (typeof m == "string") message = m;
            } catch {
              // not an object: no message
            }
          }
        }
        signal(message);
      },
    ],
  ];
  for (const [target, type, f] of listeners) target.addEventListener(type, f, { passive: true });
  return () => {
    for (const [target, type, f] of listeners) target.removeEventListener(type, f);
  };
}

/**
 * Waits for a load trigger (see src/trigger.rs): `kind` 1, idle
 * (requestIdleCallback with a 5 s timeout; where it is missing, as in
 * Safari, 200 ms after the page's `load`); 2, visible (`target`, an element
 * or a selector, intersects the viewport; at once without one: the default
 * container, document.body); 3, interaction (the first pointerdown, keydown,
 * touchstart, scroll or wheel anywhere on the page: passive capture
 * listeners on window). A promise that resolves when it fires, with
 * `end()`, which ends the wait at once: every listener, observer and
 * timer removed (idempotent), the promise resolved.
 */
export function waitTrigger(kind, target) {
  let resolve;
  const undo = [];
  const wait = new Promise((r) => (resolve = r));
  const fire = (wait.end = () => {
    for (const f of undo.splice(0)) f();
    resolve();
  });
  if (typeof target == "string") {
    try {
      target = document.querySelector(target);
    } catch {
      // Not a selector (auto.js's data-container="##"): no wait; the
      // constructor reports it as INVALID_OPTIONS naming `container`.
      target = null;
    }
  }
  if (kind == 1) {
    if (window.requestIdleCallback) {
      const id = requestIdleCallback(fire, { timeout: 5000 });
      undo.push(() => cancelIdleCallback(id));
    } else {
      const later = () => undo.push(clearTimeout.bind(null, setTimeout(fire, 200)));
      if (document.readyState == "complete") later();
      else undo.push(listen(window, "load", later));
    }
  } else if (kind == 2) {
    if (!target) fire();
    else {
      const io = new IntersectionObserver((entries) => entries.some((e) => e.isIntersecting) && fire());
      io.observe(target);
      undo.push(() => io.disconnect());
    }
  } else for (const type of ["pointerdown", "keydown", "touchstart", "scroll", "wheel"]) undo.push(listen(window, type, fire, true));
  return wait;
}

/** Calls `f()` once after `ms`; returns the canceller. */
export function timer(f, ms) {
  const id = setTimeout(() => f(), ms);
  return () => clearTimeout(id);
}

/** Calls `f()` on each `type` event of `target` (in the capture phase with `capture`); returns the remover. */
export function listen(target, type, f, capture) {
  const handler = () => f();
  target.addEventListener(type, handler, { passive: true, capture });
  return () => target.removeEventListener(type, handler, { capture });
}

/**
 * Dispatches the state event on `window` with `detail` { org, state,
 * previous, error } (error: { code, message[, status] } or null).
 */
export function emitState(type, org, state, previous, code, message, status) {
  if (typeof window == "undefined" || !(window instanceof Window)) return;
  let error = null;
  if (code != null) {
    error = { code, message };
    if (status != null) error.status = status;
  }
  window.dispatchEvent(new CustomEvent(type, { detail: { org: org ?? null, state, previous, error } }));
}

/** The `<script>` tags with this id (the page's or ours), in document order. */
export function findTags(doc, id) {
  return [...doc.querySelectorAll("script[id]")].filter((el) => el instanceof HTMLScriptElement && el.id == id);
}

/**
 * Takes a widget off the page: the UI elements it added, its tag, every
 * other tag with `id`, and what `selector` (the page's widgetSelector)
 * matches. Returns `restore()`, which puts each node back where it was:
 * the running widget's own code still holds them, so a refresh whose new
 * evaluation fails can give the page back the widget that worked (an
 * already-run module script is not run again when re-inserted).
 */
export function takeWidget(doc, ui, script, id, selector) {
  const nodes = [...ui, ...findTags(doc, id)];
  if (script) nodes.push(script);
  if (selector != null) {
    try {
      nodes.push(...doc.querySelectorAll(selector));
    } catch {
      // checked when the options were read
    }
  }
  const places = [];
  // Only nodes still on the page: one inside a node already taken travels
  // with it (and comes back with it).
  for (const n of new Set(nodes))
    if (n instanceof Element && n.isConnected) {
      places.push([n, n.parentNode, n.nextSibling]);
      n.remove();
    }
  return () => {
    for (const [n, parent, next] of places.reverse())
      if (parent.isConnected) parent.insertBefore(n, next && next.parentNode == parent ? next : null);
  };
}

const setAttrs = (el, attrs) => {
  for (const [name, value] of attrs) if (value != null) el.setAttribute(name, value);
};

// Trusted Types: one policy per page, named for the page's CSP
// (`trusted-types chathub-loader`), that turns exactly the URL the loader
// validated and is inserting into a TrustedScriptURL and refuses anything
// else.
let policy = null;
let policyRefused = false;
let allowed = null;

function scriptUrl(src) {
  const tt = globalThis.trustedTypes;
  if (!tt || policyRefused) return src;
  if (!policy) {
    try {
      policy = tt.createPolicy(PREFIX, {
        createScriptURL: (u) => {
          if (u !== allowed) throw new TypeError(PREFIX + ": not the widget URL it validated");
          return u;
        },
      });
    } catch {
      // The page restricts policy names: a plain string still works unless
      // it also requires Trusted Types (then the assignment says so).
      policyRefused = true;
      return src;
    }
  }
  allowed = src;
  try {
    return policy.createScriptURL(src);
  } finally {
    allowed = null;
  }
}

/** The widget's module tag, not yet in the document; throws what went wrong (a string). */
export function scriptTag(doc, id, token, src, nonce, integrity, crossorigin) {
  const script = doc.createElement("script");
  script.type = "module";
  script.id = id;
  script.setAttribute("token", token);
  setAttrs(script, [["nonce", nonce ?? pageNonce(doc)], ["integrity", integrity], ["crossorigin", crossorigin]]);
  try {
    script.src = scriptUrl(src);
  } catch {
    throw policyRefused
      ? `the page requires Trusted Types and its CSP does not allow the policy "${PREFIX}"; add it to the trusted-types directive (trusted-types ${PREFIX})`
      : "the page's Trusted Types rules refused the widget URL";
  }
  return script;
}

/** A `<link rel="modulepreload">` for `href`, not yet in the document; null where unsupported. */
export function preloadTag(doc, href, nonce, integrity, crossorigin) {
  const link = doc.createElement("link");
  let supported = false;
  try {
    supported = link.relList.supports("modulepreload");
  } catch {
    // no supported tokens: not supported
  }
  if (!supported) return null;
  link.rel = "modulepreload";
  setAttrs(link, [["nonce", nonce ?? pageNonce(doc)], ["integrity", integrity], ["crossorigin", crossorigin]]);
  link.href = href;
  return link;
}

/** Appends `el` to <head> (or the root element): undefined, or what went wrong. */
export function appendToHead(doc, el) {
  const parent = doc.head ?? doc.documentElement;
  if (!parent) return "the document has no root element";
  try {
    parent.appendChild(el);
  } catch {
    return "could not insert an element into the document";
  }
}

/** The monotonic clock every deadline of the loader is on. */
export function monoNow() {
  return performance.now();
}

/** Removes the loader's style sheet once none of its UI is left on the page. */
export function dropStyle(doc) {
  if (!doc.querySelector(".chathub-loader-status,.chathub-loader-fallback")) doc.getElementById(STYLE_ID)?.remove();
}

/**
 * WebAssembly cannot run here: it is missing, or compiling and
 * instantiating the smallest module fails (a CSP without
 * 'wasm-unsafe-eval', WebAssembly turned off). WebKit compiles it under
 * such a CSP and refuses only the instance ("Refused to create a
 * WebAssembly object"), so both are tried.
 */
export function blocked() {
  try {
    new WebAssembly.Instance(new WebAssembly.Module(Uint8Array.of(0, 97, 115, 109, 1, 0, 0, 0)));
    return false;
  } catch {
    return true;
  }
}

/**
 * `fetchInit.headers` as an object of names to values, one reading for
 * the loader (src/options/parts.rs) and prefetchToken: a `Headers`, an
 * array, a `Map` or any other iterable of `[name, value]` pairs through
 * `Object.fromEntries` (the last of a repeated name wins; throws when it
 * is not of pairs), a plain object as itself whatever `Object.prototype`
 * was given, anything else as it is (the caller refuses it).
 */
export function headerRecord(h) {
  if (h === null || typeof h != "object") return h;
  const proto = Object.getPrototypeOf(h);
  return proto !== Object.prototype && proto !== null && h[Symbol.iterator] ? Object.fromEntries(h) : h;
}
