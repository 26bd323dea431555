// Reading the token endpoint's answer with a size limit (see src/token.rs).
// Bundled into the package's glue by `make pkg`, like dom.js.

/** The page's store of early answers (js/prefetch.js), a global under a registered symbol. */
export const STORE = Symbol.for("chathub-loader.prefetch");

/** What identifies a request: its URL and everything of its init that changes the answer. */
export function keyOf(url, init) {
  const headers = [...new Headers(init.headers)].sort((a, b) => (a[0] < b[0] ? -1 : 1));
  return JSON.stringify([url, init.credentials, init.cache, init.mode, init.referrerPolicy ?? "", headers]);
}

/**
 * The pending early answer for this request, taken (no one else gets
 * it), or null. It settles as the loader's own fetch would, and rejects
 * with the reason of `init.signal` when that aborts first.
 */
export function takePrefetched(url, init) {
  const pending = globalThis[STORE];
  if (!pending?.size) return null;
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
    entry.answer.then(resolve, reject);
  });
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
 * `fetch(url, init)` (or the same request's early answer, taken from
 * prefetchToken()) as a promise of a `Response`, whatever the page did to
 * `fetch`: a wrapper that throws, or answers something else, is a rejection
 * (a network error to the loader), not an exception through the `.wasm`.
 */
export function request(url, init) {
  // The same request started early (js/prefetch.js): its answer, once.
  const early = takePrefetched(url, init);
  return (early ?? Promise.resolve().then(() => fetch(url, init)))
    .then((r) => {
      if (!(r instanceof Response)) throw new TypeError("fetch answered no Response");
      return r;
    });
}
