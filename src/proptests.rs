//! Property tests of the pure logic (host only): the JWT decoder, the
//! expiry and schedule maths, and the URL, e-mail, phone and id checks
//! never panic on any input and keep their promises for every input, not
//! only for the examples in each module's own tests.

use proptest::prelude::*;

use crate::core::schedule;
use crate::{jwt, validate};

const B64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Unpadded base64url, written independently of the decoder under test.
fn encode(bytes: &[u8]) -> String {
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().fold(0u32, |n, &b| (n << 8) | u32::from(b)) << (8 * (3 - chunk.len()));
        for i in 0..=chunk.len() {
            out.push(B64[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

proptest! {
    #[test]
    fn base64url_round_trips_any_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        prop_assert_eq!(jwt::base64url_decode(encode(&bytes).as_bytes()), Some(bytes));
    }

    #[test]
    fn the_decoder_never_panics(input in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = jwt::base64url_decode(&input);
        let _ = jwt::payload_json(&String::from_utf8_lossy(&input));
    }

    #[test]
    fn a_jwt_gives_back_its_payload(payload in "\\PC{0,120}", header in "[a-zA-Z0-9_-]{0,20}", sig in "[a-zA-Z0-9_-]{0,20}") {
        let token = format!("{header}.{}.{sig}", encode(payload.as_bytes()));
        prop_assert_eq!(jwt::payload_json(&token), Some(payload));
    }

    #[test]
    fn a_configured_margin_never_exceeds_half_the_lifetime(m in 0.0..1e12f64, life in 0.0..1e12f64) {
        let margin = schedule::margin_ms(Some(m), life);
        prop_assert!(margin >= 0.0 && margin <= life * 0.5 && margin <= m);
        let default = schedule::margin_ms(None, life);
        prop_assert!(default <= schedule::MAX_DEFAULT_MARGIN_MS && default <= life);
    }

    #[test]
    fn a_refresh_is_never_before_the_floor_nor_after_expiry(
        received in 0.0..1e13f64,
        left in 0.0..1e10f64,
        margin in 0.0..1e10f64,
        repeated in any::<bool>(),
    ) {
        let expires = received + left;
        let at = schedule::refresh_at_ms(received, expires, margin, repeated);
        prop_assert!(at >= received);
        prop_assert!(at >= received + schedule::MIN_REFRESH_GAP_MS.min(left / 2.0) - 1e-3);
        prop_assert!(at <= expires.max(received + schedule::MIN_REFRESH_GAP_MS.min(left)) + 1e-3);
    }

    #[test]
    fn timer_delays_are_always_what_set_timeout_holds(ms in any::<f64>()) {
        let t = schedule::clamp_timer_ms(ms);
        prop_assert!(t >= 0);
    }

    #[test]
    fn backoffs_stay_within_their_step_and_cap(
        n in 0u32..100,
        base in 0.0..1e6f64,
        cap in 1.0..1e7f64,
        unit in any::<f64>(),
    ) {
        let step = (base * 2f64.powi(n.min(30) as i32)).min(cap);
        let quick = schedule::backoff_ms(n, base, cap, unit);
        prop_assert!(quick >= step / 2.0 - 1e-6 && quick <= step + 1e-6);
        let bg_step = (base * 2f64.powi(n.saturating_sub(1).min(30) as i32)).min(cap);
        let bg = schedule::retry_delay_ms(n, base, cap, unit);
        prop_assert!(bg >= bg_step * schedule::JITTER_FLOOR - 1e-6 && bg <= bg_step + 1e-6 && bg <= cap + 1e-6);
    }

    #[test]
    fn a_retry_wait_is_never_negative_nor_past_its_limit(
        backoff in 0.0..1e7f64,
        retry_after in proptest::option::of(0.0..1e9f64),
        limit in -1e7..1e7f64,
    ) {
        let w = schedule::retry_wait_ms(backoff, retry_after, limit);
        prop_assert!(w >= 0.0 && w <= limit.max(0.0));
        if limit >= backoff.max(retry_after.unwrap_or(0.0)) {
            prop_assert!(w >= backoff && w >= retry_after.unwrap_or(0.0));
        }
    }

    #[test]
    fn retry_after_reads_seconds_and_never_panics(secs in 0u32..10_000_000, junk in "\\PC{0,40}") {
        prop_assert_eq!(
            schedule::retry_after_ms(&secs.to_string(), 0.0, |_| f64::NAN),
            Some(f64::from(secs) * 1000.0)
        );
        let r = schedule::retry_after_ms(&junk, 0.0, |_| f64::NAN);
        prop_assert!(r.is_none() || junk.trim().bytes().all(|b| b.is_ascii_digit()));
    }

    #[test]
    fn clock_offsets_are_zero_or_beyond_the_tolerance(
        local in 1e12..2e12f64,
        server in proptest::option::of(1e12..2e12f64),
        iat in proptest::option::of(1e12..2e12f64),
        lifetime in 1.0..1e9f64,
    ) {
        let exp = iat.unwrap_or(local) + lifetime;
        let off = schedule::clock_offset_ms(local, server.unwrap_or(f64::NAN), iat, exp);
        // The `Date` header is always used; `iat` only past the tolerance.
        prop_assert!(server.is_some() || off == 0.0 || off.abs() >= schedule::SKEW_TOLERANCE_MS);
        prop_assert!(off.is_finite());
    }

    #[test]
    fn the_trusted_expiry_is_never_later_than_expires_at(at in 0.0..1e13f64, exp in proptest::option::of(any::<f64>())) {
        let e = schedule::effective_expiry_ms(at, exp);
        prop_assert!(e <= at || e.is_nan() && exp.is_some_and(f64::is_nan));
    }

    #[test]
    fn tag_id_suffixes_are_safe_and_distinct(a in "\\PC{1,30}", b in "\\PC{1,30}") {
        let (x, y) = (validate::id_suffix(&a), validate::id_suffix(&b));
        prop_assert!(x.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
        prop_assert_eq!(x == y, a == b);
    }
}
