// One ChatHub chat for the component that provides this service
// (`providers: [ChatHubService]`): start(options) once its view exists,
// stop() in its ngOnDestroy. The same behaviour as `chathub-loader/react`
// and `chathub-loader/vue`, on the package's public API.
import { Injectable, NgZone, inject, signal } from "@angular/core";
import init, { WidgetTokenManager } from "chathub-loader";
import type { WidgetStateChangeDetail, WidgetTokenManagerOptions, WidgetTokenManagerState } from "chathub-loader";

export type ChatHubError = NonNullable<WidgetStateChangeDetail["error"]>;

// init() once per page, for every chat: true, or false where WebAssembly
// cannot run (a CSP without 'wasm-unsafe-eval', WebAssembly turned off).
let wasm: Promise<boolean> | undefined;
function load(): Promise<boolean> {
  return (wasm ??= init().then(
    () => true,
    (e) => {
      if (e?.code === "UNSUPPORTED_ENVIRONMENT") return false;
      wasm = undefined; // a failed download may work next time
      throw e;
    },
  ));
}

const errorOf = (e: any): ChatHubError => ({
  code: e?.code ?? "WIDGET_LOAD",
  message: e?.message ?? String(e),
  ...(typeof e?.status === "number" ? { status: e.status } : {}),
});

// Equal options (a new but equal object from a re-render) share a key and
// keep the chat: JSON with object keys sorted, a container element by identity.
const elementIds = new WeakMap<Element, number>();
let lastId = 0;
function keyOf(options: WidgetTokenManagerOptions): string {
  return JSON.stringify(options, (_key, v) => {
    if (v instanceof Element) {
      if (!elementIds.has(v)) elementIds.set(v, ++lastId);
      return `element ${elementIds.get(v)}`;
    }
    // A Headers (fetchInit.headers) by its entries: JSON sees `{}`.
    if (v instanceof Headers) return [...v];
    return v && typeof v === "object" && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : 1))) : v;
  });
}

interface Run {
  done: boolean;
  handle?: WidgetTokenManager;
  box?: HTMLElement | null;
  /** The handle once it exists; undefined when nothing runs. */
  created?: Promise<WidgetTokenManager | undefined>;
}

@Injectable()
export class ChatHubService {
  /** "idle" until start(), then the manager's; "idle" with `error` set when nothing could start. */
  readonly state = signal<WidgetTokenManagerState>("idle");
  /** The last error as `chathub:statechange` reports it, or null. */
  readonly error = signal<ChatHubError | null>(null);
  /** When the widget's token expires (the visitor's clock), once there is one. */
  readonly expiresAt = signal<Date | undefined>(undefined);

  private readonly zone = inject(NgZone);
  private run?: Run;
  private key?: string;

  /** Starts the chat, or re-creates it for options with another key; equal options keep it. */
  start(options: WidgetTokenManagerOptions): void {
    const key = keyOf(options);
    if (this.run && key === this.key) return;
    this.stop();
    const run: Run = { done: false };
    this.run = run;
    this.key = key;
    this.set(run, { state: "loading", error: null, expiresAt: undefined });
    // Outside Angular's zone: the manager's timers, requests and listeners
    // would each run change detection in a zone.js app; the signals say
    // what changed. (In a zoneless app this is a plain call.)
    this.zone.runOutsideAngular(() => {
      addEventListener("chathub:statechange", this.onStateChange);
      run.created = this.create(run, options);
      void run.created.then((handle) => handle && this.initialize(run, handle));
    });
  }

  /**
   * A new token now; resolves when the round ends, never rejects (the
   * outcome is in state and error). Before a `trigger` fired, it is the
   * trigger: it does not wait for initialize().
   */
  async refresh(): Promise<void> {
    const run = this.run;
    const handle = await run?.created;
    if (!run || !handle || run.done) return;
    try {
      await this.zone.runOutsideAngular(() => handle.refreshToken());
    } catch (e) {
      // Stopped meanwhile (DESTROYED): set() tells nobody any more.
      if (!this.error()) this.set(run, { state: handle.state, error: errorOf(e) });
    }
  }

  /** Releases this chat's handle (the widget goes with the page's last one), its contact box and its listener. */
  stop(): void {
    const run = this.run;
    if (!run) return;
    run.done = true;
    this.run = this.key = undefined;
    removeEventListener("chathub:statechange", this.onStateChange);
    run.handle?.destroy();
    run.box?.remove();
    this.state.set("idle");
    this.error.set(null);
    this.expiresAt.set(undefined);
  }

  /** This run's handle on the page's manager, or undefined when nothing runs. */
  private async create(run: Run, options: WidgetTokenManagerOptions): Promise<WidgetTokenManager | undefined> {
    try {
      if (!(await load())) {
        // No WebAssembly: the loader's contact box, without the loader.
        const { showFallback } = await import("chathub-loader/fallback");
        if (run.done) return;
        run.box = showFallback(options);
        const error = { code: "UNSUPPORTED_ENVIRONMENT", message: "WebAssembly cannot run on this page" } as const;
        this.set(run, { state: "fallback", error });
        return;
      }
      if (run.done) return;
      // One handle on the page's manager for this org: equal options
      // elsewhere share the widget, and it goes with the last handle.
      run.handle = new WidgetTokenManager(options);
      this.set(run, { state: run.handle.state, expiresAt: run.handle.expiresAt });
      return run.handle;
    } catch (e) {
      // The .wasm did not load, bad options, CONFLICTING_INSTANCE: nothing runs.
      this.set(run, { state: "idle", error: errorOf(e) });
      return;
    }
  }

  private async initialize(run: Run, handle: WidgetTokenManager): Promise<void> {
    try {
      await handle.initialize();
      this.set(run, { state: handle.state, error: null, expiresAt: handle.expiresAt });
    } catch (e) {
      // initialize() failed: the manager shows its contact box and keeps
      // retrying; its statechange event has already told the error.
      this.set(run, { state: handle.state, error: this.error() ?? errorOf(e), expiresAt: handle.expiresAt });
    }
  }

  private readonly onStateChange = ({ detail }: CustomEvent<WidgetStateChangeDetail>) => {
    const run = this.run;
    // The handle's org: the loader read it from the options' own properties.
    if (run?.handle && detail.org === (run.handle.org ?? null)) this.set(run, { state: detail.state, error: detail.error, expiresAt: run.handle.expiresAt });
  };

  /** Nothing from a stopped run reaches the signals. */
  private set(run: Run, next: { state: WidgetTokenManagerState; error?: ChatHubError | null; expiresAt?: Date }): void {
    if (run.done) return;
    this.state.set(next.state);
    if ("error" in next) this.error.set(next.error ?? null);
    if ("expiresAt" in next) this.expiresAt.set(next.expiresAt);
  }
}
