//! The manager's state machine: get a token, mount the widget with it,
//! keep a working widget through failures, fall back when the chat cannot
//! load. The refresh timers live in `timing`, the page signals in
//! `signals`, the handles pages hold in `handle`.
//!
//! Async work clones the `Rc<Inner>` and runs under the manager's
//! [`Lifetime`](crate::lifetime::Lifetime), so `destroy()` never waits on
//! (or fights a borrow held by) a pending request. No `RefCell` borrow is
//! held across an `.await` or across a call that can reach page code
//! (dispatching the state event, removing an element that may hold focus).

use crate::prelude::*;
use alloc::rc::{Rc, Weak};
use core::cell::{Cell, RefCell};

use js_sys::Promise;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::{future_to_promise, spawn_local, JsFuture};
use web_sys::Document;

use crate::error::{ErrorCode, LoaderError};
use crate::events::{self, State};
use crate::lifetime::{self, Lifetime};
use crate::options::{Options, Reload};
use crate::registry;
use crate::schedule;
use crate::signals::Signals;
use crate::tag::{self, Mounted};
use crate::timing::{self, Timers};
use crate::token::{self, Token};
use crate::trigger::{self, Waiting};
use crate::ui::{self, Ui};

/// The longest wait between the quick attempts of one round.
const QUICK_BACKOFF_CAP_MS: f64 = 10_000.0;

/// The state behind every handle for one org.
pub struct Inner {
    /// The checked options (compared when a second handle is requested).
    pub opts: Options,
    pub(crate) weak: Weak<Inner>,
    life: Rc<Lifetime>,
    pub(crate) state: Cell<State>,
    pub(crate) token: RefCell<Option<Token>>,
    pub(crate) in_flight: RefCell<Option<Promise>>,
    /// The round in flight may make quick attempts (someone waits for it).
    quick: Cell<bool>,
    mounted: RefCell<Option<Mounted>>,
    ui: RefCell<Ui>,
    pub(crate) timers: Timers,
    pub(crate) signals: Signals,
    pub(crate) failures: Cell<u32>,
    /// Handles not yet released by their `destroy()`.
    pub(crate) handles: Cell<u32>,
    /// The load trigger the first round waits for (see `trigger`).
    pub(crate) waiting: Cell<Option<Waiting>>,
}

pub(crate) fn document() -> Result<Document, LoaderError> {
    web_sys::window()
        .and_then(|w| w.document())
        .ok_or_else(no_window)
}

pub(crate) fn no_window() -> LoaderError {
    LoaderError::new(
        ErrorCode::UnsupportedEnvironment,
        "chathub-loader: there is no window/document here (server-side rendering or a worker?); create the WidgetTokenManager in the browser, e.g. in useEffect/onMounted",
    )
}

impl Inner {
    pub(crate) fn new(opts: Options) -> Rc<Inner> {
        Rc::new_cyclic(|weak| Inner {
            opts,
            weak: weak.clone(),
            life: Rc::new(Lifetime::default()),
            state: Cell::new(State::Idle),
            token: RefCell::new(None),
            in_flight: RefCell::new(None),
            quick: Cell::new(false),
            mounted: RefCell::new(None),
            ui: RefCell::new(Ui::default()),
            timers: Timers::default(),
            signals: Signals::default(),
            failures: Cell::new(0),
            handles: Cell::new(0),
            waiting: Cell::new(None),
        })
    }

    pub(crate) fn destroyed(&self) -> bool {
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
    pub(crate) fn widget_works(&self) -> bool {
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
    pub(crate) fn defer(&self, f: fn(&Rc<Inner>)) -> impl Fn() + 'static {
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
    /// `quick`: someone waits for it (the first `initialize()`,
    /// `refreshToken()`), so it makes up to `1 + maxRetries` quick
    /// attempts, also when it joins a round that started as one attempt.
    /// `wait`: a round started now first waits for the load trigger
    /// (`initialize()`; see `trigger`).
    pub(crate) fn start(self: &Rc<Self>, quick: bool, wait: bool) -> Promise {
        if self.destroyed() {
            return Promise::reject(&LoaderError::destroyed().to_js());
        }
        if quick {
            self.quick.set(true);
        }
        if let Some(p) = self.in_flight.borrow().clone() {
            return p;
        }
        let inner = self.clone();
        // Listening from this call on; the promise resolves when the
        // trigger fires, or when `refreshToken()` or `destroy()` ends the
        // wait (then the guard below ends the round before it starts).
        let wait = (wait && self.must_wait()).then(|| self.wait_for_trigger());
        let promise = future_to_promise(async move {
            if let Some(fired) = wait {
                let _ = JsFuture::from(fired).await;
            }
            let res = lifetime::guard(inner.life.clone(), inner.clone().run()).await;
            inner.in_flight.borrow_mut().take();
            inner.quick.set(false);
            res.map(|()| JsValue::UNDEFINED).map_err(|e| e.to_js())
        });
        *self.in_flight.borrow_mut() = Some(promise.clone());
        promise
    }

    /// Starts (or joins) a one-attempt round whose outcome only the state
    /// reports: timers, page signals, the contact box's button.
    pub(crate) fn trigger(self: &Rc<Self>) {
        self.timers.clear_retry();
        let p = self.start(false, false);
        spawn_local(async move {
            let _ = JsFuture::from(p).await;
        });
    }

    async fn run(self: Rc<Self>) -> Result<(), LoaderError> {
        let doc = document()?;
        let working = self.widget_works();
        // From the fallback, rounds are quiet: the contact box stays, no
        // loading status, the state stays `fallback` until one succeeds.
        let quiet = !working && self.state.get() == State::Fallback;
        if working {
            self.set_state(State::Refreshing, None);
        } else if !quiet {
            self.set_state(State::Loading, None);
        }
        // A state listener may have destroyed the manager just now.
        if self.destroyed() {
            return Err(LoaderError::destroyed());
        }
        if !working && !quiet && !self.is_shown(|ui| &mut ui.status) {
            match ui::show_status(&doc, &self.opts) {
                Ok(status) => self.keep_shown(status, |ui| &mut ui.status),
                Err(e) => {
                    self.set_state(State::Fallback, Some(&e));
                    return Err(e);
                }
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
                // A retry armed by an earlier failure must not fire now.
                self.timers.clear_retry();
                self.hide_ui();
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

    /// One attempt, or (a quick round) up to `1 + maxRetries` with backoff.
    /// 4xx and bad answers are not retried, nor anything while the page is
    /// hidden or when the endpoint asks for a longer wait (`Retry-After`):
    /// the background retry takes over then.
    async fn fetch_round(&self) -> Result<Token, LoaderError> {
        let mut attempt = 0;
        loop {
            // Dropping this future (destroy) aborts the request in flight.
            let err = match token::fetch_token(&self.opts).await {
                Err(e)
                    if e.is_retryable()
                        && self.quick.get()
                        && attempt < self.opts.max_retries
                        && !timing::page_hidden() =>
                {
                    e
                }
                other => return other,
            };
            let backoff = schedule::backoff_ms(
                attempt,
                self.opts.retry_delay_ms,
                QUICK_BACKOFF_CAP_MS,
                js_sys::Math::random(),
            );
            let delay = match err.retry_after_ms {
                Some(ra) if ra > QUICK_BACKOFF_CAP_MS => return Err(err),
                ra => schedule::retry_wait_ms(backoff, ra, QUICK_BACKOFF_CAP_MS),
            };
            attempt += 1;
            trigger::sleep(schedule::clamp_timer_ms(delay) as u32).await;
            // Hidden while it waited: the background retry takes over.
            if timing::page_hidden() {
                return Err(err);
            }
        }
    }

    /// Gives the widget the new token (see `tag` for why a new module URL).
    async fn apply(&self, doc: &Document, token: Token) -> Result<(), LoaderError> {
        let working = self.widget_works();
        if working {
            // The backend handed out the token the widget already has (it
            // serves a cached token until its own renewal point): nothing
            // to remount; the schedule backs off instead of asking again.
            let mut current = self.token.borrow_mut();
            if let Some(cur) = current.as_mut().filter(|c| c.value == token.value) {
                cur.arrived_again(&token);
                return Ok(());
            }
        }
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
        if working {
            // Keep the working widget unless its replacement can load.
            tag::preload(doc, &self.opts, &src).await?;
        }
        let old = self.mounted.borrow_mut().take();
        let old = old.or_else(|| tag::adopt(doc, &self.opts.tag_id()));
        // Off the page while the new one evaluates (it must find a clean
        // page and only its own tag), but kept.
        let old = tag::take(doc, old, &self.opts);
        // Removing the old UI may have moved focus and run page code.
        if self.destroyed() {
            return Err(LoaderError::destroyed());
        }
        let mounted = match tag::mount(doc, &self.opts, &src, &token.value).await {
            Ok(m) => m,
            Err(e) => {
                if working && !self.destroyed() {
                    // The new evaluation failed (it threw, or the module did
                    // not load after all): give the page back the widget
                    // that works, as it was, with its token.
                    let back = old.restore();
                    if self.destroyed() {
                        // Re-inserting it ran page code that destroyed us.
                        tag::unmount(doc, back, &self.opts);
                    } else {
                        *self.mounted.borrow_mut() = back;
                    }
                }
                return Err(e);
            }
        };
        if self.destroyed() {
            tag::unmount(doc, Some(mounted), &self.opts);
            return Err(LoaderError::destroyed());
        }
        *self.mounted.borrow_mut() = Some(mounted);
        *self.token.borrow_mut() = Some(token);
        Ok(())
    }

    /// A round failed: keep a working widget and retry until its token
    /// expires, or show the fallback (retrying transient failures).
    fn fail(self: &Rc<Self>, doc: &Document, e: &LoaderError) {
        let failures = self.failures.get() + 1;
        self.failures.set(failures);
        let status = self.ui.borrow_mut().status.take();
        if let Some(s) = status {
            s.remove();
        }
        if self.destroyed() {
            return;
        }
        if self.widget_works() {
            self.set_state(State::Ready, Some(e));
            self.schedule_retry(failures, e);
            return;
        }
        let mut reported = e.clone();
        if self.is_shown(|ui| &mut ui.fallback) {
            self.fallback_busy(false);
        } else {
            // One box, kept while it is shown (focus stays on its button).
            let weak = self.weak.clone();
            let on_retry = move || {
                if let Some(inner) = weak.upgrade() {
                    inner.try_again();
                }
            };
            match ui::show_fallback(doc, &self.opts, on_retry) {
                Ok(Some(bx)) => self.keep_shown(bx, |ui| &mut ui.fallback),
                Ok(None) => {}
                Err(container_err) => reported = container_err,
            }
        }
        self.set_state(State::Fallback, Some(&reported));
        if self.destroyed() {
            return;
        }
        if e.is_retryable() {
            self.schedule_retry(failures, e);
        } else {
            // Not retried by itself (401, a bad answer): no older retry
            // fires later either; the page coming back tries once.
            self.timers.clear_retry();
        }
    }

    /// The contact box's button: one attempt now, the button disabled and
    /// saying so until it ends (`fail` re-enables it; success removes it).
    fn try_again(self: &Rc<Self>) {
        if self.destroyed() {
            return;
        }
        self.fallback_busy(true);
        self.trigger();
    }

    fn fallback_busy(&self, busy: bool) {
        // Out of the borrow: disabling a focused button may run page code.
        let button = self.ui.borrow().fallback.as_ref().and_then(|b| b.button());
        if let Some(button) = button {
            ui::set_busy(&button, busy, &self.opts);
        }
    }

    /// Whether the element in this slot is on the page.
    fn is_shown(&self, slot: fn(&mut Ui) -> &mut Option<ui::Shown>) -> bool {
        slot(&mut self.ui.borrow_mut())
            .as_ref()
            .is_some_and(|s| s.is_connected())
    }

    /// Stores a shown element in its slot; what the slot held before is
    /// removed after the borrow ends.
    fn keep_shown(&self, shown: ui::Shown, slot: fn(&mut Ui) -> &mut Option<ui::Shown>) {
        let old = slot(&mut self.ui.borrow_mut()).replace(shown);
        if let Some(old) = old {
            old.remove();
        }
    }

    /// Removes the loading status and the contact box, outside the borrow.
    fn hide_ui(&self) {
        let taken = {
            let mut ui = self.ui.borrow_mut();
            [ui.status.take(), ui.fallback.take()]
        };
        for shown in taken.into_iter().flatten() {
            shown.remove();
        }
    }

    /// Tears everything down. Safe to re-enter from page code it triggers
    /// (a `focusout` listener calling `destroy()` again, a state listener).
    pub(crate) fn destroy(&self) {
        if self.destroyed() {
            return;
        }
        // First: a page that creates a new manager from a callback fired
        // below must get a new one, not this one half torn down.
        registry::unregister(self);
        // Wakes the guarded round: it is dropped at its next poll, which
        // aborts its request (see `token::fetch_token`) and timers.
        self.life.cancel();
        // Removes the load trigger's listeners now; its round ends unstarted.
        self.waiting.take();
        self.timers.clear();
        self.signals.clear();
        let mounted = self.mounted.borrow_mut().take();
        if let Ok(doc) = document() {
            tag::unmount(&doc, mounted, &self.opts);
        }
        self.hide_ui();
        self.token.borrow_mut().take();
        self.in_flight.borrow_mut().take();
        self.set_state(State::Destroyed, None);
    }
}
