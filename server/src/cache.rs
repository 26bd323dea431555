//! Operator tokens cached per organisation, with one upstream flow per
//! organisation at a time (single flight):
//!
//! - a **fresh** token is handed out as is;
//! - each token is **renewed in the background** ahead of expiry (see
//!   [`crate::schedule`]), so no request waits on ChatHub in steady state;
//! - while renewal fails, the cached token is **still served** as long as
//!   enough of it is left, with its true expiry;
//! - after a failure, ChatHub is tried **at most once per org per backoff
//!   window**; a request with nothing usable cached gets
//!   [`TokenError::Backoff`] at once in between.
//!
//! What a request gets is decided by [`crate::decision::decide`], a pure
//! function of the org's slot and the time; this module carries it out.
//! Timers run on tokio's clock ([`tokio::time::Instant`]), so tests drive
//! them with paused time; whether a token may still be handed out is also
//! checked against the wall clock (tokio's clock stops while the host
//! sleeps). Only configured organisations have a slot: the map is built at
//! start-up and never grows.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use futures::future::{BoxFuture, FutureExt, Shared};
use time::OffsetDateTime;
use tokio::task::AbortHandle;
use tokio::time::Instant;

use crate::backoff::Backoff;
use crate::config::{Config, ConfigError};
use crate::decision::{self, Decision, InFlight, Now, SlotState, TokenTimes};
use crate::issuer::{IssuedToken, Issuer};
use crate::metrics::{CacheCounters, CacheOutcome, Metrics};
use crate::schedule;
use crate::upstream::UpstreamError;

/// A token that lives less than this counts as a failure for the backoff
/// (it is still stored and served): a ChatHub answering one-hour requests
/// with 2-second tokens made 22 flows in 10 s for one org.
pub const MIN_TOKEN_LIFETIME: Duration = Duration::from_secs(10);

/// Timer offsets are capped here (tokens live at most 24 h).
const MAX_HORIZON: Duration = Duration::from_secs(366 * 24 * 60 * 60);

/// Where new tokens come from: the [`Issuer`] (ChatHub), or a stand-in in tests.
pub trait TokenSource: Send + Sync + 'static {
    /// Runs the upstream flow for the org with public `key`.
    fn issue<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<IssuedToken, UpstreamError>>;

    /// Forgets any backoff of its own (the company login's).
    fn reset_backoff(&self) {}
}

impl TokenSource for Issuer {
    fn issue<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<IssuedToken, UpstreamError>> {
        Issuer::issue(self, key).boxed()
    }

    fn reset_backoff(&self) {
        Issuer::reset_backoff(self);
    }
}

/// Why the cache has no token to hand out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// The key names no configured organisation (nothing was stored or called).
    #[error("the organisation is not configured")]
    UnknownOrg,
    /// The upstream flow this request waited for failed.
    #[error("{error}")]
    Upstream {
        /// What went wrong.
        error: UpstreamError,
        /// When the next upstream attempt is allowed.
        retry_after: Duration,
    },
    /// ChatHub failed recently and its backoff window is still open; no call was made.
    #[error("not asking ChatHub again yet after: {last}")]
    Backoff {
        /// The failure that opened the window.
        last: UpstreamError,
        /// When the next upstream attempt is allowed.
        retry_after: Duration,
    },
}

impl TokenError {
    /// When asking again can give a different answer.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            TokenError::UnknownOrg => None,
            TokenError::Upstream { retry_after, .. } | TokenError::Backoff { retry_after, .. } => {
                Some(*retry_after)
            }
        }
    }
}

/// A token handed out.
#[derive(Debug, Clone)]
pub struct Served {
    /// The token and its answer body.
    pub token: Arc<IssuedToken>,
    /// Set when the token is past its renewal point and no renewal has
    /// succeeded yet: asking again before this gives the same token.
    pub retry_after: Option<Duration>,
}

type Flight = Shared<BoxFuture<'static, Result<Arc<IssuedToken>, UpstreamError>>>;

/// A stored token, its expiry on both clocks and its renewal time.
struct Cached {
    token: Arc<IssuedToken>,
    times: TokenTimes,
    renew_at: Instant,
}

impl Cached {
    fn new(token: Arc<IssuedToken>, now: Instant, config: &Config) -> Self {
        let left = (token.expires_at - OffsetDateTime::now_utc())
            .try_into()
            .unwrap_or(Duration::ZERO);
        let plan = schedule::plan(
            token.lifetime(),
            left,
            config.refresh_margin,
            &config.renewal,
            fastrand::f64(),
        );
        let at = |d: Duration| now + d.min(MAX_HORIZON);
        Cached {
            times: TokenTimes {
                expires: at(plan.expires_in),
                expires_at: token.expires_at,
                fresh_margin: plan.expires_in.saturating_sub(plan.fresh_for),
                usable_margin: plan.expires_in.saturating_sub(plan.usable_for),
            },
            renew_at: at(plan.renew_in),
            token,
        }
    }

    /// Still worth keeping alive with background renewals at `now`.
    fn usable(&self, now: Now) -> bool {
        self.times.left(now) > self.times.usable_margin
    }
}

struct Slot {
    current: Option<Cached>,
    /// The flow under way and the generation it started in.
    in_flight: Option<(Flight, u64)>,
    backoff: Backoff,
    last_error: Option<UpstreamError>,
    /// The scheduled background renewal.
    timer: Option<AbortHandle>,
    /// Bumped by [`TokenCache::clear`]: flights started before it are not stored.
    generation: u64,
}

impl Slot {
    /// What [`decision::decide`] looks at.
    fn state(&self) -> SlotState {
        SlotState {
            token: self.current.as_ref().map(|c| c.times),
            in_flight: match &self.in_flight {
                None => InFlight::No,
                Some((_, generation)) if *generation == self.generation => InFlight::Current,
                Some(_) => InFlight::Cleared,
            },
            failures: self.backoff.failures(),
            backoff_until: self.backoff.until(),
        }
    }
}

struct Org {
    slot: Mutex<Slot>,
    counters: CacheCounters,
}

struct Inner {
    source: Arc<dyn TokenSource>,
    config: Arc<Config>,
    metrics: Metrics,
    /// One entry per configured org, made at start-up; never grows.
    orgs: HashMap<String, Org>,
}

/// The token cache. Cloning shares it.
#[derive(Clone)]
pub struct TokenCache {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenCache").finish_non_exhaustive()
    }
}

impl TokenCache {
    /// A cache in front of `issuer`, sharing its metrics.
    pub fn new(issuer: Issuer) -> Self {
        let config = issuer.shared_config();
        let metrics = issuer.metrics().clone();
        Self::build(Arc::new(issuer), config, metrics)
    }

    /// A cache in front of any [`TokenSource`], for the orgs in `config`.
    pub fn with_source(
        config: Arc<Config>,
        source: Arc<dyn TokenSource>,
    ) -> Result<Self, ConfigError> {
        config.validate()?;
        Ok(Self::build(source, config, Metrics::new()))
    }

    fn build(source: Arc<dyn TokenSource>, config: Arc<Config>, metrics: Metrics) -> Self {
        let orgs = config
            .orgs
            .keys()
            .map(|key| {
                let slot = Slot {
                    current: None,
                    in_flight: None,
                    backoff: Backoff::new(
                        config.renewal.backoff_initial,
                        config.renewal.backoff_max,
                    ),
                    last_error: None,
                    timer: None,
                    generation: 0,
                };
                let org = Org {
                    slot: Mutex::new(slot),
                    counters: metrics.cache_counters(key),
                };
                (key.clone(), org)
            })
            .collect();
        TokenCache {
            inner: Arc::new(Inner {
                source,
                config,
                metrics,
                orgs,
            }),
        }
    }

    /// The settings in use.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The service's metrics.
    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// The organisations this cache serves (the configured ones).
    pub fn orgs(&self) -> impl Iterator<Item = &str> {
        self.inner.orgs.keys().map(String::as_str)
    }

    /// A token for the org with public `key`: the fresh cached one; else the
    /// cached one while it is still usable (a renewal is started if none is
    /// under way and the backoff allows); else the result of the upstream
    /// flow, shared with every request waiting for it; else, inside the
    /// backoff window or while a retry after a failure is under way,
    /// [`TokenError::Backoff`] at once.
    pub async fn get(&self, key: &str) -> Result<Served, TokenError> {
        let Some(org) = self.inner.orgs.get(key) else {
            return Err(TokenError::UnknownOrg);
        };
        let flight = loop {
            let cleared = {
                let mut slot = lock(&org.slot);
                let now = Now::read();
                let decision = decision::decide(&slot.state(), now);
                let cached = slot.current.as_ref().map(|c| c.token.clone());
                match (decision, cached) {
                    (Decision::Fresh, Some(token)) => {
                        org.counters.record(CacheOutcome::Hit);
                        return Ok(Served {
                            token,
                            retry_after: None,
                        });
                    }
                    (Decision::Stale { retry_after, renew }, Some(token)) => {
                        if renew {
                            // The background renewal did not run (or not yet): start it,
                            // but serve what still works without waiting.
                            drop(self.inner.start(key, &mut slot, false));
                        }
                        org.counters.record(CacheOutcome::Stale);
                        return Ok(Served {
                            token,
                            retry_after: Some(retry_after),
                        });
                    }
                    (Decision::FailFast { retry_after }, _) => {
                        org.counters.record(CacheOutcome::FailFast);
                        return Err(TokenError::Backoff {
                            last: slot.last_error.clone().unwrap_or(UpstreamError::Internal),
                            retry_after,
                        });
                    }
                    (Decision::AwaitCleared, _) => match &slot.in_flight {
                        Some((flight, _)) => flight.clone(),
                        None => continue,
                    },
                    // Join, Start (Fresh and Stale always come with a token).
                    _ => match &slot.in_flight {
                        Some((flight, _)) => break flight.clone(),
                        None => break self.inner.start(key, &mut slot, false),
                    },
                }
            };
            // A flow from before `clear` is still under way: its token is
            // not for this request, and a second flow must not run beside
            // it. Wait for its end, then decide again.
            let _ = cleared.await;
        };
        org.counters.record(CacheOutcome::Miss);
        match flight.await {
            Ok(token) => Ok(Served {
                token,
                retry_after: None,
            }),
            Err(error) => {
                let retry_after = lock(&org.slot)
                    .backoff
                    .remaining(Instant::now())
                    .unwrap_or(self.inner.config.renewal.backoff_initial);
                Err(TokenError::Upstream { error, retry_after })
            }
        }
    }

    /// Forgets every cached token and backoff (the next request runs the
    /// flow again). A flow under way finishes, but its token is not stored;
    /// requests meanwhile wait for its end and then start the next one, so
    /// an org never has two flows at once.
    pub fn clear(&self) {
        for org in self.inner.orgs.values() {
            let mut slot = lock(&org.slot);
            slot.generation += 1;
            slot.current = None;
            slot.backoff.succeed();
            slot.last_error = None;
            if let Some(timer) = slot.timer.take() {
                timer.abort();
            }
        }
        self.inner.source.reset_backoff();
    }

    /// Closes every backoff window (the upstream is known to work again).
    pub fn reset_backoff(&self) {
        for org in self.inner.orgs.values() {
            let mut slot = lock(&org.slot);
            slot.backoff.succeed();
            slot.last_error = None;
        }
        self.inner.source.reset_backoff();
    }

    /// Sets the per-org gauges (seconds left on the token, seconds of
    /// backoff left) to their current values; call before rendering metrics.
    pub fn update_gauges(&self) {
        let now = Now::read();
        for (key, org) in &self.inner.orgs {
            let slot = lock(&org.slot);
            let left = slot
                .current
                .as_ref()
                .map_or(Duration::ZERO, |c| c.times.left(now));
            let backoff = slot
                .backoff
                .remaining(now.instant)
                .unwrap_or(Duration::ZERO);
            self.inner
                .metrics
                .org_gauges(key, left.as_secs_f64(), backoff.as_secs_f64());
        }
    }
}

impl Inner {
    /// Runs the flow in its own task, so a client that goes away does not
    /// cancel it for the others waiting on the same flight.
    fn start(self: &Arc<Self>, key: &str, slot: &mut Slot, background: bool) -> Flight {
        let mut guard = FlightGuard {
            inner: self.clone(),
            key: key.to_owned(),
            generation: slot.generation,
            background,
            done: false,
        };
        let task = tokio::spawn(async move {
            let issue = std::panic::AssertUnwindSafe(guard.inner.source.issue(&guard.key));
            let result = match issue.catch_unwind().await {
                Ok(result) => result.map(Arc::new),
                Err(_) => {
                    tracing::error!(org = %guard.key, "the upstream flow panicked");
                    Err(UpstreamError::Internal)
                }
            };
            guard.finish(&result);
            result
        });
        let flight = async move { task.await.unwrap_or(Err(UpstreamError::Internal)) }
            .boxed()
            .shared();
        slot.in_flight = Some((flight.clone(), slot.generation));
        flight
    }

    /// Stores a flight's outcome and plans the next background attempt.
    fn complete(
        self: &Arc<Self>,
        key: &str,
        generation: u64,
        background: bool,
        result: Result<Arc<IssuedToken>, UpstreamError>,
    ) {
        let Some(org) = self.orgs.get(key) else {
            return;
        };
        let mut slot = lock(&org.slot);
        if slot
            .in_flight
            .as_ref()
            .is_some_and(|(_, g)| *g == generation)
        {
            slot.in_flight = None;
        }
        if slot.generation != generation {
            return; // started before `clear`: not stored
        }
        self.metrics.renewal(key, background, result.is_ok());
        let now = Instant::now();
        match result {
            Ok(token) => {
                let lifetime = token.lifetime();
                let cached = Cached::new(token, now, &self.config);
                let mut renew_at = cached.renew_at;
                slot.current = Some(cached);
                if lifetime < MIN_TOKEN_LIFETIME {
                    // Stored and served, but counted as a failure: else each
                    // such success would reset the backoff, and the org
                    // would renew as fast as its tokens die.
                    let window = slot.backoff.fail(now);
                    let seconds = lifetime.as_secs();
                    tracing::warn!(
                        org = key,
                        lifetime_seconds = seconds,
                        failures = slot.backoff.failures(),
                        retry_in_ms = u64::try_from(window.as_millis()).unwrap_or(u64::MAX),
                        "ChatHub issued an operator token that lives only seconds; the next renewal waits as after a failure"
                    );
                    slot.last_error = Some(UpstreamError::ShortLived(seconds));
                    renew_at = renew_at.max(now + window.min(MAX_HORIZON));
                } else {
                    slot.backoff.succeed();
                    slot.last_error = None;
                }
                self.schedule(key, &mut slot, renew_at);
            }
            Err(error) => {
                let window = slot.backoff.fail(now);
                tracing::warn!(
                    org = key,
                    %error,
                    failures = slot.backoff.failures(),
                    retry_in_ms = u64::try_from(window.as_millis()).unwrap_or(u64::MAX),
                    background,
                    "no new operator token from ChatHub"
                );
                slot.last_error = Some(error);
                let next = now + window.min(MAX_HORIZON);
                // Keep retrying in the background while there is a token to keep alive.
                let usable_then = Now {
                    instant: next,
                    wall: OffsetDateTime::now_utc() + window,
                };
                if slot.current.as_ref().is_some_and(|c| c.usable(usable_then)) {
                    self.schedule(key, &mut slot, next);
                }
            }
        }
    }

    /// Replaces the org's timer with one that renews at `at`.
    fn schedule(self: &Arc<Self>, key: &str, slot: &mut Slot, at: Instant) {
        if let Some(timer) = slot.timer.take() {
            timer.abort();
        }
        // Outside a runtime (a flight dropped while it shuts down) there is nothing to plan.
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let weak: Weak<Inner> = Arc::downgrade(self);
        let key = key.to_owned();
        let task = runtime.spawn(async move {
            tokio::time::sleep_until(at).await;
            if let Some(inner) = weak.upgrade() {
                inner.renew_in_background(&key);
            }
        });
        slot.timer = Some(task.abort_handle());
    }

    /// The timer fired: renew if the token is due and there is still one to keep alive.
    fn renew_in_background(self: &Arc<Self>, key: &str) {
        let Some(org) = self.orgs.get(key) else {
            return;
        };
        let mut slot = lock(&org.slot);
        let now = Instant::now();
        if slot.in_flight.is_some() {
            return; // its completion plans the next attempt
        }
        let Some(cached) = &slot.current else {
            return;
        };
        if !cached.usable(Now::read()) {
            return; // nothing left to keep alive: the next request starts a flow
        }
        let renew_at = cached.renew_at;
        if let Some(wait) = slot.backoff.remaining(now) {
            self.schedule(key, &mut slot, now + wait);
        } else if now < renew_at {
            self.schedule(key, &mut slot, renew_at);
        } else {
            // Nobody awaits a background flight; its task runs to the end on its own.
            drop(self.start(key, &mut slot, true));
        }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        for org in self.orgs.values() {
            if let Some(timer) = lock(&org.slot).timer.take() {
                timer.abort();
            }
        }
    }
}

/// Clears the org's flight however the flow ends: with a result, a panic, or
/// its task dropped. Without it a panic left the flight in place and every
/// later request got the panicked flight's error until a restart. A panic
/// is caught (and logged as an error) before it gets here; a task dropped
/// unfinished is the runtime shutting down, which is no error.
struct FlightGuard {
    inner: Arc<Inner>,
    key: String,
    generation: u64,
    background: bool,
    done: bool,
}

impl FlightGuard {
    fn finish(&mut self, result: &Result<Arc<IssuedToken>, UpstreamError>) {
        self.done = true;
        self.inner
            .complete(&self.key, self.generation, self.background, result.clone());
    }
}

impl Drop for FlightGuard {
    fn drop(&mut self) {
        if !self.done {
            self.done = true;
            tracing::info!(org = %self.key, "an upstream flow was still running at shutdown; dropped");
            self.inner.complete(
                &self.key,
                self.generation,
                self.background,
                Err(UpstreamError::Internal),
            );
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
