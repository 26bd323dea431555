//! `WidgetTokenManager`: the state machine that gets a token, mounts the
//! widget with it, keeps it fresh and falls back when the chat cannot load.
//!
//! Async work clones the `Rc<Inner>` and runs under the manager's
//! [`Lifetime`](crate::lifetime::Lifetime), so `destroy()` never waits on
//! (or fights a borrow held by) a pending request. No `RefCell` borrow is
//! held across an `.await` or across a call that can reach page code.

use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};

use gloo_timers::callback::{Interval, Timeout};
use gloo_timers::future::TimeoutFuture;
use js_sys::Promise;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::{future_to_promise, spawn_local, JsFuture};
use web_sys::{AbortController, Document};

use crate::error::{ErrorCode, LoaderError};
use crate::events::{self, State};
use crate::lifetime::{self, Lifetime};
use crate::listening::Listening;
use crate::options::{Options, Reload};
use crate::registry;
use crate::schedule;
use crate::tag::{self, Mounted};
use crate::token::{self, Token};
use crate::ui::Ui;

/// How long a `token expired` burst is collected before one refresh.
const SIGNAL_DEBOUNCE_MS: u32 = 200;
/// After a signal-driven refresh, further signals are ignored this long.
const SIGNAL_COOLDOWN_MS: f64 = 5_000.0;
/// Background retries while the widget still works are at most this far apart.
const MAX_RETRY_GAP_MS: f64 = 60_000.0;
/// In the fallback, retries of transient failures back off up to this.
const MAX_FALLBACK_RETRY_MS: f64 = 300_000.0;

/// The state behind every handle for one org.
pub struct Inner {
    /// The checked options (compared when a second handle is requested).
    pub opts: Options,
    weak: Weak<Inner>,
    life: Rc<Lifetime>,
    state: Cell<State>,
    token: RefCell<Option<Token>>,
    in_flight: RefCell<Option<Promise>>,
    fetch_ctrl: RefCell<Option<AbortController>>,
    mounted: RefCell<Option<Mounted>>,
    ui: RefCell<Ui>,
    refresh_timer: RefCell<Option<Timeout>>,
    retry_timer: RefCell<Option<Timeout>>,
    signal_timer: RefCell<Option<Timeout>>,
    interval: RefCell<Option<Interval>>,
    listeners: RefCell<Option<PageWatch>>,
    failures: Cell<u32>,
    last_signal_ms: Cell<f64>,
}

#[wasm_bindgen(module = "/js/dom.js")]
extern "C" {
    /// Adds the page listeners (see `js/dom.js`); returns their remover.
    #[wasm_bindgen(js_name = watchPage)]
    fn watch_page(
        doc: &Document,
        win: &web_sys::Window,
        check: &Closure<dyn Fn()>,
        signal: &Closure<dyn Fn(String)>,
    ) -> js_sys::Function;
}

/// The page listeners of one manager (`check`, `signal`).
type PageWatch = Listening<(Closure<dyn Fn()>, Closure<dyn Fn(String)>)>;

fn document() -> Result<Document, LoaderError> {
    web_sys::window()
        .and_then(|w| w.document())
        .ok_or_else(no_window)
}

fn no_window() -> LoaderError {
    LoaderError::new(
        ErrorCode::UnsupportedEnvironment,
        "chathub-loader: there is no window/document here (server-side rendering or a worker?); create the WidgetTokenManager in the browser, e.g. in useEffect/onMounted",
    )
}

impl Inner {
    fn new(opts: Options) -> Rc<Inner> {
        Rc::new_cyclic(|weak| Inner {
            opts,
            weak: weak.clone(),
            life: Rc::new(Lifetime::default()),
            state: Cell::new(State::Idle),
            token: RefCell::new(None),
            in_flight: RefCell::new(None),
            fetch_ctrl: RefCell::new(None),
            mounted: RefCell::new(None),
            ui: RefCell::new(Ui::default()),
            refresh_timer: RefCell::new(None),
            retry_timer: RefCell::new(None),
            signal_timer: RefCell::new(None),
            interval: RefCell::new(None),
            listeners: RefCell::new(None),
            failures: Cell::new(0),
            last_signal_ms: Cell::new(f64::NEG_INFINITY),
        })
    }

    fn destroyed(&self) -> bool {
        self.life.is_cancelled()
    }

    fn set_state(&self, next: State, error: Option<&LoaderError>) {
        if self.destroyed() && next != State::Destroyed {
            return;
        }
        let prev = self.state.replace(next);
        if prev != next || error.is_some() {
            events::emit(self.opts.org.as_deref(), next, prev, error);
        }
    }

    /// The widget is mounted with a token that has not expired.
    fn widget_works(&self) -> bool {
        let now = js_sys::Date::now();
        self.mounted
            .borrow()
            .as_ref()
            .is_some_and(|m| m.script.is_connected())
            && self
                .token
                .borrow()
                .as_ref()
                .is_some_and(|t| t.is_valid_at(now))
    }

    /// Runs `f` on the manager in a microtask, if it still exists: timer
    /// and event callbacks never re-enter the manager synchronously.
    fn defer(&self, f: fn(&Rc<Inner>)) -> impl Fn() + 'static {
        let weak = self.weak.clone();
        move || {
            let weak = weak.clone();
            spawn_local(async move {
                if let Some(inner) = weak.upgrade() {
                    if !inner.destroyed() {
                        f(&inner);
                    }
                }
            });
        }
    }

    /// The shared token operation: joins the one in flight or starts one.
    fn start(self: &Rc<Self>) -> Promise {
        if self.destroyed() {
            return Promise::reject(&LoaderError::destroyed().to_js());
        }
        if let Some(p) = self.in_flight.borrow().clone() {
            return p;
        }
        let inner = self.clone();
        let promise = future_to_promise(async move {
            let res = lifetime::guard(inner.life.clone(), inner.clone().run()).await;
            inner.in_flight.borrow_mut().take();
            res.map(|()| JsValue::UNDEFINED).map_err(|e| e.to_js())
        });
        *self.in_flight.borrow_mut() = Some(promise.clone());
        promise
    }

    /// Starts (or joins) a refresh whose outcome only the state reports.
    fn trigger(self: &Rc<Self>) {
        let p = self.start();
        spawn_local(async move {
            let _ = JsFuture::from(p).await;
        });
    }

    async fn run(self: Rc<Self>) -> Result<(), LoaderError> {
        let doc = document()?;
        if self.widget_works() {
            self.set_state(State::Refreshing, None);
        } else {
            self.set_state(State::Loading, None);
            // A state listener may have destroyed the manager just now.
            if self.destroyed() {
                return Err(LoaderError::destroyed());
            }
            let shown = self.ui.borrow_mut().show_status(&doc, &self.opts);
            if let Err(e) = shown {
                self.set_state(State::Fallback, Some(&e));
                return Err(e);
            }
        }
        self.install_watchers(&doc);
        let outcome = match Box::pin(self.fetch_round()).await {
            Ok(token) => Box::pin(self.apply(&doc, token)).await,
            Err(e) => Err(e),
        };
        match outcome {
            Ok(()) => {
                self.failures.set(0);
                {
                    let mut ui = self.ui.borrow_mut();
                    ui.hide_status();
                    ui.hide_fallback();
                }
                self.set_state(State::Ready, None);
                self.schedule_refresh();
                Ok(())
            }
            Err(e) if e.code == ErrorCode::Destroyed => Err(e),
            Err(e) => {
                self.fail(&doc, &e);
                Err(e)
            }
        }
    }

    /// Up to `1 + maxRetries` attempts with backoff; 4xx and bad answers
    /// are not retried.
    async fn fetch_round(&self) -> Result<Token, LoaderError> {
        let mut attempt = 0;
        loop {
            let ctrl = AbortController::new().map_err(|_| {
                LoaderError::new(
                    ErrorCode::UnsupportedEnvironment,
                    "chathub-loader: AbortController is not available",
                )
            })?;
            *self.fetch_ctrl.borrow_mut() = Some(ctrl.clone());
            let result = token::fetch_token(&self.opts, &ctrl).await;
            self.fetch_ctrl.borrow_mut().take();
            match result {
                Err(e) if e.is_retryable() && attempt < self.opts.max_retries => {
                    let delay = schedule::backoff_ms(
                        attempt,
                        self.opts.retry_delay_ms,
                        30_000.0,
                        js_sys::Math::random(),
                    );
                    attempt += 1;
                    TimeoutFuture::new(schedule::clamp_timer_ms(delay) as u32).await;
                }
                other => return other,
            }
        }
    }

    /// Gives the widget the new token (see `tag` for why a new module URL).
    async fn apply(&self, doc: &Document, token: Token) -> Result<(), LoaderError> {
        if self.opts.reload == Reload::Attribute {
            // In place, on our tag or on one the page shipped.
            let current = self.mounted.borrow_mut().take();
            if let Some(m) = current.or_else(|| tag::adopt(doc, &self.opts.tag_id())) {
                let in_place = m.script.is_connected()
                    && m.script.set_attribute("token", &token.value).is_ok();
                *self.mounted.borrow_mut() = Some(m);
                if in_place {
                    *self.token.borrow_mut() = Some(token);
                    return Ok(());
                }
            }
        }
        let src = tag::next_src(&self.opts);
        if self.widget_works() {
            // Keep the working widget unless its replacement can load.
            tag::preload(doc, &self.opts, &src).await?;
        }
        let old = self.mounted.borrow_mut().take();
        let old = old.or_else(|| tag::adopt(doc, &self.opts.tag_id()));
        tag::unmount(doc, old, &self.opts);
        let mounted = tag::mount(doc, &self.opts, &src, &token.value).await?;
        if self.destroyed() {
            tag::unmount(doc, Some(mounted), &self.opts);
            return Err(LoaderError::destroyed());
        }
        *self.mounted.borrow_mut() = Some(mounted);
        *self.token.borrow_mut() = Some(token);
        Ok(())
    }

    /// A round failed: keep a working widget and retry until its token
    /// expires, or show the fallback.
    fn fail(self: &Rc<Self>, doc: &Document, e: &LoaderError) {
        let failures = self.failures.get() + 1;
        self.failures.set(failures);
        self.ui.borrow_mut().hide_status();
        let backoff = |cap: f64| {
            schedule::backoff_ms(
                failures.saturating_sub(1),
                self.opts.retry_delay_ms.max(1_000.0),
                cap,
                js_sys::Math::random(),
            )
        };
        if self.widget_works() {
            let until_expiry = self
                .token
                .borrow()
                .as_ref()
                .map(|t| t.expires_at_ms - js_sys::Date::now())
                .unwrap_or(0.0);
            self.set_state(State::Ready, Some(e));
            self.schedule_retry(backoff(MAX_RETRY_GAP_MS).min(until_expiry.max(0.0)));
            return;
        }
        let weak = self.weak.clone();
        let shown = self
            .ui
            .borrow_mut()
            .show_fallback(doc, &self.opts, move || {
                if let Some(inner) = weak.upgrade() {
                    inner.trigger();
                }
            });
        match shown {
            Ok(()) => self.set_state(State::Fallback, Some(e)),
            Err(container_err) => self.set_state(State::Fallback, Some(&container_err)),
        }
        if e.is_retryable() {
            self.schedule_retry(backoff(MAX_FALLBACK_RETRY_MS));
        }
    }

    fn schedule_retry(&self, delay_ms: f64) {
        if self.destroyed() {
            return;
        }
        let fire = self.defer(|inner| inner.trigger());
        let t = Timeout::new(schedule::clamp_timer_ms(delay_ms) as u32, fire);
        let old = self.retry_timer.borrow_mut().replace(t);
        drop(old);
    }

    fn refresh_due_in(&self) -> Option<f64> {
        let token = self.token.borrow();
        let t = token.as_ref()?;
        let margin = schedule::margin_ms(
            self.opts.refresh_margin_ms,
            t.expires_at_ms - t.received_at_ms,
        );
        Some(schedule::refresh_delay_ms(
            js_sys::Date::now(),
            t.expires_at_ms,
            margin,
        ))
    }

    fn schedule_refresh(&self) {
        let Some(delay) = self.refresh_due_in() else {
            return;
        };
        if self.destroyed() {
            return;
        }
        // A clamped (early) firing only re-checks the clock.
        let fire = self.defer(|inner| inner.check());
        let t = Timeout::new(schedule::clamp_timer_ms(delay) as u32, fire);
        let old = self.refresh_timer.borrow_mut().replace(t);
        drop(old);
    }

    /// The safety net (interval, wake-up, back online): refresh when due,
    /// retry from the fallback, otherwise re-arm the timer.
    fn check(self: &Rc<Self>) {
        if self.destroyed() || self.in_flight.borrow().is_some() {
            return;
        }
        match self.state.get() {
            State::Fallback => self.trigger(),
            State::Ready if self.refresh_due_in().is_some_and(|d| d <= 0.0) => self.trigger(),
            State::Ready => self.schedule_refresh(),
            _ => {}
        }
    }

    /// A `token expired` report from the widget: one refresh per burst.
    fn on_signal(&self, message: &str) {
        // A byte window compare: no lowercase copy, no substring searcher.
        if !message
            .as_bytes()
            .windows(13)
            .any(|w| w.eq_ignore_ascii_case(b"token expired"))
            || self.state.get() == State::Idle
            || self.signal_timer.borrow().is_some()
            || js_sys::Date::now() - self.last_signal_ms.get() < SIGNAL_COOLDOWN_MS
        {
            return;
        }
        let fire = self.defer(|inner| {
            inner.signal_timer.borrow_mut().take();
            inner.last_signal_ms.set(js_sys::Date::now());
            inner.trigger();
        });
        *self.signal_timer.borrow_mut() = Some(Timeout::new(SIGNAL_DEBOUNCE_MS, fire));
    }

    fn install_watchers(&self, doc: &Document) {
        if self.destroyed() || self.listeners.borrow().is_some() {
            return;
        }
        let Some(window) = web_sys::window() else {
            return;
        };
        let check = Closure::<dyn Fn()>::new(self.defer(|inner| inner.check()));
        let signal = {
            let weak = self.weak.clone();
            Closure::<dyn Fn(String)>::new(move |msg: String| {
                if let Some(inner) = weak.upgrade() {
                    inner.on_signal(&msg);
                }
            })
        };
        let remove = watch_page(doc, &window, &check, &signal);
        let listeners = PageWatch::new(remove, (check, signal));
        *self.listeners.borrow_mut() = Some(listeners);
        let tick = self.defer(|inner| inner.check());
        let interval = Interval::new(
            schedule::clamp_timer_ms(self.opts.check_interval_ms).max(1) as u32,
            tick,
        );
        *self.interval.borrow_mut() = Some(interval);
    }

    fn destroy(&self) {
        if self.destroyed() {
            return;
        }
        self.life.cancel();
        if let Some(ctrl) = self.fetch_ctrl.borrow_mut().take() {
            ctrl.abort();
        }
        let timers = [
            self.refresh_timer.borrow_mut().take(),
            self.retry_timer.borrow_mut().take(),
            self.signal_timer.borrow_mut().take(),
        ];
        drop(timers);
        let interval = self.interval.borrow_mut().take();
        drop(interval);
        let listeners = self.listeners.borrow_mut().take();
        drop(listeners);
        let mounted = self.mounted.borrow_mut().take();
        if let Ok(doc) = document() {
            tag::unmount(&doc, mounted, &self.opts);
        }
        {
            let mut ui = self.ui.borrow_mut();
            ui.hide_status();
            ui.hide_fallback();
        }
        self.token.borrow_mut().take();
        self.in_flight.borrow_mut().take();
        registry::unregister(self);
        self.set_state(State::Destroyed, None);
    }
}

/// Loads the ChatHub widget with a fresh operator token and keeps it alive.
///
/// ```js
/// import init, { WidgetTokenManager } from "chathub-loader";
/// await init();
/// const manager = new WidgetTokenManager({ tokenUrl: "/api/chathub/token" });
/// await manager.initialize();
/// ```
#[wasm_bindgen]
pub struct WidgetTokenManager {
    inner: Rc<Inner>,
}

#[wasm_bindgen]
extern "C" {
    /// The options object (typed in the generated `.d.ts`).
    #[wasm_bindgen(typescript_type = "WidgetTokenManagerOptions")]
    pub type WidgetTokenManagerOptions;
}

#[wasm_bindgen]
impl WidgetTokenManager {
    /// Checks the options and returns the page's manager for this org:
    /// a new one, or the live one when the options are the same.
    /// Throws `INVALID_OPTIONS`, `CONFLICTING_INSTANCE` or
    /// `UNSUPPORTED_ENVIRONMENT` (no `window`).
    #[wasm_bindgen(constructor)]
    pub fn new(options: WidgetTokenManagerOptions) -> Result<WidgetTokenManager, JsValue> {
        let window = web_sys::window().ok_or_else(no_window)?;
        let base = window.location().href().map_err(|_| no_window())?;
        let opts = Options::parse(&options, &base)?;
        if let Some(inner) = registry::existing(&opts)? {
            return Ok(WidgetTokenManager { inner });
        }
        let inner = Inner::new(opts);
        registry::register(&inner);
        Ok(WidgetTokenManager { inner })
    }

    /// Resolves once the widget tag carrying a validated token is in the
    /// document and its script has loaded. Idempotent: concurrent calls
    /// share one request; after a failure (fallback) it tries again.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn initialize(&self) -> Promise {
        match self.inner.state.get() {
            State::Ready | State::Refreshing => Promise::resolve(&JsValue::UNDEFINED),
            _ => self.inner.start(),
        }
    }

    /// Gets a new token now and gives it to the widget. Concurrent calls
    /// (and a call during `initialize()`) share one request.
    #[wasm_bindgen(js_name = refreshToken, unchecked_return_type = "Promise<void>")]
    pub fn refresh_token(&self) -> Promise {
        self.inner.start()
    }

    /// Removes the tag, the loading state and the fallback, stops timers
    /// and listeners, aborts a request in flight and frees the org's slot.
    /// Idempotent.
    pub fn destroy(&self) {
        self.inner.destroy();
    }

    /// `"idle" | "loading" | "ready" | "refreshing" | "fallback" | "destroyed"`.
    #[wasm_bindgen(getter, unchecked_return_type = "WidgetTokenManagerState")]
    pub fn state(&self) -> String {
        self.inner.state.get().as_str().into()
    }

    /// When the current token stops working, or `undefined`.
    #[wasm_bindgen(getter, js_name = expiresAt)]
    pub fn expires_at(&self) -> Option<js_sys::Date> {
        self.inner
            .token
            .borrow()
            .as_ref()
            .map(|t| js_sys::Date::new(&JsValue::from(t.expires_at_ms)))
    }

    /// The org this manager serves, or `undefined`.
    #[wasm_bindgen(getter)]
    pub fn org(&self) -> Option<String> {
        self.inner.opts.org.clone()
    }
}
