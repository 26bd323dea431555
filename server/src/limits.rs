//! What guards the HTTP surface: a per-client rate limit on the token
//! endpoint (`tower_governor`), limits on URI and header size, a request
//! timeout. Every refusal is JSON `{code, message}` like any other error.
//!
//! The rate limit keys on the peer address, which behind a reverse proxy is
//! the proxy's: every visitor would share one budget. So a deployment behind
//! a proxy names the header the proxy sets (`X-Real-IP`, `X-Forwarded-For`),
//! and only then is that header trusted; its last entry is the one the
//! proxy itself added. IPv6 clients are keyed by their /64, since one host
//! usually owns the whole block.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::http::{HeaderName, StatusCode};
use axum::response::IntoResponse;
use axum::Router;
use tower_governor::governor::GovernorConfigBuilder;
use tower_governor::key_extractor::KeyExtractor;
use tower_governor::{GovernorError, GovernorLayer};

use crate::error::ApiError;
use crate::metrics::Metrics;
use crate::shutdown::Shutdown;

/// How often idle clients are dropped from the rate limiter's memory.
const FORGET_IDLE_EVERY: Duration = Duration::from_secs(60);

/// Settings of the HTTP surface.
#[derive(Debug, Clone)]
pub struct HttpOptions {
    /// Origins (`https://shop.example.com`, normalised as
    /// [`crate::config::origin`] does) allowed to call the token endpoint
    /// cross-origin; none means no CORS headers.
    pub allowed_origins: Vec<String>,
    /// The per-client rate limit on the token endpoint; `None` for none.
    pub rate_limit: Option<RateLimit>,
    /// Size and time limits on every request.
    pub limits: Limits,
    /// Serve `/metrics` on this router (off when it has a listener of its
    /// own, or none).
    pub metrics_route: bool,
    /// A `tower_http` trace span per request (debug level).
    pub trace_requests: bool,
    /// Once started, `/readyz` answers 503.
    pub shutdown: Shutdown,
}

impl Default for HttpOptions {
    /// No CORS, no rate limit, default limits, `/metrics` on, no tracing.
    fn default() -> Self {
        HttpOptions {
            allowed_origins: Vec::new(),
            rate_limit: None,
            limits: Limits::default(),
            metrics_route: true,
            trace_requests: false,
            shutdown: Shutdown::new(),
        }
    }
}

/// Size and time limits on every request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest request target (path and query), in bytes; longer is 414.
    pub max_uri_bytes: usize,
    /// Largest header section (names, values and separators), in bytes; larger is 431.
    pub max_header_bytes: usize,
    /// Most request headers; more is 431.
    pub max_headers: usize,
    /// Longest time to answer; then 504 (a flow under way goes on for the next request).
    pub request_timeout: Duration,
}

impl Default for Limits {
    /// 2 KiB of URI, 16 KiB and 100 headers, 10 s (the loader gives up on
    /// a request after 10 s).
    fn default() -> Self {
        Limits {
            max_uri_bytes: 2048,
            max_header_bytes: 16 * 1024,
            max_headers: 100,
            request_timeout: Duration::from_secs(10),
        }
    }
}

/// A per-client token bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimit {
    /// One more request is allowed per period (100 ms is 10 requests/s).
    pub period: Duration,
    /// Requests a client may make at once before the period applies.
    pub burst: u32,
    /// A header set by a trusted reverse proxy naming the client's address;
    /// `None` keys on the peer address.
    pub client_ip_header: Option<HeaderName>,
}

impl Default for RateLimit {
    /// 10 requests/s per client with bursts of 50, keyed on the peer address.
    fn default() -> Self {
        RateLimit {
            period: Duration::from_millis(100),
            burst: 50,
            client_ip_header: None,
        }
    }
}

/// The rate limiter's key: the client's address (its /64 for IPv6).
#[derive(Debug, Clone)]
pub struct ClientIp {
    header: Option<HeaderName>,
}

impl ClientIp {
    /// Keys on `header` when set (a trusted proxy's), else on the peer address.
    pub fn new(header: Option<HeaderName>) -> Self {
        ClientIp { header }
    }

    /// The key for a request.
    pub fn key_of<T>(&self, req: &axum::http::Request<T>) -> IpAddr {
        let from_header = self.header.as_ref().and_then(|name| {
            let value = req.headers().get_all(name).iter().next_back()?;
            parse_ip(value.to_str().ok()?.rsplit(',').next()?)
        });
        let ip = from_header
            .or_else(|| {
                req.extensions()
                    .get::<ConnectInfo<SocketAddr>>()
                    .map(|info| info.0.ip())
            })
            // Without either, all such requests share one budget.
            .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        bucket(ip)
    }
}

impl KeyExtractor for ClientIp {
    type Key = IpAddr;

    fn extract<T>(&self, req: &axum::http::Request<T>) -> Result<IpAddr, GovernorError> {
        Ok(self.key_of(req))
    }
}

/// `1.2.3.4`, `1.2.3.4:5678`, `::1` or `[::1]:80`.
fn parse_ip(text: &str) -> Option<IpAddr> {
    let text = text.trim();
    text.parse::<IpAddr>()
        .ok()
        .or_else(|| text.parse::<SocketAddr>().ok().map(|s| s.ip()))
}

/// IPv4 as is (also when mapped into IPv6); IPv6 by its /64.
pub(crate) fn bucket(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

/// `router` behind the rate limit `limit`; 429 answers are counted in
/// `metrics`. Idle clients are forgotten every minute (when a tokio runtime
/// is running), so the limiter's memory stays bounded.
pub fn rate_limited<S>(router: Router<S>, limit: &RateLimit, metrics: Metrics) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    let Some(config) = GovernorConfigBuilder::default()
        .period(limit.period)
        .burst_size(limit.burst)
        .key_extractor(ClientIp::new(limit.client_ip_header.clone()))
        .finish()
    else {
        // A zero period or burst: configuration checks refuse these first.
        return router;
    };
    let limiter = Arc::downgrade(config.limiter());
    if let Ok(runtime) = tokio::runtime::Handle::try_current() {
        runtime.spawn(async move {
            let mut every = tokio::time::interval(FORGET_IDLE_EVERY);
            loop {
                every.tick().await;
                let Some(limiter) = limiter.upgrade() else {
                    break;
                };
                limiter.retain_recent();
                limiter.shrink_to_fit();
            }
        });
    }
    let layer = GovernorLayer::new(config).error_handler(move |error| match error {
        GovernorError::TooManyRequests { wait_time, .. } => {
            metrics.rate_limited();
            ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "RATE_LIMITED",
                "Too many token requests from this client; try again after Retry-After seconds.",
            )
            // `wait_time` is rounded down to whole seconds.
            .retry_after(Duration::from_secs(wait_time.saturating_add(1)))
            .into_response()
        }
        _ => ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "INTERNAL",
            "The request could not be checked.",
        )
        .into_response(),
    });
    router.layer(layer)
}

impl Limits {
    /// Refuses an over-long URI (414) or header section (431).
    pub fn check<B>(&self, request: &axum::http::Request<B>) -> Result<(), ApiError> {
        let uri = request.uri();
        let uri_bytes = uri.path_and_query().map_or(0, |pq| pq.as_str().len())
            + uri.authority().map_or(0, |a| a.as_str().len());
        if uri_bytes > self.max_uri_bytes {
            return Err(ApiError::new(
                StatusCode::URI_TOO_LONG,
                "URI_TOO_LONG",
                "The request URI is too long.",
            ));
        }
        let header_bytes: usize = request
            .headers()
            .iter()
            .map(|(name, value)| name.as_str().len() + value.len() + 4)
            .sum();
        if header_bytes > self.max_header_bytes || request.headers().len() > self.max_headers {
            return Err(ApiError::new(
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                "HEADERS_TOO_LARGE",
                "The request headers are too large.",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(header: Option<(&str, &str)>, peer: Option<&str>) -> axum::http::Request<()> {
        let mut req = axum::http::Request::new(());
        if let Some((name, value)) = header {
            req.headers_mut().insert(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                value.parse().unwrap(),
            );
        }
        if let Some(peer) = peer {
            req.extensions_mut()
                .insert(ConnectInfo(peer.parse::<SocketAddr>().unwrap()));
        }
        req
    }

    #[test]
    fn keys_on_the_peer_unless_a_trusted_header_is_configured() {
        let peer = ClientIp::new(None);
        let forwarded = Some(("x-forwarded-for", "6.6.6.6, 203.0.113.7"));
        assert_eq!(
            peer.key_of(&request(forwarded, Some("10.0.0.1:5000"))),
            "10.0.0.1".parse::<IpAddr>().unwrap(),
            "an untrusted header must not choose the key"
        );
        let trusted = ClientIp::new(Some(HeaderName::from_static("x-forwarded-for")));
        // The last entry is the one the trusted proxy added.
        assert_eq!(
            trusted.key_of(&request(forwarded, Some("10.0.0.1:5000"))),
            "203.0.113.7".parse::<IpAddr>().unwrap()
        );
        // A missing or garbled header falls back to the peer.
        assert_eq!(
            trusted.key_of(&request(
                Some(("x-forwarded-for", "nonsense")),
                Some("10.0.0.1:1")
            )),
            "10.0.0.1".parse::<IpAddr>().unwrap()
        );
        assert_eq!(
            peer.key_of(&request(None, None)),
            IpAddr::V4(Ipv4Addr::UNSPECIFIED)
        );
    }

    #[test]
    fn ipv6_clients_share_a_budget_per_64_and_mapped_ipv4_is_ipv4() {
        let peer = ClientIp::new(None);
        let a = peer.key_of(&request(None, Some("[2001:db8:1:2:aaaa::1]:80")));
        let b = peer.key_of(&request(None, Some("[2001:db8:1:2:bbbb::9]:80")));
        let c = peer.key_of(&request(None, Some("[2001:db8:1:3::1]:80")));
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(
            peer.key_of(&request(None, Some("[::ffff:192.0.2.1]:80"))),
            "192.0.2.1".parse::<IpAddr>().unwrap()
        );
    }
}
