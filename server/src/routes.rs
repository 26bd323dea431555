//! The HTTP surface: `GET /api/chathub/token[?org=KEY]`, `GET /healthz` and
//! `GET /metrics`, with CORS for the configured origins only, a per-client
//! rate limit on the token endpoint, size and time limits, a request count
//! by route and status, and `X-Content-Type-Options: nosniff` on every answer.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use axum::extract::{Query, Request, State};
use axum::http::{header, HeaderName, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use pin_project_lite::pin_project;
use serde::Deserialize;
use tokio::time::Timeout;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_layer::Layer;
use tower_service::Service;

use crate::auth::Authorizer;
use crate::cache::TokenCache;
use crate::config::is_valid_key;
use crate::error::{retry_after_seconds, ApiError};
use crate::limits::{self, HttpOptions, Limits};
use crate::metrics::{self as prom, HttpCounters, Metrics};

/// The path of the token endpoint.
pub const TOKEN_PATH: &str = "/api/chathub/token";
/// The path of the Prometheus metrics.
pub const METRICS_PATH: &str = "/metrics";

/// What the token endpoint needs.
#[derive(Clone)]
pub struct TokenService {
    /// The per-org cache in front of ChatHub.
    pub cache: TokenCache,
    /// Who may get a token.
    pub authorizer: Arc<dyn Authorizer>,
}

impl std::fmt::Debug for TokenService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenService")
            .field("authorizer", &self.authorizer.name())
            .finish_non_exhaustive()
    }
}

/// The token endpoint, `/healthz` and `/metrics`, with the common layers
/// ([`with_common_layers`]). `options.allowed_origins` are exact origins
/// (`https://shop.example.com`); with none, no CORS headers are sent and
/// only same-origin pages can read the answer.
pub fn router(service: TokenService, options: &HttpOptions) -> Router {
    let metrics = service.cache.metrics().clone();
    with_common_layers(token_routes(service, options), metrics, options.limits)
}

/// The same routes without the common layers, to merge into a larger
/// router that gets them once ([`with_common_layers`]).
pub fn token_routes(service: TokenService, options: &HttpOptions) -> Router {
    let metrics = service.cache.metrics().clone();
    let mut token = Router::new()
        .route(TOKEN_PATH, get(token_handler))
        .with_state(service.clone());
    if let Some(limit) = &options.rate_limit {
        token = limits::rate_limited(token, limit, metrics);
    }
    let origins: Vec<HeaderValue> = options
        .allowed_origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(o).ok())
        .collect();
    if !origins.is_empty() {
        // Outside the rate limit, so a 429 can be read cross-origin too.
        token = token.layer(
            CorsLayer::new()
                .allow_origin(AllowOrigin::list(origins))
                .allow_methods([Method::GET])
                .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
                // The loader reads the server's clock and the backoff hint.
                .expose_headers([header::DATE, header::RETRY_AFTER])
                .allow_credentials(true)
                .max_age(Duration::from_secs(600)),
        );
    }
    Router::new()
        .route("/healthz", get(healthz))
        .route(METRICS_PATH, get(metrics_handler).with_state(service.cache))
        .merge(token)
}

/// Size and time limits, the request count by route and status, and
/// `X-Content-Type-Options: nosniff`, around everything in `router`.
pub fn with_common_layers(router: Router, metrics: Metrics, limits: Limits) -> Router {
    with_guard(router, metrics, limits, None)
}

/// A check that may answer a request itself.
pub(crate) type Refuse = Box<dyn Fn(&Request) -> Option<Response> + Send + Sync>;

/// A check in front of the common layers, in the same layer (one layer
/// less on the hot path): dev mode's `Host` check and marker header.
pub(crate) struct Front {
    /// Runs before anything else; an answer it gives goes out as is (not
    /// counted, no header added).
    pub(crate) refuse: Refuse,
    /// Set on every other answer.
    pub(crate) header: (HeaderName, HeaderValue),
}

/// [`with_common_layers`], behind `front` if given.
pub(crate) fn with_guard(
    router: Router,
    metrics: Metrics,
    limits: Limits,
    front: Option<Front>,
) -> Router {
    router.layer(GuardLayer {
        shared: Arc::new(GuardShared {
            counters: metrics.http_counters(&ROUTE_LABELS),
            limits,
            front,
        }),
    })
}

/// The `route` label's values: the known routes by name, everything else
/// as `other` (so clients cannot grow the label set).
const ROUTE_LABELS: [&str; 4] = [TOKEN_PATH, "/healthz", METRICS_PATH, "other"];

/// The index in [`ROUTE_LABELS`] of `path`'s label.
fn route_label(path: &str) -> usize {
    match path {
        TOKEN_PATH => 0,
        "/healthz" => 1,
        METRICS_PATH => 2,
        _ => 3,
    }
}

struct GuardShared {
    counters: HttpCounters,
    limits: Limits,
    front: Option<Front>,
}

/// One layer for what every request passes: a plain service with its own
/// future (no boxing, no middleware glue), since it is on the hot path.
#[derive(Clone)]
struct GuardLayer {
    shared: Arc<GuardShared>,
}

impl<S> Layer<S> for GuardLayer {
    type Service = Guard<S>;

    fn layer(&self, inner: S) -> Guard<S> {
        Guard {
            inner,
            shared: self.shared.clone(),
        }
    }
}

#[derive(Clone)]
struct Guard<S> {
    inner: S,
    shared: Arc<GuardShared>,
}

impl<S> Service<Request> for Guard<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = GuardFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let shared = &self.shared;
        let refused = shared.front.as_ref().and_then(|f| (f.refuse)(&request));
        let route = route_label(request.uri().path());
        let state = if let Some(response) = refused {
            GuardState::Front {
                response: Some(response),
            }
        } else {
            match shared.limits.check(&request) {
                Err(refused) => GuardState::Refused {
                    response: Some(refused.into_response()),
                },
                Ok(()) => GuardState::Running {
                    inner: tokio::time::timeout(
                        shared.limits.request_timeout,
                        self.inner.call(request),
                    ),
                },
            }
        };
        GuardFuture {
            state,
            route,
            shared: shared.clone(),
        }
    }
}

pin_project! {
    struct GuardFuture<F> {
        #[pin]
        state: GuardState<F>,
        route: usize,
        shared: Arc<GuardShared>,
    }
}

pin_project! {
    #[project = GuardStateProj]
    enum GuardState<F> {
        Front { response: Option<Response> },
        Refused { response: Option<Response> },
        Running { #[pin] inner: Timeout<F> },
    }
}

impl<F> Future for GuardFuture<F>
where
    F: Future<Output = Result<Response, Infallible>>,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        const DONE: &str = "GuardFuture polled after completion";
        let this = self.project();
        let mut response = match this.state.project() {
            GuardStateProj::Front { response } => {
                return Poll::Ready(Ok(response.take().expect(DONE)))
            }
            GuardStateProj::Refused { response } => response.take().expect(DONE),
            GuardStateProj::Running { inner } => match ready!(inner.poll(cx)) {
                Ok(Ok(response)) => response,
                Ok(Err(never)) => match never {},
                Err(_elapsed) => Limits::timed_out().into_response(),
            },
        };
        this.shared
            .counters
            .record(*this.route, response.status().as_u16());
        let headers = response.headers_mut();
        // Built at compile time (`from_static` checks its argument).
        headers.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            const { HeaderValue::from_static("nosniff") },
        );
        if let Some(Front {
            header: (name, value),
            ..
        }) = &this.shared.front
        {
            headers.insert(name.clone(), value.clone());
        }
        Poll::Ready(Ok(response))
    }
}

async fn healthz() -> Response {
    (
        [(header::CACHE_CONTROL, "no-store")],
        Json(serde_json::json!({ "status": "ok" })),
    )
        .into_response()
}

async fn metrics_handler(State(cache): State<TokenCache>) -> Response {
    cache.update_gauges();
    (
        [
            (header::CONTENT_TYPE, prom::CONTENT_TYPE),
            (header::CACHE_CONTROL, "no-store"),
        ],
        cache.metrics().render(),
    )
        .into_response()
}

#[derive(Deserialize)]
struct TokenQuery {
    org: Option<String>,
}

async fn token_handler(State(service): State<TokenService>, request: Request) -> Response {
    let (parts, _body) = request.into_parts();
    let principal = match service.authorizer.authorize(&parts).await {
        Ok(p) => p,
        Err(refused) => {
            tracing::info!(
                auth = service.authorizer.name(),
                reason = refused.reason,
                "token request refused"
            );
            let mut e = ApiError::new(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", refused.reason);
            e.challenge = refused.challenge;
            return e.into_response();
        }
    };
    let Ok(Query(query)) = Query::<TokenQuery>::try_from_uri(&parts.uri) else {
        return ApiError::new(
            StatusCode::BAD_REQUEST,
            "INVALID_QUERY",
            "The query string is not valid.",
        )
        .into_response();
    };
    let config = service.cache.config();
    let key = match query.org.as_deref().map(str::trim) {
        None | Some("") => config.default_org.as_str(),
        Some(org) if is_valid_key(org) && config.org(org).is_some() => org,
        Some(_) => {
            return ApiError::new(
                StatusCode::NOT_FOUND,
                "UNKNOWN_ORG",
                "This organisation is not configured.",
            )
            .into_response()
        }
    };
    match service.cache.get(key).await {
        Ok(served) => {
            tracing::debug!(org = %key, principal = %principal.0, stale = served.retry_after.is_some(), "token served");
            let mut response = (
                [
                    (header::CACHE_CONTROL, "no-store"),
                    (header::CONTENT_TYPE, "application/json"),
                ],
                served.token.response_body(),
            )
                .into_response();
            if let Some(after) = served.retry_after {
                // Past its renewal point and renewal has not succeeded yet:
                // asking again before this gives the same token.
                response.headers_mut().insert(
                    header::RETRY_AFTER,
                    HeaderValue::from(retry_after_seconds(after)),
                );
            }
            response
        }
        Err(e) => {
            // The cache logs each failed upstream attempt once; per request is debug.
            tracing::debug!(org = %key, error = %e, "no token for the page");
            ApiError::from(&e).into_response()
        }
    }
}
