// Reading the token endpoint's answer with a size limit (see src/token.rs).
// Bundled into the package's glue by `make pkg`, like dom.js.

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
 * `fetch(url, init)` as a promise of a `Response`, whatever the page did to
 * `fetch`: a wrapper that throws, or answers something else, is a rejection
 * (a network error to the loader), not an exception through the `.wasm`.
 */
export function request(url, init) {
  return Promise.resolve()
    .then(() => fetch(url, init))
    .then((r) => {
      if (!(r instanceof Response)) throw new TypeError("fetch answered no Response");
      return r;
    });
}
