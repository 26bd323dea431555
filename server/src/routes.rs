//! The HTTP surface: `GET /api/chathub/token[?org=KEY]`, `GET /healthz` and
//! `GET /metrics`, with CORS for the configured origins only, a per-client
//! rate limit on the token endpoint, size and time limits, a request count
//! by route and status, and `X-Content-Type-Options: nosniff` on every answer.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Query, Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::auth::Authorizer;
use crate::cache::TokenCache;
use crate::config::is_valid_key;
use crate::error::{retry_after_seconds, ApiError};
use crate::limits::{self, HttpOptions, Limits};
use crate::metrics::{self as prom, Metrics};

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
    router.layer(axum::middleware::from_fn_with_state(
        Guard { metrics, limits },
        guard,
    ))
}

/// The route label: the known routes by name, everything else as `other`
/// (so clients cannot grow the label set).
fn route_label(path: &str) -> &'static str {
    match path {
        TOKEN_PATH => TOKEN_PATH,
        "/healthz" => "/healthz",
        METRICS_PATH => METRICS_PATH,
        _ => "other",
    }
}

#[derive(Clone)]
struct Guard {
    metrics: Metrics,
    limits: Limits,
}

/// One middleware for what every request passes (one layer is cheaper
/// than three on the hot path).
async fn guard(State(g): State<Guard>, request: Request, next: Next) -> Response {
    let route = route_label(request.uri().path());
    let mut response = match g.limits.check(&request) {
        Err(refused) => refused.into_response(),
        Ok(()) => tokio::time::timeout(g.limits.request_timeout, next.run(request))
            .await
            .unwrap_or_else(|_| Limits::timed_out().into_response()),
    };
    g.metrics.http_request(route, response.status().as_u16());
    response.headers_mut().insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
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
