//! `/metrics` in the Prometheus text format (`prometheus-client`).
//!
//! Each [`Metrics`] has its own registry (no global state), so every cache,
//! test and library user counts separately. Labels are routes, statuses, org
//! keys from the configuration and upstream step names: never a token, a
//! secret or anything a client sent.

use std::sync::atomic::AtomicU64;
use std::sync::{Arc, OnceLock};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

/// The `Content-Type` of [`Metrics::render`]'s output.
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HttpLabels {
    route: &'static str,
    status: u16,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CacheLabels {
    org: String,
    result: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct UpstreamLabels {
    step: &'static str,
    result: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RenewalLabels {
    org: String,
    trigger: &'static str,
    result: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OrgLabels {
    org: String,
}

type SecondsGauge = Gauge<f64, AtomicU64>;

struct Inner {
    registry: Registry,
    http: Family<HttpLabels, Counter>,
    cache: Family<CacheLabels, Counter>,
    upstream: Family<UpstreamLabels, Counter>,
    renewals: Family<RenewalLabels, Counter>,
    seconds_left: Family<OrgLabels, SecondsGauge>,
    backoff_left: Family<OrgLabels, SecondsGauge>,
    rate_limited: Counter,
}

/// The service's counters and gauges. Cloning shares them.
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// How a token request was answered from the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheOutcome {
    /// A fresh cached token.
    Hit,
    /// A cached token past its renewal point, served because renewal is
    /// under way or failing.
    Stale,
    /// Nothing usable cached: the request waited for the upstream flow.
    Miss,
    /// Nothing usable cached and the upstream is in its backoff window: 503 at once.
    FailFast,
}

impl CacheOutcome {
    const ALL: [CacheOutcome; 4] = [Self::Hit, Self::Stale, Self::Miss, Self::FailFast];

    fn label(self) -> &'static str {
        match self {
            Self::Hit => "hit",
            Self::Stale => "stale",
            Self::Miss => "miss",
            Self::FailFast => "fail_fast",
        }
    }
}

/// One org's cache counters, created once so the hot path does not allocate.
#[derive(Debug, Clone)]
pub struct CacheCounters([Counter; 4]);

impl CacheCounters {
    /// Counts one request answered with `outcome`.
    pub fn record(&self, outcome: CacheOutcome) {
        self.0[outcome as usize].inc();
    }
}

/// Statuses with a counter slot in [`HttpCounters`]: `100..600`.
const STATUS_SLOTS: std::ops::Range<u16> = 100..600;

/// The request counters of a fixed set of routes, one per (route, status),
/// each created in the family on its first use (so `/metrics` shows the
/// same series as counting through [`Metrics::http_request`]) and kept
/// here: counting a request is then one atomic add, with no label hashing
/// and no lock. Cloning shares them.
#[derive(Clone)]
pub struct HttpCounters {
    family: Family<HttpLabels, Counter>,
    routes: &'static [&'static str],
    slots: Arc<[OnceLock<Counter>]>,
}

impl std::fmt::Debug for HttpCounters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpCounters")
            .field("routes", &self.routes)
            .finish_non_exhaustive()
    }
}

impl HttpCounters {
    /// Counts an answered request to `routes[route]` with `status`.
    ///
    /// # Panics
    /// If `route` is not an index of the routes these counters were made for.
    pub fn record(&self, route: usize, status: u16) {
        let label = self.routes[route];
        if !STATUS_SLOTS.contains(&status) {
            self.family
                .get_or_create(&HttpLabels {
                    route: label,
                    status,
                })
                .inc();
            return;
        }
        let width = usize::from(STATUS_SLOTS.end - STATUS_SLOTS.start);
        let slot = route * width + usize::from(status - STATUS_SLOTS.start);
        self.slots[slot]
            .get_or_init(|| {
                self.family.get_or_create_owned(&HttpLabels {
                    route: label,
                    status,
                })
            })
            .inc();
    }
}

impl Metrics {
    /// Every metric, registered under the `chathub_` prefix.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("chathub");
        let http = Family::<HttpLabels, Counter>::default();
        let cache = Family::<CacheLabels, Counter>::default();
        let upstream = Family::<UpstreamLabels, Counter>::default();
        let renewals = Family::<RenewalLabels, Counter>::default();
        let seconds_left = Family::<OrgLabels, SecondsGauge>::default();
        let backoff_left = Family::<OrgLabels, SecondsGauge>::default();
        let rate_limited = Counter::default();
        registry.register(
            "http_requests",
            "HTTP requests answered, by route and status",
            http.clone(),
        );
        registry.register(
            "token_requests",
            "Token requests by org and cache outcome (hit, stale, miss, fail_fast)",
            cache.clone(),
        );
        registry.register(
            "upstream_calls",
            "ChatHub calls by step and result",
            upstream.clone(),
        );
        registry.register(
            "token_renewals",
            "Upstream flows for an org's token, by trigger (request, background) and result",
            renewals.clone(),
        );
        registry.register(
            "token_seconds_left",
            "Seconds until the org's cached token expires (0: none cached)",
            seconds_left.clone(),
        );
        registry.register(
            "upstream_backoff_seconds",
            "Seconds until the next upstream attempt is allowed for the org (0: now)",
            backoff_left.clone(),
        );
        registry.register(
            "rate_limited_requests",
            "Requests refused with 429 by the per-client rate limit",
            rate_limited.clone(),
        );
        Metrics {
            inner: Arc::new(Inner {
                registry,
                http,
                cache,
                upstream,
                renewals,
                seconds_left,
                backoff_left,
                rate_limited,
            }),
        }
    }

    /// Everything, in the Prometheus text format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ =
            prometheus_client::encoding::prometheus_text::encode(&mut out, &self.inner.registry);
        out
    }

    /// Counts an answered HTTP request.
    pub fn http_request(&self, route: &'static str, status: u16) {
        self.inner
            .http
            .get_or_create(&HttpLabels { route, status })
            .inc();
    }

    /// Request counters for `routes` (the `route` label's values), for
    /// counting on a hot path ([`HttpCounters::record`]); they count in the
    /// same series as [`Metrics::http_request`].
    pub fn http_counters(&self, routes: &'static [&'static str]) -> HttpCounters {
        let width = usize::from(STATUS_SLOTS.end - STATUS_SLOTS.start);
        HttpCounters {
            family: self.inner.http.clone(),
            routes,
            slots: (0..routes.len() * width).map(|_| OnceLock::new()).collect(),
        }
    }

    /// The cache counters of `org` (created, and so shown as 0, at once).
    pub fn cache_counters(&self, org: &str) -> CacheCounters {
        CacheCounters(CacheOutcome::ALL.map(|outcome| {
            self.inner.cache.get_or_create_owned(&CacheLabels {
                org: org.to_owned(),
                result: outcome.label(),
            })
        }))
    }

    /// Counts a ChatHub call to `step` that ended in `result`.
    pub fn upstream_call(&self, step: &'static str, result: &'static str) {
        self.inner
            .upstream
            .get_or_create(&UpstreamLabels { step, result })
            .inc();
    }

    /// Counts an upstream flow for `org`.
    pub fn renewal(&self, org: &str, background: bool, ok: bool) {
        let labels = RenewalLabels {
            org: org.to_owned(),
            trigger: if background { "background" } else { "request" },
            result: if ok { "ok" } else { "error" },
        };
        self.inner.renewals.get_or_create(&labels).inc();
    }

    /// Sets `org`'s gauges: seconds left on its token, seconds of backoff left.
    pub fn org_gauges(&self, org: &str, seconds_left: f64, backoff_left: f64) {
        let labels = OrgLabels {
            org: org.to_owned(),
        };
        self.inner
            .seconds_left
            .get_or_create(&labels)
            .set(seconds_left);
        self.inner
            .backoff_left
            .get_or_create(&labels)
            .set(backoff_left);
    }

    /// Counts a request refused by the rate limit.
    pub fn rate_limited(&self) {
        self.inner.rate_limited.inc();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_gauges_with_their_labels() {
        let m = Metrics::new();
        m.http_request("/api/chathub/token", 200);
        m.cache_counters("sales").record(CacheOutcome::Stale);
        m.upstream_call("operator/get-token", "ok");
        m.renewal("sales", true, false);
        m.org_gauges("sales", 12.5, 0.0);
        m.rate_limited();
        let counters = m.http_counters(&["/api/chathub/token", "other"]);
        counters.record(0, 200);
        counters.record(1, 404);
        counters.record(1, 404);
        counters.record(1, 999);
        let text = m.render();
        for line in [
            "chathub_http_requests_total{route=\"/api/chathub/token\",status=\"200\"} 2",
            "chathub_http_requests_total{route=\"other\",status=\"404\"} 2",
            "chathub_http_requests_total{route=\"other\",status=\"999\"} 1",
            "chathub_token_requests_total{org=\"sales\",result=\"stale\"} 1",
            "chathub_token_requests_total{org=\"sales\",result=\"hit\"} 0",
            "chathub_upstream_calls_total{step=\"operator/get-token\",result=\"ok\"} 1",
            "chathub_token_renewals_total{org=\"sales\",trigger=\"background\",result=\"error\"} 1",
            "chathub_token_seconds_left{org=\"sales\"} 12.5",
            "chathub_upstream_backoff_seconds{org=\"sales\"} 0.0",
            "chathub_rate_limited_requests_total 1",
        ] {
            assert!(text.contains(line), "missing {line} in:\n{text}");
        }
        // A slot is only shown once used, as with `http_request`.
        assert!(!text.contains("status=\"500\""), "{text}");
    }
}
