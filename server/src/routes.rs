//! The HTTP surface: `GET /api/chathub/token[?org=KEY]`, `GET /healthz`,
//! `GET /readyz` and `GET /metrics`, and their handlers. What every request
//! passes on its way (CORS, limits, timeout, counting, headers) is in
//! [`crate::layers`].

use std::sync::Arc;

use axum::extract::{Query, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;

use crate::auth::Authorizer;
use crate::cache::TokenCache;
use crate::config::is_valid_key;
use crate::error::{retry_after_seconds, ApiError};
use crate::layers;
use crate::limits::{self, HttpOptions};
use crate::metrics as prom;
use crate::shutdown::Shutdown;

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

/// The token endpoint, `/healthz`, `/readyz` and (unless
/// `options.metrics_route` is off) `/metrics`, with the layers of
/// [`crate::layers`]. `options.allowed_origins` are normalised origins
/// (`https://shop.example.com`, see [`crate::config::origin`]); with none,
/// no CORS headers are sent and only same-origin pages can read the answer.
pub fn router(service: TokenService, options: &HttpOptions) -> Router {
    let metrics = service.cache.metrics().clone();
    layers::around(token_routes(service, options), options, &metrics)
}

/// The same routes without the layers, to merge into a larger router that
/// gets them once ([`layers::around`]).
pub fn token_routes(service: TokenService, options: &HttpOptions) -> Router {
    let metrics = service.cache.metrics().clone();
    let mut token = Router::new()
        .route(TOKEN_PATH, get(token_handler))
        .with_state(service.clone());
    if let Some(limit) = &options.rate_limit {
        token = limits::rate_limited(token, limit, metrics);
    }
    let mut routes = Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz).with_state(options.shutdown.clone()))
        .merge(token);
    if options.metrics_route {
        routes = routes.route(METRICS_PATH, get(metrics_handler).with_state(service.cache));
    }
    routes
}

/// `/metrics` alone, with the layers (for a listener of its own).
pub fn metrics_router(cache: TokenCache, options: &HttpOptions) -> Router {
    let metrics = cache.metrics().clone();
    let options = HttpOptions {
        allowed_origins: Vec::new(),
        rate_limit: None,
        ..options.clone()
    };
    let routes = Router::new().route(METRICS_PATH, get(metrics_handler).with_state(cache));
    layers::around(routes, &options, &metrics)
}

/// Alive: the process answers. Never calls ChatHub.
async fn healthz() -> Response {
    (
        [(header::CACHE_CONTROL, "no-store")],
        Json(serde_json::json!({ "status": "ok" })),
    )
        .into_response()
}

/// Ready for traffic: configured (it would not run otherwise) and not
/// shutting down. It does not depend on ChatHub: during an outage every
/// replica would go unready at once, and the cached tokens they still
/// serve would be lost with them.
async fn readyz(State(shutdown): State<Shutdown>) -> Response {
    if shutdown.is_started() {
        return ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "SHUTTING_DOWN",
            "This instance is shutting down; ask another one.",
        )
        .into_response();
    }
    (
        [(header::CACHE_CONTROL, "no-store")],
        Json(serde_json::json!({ "status": "ready" })),
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
