// What the framework adapters (js/react.js, js/vue.js) share: one chat per
// mounted component, driven by the package's own WidgetTokenManager. Plain
// JS, bundled into each adapter by `make pkg`; "./chathub_loader.js" and
// "./fallback.js" stay imports of the package's files next to it.
//
// The manager already keeps one live instance per org and options and
// counts its handles (each handle's destroy() releases only itself): that
// is what makes React's StrictMode mount → unmount → mount safe, so this
// file only holds one handle per mounted component and follows
// `chathub:statechange` for its org.
import init, { WidgetTokenManager } from "./chathub_loader.js";
import { ask, release } from "./prefetch.js";

const EVENT = "chathub:statechange";

let ready = null;
/** init() once per page: true, or false where WebAssembly cannot run. */
function load() {
  ready ??= init().then(
    () => true,
    (e) => {
      if (e?.code == "UNSUPPORTED_ENVIRONMENT") return false;
      ready = null; // a failed download may work on the next mount
      throw e;
    },
  );
  return ready;
}

/** `{ code, message, status? }`, as `chathub:statechange` reports errors. */
function errorOf(e, code = "WIDGET_LOAD") {
  const out = { code: e?.code ?? code, message: e?.message ?? String(e) };
  if (typeof e?.status == "number") out.status = e.status;
  return out;
}

const sameError = (a, b) => a === b || (a != null && b != null && a.code == b.code && a.message == b.message && a.status === b.status);
const time = (d) => (d ? d.getTime() : undefined);

// Element values (a `container` element) get an id of their own in the key.
const ids = new WeakMap();
let nextId = 0;

/**
 * A key that two equal option objects share: JSON with object keys
 * sorted and elements by identity. Equal options keep their chat; a
 * different key (another org, another fallback text) re-creates it.
 */
export function optionsKey(options) {
  return JSON.stringify(options ?? null, function (_key, value) {
    if (typeof Element == "function" && value instanceof Element) {
      if (!ids.has(value)) ids.set(value, ++nextId);
      return { "\u0000element": ids.get(value) };
    }
    // A Headers (fetchInit.headers) by its entries (sorted, lower case):
    // JSON sees `{}` in every one, and another user's must differ.
    if (typeof Headers == "function" && value instanceof Headers) return { "\u0000headers": [...value] };
    if (value && typeof value == "object" && !Array.isArray(value)) {
      const sorted = {};
      for (const k of Object.keys(value).sort()) sorted[k] = value[k];
      return sorted;
    }
    return value;
  });
}

/** What an adapter shows before its chat starts (and during SSR). */
export const IDLE = Object.freeze({ state: "idle", error: null, expiresAt: undefined });

/**
 * Starts one chat with `options`: a handle on the page's manager for its
 * org, or the contact box where WebAssembly cannot run. `emit(snapshot)`
 * receives `{ state, error, expiresAt }` each time one of them changes,
 * never after `destroy()`. Returns `{ refresh(), destroy() }`.
 */
export function startChat(options, emit) {
  let snap = { state: "loading", error: null, expiresAt: undefined };
  let handle = null;
  let box = null;
  let done = false;

  const set = (next) => {
    if (done) return;
    next = { ...snap, ...next };
    if (next.state == snap.state && sameError(next.error, snap.error) && time(next.expiresAt) === time(snap.expiresAt)) return;
    snap = next;
    emit(snap);
  };
  // The handle's org, not `options.org`: the loader read it from the
  // options' own properties (an inherited `org` is no option).
  const onEvent = (e) => {
    const d = e.detail;
    if (!handle || (d?.org ?? null) !== (handle.org ?? null)) return;
    set({ state: d.state, error: d.error ?? null, expiresAt: handle.expiresAt });
  };
  addEventListener(EVENT, onEvent);
  emit(snap);

  // The contact box without the loader (no WebAssembly, or its .wasm did
  // not load): the chat cannot load here. `error` says why.
  const fallBack = async (error) => {
    let showFallback;
    try {
      ({ showFallback } = await import("./fallback.js"));
    } catch {
      set({ state: "idle", error });
      return;
    }
    if (done) return;
    try {
      box ??= showFallback(options);
    } catch (e) {
      set({ state: "idle", error: errorOf(e) });
      return;
    }
    set({ state: "fallback", error });
  };
  // Whether the .wasm failed to load (refresh() then tries again).
  let wasmFailed = false;

  // The handle, once it exists; null when nothing runs (no WebAssembly,
  // bad options, CONFLICTING_INSTANCE, the .wasm did not load).
  const begin = () =>
    load()
      .then(async (wasm) => {
        if (done) return null;
        if (!wasm) {
          await fallBack({ code: "UNSUPPORTED_ENVIRONMENT", message: "WebAssembly cannot run on this page (turned off, or the CSP lacks 'wasm-unsafe-eval')" });
          return null;
        }
        try {
          handle = new WidgetTokenManager(options);
        } catch (e) {
          // INVALID_OPTIONS, CONFLICTING_INSTANCE: nothing runs; `error` says why.
          set({ state: "idle", error: errorOf(e) });
          return null;
        }
        set({ state: handle.state, expiresAt: handle.expiresAt });
        return handle;
      })
      .catch(async (e) => {
        // init() could not load the .wasm (WASM_HTTP, WASM_NETWORK, ...):
        // the contact box, and refresh() (or the next mount) tries again.
        wasmFailed = true;
        if (!done) await fallBack(errorOf(e, "WIDGET_LOAD"));
        return null;
      });
  const run = async (h) => {
    if (!h) return;
    try {
      await h.initialize();
      set({ state: h.state, error: null, expiresAt: h.expiresAt });
    } catch (e) {
      // The manager shows its contact box and retries in the background;
      // its statechange event has already reported the error.
      set({ state: h.state, error: snap.error ?? errorOf(e), expiresAt: h.expiresAt });
    }
  };
  // The token request beside the .wasm's download, on the page's first
  // chat (none once the .wasm is loaded: later chats ask at once).
  // Released by destroy() if this chat ends before its manager exists.
  const early = ask(options);
  let created = begin();
  created.then(run);
  let retry = null;

  return {
    /**
     * A new token now; resolves when the round ends (its outcome is in
     * the snapshot) and never rejects. Called while initialize() waits
     * for its `trigger`, it is the trigger: refreshToken() as soon as the
     * handle exists, not after initialize() settles. After the .wasm
     * failed to load, it loads it again (and starts the chat).
     */
    refresh() {
      return created
        .then(async (h) => {
          if (done) return;
          if (!h && wasmFailed) {
            wasmFailed = false;
            box?.remove();
            box = null;
            set({ state: "loading", error: null });
            created = begin();
            retry = created.then(run);
          }
          // A second refresh() during that retry waits for the same round.
          if (!h) return retry;
          try {
            await h.refreshToken();
          } catch (e) {
            // Unmounted meanwhile (DESTROYED): nobody is told any more.
            if (!done && !snap.error) set({ state: h.state, error: errorOf(e) });
          }
        })
        .catch(() => {});
    },
    /** Releases this chat's handle (the widget goes with the last one), its box and its listener. */
    destroy() {
      if (done) return;
      done = true;
      removeEventListener(EVENT, onEvent);
      if (!handle) release(early);
      handle?.destroy();
      handle = null;
      box?.remove();
      box = null;
    },
  };
}
