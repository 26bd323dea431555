//! When a cached token is handed out, renewed and given up: pure maths on
//! its lifetime, so the cache's timing is tested without a clock.
//!
//! A token of lifetime L is
//! - **fresh** (handed out as is) while more than `max(refresh_margin, L/4)`,
//!   at most `L/2`, is left. The quarter matters: chathub-loader refreshes
//!   20 % of a lifetime before expiry and must then get a new token;
//! - **renewed in the background** once `refresh_ahead` of L has passed, or
//!   earlier when needed for the new token to be there before the old one
//!   stops being fresh (a lead of L/20, at most 30 s); minus up to L/20 (at
//!   most 60 s) of jitter, so orgs and instances do not renew in step. With
//!   the quarter rule the "earlier" only applies to shares above 70 %,
//!   which the configuration refuses (they would have no effect), or when
//!   `refresh_margin` is more than a quarter of L (then [`renewal_share`]
//!   is below `refresh_ahead`, and start-up says so);
//! - **still served while renewal fails** until only `min(min_left, L/10)`
//!   is left.

use std::time::Duration;

use crate::config::RenewalPolicy;

/// The longest lead of a renewal before the token stops being fresh.
const MAX_LEAD: Duration = Duration::from_secs(30);
/// The longest jitter subtracted from a renewal time.
const MAX_JITTER: Duration = Duration::from_secs(60);

/// A cached token's timeline, as offsets from the moment it was stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    /// Handed out as is for this long.
    pub fresh_for: Duration,
    /// Renewed in the background after this long.
    pub renew_in: Duration,
    /// Still served, while renewal fails, for this long.
    pub usable_for: Duration,
    /// Expires after this long.
    pub expires_in: Duration,
}

/// The plan for a token of `lifetime` with `left` to go; `jitter` in `[0, 1]`.
pub fn plan(
    lifetime: Duration,
    left: Duration,
    refresh_margin: Duration,
    policy: &RenewalPolicy,
    jitter: f64,
) -> Plan {
    let fresh_margin = refresh_margin.max(lifetime / 4).min(lifetime / 2);
    let share_left = scale(lifetime, 1.0 - unit(policy.refresh_ahead));
    let lead = (lifetime / 20).min(MAX_LEAD);
    let jitter = scale((lifetime / 20).min(MAX_JITTER), unit(jitter));
    let renew_left = share_left.max(fresh_margin.saturating_add(lead));
    Plan {
        fresh_for: left.saturating_sub(fresh_margin),
        renew_in: left.saturating_sub(renew_left.saturating_add(jitter)),
        usable_for: left.saturating_sub(policy.min_left.min(lifetime / 10)),
        expires_in: left,
    }
}

/// The share of a token's lifetime after which it is renewed (before
/// jitter), for a token stored when it is new: `refresh_ahead`, or less
/// when `refresh_margin` ends its fresh time first.
pub fn renewal_share(lifetime: Duration, refresh_margin: Duration, policy: &RenewalPolicy) -> f64 {
    if lifetime.is_zero() {
        return 0.0;
    }
    let p = plan(lifetime, lifetime, refresh_margin, policy, 0.0);
    p.renew_in.as_secs_f64() / lifetime.as_secs_f64()
}

/// `x` clamped to `[0, 1]`; NaN counts as 0.
pub fn unit(x: f64) -> f64 {
    if x.is_nan() {
        0.0
    } else {
        x.clamp(0.0, 1.0)
    }
}

/// `d × factor` for a factor in `[0, 1]`, never panicking on huge durations.
pub fn scale(d: Duration, factor: f64) -> Duration {
    Duration::try_from_secs_f64(d.as_secs_f64() * unit(factor))
        .unwrap_or(d)
        .min(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);
    const MIN: Duration = Duration::from_secs(60);

    fn at_issue(lifetime: Duration, margin: Duration, jitter: f64) -> Plan {
        plan(
            lifetime,
            lifetime,
            margin,
            &RenewalPolicy::default(),
            jitter,
        )
    }

    #[test]
    fn an_hour_token_is_renewed_at_70_percent_and_served_until_its_last_minute() {
        let p = at_issue(60 * MIN, 5 * MIN, 0.0);
        assert_eq!(p.fresh_for, 45 * MIN);
        assert_eq!(p.renew_in, 42 * MIN);
        assert_eq!(p.usable_for, 59 * MIN);
        assert_eq!(p.expires_in, 60 * MIN);
        assert_eq!(at_issue(60 * MIN, 5 * MIN, 1.0).renew_in, 41 * MIN);
    }

    proptest::proptest! {
        /// Every share the configuration accepts is the share the plan
        /// renews at, whenever `refresh_margin` is at most a quarter of the
        /// lifetime (else the margin decides, and start-up says so).
        #[test]
        fn every_accepted_refresh_ahead_takes_effect(
            lifetime_s in 60u64..=86_400,
            margin_quarters in 0.0f64..=1.0,
            ahead in 0.3f64..=1.0,
        ) {
            let lifetime = Duration::from_secs(lifetime_s);
            let policy = RenewalPolicy { refresh_ahead: ahead, ..RenewalPolicy::default() };
            if policy.validate().is_ok() {
                let margin = scale(lifetime / 4, margin_quarters);
                let p = plan(lifetime, lifetime, margin, &policy, 0.0);
                let share = p.renew_in.as_secs_f64() / lifetime.as_secs_f64();
                proptest::prop_assert!((share - ahead).abs() < 1e-6, "{share} for {ahead} of {lifetime:?}");
            }
        }
    }

    #[test]
    fn the_demo_40_second_token_renews_before_it_stops_being_fresh() {
        let p = at_issue(40 * S, 5 * MIN, 0.0);
        assert_eq!(p.fresh_for, 20 * S);
        assert_eq!(p.renew_in, 18 * S);
        // 10 % of the lifetime is shorter than a minute.
        assert_eq!(p.usable_for, 36 * S);
        assert_eq!(at_issue(40 * S, 5 * MIN, 1.0).renew_in, 16 * S);
        // The 5 min margin is half of 40 s: renewal follows it, not the 70 %.
        let share = renewal_share(40 * S, 5 * MIN, &RenewalPolicy::default());
        assert!((share - 0.45).abs() < 1e-9, "{share}");
    }

    #[test]
    fn a_large_margin_renews_earlier_than_the_share() {
        let p = at_issue(60 * MIN, 20 * MIN, 0.0);
        assert_eq!(p.fresh_for, 40 * MIN);
        assert!(p.renew_in < p.fresh_for);
    }

    #[test]
    fn a_token_stored_late_in_its_life_is_due_at_once() {
        let p = plan(60 * MIN, 10 * MIN, 5 * MIN, &RenewalPolicy::default(), 0.5);
        assert_eq!((p.fresh_for, p.renew_in), (Duration::ZERO, Duration::ZERO));
        assert_eq!(p.usable_for, 9 * MIN);
    }

    #[test]
    fn degenerate_lifetimes_do_not_panic() {
        let policy = RenewalPolicy {
            refresh_ahead: f64::NAN,
            ..RenewalPolicy::default()
        };
        for (lifetime, left) in [
            (Duration::ZERO, Duration::ZERO),
            (Duration::MAX, Duration::MAX),
            (S, Duration::MAX),
        ] {
            let p = plan(lifetime, left, Duration::MAX, &policy, f64::NAN);
            assert!(p.fresh_for <= p.usable_for && p.usable_for <= p.expires_in);
        }
    }
}
