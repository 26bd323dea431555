//! Exponential backoff against a failing ChatHub: after a failure, no new
//! attempt until the window has passed; the window doubles with each failure
//! in a row, up to a maximum, and a success resets it.
//!
//! Jitter only lengthens a window (by up to a fifth), so "at most one attempt
//! per nominal window" holds, while many orgs or instances that failed at the
//! same moment still spread their next attempts.

use std::time::Duration;

use tokio::time::Instant;

use crate::schedule::{scale, unit};

/// Up to this share of a window is added as jitter.
const JITTER: f64 = 0.2;

/// The backoff state of one upstream target (an org's flow, the company login).
#[derive(Debug, Clone)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    failures: u32,
    until: Option<Instant>,
}

impl Backoff {
    /// No failure yet; windows start at `initial` and stop growing at `max`.
    pub fn new(initial: Duration, max: Duration) -> Self {
        Backoff {
            initial,
            max: max.max(initial),
            failures: 0,
            until: None,
        }
    }

    /// The nominal window after `failures` failures in a row (0 for none).
    pub fn nominal(&self, failures: u32) -> Duration {
        if failures == 0 {
            return Duration::ZERO;
        }
        let doublings = (failures - 1).min(31);
        self.initial
            .checked_mul(1u32 << doublings)
            .unwrap_or(self.max)
            .min(self.max)
    }

    /// The window after `failures` failures with `jitter` in `[0, 1]`.
    pub fn window(&self, failures: u32, jitter: f64) -> Duration {
        let nominal = self.nominal(failures);
        nominal.saturating_add(scale(nominal, JITTER * unit(jitter)))
    }

    /// Records a failure at `now`; returns the window before the next attempt.
    pub fn fail(&mut self, now: Instant) -> Duration {
        self.failures = self.failures.saturating_add(1);
        let window = self.window(self.failures, fastrand::f64());
        self.until = now.checked_add(window);
        window
    }

    /// Records a success: the next failure starts from the first window again.
    pub fn succeed(&mut self) {
        self.failures = 0;
        self.until = None;
    }

    /// How long until an attempt is allowed again, if that is still ahead.
    pub fn remaining(&self, now: Instant) -> Option<Duration> {
        self.until
            .map(|until| until.saturating_duration_since(now))
            .filter(|left| !left.is_zero())
    }

    /// The end of the current window, if one was opened.
    pub fn until(&self) -> Option<Instant> {
        self.until
    }

    /// Failures in a row so far.
    pub fn failures(&self) -> u32 {
        self.failures
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    #[test]
    fn windows_double_from_the_first_up_to_the_maximum() {
        let b = Backoff::new(S, 60 * S);
        let nominal: Vec<u64> = (0..10).map(|n| b.nominal(n).as_secs()).collect();
        assert_eq!(nominal, [0, 1, 2, 4, 8, 16, 32, 60, 60, 60]);
        assert_eq!(b.nominal(u32::MAX), 60 * S);
    }

    #[test]
    fn jitter_only_lengthens_a_window_by_up_to_a_fifth() {
        let b = Backoff::new(S, 60 * S);
        assert_eq!(b.window(3, 0.0), 4 * S);
        assert_eq!(b.window(3, 1.0), Duration::from_millis(4800));
        assert_eq!(b.window(3, 7.0), Duration::from_millis(4800));
        assert_eq!(b.window(20, 1.0), 72 * S);
    }

    #[tokio::test(start_paused = true)]
    async fn a_failure_closes_the_window_and_a_success_resets_it() {
        let mut b = Backoff::new(S, 60 * S);
        let now = Instant::now();
        assert_eq!(b.remaining(now), None);
        let first = b.fail(now);
        assert!((S..=S.mul_f64(1.2)).contains(&first), "{first:?}");
        assert_eq!(b.remaining(now), Some(first));
        assert_eq!(b.remaining(now + first), None);
        let second = b.fail(now + first);
        assert!(second >= 2 * S, "{second:?}");
        assert_eq!(b.failures(), 2);
        b.succeed();
        assert_eq!((b.failures(), b.remaining(now)), (0, None));
        assert!(b.fail(now) < 2 * S);
    }
}
