//! When the manager starts its next round: the refresh timer, the retry
//! timer after a failure, and the clock check every wake-up runs. The
//! maths is in `schedule`; this wires it to gloo timers (RAII: dropping a
//! `Timeout` clears it).
//!
//! Timers stop while a laptop sleeps or a tab is frozen, so a timer only
//! ever leads to `check()`, which reads the clock again.

use std::cell::RefCell;
use std::rc::Rc;

use gloo_timers::callback::Timeout;

use crate::events::State;
use crate::manager::Inner;
use crate::schedule;

/// Background retries while the widget still works are at most this far apart.
const MAX_RETRY_GAP_MS: f64 = 60_000.0;
/// In the fallback, retries of transient failures back off up to this.
const MAX_FALLBACK_RETRY_MS: f64 = 300_000.0;

/// The manager's two one-shot timers.
#[derive(Default)]
pub struct Timers {
    refresh: RefCell<Option<Timeout>>,
    retry: RefCell<Option<Timeout>>,
}

impl Timers {
    /// Cancels a pending retry (a round succeeded).
    pub fn clear_retry(&self) {
        let retry = self.retry.borrow_mut().take();
        drop(retry);
    }

    /// Cancels both.
    pub fn clear(&self) {
        self.clear_retry();
        let refresh = self.refresh.borrow_mut().take();
        drop(refresh);
    }
}

impl Inner {
    fn arm(&self, slot: &RefCell<Option<Timeout>>, delay_ms: f64, f: fn(&Rc<Inner>)) {
        if self.destroyed() {
            return;
        }
        let t = Timeout::new(schedule::clamp_timer_ms(delay_ms) as u32, self.defer(f));
        let old = slot.borrow_mut().replace(t);
        drop(old);
    }

    fn backoff(&self, failures: u32, cap_ms: f64) -> f64 {
        schedule::backoff_ms(
            failures.saturating_sub(1),
            self.opts.retry_delay_ms.max(1_000.0),
            cap_ms,
            js_sys::Math::random(),
        )
    }

    /// A refresh failed while the widget works: retry, never past expiry.
    pub(crate) fn schedule_retry_while_working(&self, failures: u32) {
        let until_expiry = self
            .token
            .borrow()
            .as_ref()
            .map(|t| t.expires_at_ms - js_sys::Date::now())
            .unwrap_or(0.0);
        let delay = self
            .backoff(failures, MAX_RETRY_GAP_MS)
            .min(until_expiry.max(0.0));
        self.arm(&self.timers.retry, delay, |inner| inner.trigger());
    }

    /// A transient failure left the contact box: try again later.
    pub(crate) fn schedule_retry_in_fallback(&self, failures: u32) {
        let delay = self.backoff(failures, MAX_FALLBACK_RETRY_MS);
        self.arm(&self.timers.retry, delay, |inner| inner.trigger());
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
            self.arm(&self.timers.refresh, delay, |inner| inner.check());
        }
    }

    /// The safety net (interval, wake-up, back online): refresh when due,
    /// retry from the fallback, otherwise re-arm the timer.
    pub(crate) fn check(self: &Rc<Self>) {
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
}
