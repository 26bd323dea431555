// The first token request, started beside the loader's own download.
//
// On a first visit the page would otherwise fetch the glue, then the
// .wasm, compile it, and only then ask for the token: the token's round
// trip after every byte of the loader. `prefetchToken(options)` asks at
// once, with the request the loader would make (same URL, headers,
// credentials, cache and mode); the loader's first request for that URL
// and init takes the pending answer instead of asking again
// (`takePrefetched` in js/net.js, called by its `request`) and checks it as it
// checks any answer. An answer nobody takes within DROP_MS is dropped:
// its body cancelled, nothing of it kept.
//
// The package's `chathub-loader/prefetch` entry (pkg/prefetch.js, small:
// a page can import it at once and the loader itself later), bundled into
// auto.js and the adapters too; all share one page store (a global under
// a registered symbol) with the glue, which takes the answers.

import { blocked, urlTrick } from "./dom.js";
import { initFor, keyOf, LOADED, STORE } from "./net.js";

const DROP_MS = 20_000;

/** The page's pending early answers, by request key. */
function store() {
  return (globalThis[STORE] ??= new Map());
}

const own = (o, k) => (o != null && Object.prototype.hasOwnProperty.call(o, k) ? o[k] : undefined);

/**
 * The loader's token request for `options` (the constructor's options),
 * as `[url, init]`, or null when the options would not make one (the
 * constructor then says what is wrong). Same rules as src/options: the
 * URL resolved against the page, `org` in its query, `fetchInit` as
 * js/net.js's `initFor` makes it into the init (the loader's too).
 */
function requestFor(options) {
  const raw = own(options, "tokenUrl");
  if (typeof raw != "string") return null;
  const trimmed = raw.trim();
  if (!trimmed || urlTrick(trimmed)) return null;
  const url = new URL(trimmed, document.baseURI);
  if (!/^https?:$/.test(url.protocol) || url.username || url.password) return null;
  const org = own(options, "org");
  if (org !== undefined) {
    if (typeof org != "string" || !org) return null;
    url.searchParams.set("org", org);
  }
  const f = own(options, "fetchInit") ?? {};
  // Pairs as the loader reads them: an object's own properties, a Headers, or pairs.
  const headers = [...new Headers(own(f, "headers") ?? undefined)];
  const init = initFor(own(f, "credentials"), own(f, "cache"), own(f, "mode"), own(f, "referrerPolicy"), headers);
  return [url.href, init];
}

/**
 * Starts the token request `new WidgetTokenManager(options)` will make,
 * unless one is already pending, the options name a load `trigger` other
 * than "eager" (nothing is asked before it fires), or they would not make
 * one. Never throws; returns whether a request is pending now.
 */
export function prefetchToken(options) {
  try {
    if (typeof document != "object" || typeof fetch != "function") return false;
    // Once the .wasm is loaded, a manager asks at once itself.
    if (globalThis[LOADED]) return false;
    // Where the loader cannot run, it asks for no token.
    if (typeof WebAssembly != "object" || blocked()) return false;
    const trigger = own(options, "trigger");
    if (trigger !== undefined && trigger !== "eager") return false;
    const req = requestFor(options);
    if (!req) return false;
    const [url, init] = req;
    const key = keyOf(url, init);
    const pending = store();
    if (pending.has(key)) return true;
    const ctrl = new AbortController();
    const entry = { ctrl };
    // `at`: when its headers arrived (js/net.js's serverNow adds the wait).
    entry.answer = Promise.resolve()
      .then(() => fetch(url, { ...init, signal: ctrl.signal }))
      .then((r) => ((entry.at = Date.now()), r));
    entry.answer.catch(() => {});
    entry.drop = setTimeout(() => {
      if (pending.get(key) === entry) pending.delete(key);
      ctrl.abort();
    }, DROP_MS);
    pending.set(key, entry);
    return true;
  } catch {
    return false;
  }
}
