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

import { blocked, headerRecord, urlTrick } from "./dom.js";
import { drop, initFor, keyOf, LOADED, STORE } from "./net.js";

// An early answer is the loader's only within this long of its request:
// untaken by then, it is dropped (a page that never creates the manager,
// a visitor who signs in meanwhile: a fresh request is the right one).
const DROP_MS = 10_000;

/** The page's pending early answers, by request key. */
function store() {
  return (globalThis[STORE] ??= new Map());
}

const own = (o, k) => (o != null && Object.prototype.hasOwnProperty.call(o, k) ? o[k] : undefined);

// Rust's `trim_ascii` (src/options/url.rs): JS's trim() also strips \v
// and Unicode spaces, which the loader keeps (and encodes).
const trimAscii = (s) => s.replace(/^[ \t\n\f\r]+|[ \t\n\f\r]+$/g, "");

/**
 * `fetchInit.headers` as the loader reads it (js/dom.js `headerRecord`,
 * then its own properties): every value a string. Null where the loader
 * refuses it.
 */
function headersOf(h) {
  if (h === undefined) return [];
  if (h === null || typeof h != "object") return null;
  // A one-shot iterator (a generator, map.entries()) would be used up
  // here, and the loader would read nothing: no early request.
  const it = h[Symbol.iterator];
  if (typeof it == "function" && it.call(h) === h) return null;
  const entries = Object.entries(headerRecord(h));
  return entries.every(([, v]) => typeof v == "string") ? entries : null;
}

// fetchInit's keys; each set value a non-empty string (the loader
// refuses null, "" and wrapper objects; fetch checks the spelling).
const FETCH_INIT = ["credentials", "headers", "mode", "cache", "referrerPolicy"];

/**
 * The loader's token request for `options` (the constructor's options),
 * as `[url, init]`, or null when the options would not make one. Read as
 * src/options reads them: the URL trimmed as Rust trims it and resolved
 * against the page's address (`location.href`, not a `<base>`), `org` in
 * its query, `fetchInit` as js/net.js's `initFor` makes it into the init
 * (the loader's too). Where the two could differ this side is the
 * stricter: it may skip an early request the loader would make, never
 * make one the loader would not. Options the request does not depend on
 * (an unknown key, a bad `container`) are the constructor's to refuse.
 */
function requestFor(options) {
  const raw = own(options, "tokenUrl");
  if (typeof raw != "string") return null;
  const trimmed = trimAscii(raw);
  if (!trimmed || urlTrick(trimmed)) return null;
  const url = new URL(trimmed, location.href);
  if (!/^https?:$/.test(url.protocol) || url.username || url.password) return null;
  const org = own(options, "org");
  if (org !== undefined) {
    // src/validate.rs is_valid_org: 1-128 bytes, no control or space.
    if (typeof org != "string" || !/^[^\s\p{Cc}]+$/u.test(org) || new TextEncoder().encode(org).length > 128) return null;
    url.searchParams.set("org", org);
  }
  const given = own(options, "fetchInit");
  const f = given === undefined ? {} : given;
  if (f === null || typeof f != "object" || Array.isArray(f)) return null;
  if (Object.keys(f).some((k) => !FETCH_INIT.includes(k))) return null;
  if (FETCH_INIT.some((k) => k != "headers" && own(f, k) !== undefined && (typeof own(f, k) != "string" || !own(f, k)))) return null;
  const headers = headersOf(own(f, "headers"));
  const mode = own(f, "mode");
  // "no-cors" and anything else the loader refuses.
  if (!headers || (mode !== undefined && mode !== "cors" && mode !== "same-origin")) return null;
  const init = initFor(own(f, "credentials"), own(f, "cache"), mode, own(f, "referrerPolicy"), headers);
  return [url.href, init];
}

/**
 * Starts the token request `new WidgetTokenManager(options)` will make,
 * unless one is already pending, the options name a load `trigger` other
 * than "eager" (nothing is asked before it fires), or they would not make
 * one. Never throws; returns whether a request is pending now.
 */
export function prefetchToken(options) {
  return !!ask(options);
}

/**
 * prefetchToken's work: the pending entry for `options` (one more user of
 * it, see `release`), or null.
 */
export function ask(options) {
  try {
    if (typeof document != "object" || typeof fetch != "function") return null;
    // Once the .wasm is loaded, a manager asks at once itself.
    if (globalThis[LOADED]) return null;
    // Where the loader cannot run, it asks for no token.
    if (typeof WebAssembly != "object" || blocked()) return null;
    const trigger = own(options, "trigger");
    if (trigger !== undefined && trigger !== "eager") return null;
    const req = requestFor(options);
    if (!req) return null;
    const [url, init] = req;
    const key = keyOf(url, init);
    const pending = store();
    let entry = pending.get(key);
    if (!entry) {
      const ctrl = new AbortController();
      entry = { key, ctrl, users: 0 };
      // `at`: when its headers arrived (js/net.js's serverNow adds the wait).
      entry.answer = Promise.resolve()
        .then(() => fetch(url, { ...init, signal: ctrl.signal }))
        .then((r) => ((entry.at = Date.now()), r));
      entry.answer.catch(() => {});
      entry.drop = setTimeout(() => drop(entry), DROP_MS);
      pending.set(key, entry);
    }
    entry.users++;
    return entry;
  } catch {
    return null;
  }
}

/**
 * One user of `entry` (from `ask`) will not take it after all (the
 * adapter's chat ended before its manager existed): dropped once nobody
 * else wants it, checked after the current task, so an unmount and the
 * mount that follows it at once (React's StrictMode) keep the request.
 */
export function release(entry) {
  if (!entry || --entry.users > 0) return;
  setTimeout(() => entry.users > 0 || drop(entry));
}
