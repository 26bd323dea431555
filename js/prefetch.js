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
// Bundled into the glue, auto.js and the adapters, which share one page
// store (a global under a registered symbol), so auto.js can ask before
// it has imported the glue.

import { urlTrick } from "./dom.js";
import { keyOf, STORE } from "./net.js";

const DROP_MS = 20_000;

/** The page's pending early answers, by request key. */
function store() {
  return (globalThis[STORE] ??= new Map());
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

const own = (o, k) => (o != null && Object.prototype.hasOwnProperty.call(o, k) ? o[k] : undefined);

/**
 * The loader's token request for `options` (the constructor's options),
 * as `[url, init]`, or null when the options would not make one (the
 * constructor then says what is wrong). Same rules as src/options: the
 * URL resolved against the page, `org` in its query, `fetchInit`'s
 * credentials (same-origin), cache (no-store), mode (cors) and headers,
 * `Accept: application/json`.
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
  const headers = new Headers(own(f, "headers") ?? undefined);
  headers.set("Accept", "application/json");
  const init = {
    method: "GET",
    headers,
    credentials: own(f, "credentials") ?? "same-origin",
    cache: own(f, "cache") ?? "no-store",
    mode: own(f, "mode") ?? "cors",
  };
  const rp = own(f, "referrerPolicy");
  if (rp !== undefined) init.referrerPolicy = rp;
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
    const answer = Promise.resolve().then(() => fetch(url, { ...init, signal: ctrl.signal }));
    answer.catch(() => {});
    const drop = setTimeout(() => {
      if (pending.get(key)?.answer === answer) pending.delete(key);
      ctrl.abort();
    }, DROP_MS);
    pending.set(key, { answer, drop, ctrl });
    return true;
  } catch {
    return false;
  }
}

/** Drops every early answer nobody took (the loader did not load: none will be). */
export function dropPrefetched() {
  const pending = globalThis[STORE];
  for (const { drop, ctrl } of pending?.values() ?? []) {
    clearTimeout(drop);
    ctrl.abort();
  }
  pending?.clear();
}
