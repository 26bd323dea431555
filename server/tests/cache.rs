//! The token cache on tokio's paused clock, in front of a scripted token
//! source: refresh-ahead, serve-while-valid, fail-fast backoff, a panicking
//! flow, unknown orgs. Deterministic: time only moves when a test moves it.

mod common;

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chathub_token_server::cache::{TokenError, TokenSource};
use chathub_token_server::issuer::IssuedToken;
use chathub_token_server::upstream::{Endpoint, UpstreamError};
use chathub_token_server::TokenCache;
use futures::future::{BoxFuture, FutureExt};
use secrecy::{ExposeSecret, SecretString};
use time::OffsetDateTime;
use tokio::time::{advance, sleep, Instant};

const S: Duration = Duration::from_secs(1);
const MIN: Duration = Duration::from_secs(60);

/// What one upstream flow does.
#[derive(Debug, Clone, Copy)]
enum Step {
    Ok,
    Fail,
    Panic,
    /// Succeeds after this long.
    Slow(Duration),
}

/// A token source that follows a script (then answers `Ok`, or `Fail` once
/// told to fail for good) and records when it was called.
struct Script {
    lifetime: Duration,
    steps: Mutex<VecDeque<Step>>,
    then: Mutex<Step>,
    calls: Mutex<Vec<Instant>>,
}

impl Script {
    fn new(lifetime: Duration, steps: &[Step]) -> Arc<Self> {
        Arc::new(Script {
            lifetime,
            steps: Mutex::new(steps.iter().copied().collect()),
            then: Mutex::new(Step::Ok),
            calls: Mutex::new(Vec::new()),
        })
    }

    fn then(&self, step: Step) {
        *self.then.lock().unwrap() = step;
    }

    fn calls(&self) -> usize {
        self.calls.lock().unwrap().len()
    }

    fn call_times(&self) -> Vec<Instant> {
        self.calls.lock().unwrap().clone()
    }
}

impl TokenSource for Script {
    fn issue<'a>(&'a self, _key: &'a str) -> BoxFuture<'a, Result<IssuedToken, UpstreamError>> {
        async move {
            let n = {
                let mut calls = self.calls.lock().unwrap();
                calls.push(Instant::now());
                calls.len()
            };
            let step = self
                .steps
                .lock()
                .unwrap()
                .pop_front()
                .unwrap_or(*self.then.lock().unwrap());
            match step {
                Step::Ok => {}
                Step::Fail => {
                    return Err(UpstreamError::Status {
                        endpoint: Endpoint::OperatorToken,
                        status: 503,
                    })
                }
                Step::Panic => panic!("scripted panic in the upstream flow"),
                Step::Slow(d) => sleep(d).await,
            }
            let now = OffsetDateTime::now_utc();
            Ok(IssuedToken::new(
                SecretString::from(format!("token-{n}")),
                now + self.lifetime,
                now,
            ))
        }
        .boxed()
    }
}

fn cache(script: &Arc<Script>) -> TokenCache {
    let config = common::config("http://127.0.0.1:9");
    TokenCache::with_source(Arc::new(config), script.clone()).expect("valid config")
}

async fn token(cache: &TokenCache) -> String {
    cache
        .get("sales")
        .await
        .expect("a token")
        .token
        .token
        .expose_secret()
        .to_owned()
}

/// Lets spawned flights and timers run without moving the clock.
async fn settle() {
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
}

#[tokio::test(start_paused = true)]
async fn renews_in_the_background_so_no_request_waits_and_the_last_stretch_gets_the_new_token() {
    let script = Script::new(60 * MIN, &[Step::Ok, Step::Slow(2 * MIN)]);
    let cache = cache(&script);
    let start = Instant::now();
    assert_eq!(token(&cache).await, "token-1");
    sleep(40 * MIN + 59 * S).await;
    assert_eq!(
        script.calls(),
        1,
        "renewed before 70 % (minus jitter) of the lifetime"
    );
    // Renewal is due between 41:00 and 42:00 (70 %, minus up to a minute of
    // jitter), well before the token stops being handed out at 45:00.
    sleep(MIN + 2 * S).await;
    assert_eq!(script.calls(), 2, "no background renewal by 42:01");
    let renewed_at = script.call_times()[1] - start;
    assert!(
        (41 * MIN..=42 * MIN).contains(&renewed_at),
        "{renewed_at:?}"
    );
    // The renewal takes 2 min; meanwhile requests get the cached token at once.
    let asked = Instant::now();
    assert_eq!(token(&cache).await, "token-1");
    assert_eq!(
        asked.elapsed(),
        Duration::ZERO,
        "a request waited for ChatHub"
    );
    // A page refreshing 20 % before expiry (48:00) gets the renewed token.
    sleep(start + 48 * MIN - Instant::now()).await;
    let served = cache.get("sales").await.unwrap();
    assert_eq!(served.token.token.expose_secret(), "token-2");
    assert_eq!(served.retry_after, None);
    assert_eq!(script.calls(), 2);
}

#[tokio::test(start_paused = true)]
async fn serves_the_cached_token_while_renewal_fails_until_only_the_minimum_is_left() {
    let script = Script::new(60 * MIN, &[Step::Ok]);
    let cache = cache(&script);
    let start = Instant::now();
    let first = cache.get("sales").await.unwrap().token;
    script.then(Step::Fail);

    // Past the renewal point every attempt fails, yet the page gets the
    // token it would have got, with its true expiry.
    for at in [46 * MIN, 50 * MIN, 58 * MIN, 58 * MIN + 59 * S] {
        sleep(start + at - Instant::now()).await;
        let served = cache.get("sales").await.unwrap();
        assert!(Arc::ptr_eq(&served.token, &first), "at {at:?}");
        assert_eq!(served.token.expires_at, first.expires_at);
        let hint = served
            .retry_after
            .expect("a stale answer says when to ask again");
        assert!(hint <= 72 * S, "{hint:?}");
    }
    // Background attempts kept going, at most one per backoff window: the
    // gap after the n-th failure in a row is at least 1 s × 2^(n-1), capped at 60 s.
    let times = script.call_times();
    assert!(times.len() > 10, "only {} attempts", times.len());
    for (n, pair) in times[1..].windows(2).enumerate() {
        let nominal = (S * (1u32 << n.min(6))).min(60 * S);
        assert!(pair[1] - pair[0] >= nominal, "attempt {} came early", n + 2);
    }

    // With less than 60 s left (10 % of an hour is more) nothing valid is cached.
    sleep(start + 59 * MIN + S - Instant::now()).await;
    let err = cache.get("sales").await.unwrap_err();
    assert!(
        matches!(
            err,
            TokenError::Backoff { .. } | TokenError::Upstream { .. }
        ),
        "{err:?}"
    );
    assert!(err.retry_after().is_some());
    // And with no token left to keep alive, the background work stops.
    let calls = script.calls();
    sleep(30 * MIN).await;
    assert!(
        script.calls() <= calls + 1,
        "background attempts without a token"
    );
}

#[tokio::test(start_paused = true)]
async fn an_outage_with_an_empty_cache_makes_one_attempt_per_backoff_window() {
    let script = Script::new(60 * MIN, &[]);
    script.then(Step::Fail);
    let cache = cache(&script);

    // 200 concurrent requests: one upstream attempt, every request its error.
    let answers = futures::future::join_all((0..200).map(|_| cache.get("sales"))).await;
    assert_eq!(script.calls(), 1);
    for answer in &answers {
        let err = answer.as_ref().unwrap_err();
        assert!(matches!(err, TokenError::Upstream { .. }), "{err:?}");
        assert!((S..=S * 6 / 5).contains(&err.retry_after().unwrap()));
    }
    // Until the window has passed, requests fail at once without a call.
    let err = cache.get("sales").await.unwrap_err();
    let window = err.retry_after().unwrap();
    assert!(matches!(err, TokenError::Backoff { .. }), "{err:?}");
    advance(window - Duration::from_millis(1)).await;
    assert!(matches!(
        cache.get("sales").await,
        Err(TokenError::Backoff { .. })
    ));
    assert_eq!(script.calls(), 1);
    // Then one attempt; the next window is twice as long.
    advance(Duration::from_millis(1)).await;
    assert!(matches!(
        cache.get("sales").await,
        Err(TokenError::Upstream { .. })
    ));
    assert_eq!(script.calls(), 2);
    let second = cache.get("sales").await.unwrap_err().retry_after().unwrap();
    assert!((2 * S..=S * 12 / 5).contains(&second), "{second:?}");

    // The other org has its own window.
    assert!(matches!(
        cache.get("support").await,
        Err(TokenError::Upstream { .. })
    ));
    assert_eq!(script.calls(), 3);

    // A success resets the backoff.
    script.then(Step::Ok);
    advance(second).await;
    assert_eq!(token(&cache).await, "token-4");
    let text = cache.metrics().render();
    for line in [
        "chathub_token_requests_total{org=\"sales\",result=\"fail_fast\"} 3",
        "chathub_token_requests_total{org=\"sales\",result=\"miss\"} 202",
        "chathub_token_renewals_total{org=\"sales\",trigger=\"request\",result=\"error\"} 2",
        "chathub_token_renewals_total{org=\"sales\",trigger=\"request\",result=\"ok\"} 1",
    ] {
        assert!(text.contains(line), "missing {line} in:\n{text}");
    }
}

#[tokio::test(start_paused = true)]
async fn inside_a_failing_streak_requests_do_not_wait_for_the_next_attempt() {
    // The first attempt fails; the retry hangs for a minute, then works.
    let script = Script::new(60 * MIN, &[Step::Fail, Step::Slow(MIN)]);
    let cache = cache(&script);
    let window = cache.get("sales").await.unwrap_err().retry_after().unwrap();
    advance(window).await;
    // The request that makes the retry waits for it; the others do not.
    let first = tokio::spawn({
        let cache = cache.clone();
        async move { cache.get("sales").await }
    });
    settle().await;
    assert_eq!(script.calls(), 2);
    let asked = Instant::now();
    let answers = futures::future::join_all((0..100).map(|_| cache.get("sales"))).await;
    assert_eq!(
        asked.elapsed(),
        Duration::ZERO,
        "requests piled up behind the retry"
    );
    for answer in answers {
        let err = answer.unwrap_err();
        assert!(matches!(err, TokenError::Backoff { .. }), "{err:?}");
        assert_eq!(err.retry_after(), Some(S));
    }
    let served = first.await.unwrap().unwrap();
    assert_eq!(served.token.token.expose_secret(), "token-2");
    assert_eq!(token(&cache).await, "token-2");
    assert_eq!(script.calls(), 2);
}

#[tokio::test(start_paused = true)]
async fn requests_past_the_renewal_point_never_wait_for_a_slow_renewal() {
    let script = Script::new(60 * MIN, &[Step::Ok, Step::Slow(5 * MIN)]);
    let cache = cache(&script);
    let start = Instant::now();
    token(&cache).await;
    // The background renewal (from ~44 min) is still running at 46 min.
    sleep(start + 46 * MIN - Instant::now()).await;
    assert_eq!(script.calls(), 2);
    let asked = Instant::now();
    let answers = futures::future::join_all((0..50).map(|_| cache.get("sales"))).await;
    assert_eq!(asked.elapsed(), Duration::ZERO);
    for served in answers {
        let served = served.unwrap();
        assert_eq!(served.token.token.expose_secret(), "token-1");
        assert!(served.retry_after.is_some());
    }
    assert_eq!(script.calls(), 2, "a second flight while one was under way");
    sleep(5 * MIN).await;
    assert_eq!(token(&cache).await, "token-2");
}

#[tokio::test(start_paused = true)]
async fn a_panic_in_the_flow_does_not_wedge_the_org() {
    let script = Script::new(60 * MIN, &[Step::Panic]);
    let cache = cache(&script);
    let err = cache.get("sales").await.unwrap_err();
    assert!(
        matches!(
            err,
            TokenError::Upstream {
                error: UpstreamError::Internal,
                ..
            }
        ),
        "{err:?}"
    );
    // Before the fix the panicked flight stayed in place: every later
    // request got its error at once, without a new attempt, until a restart.
    advance(err.retry_after().unwrap()).await;
    assert_eq!(token(&cache).await, "token-2");
    assert_eq!(script.calls(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_background_flow_that_panics_is_retried_while_the_token_lasts() {
    let script = Script::new(60 * MIN, &[Step::Ok, Step::Panic]);
    let cache = cache(&script);
    let start = Instant::now();
    token(&cache).await;
    sleep(start + 45 * MIN - Instant::now()).await;
    settle().await;
    assert_eq!(script.calls(), 3, "the panicked renewal was not retried");
    assert_eq!(token(&cache).await, "token-3");
}

#[tokio::test(start_paused = true)]
async fn unknown_orgs_get_no_slot_and_cause_no_upstream_call() {
    let script = Script::new(60 * MIN, &[]);
    let cache = cache(&script);
    for i in 0..1000 {
        let err = cache.get(&format!("org-{i}")).await.unwrap_err();
        assert_eq!(err, TokenError::UnknownOrg);
    }
    assert_eq!(script.calls(), 0);
    let mut orgs: Vec<&str> = cache.orgs().collect();
    orgs.sort_unstable();
    assert_eq!(orgs, ["sales", "support"]);
    cache.update_gauges();
    assert!(!cache.metrics().render().contains("org-"));
}

#[tokio::test(start_paused = true)]
async fn clear_forgets_tokens_and_backoff() {
    let script = Script::new(60 * MIN, &[Step::Fail]);
    let cache = cache(&script);
    assert!(cache.get("sales").await.is_err());
    assert!(matches!(
        cache.get("sales").await,
        Err(TokenError::Backoff { .. })
    ));
    cache.clear();
    assert_eq!(token(&cache).await, "token-2");
    cache.clear();
    assert_eq!(token(&cache).await, "token-3");
    assert_eq!(script.calls(), 3);
}

#[tokio::test(start_paused = true)]
async fn gauges_show_the_seconds_left_and_the_backoff() {
    let script = Script::new(60 * MIN, &[Step::Ok]);
    let cache = cache(&script);
    token(&cache).await;
    advance(10 * MIN).await;
    cache.update_gauges();
    let text = cache.metrics().render();
    let left: f64 = text
        .lines()
        .find_map(|l| l.strip_prefix("chathub_token_seconds_left{org=\"sales\"} "))
        .and_then(|v| v.parse().ok())
        .expect("the seconds-left gauge");
    assert!((2990.0..=3000.0).contains(&left), "{left}");
    assert!(text.contains("chathub_token_seconds_left{org=\"support\"} 0.0"));
}

#[tokio::test(start_paused = true)]
async fn clear_while_a_flow_is_under_way_starts_no_second_flow_beside_it() {
    let script = Script::new(60 * MIN, &[Step::Slow(10 * S), Step::Ok]);
    let cache = cache(&script);
    let first = tokio::spawn({
        let cache = cache.clone();
        async move { token(&cache).await }
    });
    settle().await;
    assert_eq!(script.calls(), 1);
    cache.clear();
    let second = tokio::spawn({
        let cache = cache.clone();
        async move { token(&cache).await }
    });
    settle().await;
    assert_eq!(
        script.calls(),
        1,
        "a second flow started while the first was under way"
    );
    // The first flow ends; its token is not kept, and the request that came
    // after `clear` gets a token from the next flow.
    advance(10 * S).await;
    assert_eq!(first.await.unwrap(), "token-1");
    assert_eq!(second.await.unwrap(), "token-2");
    assert_eq!(script.calls(), 2);
    assert_eq!(token(&cache).await, "token-2");
}

#[tokio::test(start_paused = true)]
async fn a_token_past_its_wall_clock_expiry_is_not_served_after_the_host_slept() {
    // tokio's clock (paused here) stands still while the host is suspended;
    // the wall clock does not. A real-time sleep past the token's expiry with
    // the paused clock standing still is exactly that.
    let script = Script::new(2 * S, &[Step::Ok, Step::Ok]);
    let cache = cache(&script);
    let served = cache.get("sales").await.expect("a token");
    assert_eq!(served.token.token.expose_secret(), "token-1");
    let expires_at = served.token.expires_at;
    while OffsetDateTime::now_utc() <= expires_at {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    // A 2-second token counts as a failure for the backoff (see
    // `tokens_that_live_seconds_do_not_make_an_org_renew_in_a_loop`), and
    // its window is on tokio's clock, which stood still: not token-1, but
    // no new flow yet either.
    assert!(
        matches!(cache.get("sales").await, Err(TokenError::Backoff { .. })),
        "an expired token was served after a suspend"
    );
    advance(2 * S).await;
    assert_eq!(token(&cache).await, "token-2");
    assert_eq!(script.calls(), 2);
}

#[tokio::test(start_paused = true)]
async fn tokens_that_live_seconds_do_not_make_an_org_renew_in_a_loop() {
    // A ChatHub that answers a one-hour request with 2-second tokens, and
    // pages that keep asking: each success used to reset the backoff, so
    // the org renewed as fast as the tokens died.
    let script = Script::new(2 * S, &[]);
    let cache = cache(&script);
    let start = Instant::now();
    let mut served = 0;
    while Instant::now() - start < 10 * S {
        if cache.get("sales").await.is_ok() {
            served += 1;
        }
        sleep(Duration::from_millis(100)).await;
    }
    let calls = script.calls();
    eprintln!("2-second tokens: {calls} flows in 10 s, {served} of 100 requests served");
    // Like failures: windows of 1, 2, 4 and 8 s (plus jitter).
    assert!(calls <= 5, "{calls} flows in 10 s for one org");
    assert!(served > 0, "the short tokens were never served");
    // The window still grows while ChatHub keeps doing it.
    sleep(60 * S).await;
    assert!(
        script.calls() <= calls + 4,
        "{} flows in 70 s",
        script.calls()
    );
}
