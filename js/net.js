// Reading the token endpoint's answer with a size limit (see src/token.rs).
// Bundled into the package's glue by `make pkg`, like dom.js.

/** The page's store of early answers (js/prefetch.js), a global under a registered symbol. */
export const STORE = Symbol.for("chathub-loader.prefetch");
/** Set by the glue once the .wasm is loaded: prefetchToken asks nothing then. */
export const LOADED = Symbol.for("chathub-loader.loaded");

/**
 * What identifies a request: its URL and everything of its init that
 * changes the answer (a Headers iterates sorted by name, lower case).
 */
export function keyOf(url, init) {
  return JSON.stringify([url, init.credentials, init.cache, init.mode, init.referrerPolicy ?? "", [...new Headers(init.headers)]]);
}

// When each taken early answer arrived (its headers, by Date.now()).
const ARRIVED = new WeakMap();

/**
 * The pending early answer for this request, taken (no one else gets
 * it), or null. It settles as the loader's own fetch would, and rejects
 * with the reason of `init.signal` when that aborts first.
 */
export function takePrefetched(url, init) {
  const pending = globalThis[STORE];
  if (!(pending instanceof Map) || !pending.size) return null;
  let key;
  try {
    key = keyOf(url, init);
  } catch {
    return null;
  }
  const entry = pending.get(key);
  if (!entry) return null;
  pending.delete(key);
  clearTimeout(entry.drop);
  const signal = init.signal;
  return new Promise((resolve, reject) => {
    if (signal) {
      if (signal.aborted) {
        entry.ctrl.abort();
        return reject(signal.reason);
      }
      signal.addEventListener(
        "abort",
        () => {
          entry.ctrl.abort();
          reject(signal.reason);
        },
        { once: true },
      );
    }
    entry.answer.then((r) => {
      ARRIVED.set(r, entry.at);
      resolve(r);
    }, reject);
  });
}

/**
 * The server's clock now by the answer's `Date` header, in ms since the
 * epoch (NaN where the page cannot read it, or unless `fresh`: an HTTP
 * cache's copy has a `Date` as old as the copy): an early answer taken after
 * it arrived is older by the time it waited, which is added, so the
 * loader's idea of the server's clock (expiry, Retry-After dates) does not
 * lag by the .wasm's download.
 */
export function serverNow(resp, fresh) {
  const date = fresh && resp.headers.get("date");
  const now = Date.now();
  return date ? Date.parse(date) + now - (ARRIVED.get(resp) ?? now) : NaN;
}

/** Whether `resp` is an early answer (prefetchToken's) the loader took. */
export function takenEarly(resp) {
  return ARRIVED.has(resp);
}

/**
 * The body of `resp` as text, or null when it is longer than `max` bytes:
 * refused by its Content-Length when it has one, else while reading, so a
 * huge answer is never read (or kept) in full. Rejects when the read fails
 * (aborted, connection lost).
 */
export async function readText(resp, max) {
  const length = Number(resp.headers.get("content-length"));
  const body = resp.body;
  if (length > max) {
    body?.cancel().catch(() => {});
    return null;
  }
  if (!body) {
    const text = await resp.text();
    return text.length > max ? null : text;
  }
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let size = 0;
  let text = "";
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return text + decoder.decode();
    size += value.byteLength;
    if (size > max) {
      reader.cancel().catch(() => {});
      return null;
    }
    text += decoder.decode(value, { stream: true });
  }
}

/**
 * The token request's init, one definition for the loader (src/token.rs,
 * through `request`) and prefetchToken (js/prefetch.js), so an early
 * request is the loader's own: `fetchInit`'s credentials (same-origin),
 * cache (no-store: never a cached credential), mode (cors) and
 * referrerPolicy (each a default where unset or ""), its headers (`[name, value]` pairs), and
 * `Accept: application/json` unless they set one.
 */
export function initFor(credentials, cache, mode, referrerPolicy, headers) {
  const h = new Headers(headers);
  if (!h.has("accept")) h.set("Accept", "application/json");
  const init = {
    method: "GET",
    headers: h,
    credentials: credentials || "same-origin",
    cache: cache || "no-store",
    mode: mode || "cors",
  };
  if (referrerPolicy) init.referrerPolicy = referrerPolicy;
  return init;
}

/**
 * The loader's token request (src/token.rs): `fetchInit`'s parts as it
 * checked them (undefined where unset), its headers as name, value, name,
 * value joined by NULs (which `Headers` refuses in both), and the abort signal.
 * `fetch` (or the same request's early answer, taken from
 * prefetchToken()) as a promise of a `Response`, whatever the page did to
 * `fetch`: a wrapper that throws, or answers something else, is a rejection
 * (a network error to the loader), not an exception through the `.wasm`.
 */
export function request(url, credentials, cache, mode, referrerPolicy, lines, signal) {
  const l = lines ? lines.split("\0") : [];
  const init = initFor(credentials, cache, mode, referrerPolicy, l.flatMap((v, i) => (i % 2 ? [] : [[v, l[i + 1]]])));
  init.signal = signal;
  // The same request started early (js/prefetch.js): its answer, once.
  const early = takePrefetched(url, init);
  return (early ?? Promise.resolve().then(() => fetch(url, init)))
    .then((r) => {
      if (!(r instanceof Response)) throw new TypeError("fetch answered no Response");
      return r;
    });
}

/** Aborts early answer `entry`'s request and forgets it, unless a manager took it. */
export function drop(entry) {
  const pending = globalThis[STORE];
  if (pending instanceof Map && pending.get(entry.key) === entry) {
    pending.delete(entry.key);
    clearTimeout(entry.drop);
    entry.ctrl.abort();
  }
}

/** Drops every early answer nobody took (the loader did not load: none will be). */
export function dropPrefetched() {
  const pending = globalThis[STORE];
  if (pending instanceof Map) for (const entry of [...pending.values()]) drop(entry);
}
