//! Pure timing maths: when to refresh, how long to back off, and what a
//! `setTimeout` can hold. No browser calls, so it is tested on the host.

/// The longest delay `setTimeout` honours; anything longer fires at once.
pub const MAX_TIMER_MS: f64 = 2_147_483_647.0;
/// The vendor's "refresh when under an hour is left", kept as the upper bound.
pub const MAX_DEFAULT_MARGIN_MS: f64 = 3_600_000.0;

/// How long before expiry to refresh: the configured margin, or
/// `min(1 h, 20% of the token's lifetime)` so that short tokens are not
/// refreshed the moment they arrive.
pub fn margin_ms(configured: Option<f64>, lifetime_ms: f64) -> f64 {
    match configured {
        Some(m) => m.max(0.0),
        None => (lifetime_ms.max(0.0) * 0.2).min(MAX_DEFAULT_MARGIN_MS),
    }
}

/// Milliseconds from `now` until the refresh is due (0 when already due).
pub fn refresh_delay_ms(now_ms: f64, expires_ms: f64, margin_ms: f64) -> f64 {
    (expires_ms - margin_ms - now_ms).max(0.0)
}

/// A delay a browser timer can hold. Longer waits fire early and the
/// caller re-checks the clock (a 40-day token must not refresh at once).
pub fn clamp_timer_ms(ms: f64) -> i32 {
    if ms.is_nan() || ms <= 0.0 {
        0
    } else {
        ms.min(MAX_TIMER_MS) as i32
    }
}

/// Exponential backoff with "equal jitter": half the step is fixed, half
/// random (`unit` in `[0, 1)`), so a fleet of pages does not retry in step.
pub fn backoff_ms(attempt: u32, base_ms: f64, max_ms: f64, unit: f64) -> f64 {
    let step = (base_ms * 2f64.powi(attempt.min(30) as i32)).min(max_ms);
    step / 2.0 + step / 2.0 * unit.clamp(0.0, 1.0)
}

/// The expiry the loader trusts: the earlier of the endpoint's `expiresAt`
/// and the JWT's own `exp` claim (seconds since the epoch).
pub fn effective_expiry_ms(expires_at_ms: f64, jwt_exp_s: Option<f64>) -> f64 {
    match jwt_exp_s {
        Some(exp) if exp.is_finite() => expires_at_ms.min(exp * 1000.0),
        _ => expires_at_ms,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: f64 = 3_600_000.0;

    #[test]
    fn default_margin_is_twenty_percent_of_a_short_lifetime() {
        assert_eq!(margin_ms(None, 10.0 * 60_000.0), 2.0 * 60_000.0);
    }

    #[test]
    fn default_margin_is_capped_at_one_hour_for_long_tokens() {
        assert_eq!(margin_ms(None, 24.0 * HOUR), HOUR);
    }

    #[test]
    fn configured_margin_wins() {
        assert_eq!(margin_ms(Some(5_000.0), 24.0 * HOUR), 5_000.0);
    }

    #[test]
    fn a_token_living_ninety_minutes_is_refreshed_before_it_expires() {
        // The vendor's hourly check would let it lapse; we refresh at 72 min.
        let now = 0.0;
        let exp = 90.0 * 60_000.0;
        let d = refresh_delay_ms(now, exp, margin_ms(None, exp - now));
        assert_eq!(d, 72.0 * 60_000.0);
    }

    #[test]
    fn overdue_refresh_is_due_now() {
        assert_eq!(refresh_delay_ms(10_000.0, 5_000.0, 1_000.0), 0.0);
    }

    #[test]
    fn forty_day_delay_is_clamped_to_what_set_timeout_holds() {
        assert_eq!(clamp_timer_ms(40.0 * 24.0 * HOUR), i32::MAX);
        assert_eq!(clamp_timer_ms(-5.0), 0);
        assert_eq!(clamp_timer_ms(f64::NAN), 0);
        assert_eq!(clamp_timer_ms(1234.9), 1234);
    }

    #[test]
    fn backoff_doubles_with_jitter_and_is_capped() {
        assert_eq!(backoff_ms(0, 1000.0, 30_000.0, 0.0), 500.0);
        assert_eq!(backoff_ms(0, 1000.0, 30_000.0, 1.0), 1000.0);
        assert_eq!(backoff_ms(3, 1000.0, 30_000.0, 1.0), 8000.0);
        assert_eq!(backoff_ms(20, 1000.0, 30_000.0, 1.0), 30_000.0);
        let mid = backoff_ms(2, 1000.0, 30_000.0, 0.5);
        assert!(mid > 2000.0 && mid < 4000.0);
    }

    #[test]
    fn jwt_exp_earlier_than_expires_at_wins() {
        assert_eq!(
            effective_expiry_ms(10_000_000.0, Some(5_000.0)),
            5_000_000.0
        );
        assert_eq!(
            effective_expiry_ms(10_000_000.0, Some(50_000.0)),
            10_000_000.0
        );
        assert_eq!(effective_expiry_ms(10_000_000.0, None), 10_000_000.0);
    }
}
