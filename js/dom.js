// DOM building for the loader's own UI (see src/ui.rs). Plain
// createElement + textContent: no innerHTML. Bundled into the package's
// glue by `make pkg` (esbuild), so no separate file ships.

const STYLE_ID = "chathub-loader-style";
const CSS =
  ".chathub-loader-status{font:inherit;color:var(--chathub-loader-muted,#555);padding:.75em 0}.chathub-loader-fallback{box-sizing:border-box;max-width:28rem;margin:1em 0;padding:1em 1.25em;border:1px solid var(--chathub-loader-border,#d0d4da);border-radius:var(--chathub-loader-radius,8px);background:var(--chathub-loader-bg,#fff);color:var(--chathub-loader-fg,#1c1e21);font:inherit}.chathub-loader-fallback h2{font-size:1.1em;margin:0 0 .5em}.chathub-loader-fallback p{margin:0 0 .75em}.chathub-loader-fallback ul{list-style:none;margin:0 0 .75em;padding:0}.chathub-loader-fallback li{margin:.25em 0}.chathub-loader-fallback a{color:var(--chathub-loader-accent,#0a58ca)}.chathub-loader-fallback button{font:inherit;cursor:pointer;padding:.4em 1em;border:0;border-radius:var(--chathub-loader-radius,8px);background:var(--chathub-loader-accent,#0a58ca);color:var(--chathub-loader-accent-fg,#fff)}";

function el(doc, tag, cls, text) {
  const e = doc.createElement(tag);
  if (cls) e.className = cls;
  if (text != null) e.textContent = text;
  return e;
}

/** Injects the loader's style once, first in <head>. */
export function ensureStyle(doc, nonce) {
  if (doc.getElementById(STYLE_ID)) return;
  const style = doc.createElement("style");
  style.id = STYLE_ID;
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

/**
 * A promise of "load", "error" or "timeout" for an element; its `cancel()`
 * removes the listeners and the timer (called when the wait is dropped).
 */
export function waitLoad(target, ms) {
  let done;
  const wait = new Promise((resolve) => {
    done = (what) => {
      clearTimeout(timer);
      target.removeEventListener("load", onLoad);
      target.removeEventListener("error", onError);
      resolve(what);
    };
  });
  const onLoad = () => done("load");
  const onError = () => done("error");
  target.addEventListener("load", onLoad);
  target.addEventListener("error", onError);
  const timer = setTimeout(() => done("timeout"), ms);
  wait.cancel = () => done("error");
  return wait;
}

/**
 * Watches <body>'s children while the widget script runs. The returned
 * function stops watching (idempotent) and returns the elements of the last
 * batch the widget added (not ours, not scripts) that are still connected.
 */
export function watchUi(doc, prefix) {
  const added = (records) => {
    const out = [];
    for (const r of records)
      for (const n of r.addedNodes)
        if (n instanceof Element && !(String(n.className).startsWith(prefix) || n.tagName == "SCRIPT"))
          out.push(n);
    return out;
  };
  let last = [];
  let observer = null;
  const body = doc.body;
  if (body) {
    try {
      observer = new MutationObserver((records) => {
        last = added(records);
      });
      observer.observe(body, { childList: true });
    } catch {
      observer = null;
    }
  }
  return () => {
    if (!observer) return [];
    const pending = added(observer.takeRecords());
    observer.disconnect();
    observer = null;
    return last.concat(pending).filter((n) => n.isConnected);
  };
}

/**
 * The page signals a manager listens to: `check()` on visibilitychange (when
 * visible), online and pageshow; `signal(message)` on window error and
 * unhandledrejection. Returns the function that removes the listeners.
 */
export function watchPage(doc, win, check, signal) {
  const listeners = [
    [doc, "visibilitychange", () => doc.visibilityState == "visible" && check()],
    [win, "online", () => check()],
    [win, "pageshow", () => check()],
    [win, "error", (e) => signal(e instanceof ErrorEvent ? e.message : "")],
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

/** Calls `f()` on each `type` event of `target`; returns the remover. */
export function listen(target, type, f) {
  const handler = () => f();
  target.addEventListener(type, handler, { passive: true });
  return () => target.removeEventListener(type, handler);
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
 * Removes a widget: the UI elements it added, its tag, every other tag
 * with `id`, and what `selector` (the page's widgetSelector) matches.
 */
export function removeWidget(doc, ui, script, id, selector) {
  for (const node of ui) if (node instanceof Element) node.remove();
  if (script) script.remove();
  for (const el of findTags(doc, id)) el.remove();
  if (selector != null) {
    let list;
    try {
      list = doc.querySelectorAll(selector);
    } catch {
      return;
    }
    for (const el of list) if (el instanceof Element) el.remove();
  }
}

const setAttrs = (el, attrs) => {
  for (const [name, value] of attrs) if (value != null) el.setAttribute(name, value);
};

/** The widget's module tag, not yet in the document. */
export function scriptTag(doc, id, token, src, nonce, integrity, crossorigin) {
  const script = doc.createElement("script");
  script.type = "module";
  script.id = id;
  script.setAttribute("token", token);
  setAttrs(script, [["nonce", nonce], ["integrity", integrity], ["crossorigin", crossorigin]]);
  script.src = src;
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
  setAttrs(link, [["nonce", nonce], ["integrity", integrity], ["crossorigin", crossorigin]]);
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
