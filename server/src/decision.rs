//! What the cache does with a request for one organisation, as one pure
//! function of the org's slot and the time: hand out the cached token,
//! hand it out while starting a renewal, wait for the flow under way, start
//! one, or fail fast inside a backoff window. [`crate::cache`] only carries
//! the decision out (it holds the lock, the flights and the timers), so
//! every state and clock the property tests generate is checked here
//! without a runtime.
//!
//! **Two clocks.** Timers run on tokio's monotonic clock, which stops while
//! the host or VM is suspended; a token's `expiresAt` is wall-clock time.
//! After a suspend the monotonic clock says a token is fresh while the wall
//! clock says it expired, so the time left is the *lesser* of the two
//! readings, and no token is ever handed out past its wall-clock expiry.
//!
//! **Two backoffs.** Each org has its own backoff window (an org's flow
//! failed), and the company login has one more (in [`crate::upstream`]):
//! after a failed login, no new login until its window has passed. An org
//! flow that needs a login inside that window fails at once, without a
//! call, and so opens (or lengthens) that org's own window. ChatHub thus
//! sees at most one login per login window and one flow per org per org
//! window; once it recovers, each org waits for whichever of its two
//! windows ends later.

use std::time::Duration;

use time::OffsetDateTime;
use tokio::time::Instant;

/// When to ask again while an attempt is under way right now.
pub const STALE_RETRY: Duration = Duration::from_secs(1);

/// A cached token's expiry on both clocks and its two margins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenTimes {
    /// Its expiry on the monotonic clock.
    pub expires: Instant,
    /// Its expiry on the wall clock (the token's own `expiresAt`).
    pub expires_at: OffsetDateTime,
    /// Handed out as is while more than this is left.
    pub fresh_margin: Duration,
    /// Still handed out, while renewal fails, while more than this is left.
    pub usable_margin: Duration,
}

impl TokenTimes {
    /// Time left by the clock that says less.
    pub fn left(&self, now: Now) -> Duration {
        let by_instant = self.expires.saturating_duration_since(now.instant);
        let by_wall = Duration::try_from(self.expires_at - now.wall).unwrap_or(Duration::ZERO);
        by_instant.min(by_wall)
    }
}

/// The flow under way for an org, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InFlight {
    /// None.
    No,
    /// One whose result will be stored and handed out.
    Current,
    /// One started before the cache was cleared: its result is dropped,
    /// yet a second flow must not run beside it.
    Cleared,
}

/// What the decision looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlotState {
    /// The cached token, if any.
    pub token: Option<TokenTimes>,
    /// The flow under way.
    pub in_flight: InFlight,
    /// Failed attempts in a row (0 after a success).
    pub failures: u32,
    /// The end of the backoff window, if one was opened.
    pub backoff_until: Option<Instant>,
}

/// The time, on both clocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Now {
    /// tokio's clock.
    pub instant: Instant,
    /// The wall clock.
    pub wall: OffsetDateTime,
}

impl Now {
    /// Both clocks, read now.
    pub fn read() -> Self {
        Now {
            instant: Instant::now(),
            wall: OffsetDateTime::now_utc(),
        }
    }
}

/// What to do with the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Hand out the cached token as is.
    Fresh,
    /// Hand out the cached token, which is past its renewal point, with a
    /// `Retry-After`; `renew`: start a (background) renewal first.
    Stale {
        /// Asking again before this gives the same token.
        retry_after: Duration,
        /// Start a renewal now.
        renew: bool,
    },
    /// Wait for the flow under way and answer with its result.
    Join,
    /// Start a flow and wait for it.
    Start,
    /// Wait until the cleared flow under way has ended, then decide again.
    AwaitCleared,
    /// Answer at once that no token is available: ChatHub is not asked now.
    FailFast {
        /// When asking again can give a different answer.
        retry_after: Duration,
    },
}

/// The decision for a request arriving at `now` at an org in `slot`.
pub fn decide(slot: &SlotState, now: Now) -> Decision {
    let backoff = slot
        .backoff_until
        .map(|until| until.saturating_duration_since(now.instant))
        .filter(|left| !left.is_zero());
    if let Some(token) = &slot.token {
        let left = token.left(now);
        if left > token.fresh_margin {
            return Decision::Fresh;
        }
        if left > token.usable_margin {
            return match backoff {
                Some(wait) => Decision::Stale {
                    retry_after: wait,
                    renew: false,
                },
                None => Decision::Stale {
                    retry_after: STALE_RETRY,
                    renew: slot.in_flight == InFlight::No,
                },
            };
        }
    }
    // Nothing usable is cached.
    match slot.in_flight {
        InFlight::Cleared => Decision::AwaitCleared,
        // Inside a failing streak a request does not wait for the next
        // attempt either: it would only pile up (for as long as ChatHub
        // hangs) behind a flow that probably fails too.
        InFlight::Current if slot.failures > 0 => Decision::FailFast {
            retry_after: STALE_RETRY,
        },
        InFlight::Current => Decision::Join,
        InFlight::No => match backoff {
            Some(wait) => Decision::FailFast { retry_after: wait },
            None => Decision::Start,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// A slot and a time, described by offsets (ms) from a fixed start.
    #[derive(Debug, Clone)]
    struct Case {
        token: Option<(u64, i64, u64, u64)>,
        in_flight: InFlight,
        failures: u32,
        backoff_until: Option<u64>,
        now: u64,
        wall_ahead: u64,
    }

    fn case() -> impl Strategy<Value = Case> {
        let token = proptest::option::of((
            0u64..100_000,
            -10_000i64..100_000,
            0u64..50_000,
            0u64..50_000,
        ));
        let in_flight = prop_oneof![
            Just(InFlight::No),
            Just(InFlight::Current),
            Just(InFlight::Cleared)
        ];
        (
            token,
            in_flight,
            0u32..5,
            proptest::option::of(0u64..100_000),
            0u64..100_000,
            0u64..100_000,
        )
            .prop_map(
                |(token, in_flight, failures, backoff_until, now, wall_ahead)| Case {
                    token,
                    in_flight,
                    failures,
                    backoff_until,
                    now,
                    wall_ahead,
                },
            )
    }

    /// The slot and the time of a case: the wall clock is ahead of the
    /// monotonic one by `wall_ahead` (a suspend), the token's wall-clock
    /// expiry differs from its monotonic one by `skew`.
    fn build(c: &Case, start: Instant, wall0: OffsetDateTime) -> (SlotState, Now) {
        let at = |n: u64| start + ms(n);
        let token = c.token.map(|(expires, skew, fresh, usable)| TokenTimes {
            expires: at(expires),
            expires_at: wall0
                + time::Duration::milliseconds(expires as i64)
                + time::Duration::milliseconds(skew),
            fresh_margin: ms(fresh.max(usable)),
            usable_margin: ms(usable),
        });
        let slot = SlotState {
            token,
            in_flight: c.in_flight,
            failures: c.failures,
            backoff_until: c.backoff_until.map(at),
        };
        let now = Now {
            instant: at(c.now),
            wall: wall0
                + time::Duration::milliseconds(c.now as i64)
                + time::Duration::milliseconds(c.wall_ahead as i64),
        };
        (slot, now)
    }

    proptest! {
        #[test]
        fn a_token_is_handed_out_only_while_both_clocks_say_it_has_more_than_its_margin(c in case()) {
            let (slot, now) = build(&c, Instant::now(), OffsetDateTime::now_utc());
            let served = matches!(decide(&slot, now), Decision::Fresh | Decision::Stale { .. });
            if served {
                let t = slot.token.expect("served without a token");
                let by_wall = Duration::try_from(t.expires_at - now.wall).unwrap_or_default();
                prop_assert!(by_wall > t.usable_margin, "past its wall-clock expiry: {c:?}");
                prop_assert!(t.expires.saturating_duration_since(now.instant) > t.usable_margin);
            }
            if decide(&slot, now) == Decision::Fresh {
                prop_assert!(slot.token.is_some_and(|t| t.left(now) > t.fresh_margin));
            }
        }

        #[test]
        fn at_most_one_flow_runs_and_none_starts_inside_a_backoff_window(c in case()) {
            let (slot, now) = build(&c, Instant::now(), OffsetDateTime::now_utc());
            let in_window = slot.backoff_until.is_some_and(|u| u > now.instant);
            match decide(&slot, now) {
                Decision::Start => {
                    prop_assert_eq!(slot.in_flight, InFlight::No);
                    prop_assert!(!in_window);
                }
                Decision::Stale { renew: true, .. } => {
                    prop_assert_eq!(slot.in_flight, InFlight::No);
                    prop_assert!(!in_window);
                }
                Decision::Join => {
                    prop_assert_eq!(slot.in_flight, InFlight::Current);
                    prop_assert_eq!(slot.failures, 0, "waiting inside a failing streak");
                }
                Decision::AwaitCleared => prop_assert_eq!(slot.in_flight, InFlight::Cleared),
                Decision::Fresh | Decision::Stale { renew: false, .. } | Decision::FailFast { .. } => {}
            }
        }

        #[test]
        fn every_answer_without_a_fresh_token_says_when_to_ask_again(c in case()) {
            let (slot, now) = build(&c, Instant::now(), OffsetDateTime::now_utc());
            match decide(&slot, now) {
                Decision::Stale { retry_after, .. } | Decision::FailFast { retry_after } => {
                    prop_assert!(!retry_after.is_zero());
                    prop_assert!(retry_after <= STALE_RETRY.max(
                        slot.backoff_until.map_or(Duration::ZERO, |u| u - now.instant.min(u))
                    ));
                }
                _ => {}
            }
        }

        #[test]
        fn a_usable_token_is_never_withheld(c in case()) {
            let (slot, now) = build(&c, Instant::now(), OffsetDateTime::now_utc());
            if slot.token.is_some_and(|t| t.left(now) > t.usable_margin) {
                let served = matches!(decide(&slot, now), Decision::Fresh | Decision::Stale { .. });
                prop_assert!(served, "withheld: {:?}", c);
            }
        }
    }

    #[test]
    fn after_a_suspend_the_wall_clock_decides() {
        let start = Instant::now();
        let wall0 = OffsetDateTime::now_utc();
        let token = TokenTimes {
            expires: start + Duration::from_secs(3600),
            expires_at: wall0 + time::Duration::hours(1),
            fresh_margin: Duration::from_secs(900),
            usable_margin: Duration::from_secs(60),
        };
        let slot = SlotState {
            token: Some(token),
            in_flight: InFlight::No,
            failures: 0,
            backoff_until: None,
        };
        // Ten minutes later on both clocks: fresh.
        let awake = Now {
            instant: start + Duration::from_secs(600),
            wall: wall0 + time::Duration::minutes(10),
        };
        assert_eq!(decide(&slot, awake), Decision::Fresh);
        // The same monotonic time after a two-hour suspend: a new flow.
        let resumed = Now {
            instant: start + Duration::from_secs(600),
            wall: wall0 + time::Duration::hours(2),
        };
        assert_eq!(decide(&slot, resumed), Decision::Start);
    }
}
