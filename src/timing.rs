//! When the manager starts its next round: the refresh timer, the retry
//! timer after a failure, and the check every wake-up runs. The maths is
//! in `schedule`; this wires it to timers (RAII: dropping a [`Timer`]
//! clears it).
//!
//! The retry budget: a round someone waits for (`initialize()`,
//! `refreshToken()`) makes quick attempts; everything after that is one
//! attempt at a time, backed off, honouring `Retry-After`, and never while
//! the page is hidden. Timers stop while a laptop sleeps or a tab is
//! frozen, so a timer only ever leads to `check()`, which reads the clock
//! again.

use alloc::rc::Rc;
use core::cell::{Cell, RefCell};

use crate::error::{ErrorCode, LoaderError};
use crate::events::State;
use crate::manager::{document, Inner};
use crate::schedule;
use crate::timer::Timer;

/// The manager's two one-shot timers, and when the pending retry is due.
pub struct Timers {
    refresh: RefCell<Option<Timer>>,
    retry: RefCell<Option<Timer>>,
    /// When the pending retry is due (local ms); NaN when none is.
    retry_at: Cell<f64>,
    /// When the failure that armed it happened.
    failed_at: Cell<f64>,
    /// The pending retry follows a network failure: `online` makes it due.
    retry_on_online: Cell<bool>,
}

impl Default for Timers {
    fn default() -> Self {
        Timers {
            refresh: RefCell::new(None),
            retry: RefCell::new(None),
            retry_at: Cell::new(f64::NAN),
            failed_at: Cell::new(f64::NAN),
            retry_on_online: Cell::new(false),
        }
    }
}

impl Timers {
    /// Cancels a pending retry (a round succeeded, or one starts now).
    pub fn clear_retry(&self) {
        self.retry_at.set(f64::NAN);
        let retry = self.retry.borrow_mut().take();
        drop(retry);
    }

    /// Cancels both.
    pub fn clear(&self) {
        self.clear_retry();
        let refresh = self.refresh.borrow_mut().take();
        drop(refresh);
    }

    fn retry_pending(&self) -> bool {
        !self.retry_at.get().is_nan()
    }
}

/// The page is in a background tab (or minimised).
pub(crate) fn page_hidden() -> bool {
    document().is_ok_and(|d| d.hidden())
}

impl Inner {
    fn arm(&self, slot: &RefCell<Option<Timer>>, delay_ms: f64) {
        if self.destroyed() {
            return;
        }
        let t = Timer::timeout(
            schedule::clamp_timer_ms(delay_ms) as u32,
            self.defer(|inner| inner.check(false)),
        );
        let old = slot.borrow_mut().replace(t);
        drop(old);
    }

    /// A round failed with a transient error: one background attempt later,
    /// backed off (see [`schedule::retry_delay_ms`]), after the endpoint's
    /// `Retry-After` if it gave one, never past `maxRetryDelayMs`, nor past
    /// the token's expiry while the widget works.
    pub(crate) fn schedule_retry(&self, failures: u32, e: &LoaderError) {
        let now = js_sys::Date::now();
        let cap = self.opts.max_retry_delay_ms;
        let mut limit = cap;
        if self.widget_works() {
            if let Some(t) = self.token.borrow().as_ref() {
                limit = limit.min(t.expires_at_ms - now);
            }
        }
        let base = schedule::background_base_ms(self.opts.retry_delay_ms, cap);
        let backoff = schedule::retry_delay_ms(failures, base, cap, js_sys::Math::random());
        // Whole milliseconds, as the timer counts them: the timer's firing
        // must find the retry due.
        let delay =
            schedule::clamp_timer_ms(schedule::retry_wait_ms(backoff, e.retry_after_ms, limit));
        self.arm(&self.timers.retry, f64::from(delay));
        self.timers.retry_at.set(now + f64::from(delay));
        self.timers.failed_at.set(now);
        self.timers.retry_on_online.set(matches!(
            e.code,
            ErrorCode::TokenNetwork | ErrorCode::TokenTimeout
        ));
    }

    /// Milliseconds until the current token's refresh is due.
    fn refresh_due_in(&self) -> Option<f64> {
        let token = self.token.borrow();
        let t = token.as_ref()?;
        let margin = schedule::margin_ms(self.opts.refresh_margin_ms, t.lifetime_ms);
        let at = schedule::refresh_at_ms(t.received_at_ms, t.expires_at_ms, margin, t.repeated);
        Some(at - js_sys::Date::now())
    }

    pub(crate) fn schedule_refresh(&self) {
        if let Some(delay) = self.refresh_due_in() {
            // A clamped (early) firing only re-checks the clock.
            self.arm(&self.timers.refresh, delay);
        }
    }

    /// Every timer, the safety-net interval and the page coming back
    /// (`online`: the network is back) end here: a pending retry runs once
    /// due and the page is visible; a refresh that is due runs even in a
    /// hidden tab (a background chat keeps its token); from the fallback
    /// after an error that is not retried by itself (401), the page
    /// coming back (visible) tries once.
    pub(crate) fn check(self: &Rc<Self>, online: bool) {
        if self.destroyed() || self.in_flight.borrow().is_some() {
            return;
        }
        let t = &self.timers;
        let now = js_sys::Date::now();
        if t.retry_pending() {
            // The network is back after a network failure: due now, once a
            // third of the wait has passed (the jitter floor), so a
            // flapping connection still costs backed-off requests. Kept
            // due while the page is hidden.
            let floor = t.failed_at.get() + (t.retry_at.get() - t.failed_at.get()) / 3.0;
            if online && t.retry_on_online.get() && now >= floor {
                t.retry_at.set(t.retry_at.get().min(now));
            }
            if now < t.retry_at.get() {
                // Woken early (interval, page signal, a timer that fired
                // before the clock moved on): wait for the rest.
                self.arm(&t.retry, t.retry_at.get() - now);
            } else if !page_hidden() {
                t.clear_retry();
                self.trigger();
            }
            return;
        }
        match self.state.get() {
            State::Fallback if !page_hidden() => self.trigger(),
            State::Ready if self.refresh_due_in().is_some_and(|d| d <= 0.0) => self.trigger(),
            State::Ready => self.schedule_refresh(),
            _ => {}
        }
    }
}
