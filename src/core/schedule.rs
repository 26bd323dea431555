//! Pure timing maths: when to refresh, how long to back off, what a
//! `setTimeout` can hold, and how far the visitor's clock is off. No
//! browser calls, so it is tested on the host.

/// The longest delay `setTimeout` honours; anything longer fires at once.
pub const MAX_TIMER_MS: f64 = 2_147_483_647.0;
/// The vendor's "refresh when under an hour is left", kept as the upper bound.
pub const MAX_DEFAULT_MARGIN_MS: f64 = 3_600_000.0;
/// A configured margin never exceeds this share of the token's lifetime:
/// a margin longer than the lifetime would make every refresh due at once.
pub const MAX_MARGIN_SHARE: f64 = 0.5;
/// The least time between one token's arrival and the next refresh
/// (shortened to half the lifetime for tokens shorter than twice this).
pub const MIN_REFRESH_GAP_MS: f64 = 10_000.0;
/// Without a `Date` header, the JWT's `iat` is the only hint of the
/// server's clock, and a cached token's `iat` is older than the server's
/// now: differences below this are not corrected from it.
pub const SKEW_TOLERANCE_MS: f64 = 60_000.0;

/// How long before expiry to refresh: the configured margin, capped at
/// half the token's lifetime, or `min(1 h, 20% of the lifetime)` so that
/// short tokens are not refreshed the moment they arrive.
pub fn margin_ms(configured: Option<f64>, lifetime_ms: f64) -> f64 {
    let lifetime = lifetime_ms.max(0.0);
    match configured {
        Some(m) => m.max(0.0).min(lifetime * MAX_MARGIN_SHARE),
        None => (lifetime * 0.2).min(MAX_DEFAULT_MARGIN_MS),
    }
}

/// When (local ms) the refresh of a token is due: `margin` before expiry,
/// but never sooner than a floor after the round that brought it.
/// `repeated`: that round got back the token already mounted (the backend
/// hands out its cached token until its own renewal point), so the next
/// try waits half of what is left (at least the floor, or until expiry)
/// instead of asking again at once: a few requests per token, never a loop.
pub fn refresh_at_ms(received_ms: f64, expires_ms: f64, margin_ms: f64, repeated: bool) -> f64 {
    let left = (expires_ms - received_ms).max(0.0);
    let floor = if repeated {
        (left / 2.0).max(MIN_REFRESH_GAP_MS.min(left))
    } else {
        MIN_REFRESH_GAP_MS.min(left / 2.0)
    };
    (expires_ms - margin_ms).max(received_ms + floor)
}

/// How far the server's clock is ahead of the visitor's (ms; negative when
/// behind), from what one answer tells: the `Date` header (`server_now_ms`,
/// NaN when absent or unreadable cross-origin), measured whatever its size
/// (a server 50 s ahead with 60-second tokens matters); else the JWT's
/// `iat`, which only corrects a clock that contradicts the token (before
/// its `iat`, or past its expiry) by more than [`SKEW_TOLERANCE_MS`]: a
/// cached token's `iat` is older than the server's now, so it cannot
/// measure small differences.
pub fn clock_offset_ms(
    local_now_ms: f64,
    server_now_ms: f64,
    iat_ms: Option<f64>,
    server_expires_ms: f64,
) -> f64 {
    if server_now_ms.is_finite() {
        // The header is truncated to the second: its middle is closer.
        return server_now_ms + 500.0 - local_now_ms;
    }
    match iat_ms.filter(|i| i.is_finite()) {
        Some(iat)
            if (local_now_ms < iat || local_now_ms >= server_expires_ms)
                && (iat - local_now_ms).abs() >= SKEW_TOLERANCE_MS =>
        {
            iat - local_now_ms
        }
        _ => 0.0,
    }
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
/// Used between the quick attempts of a round someone waits for.
pub fn backoff_ms(attempt: u32, base_ms: f64, max_ms: f64, unit: f64) -> f64 {
    let step = (base_ms * f64::from(1u32 << attempt.min(30))).min(max_ms);
    step / 2.0 + step / 2.0 * unit.clamp(0.0, 1.0)
}

/// Background retries (nobody waits for them) start at this many times
/// `retryDelayMs`: 10 s with the default 500 ms.
pub const BACKGROUND_BASE_FACTOR: f64 = 20.0;
/// ... and at least this share of `maxRetryDelayMs` (10 s with the default
/// 5 min), so a small `retryDelayMs` (for quick first attempts) does not
/// make background retries faster: the budget holds for any `retryDelayMs`.
pub const BACKGROUND_BASE_SHARE: f64 = 1.0 / 30.0;

/// The first background step for these options.
pub fn background_base_ms(retry_delay_ms: f64, max_retry_delay_ms: f64) -> f64 {
    (retry_delay_ms * BACKGROUND_BASE_FACTOR).max(max_retry_delay_ms * BACKGROUND_BASE_SHARE)
}
/// The share of a background step that is always waited. Pure full jitter
/// (`[0, step]`) has no worst case: a page could retry again at once, and
/// the budget below could only hold on average. With this floor it holds
/// for every draw.
pub const JITTER_FLOOR: f64 = 1.0 / 3.0;

/// The wait before background retry `n` (1 = the first after a round
/// failed): the step doubles from `base_ms` up to `cap_ms`, and the wait is
/// drawn uniformly from its upper two thirds (`unit` in `[0, 1)`), so a
/// fleet of pages that failed together spreads out. With the defaults
/// (10 s base, 5 min cap, 4 quick attempts first) an outage that starts
/// before `initialize()` costs at most 8 requests in its first minute and
/// 13 in ten (see the `budget` test).
pub fn retry_delay_ms(n: u32, base_ms: f64, cap_ms: f64, unit: f64) -> f64 {
    let step = (base_ms * f64::from(1u32 << n.saturating_sub(1).min(30))).min(cap_ms);
    step * (JITTER_FLOOR + (1.0 - JITTER_FLOOR) * unit.clamp(0.0, 1.0))
}

/// A `Retry-After` value in milliseconds from `now_ms`: delta-seconds, or
/// an HTTP date (`parse_date` returns its epoch ms, NaN if it is none).
/// `None` when absent or unreadable; a date in the past is `0`.
pub fn retry_after_ms(value: &str, now_ms: f64, parse_date: impl Fn(&str) -> f64) -> Option<f64> {
    let v = value.trim_ascii();
    if v.is_empty() {
        return None;
    }
    if v.bytes().all(|b| b.is_ascii_digit()) {
        // Digit by digit: `str::parse::<f64>` costs ~20 KB of wasm.
        let secs = v.bytes().fold(0.0, |n, b| n * 10.0 + f64::from(b - b'0'));
        return Some(secs * 1000.0);
    }
    let at = parse_date(v);
    at.is_finite().then(|| (at - now_ms).max(0.0))
}

/// The wait before a background retry: the backoff, or the server's
/// `Retry-After` when that is longer, never past `limit_ms` (the cap, or
/// what is left of a working widget's token).
pub fn retry_wait_ms(backoff_ms: f64, retry_after_ms: Option<f64>, limit_ms: f64) -> f64 {
    backoff_ms
        .max(retry_after_ms.unwrap_or(0.0))
        .min(limit_ms)
        .max(0.0)
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
    fn configured_margin_wins_within_half_the_lifetime() {
        assert_eq!(margin_ms(Some(5_000.0), 24.0 * HOUR), 5_000.0);
        // 10 min configured, 5-min tokens: capped at 2.5 min.
        assert_eq!(margin_ms(Some(600_000.0), 300_000.0), 150_000.0);
    }

    #[test]
    fn a_token_living_ninety_minutes_is_refreshed_before_it_expires() {
        // The vendor's hourly check would let it lapse; we refresh at 72 min.
        let exp = 90.0 * 60_000.0;
        let at = refresh_at_ms(0.0, exp, margin_ms(None, exp), false);
        assert_eq!(at, 72.0 * 60_000.0);
    }

    #[test]
    fn a_margin_longer_than_the_token_never_makes_the_refresh_due_at_once() {
        // The reported loop: 10 min margin, 5-min tokens.
        let exp = 300_000.0;
        let at = refresh_at_ms(0.0, exp, margin_ms(Some(600_000.0), exp), false);
        assert_eq!(at, 150_000.0);
    }

    #[test]
    fn refreshes_are_at_least_the_floor_apart_but_before_expiry() {
        // A margin as long as the lifetime: still ten seconds later.
        assert_eq!(
            refresh_at_ms(1_000.0, 601_000.0, 600_000.0, false),
            11_000.0
        );
        // A 4-second token: half its life, not after it has expired.
        assert_eq!(refresh_at_ms(0.0, 4_000.0, 4_000.0, false), 2_000.0);
    }

    #[test]
    fn the_same_token_again_halves_what_is_left_instead_of_looping() {
        // 40 min left, the backend renews at 15 min left: asks at 20 and
        // 10 min left, two extra requests, then gets a new token.
        let mut now = 0.0;
        let exp = 40.0 * 60_000.0;
        let mut asks = 0;
        while exp - now > 15.0 * 60_000.0 {
            now = refresh_at_ms(now, exp, 20.0 * 60_000.0, true);
            asks += 1;
        }
        assert_eq!(asks, 2);
        assert!(exp - now > 0.0);
        // A backend that never renews: at most the floor apart, then at
        // expiry; never a burst as the expiry comes near.
        assert_eq!(refresh_at_ms(0.0, 4_000.0, 800.0, true), 4_000.0);
        assert_eq!(refresh_at_ms(0.0, 30_000.0, 6_000.0, true), 24_000.0);
        assert_eq!(refresh_at_ms(0.0, 30_000.0, 20_000.0, true), 15_000.0);
    }

    #[test]
    fn overdue_refresh_is_due_now() {
        assert!(refresh_at_ms(0.0, 5_000.0, 1_000.0, false) < 10_000.0);
    }

    #[test]
    fn a_date_header_measures_a_clock_that_is_hours_off() {
        let server = 1_000_000_000_000.0;
        for skew in [-2.0 * HOUR, 2.0 * HOUR, 10.0 * 60_000.0] {
            let off = clock_offset_ms(server + skew, server, None, server + HOUR);
            assert_eq!(off, 500.0 - skew);
        }
    }

    #[test]
    fn a_date_header_measures_small_differences_too_an_iat_does_not() {
        let server = 1_000_000_000_000.0;
        // A server 50 s ahead, with 60-second tokens: 50 s matter.
        assert_eq!(
            clock_offset_ms(server - 50_000.0, server, None, server + 60_000.0),
            50_500.0
        );
        assert_eq!(
            clock_offset_ms(
                server,
                f64::NAN,
                Some(server - 30.0 * 60_000.0),
                server + HOUR
            ),
            0.0
        );
    }

    #[test]
    fn iat_corrects_only_a_clock_that_contradicts_the_token() {
        let iat = 1_000_000_000_000.0;
        let exp = iat + HOUR;
        // Two hours ahead: the fresh token looks expired locally.
        assert_eq!(
            clock_offset_ms(iat + 2.0 * HOUR, f64::NAN, Some(iat), exp),
            -2.0 * HOUR
        );
        // Two hours behind: the token looks issued in the future.
        assert_eq!(
            clock_offset_ms(iat - 2.0 * HOUR, f64::NAN, Some(iat), exp),
            2.0 * HOUR
        );
        // Within the token's life: a cached token, not a wrong clock.
        assert_eq!(
            clock_offset_ms(iat + 40.0 * 60_000.0, f64::NAN, Some(iat), exp),
            0.0
        );
        assert_eq!(clock_offset_ms(iat + 2.0 * HOUR, f64::NAN, None, exp), 0.0);
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
    fn background_retries_double_with_full_jitter_above_a_floor() {
        assert_eq!(retry_delay_ms(1, 6_000.0, 300_000.0, 0.0), 2_000.0);
        assert_eq!(retry_delay_ms(1, 6_000.0, 300_000.0, 1.0), 6_000.0);
        assert_eq!(retry_delay_ms(3, 6_000.0, 300_000.0, 1.0), 24_000.0);
        assert_eq!(retry_delay_ms(40, 6_000.0, 300_000.0, 1.0), 300_000.0);
        assert_eq!(retry_delay_ms(40, 6_000.0, 300_000.0, 0.0), 100_000.0);
    }

    /// Requests one page makes in `window_ms` of an outage that starts
    /// before `initialize()`, with every jitter draw `unit`: the quick
    /// round (1 + `max_retries` attempts), then background retries. The
    /// answers are instant, the worst case for the count.
    fn outage_requests(window_ms: f64, unit: f64, max_retries: u32, delay_ms: f64) -> u32 {
        let mut t = 0.0;
        let mut count = 0;
        for attempt in 0..=max_retries {
            if attempt > 0 {
                t += backoff_ms(attempt - 1, delay_ms, 10_000.0, unit);
            }
            if t < window_ms {
                count += 1;
            }
        }
        let base = background_base_ms(delay_ms, 300_000.0);
        for n in 1.. {
            t += retry_delay_ms(n, base, 300_000.0, unit);
            if t >= window_ms {
                break;
            }
            count += 1;
        }
        count
    }

    #[test]
    fn budget_an_outage_costs_at_most_8_requests_a_minute_and_13_in_ten() {
        for unit in [0.0, 0.25, 0.5, 0.75, 0.999] {
            assert!(outage_requests(60_000.0, unit, 3, 500.0) <= 8, "{unit}");
            assert!(outage_requests(600_000.0, unit, 3, 500.0) <= 13, "{unit}");
        }
        // The worst draw, the figures docs/behaviour.md quotes.
        assert_eq!(outage_requests(60_000.0, 0.0, 3, 500.0), 8);
        assert_eq!(outage_requests(600_000.0, 0.0, 3, 500.0), 13);
        // Quick first attempts (a small retryDelayMs) do not speed up the
        // background retries.
        for delay in [0.0, 10.0, 100.0] {
            assert!(outage_requests(60_000.0, 0.0, 3, delay) <= 8, "{delay}");
            assert!(outage_requests(600_000.0, 0.0, 3, delay) <= 13, "{delay}");
        }
    }

    #[test]
    fn retry_after_is_seconds_or_an_http_date() {
        let never = |_: &str| f64::NAN;
        assert_eq!(retry_after_ms("120", 0.0, never), Some(120_000.0));
        assert_eq!(retry_after_ms(" 0 ", 0.0, never), Some(0.0));
        assert_eq!(retry_after_ms("", 0.0, never), None);
        assert_eq!(retry_after_ms("soon", 0.0, never), None);
        assert_eq!(retry_after_ms("-5", 0.0, never), None);
        let date = |_: &str| 50_000.0;
        assert_eq!(
            retry_after_ms("Wed, 21 Oct 2026 07:28:00 GMT", 20_000.0, date),
            Some(30_000.0)
        );
        assert_eq!(
            retry_after_ms("Wed, 21 Oct 2026 07:28:00 GMT", 90_000.0, date),
            Some(0.0)
        );
    }

    #[test]
    fn retry_after_is_honoured_within_the_limit() {
        assert_eq!(retry_wait_ms(2_000.0, Some(30_000.0), 300_000.0), 30_000.0);
        assert_eq!(
            retry_wait_ms(2_000.0, Some(3_600_000.0), 300_000.0),
            300_000.0
        );
        assert_eq!(retry_wait_ms(9_000.0, Some(1_000.0), 300_000.0), 9_000.0);
        assert_eq!(retry_wait_ms(9_000.0, None, 4_000.0), 4_000.0);
        assert_eq!(retry_wait_ms(9_000.0, None, -4_000.0), 0.0);
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
