//! Operator tokens cached per organisation, renewed before they expire,
//! with one upstream flow per organisation at a time (single flight).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use futures::future::{BoxFuture, FutureExt, Shared};
use time::OffsetDateTime;

use crate::issuer::{IssuedToken, Issuer};
use crate::upstream::UpstreamError;

type Flight = Shared<BoxFuture<'static, Result<Arc<IssuedToken>, UpstreamError>>>;

#[derive(Default)]
struct Slot {
    current: Option<Arc<IssuedToken>>,
    in_flight: Option<Flight>,
}

struct Inner {
    issuer: Issuer,
    slots: Mutex<HashMap<String, Slot>>,
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
    /// A cache in front of `issuer`.
    pub fn new(issuer: Issuer) -> Self {
        TokenCache {
            inner: Arc::new(Inner {
                issuer,
                slots: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// The issuer behind the cache.
    pub fn issuer(&self) -> &Issuer {
        &self.inner.issuer
    }

    /// A token for the org with public `key` that has more than the refresh
    /// margin left: the cached one, the one being fetched, or a new one.
    pub async fn get(&self, key: &str) -> Result<Arc<IssuedToken>, UpstreamError> {
        let flight = {
            let mut slots = lock(&self.inner.slots);
            // The hot path: a fresh token, found without allocating.
            if let Some(token) = slots
                .get(key)
                .and_then(|s| s.current.as_ref())
                .filter(|t| self.is_fresh(t))
            {
                return Ok(token.clone());
            }
            let slot = slots.entry(key.to_owned()).or_default();
            if let Some(token) = slot.current.as_ref().filter(|t| self.is_fresh(t)) {
                return Ok(token.clone());
            }
            match &slot.in_flight {
                Some(flight) => flight.clone(),
                None => {
                    let flight = self.start(key.to_owned());
                    slot.in_flight = Some(flight.clone());
                    flight
                }
            }
        };
        flight.await
    }

    /// Forgets every cached token (the next request fetches new ones).
    pub fn clear(&self) {
        for slot in lock(&self.inner.slots).values_mut() {
            slot.current = None;
        }
    }

    /// Whether `token` may still be served. It is renewed once less than
    /// `max(refresh_margin, lifetime / 4)` is left (at most half its
    /// lifetime): pages refresh some fraction of a lifetime before expiry
    /// (chathub-loader: 20 %), and must then get a new token, not this one.
    fn is_fresh(&self, token: &IssuedToken) -> bool {
        let lifetime = token.lifetime();
        let margin = self
            .inner
            .issuer
            .config()
            .refresh_margin
            .max(lifetime / 4)
            .min(lifetime / 2);
        OffsetDateTime::now_utc() + margin < token.expires_at
    }

    /// Runs the flow in its own task, so a client that goes away does not
    /// cancel it for the others waiting on the same flight.
    fn start(&self, key: String) -> Flight {
        let inner = self.inner.clone();
        let task = tokio::spawn(async move {
            let result = inner.issuer.issue(&key).await.map(Arc::new);
            let mut slots = lock(&inner.slots);
            let slot = slots.entry(key).or_default();
            slot.in_flight = None;
            if let Ok(token) = &result {
                slot.current = Some(token.clone());
            }
            result
        });
        async move { task.await.unwrap_or(Err(UpstreamError::Internal)) }
            .boxed()
            .shared()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
