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
//! Timing runs on tokio's clock ([`tokio::time::Instant`]), so tests drive it
//! with paused time; a token's wall-clock expiry becomes an instant once,
//! when it is stored. Only configured organisations have a slot: the map is
//! built at start-up and never grows.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use futures::future::{BoxFuture, FutureExt, Shared};
use time::OffsetDateTime;
use tokio::task::AbortHandle;
use tokio::time::Instant;

use crate::backoff::Backoff;
use crate::config::{Config, ConfigError};
use crate::issuer::{IssuedToken, Issuer};
use crate::metrics::{CacheCounters, CacheOutcome, Metrics};
use crate::schedule;
use crate::upstream::UpstreamError;

/// When to ask again while an attempt is under way right now.
const STALE_RETRY: Duration = Duration::from_secs(1);
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

/// A stored token and its timeline on tokio's clock.
struct Cached {
    token: Arc<IssuedToken>,
    fresh_until: Instant,
    renew_at: Instant,
    usable_until: Instant,
    expires: Instant,
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
            fresh_until: at(plan.fresh_for),
            renew_at: at(plan.renew_in),
            usable_until: at(plan.usable_for),
            expires: at(plan.expires_in),
            token,
        }
    }
}

struct Slot {
    current: Option<Cached>,
    in_flight: Option<Flight>,
    backoff: Backoff,
    last_error: Option<UpstreamError>,
    /// The scheduled background renewal.
    timer: Option<AbortHandle>,
    /// Bumped by [`TokenCache::clear`]: flights started before it are not stored.
    generation: u64,
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
        let flight = {
            let mut slot = lock(&org.slot);
            let now = Instant::now();
            if let Some(cached) = &slot.current {
                if now < cached.fresh_until {
                    org.counters.record(CacheOutcome::Hit);
                    return Ok(Served {
                        token: cached.token.clone(),
                        retry_after: None,
                    });
                }
                if now < cached.usable_until {
                    let token = cached.token.clone();
                    let retry_after = match slot.backoff.remaining(now) {
                        Some(wait) => wait,
                        None => {
                            if slot.in_flight.is_none() {
                                // The background renewal did not run (or not yet): start it,
                                // but serve what still works without waiting.
                                drop(self.inner.start(key, &mut slot, false));
                            }
                            STALE_RETRY
                        }
                    };
                    org.counters.record(CacheOutcome::Stale);
                    return Ok(Served {
                        token,
                        retry_after: Some(retry_after),
                    });
                }
            }
            // Inside a failing streak, a request does not wait for the
            // next attempt either: it would only pile up (for as long as
            // ChatHub hangs) behind a flow that probably fails too.
            let wait = match (&slot.in_flight, slot.backoff.failures()) {
                (Some(_), failures) if failures > 0 => Some(STALE_RETRY),
                (Some(_), _) => None,
                (None, _) => slot.backoff.remaining(now),
            };
            if let Some(retry_after) = wait {
                org.counters.record(CacheOutcome::FailFast);
                return Err(TokenError::Backoff {
                    last: slot.last_error.clone().unwrap_or(UpstreamError::Internal),
                    retry_after,
                });
            }
            match &slot.in_flight {
                Some(flight) => flight.clone(),
                None => self.inner.start(key, &mut slot, false),
            }
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
    /// flow again). A flow under way finishes, but its token is not stored.
    pub fn clear(&self) {
        for org in self.inner.orgs.values() {
            let mut slot = lock(&org.slot);
            slot.generation += 1;
            slot.current = None;
            slot.in_flight = None;
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
        let now = Instant::now();
        for (key, org) in &self.inner.orgs {
            let slot = lock(&org.slot);
            let left = slot
                .current
                .as_ref()
                .map_or(Duration::ZERO, |c| c.expires.saturating_duration_since(now));
            let backoff = slot.backoff.remaining(now).unwrap_or(Duration::ZERO);
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
            let result = guard.inner.source.issue(&guard.key).await.map(Arc::new);
            guard.finish(&result);
            result
        });
        let flight = async move { task.await.unwrap_or(Err(UpstreamError::Internal)) }
            .boxed()
            .shared();
        slot.in_flight = Some(flight.clone());
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
        if slot.generation != generation {
            return;
        }
        slot.in_flight = None;
        self.metrics.renewal(key, background, result.is_ok());
        let now = Instant::now();
        match result {
            Ok(token) => {
                slot.backoff.succeed();
                slot.last_error = None;
                let cached = Cached::new(token, now, &self.config);
                let renew_at = cached.renew_at;
                slot.current = Some(cached);
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
                if slot.current.as_ref().is_some_and(|c| next < c.usable_until) {
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
        if now >= cached.usable_until {
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
/// later request got the panicked flight's error until a restart.
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
            tracing::error!(org = %self.key, "the upstream flow stopped without a result");
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
