//! The HTTP surface: `GET /api/chathub/token[?org=KEY]` and `GET /healthz`,
//! with CORS for the configured origins only.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Query, Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::auth::Authorizer;
use crate::cache::TokenCache;
use crate::config::is_valid_key;
use crate::error::ApiError;

/// The path of the token endpoint.
pub const TOKEN_PATH: &str = "/api/chathub/token";

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

/// The token endpoint and `/healthz`. `allowed_origins` are exact origins
/// (`https://shop.example.com`); with none, no CORS headers are sent and
/// only same-origin pages can read the answer.
pub fn router(service: TokenService, allowed_origins: &[String]) -> Router {
    let mut token = Router::new()
        .route(TOKEN_PATH, get(token_handler))
        .with_state(service);
    let origins: Vec<HeaderValue> = allowed_origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(o).ok())
        .collect();
    if !origins.is_empty() {
        token = token.layer(
            CorsLayer::new()
                .allow_origin(AllowOrigin::list(origins))
                .allow_methods([Method::GET])
                .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
                .allow_credentials(true)
                .max_age(Duration::from_secs(600)),
        );
    }
    Router::new().route("/healthz", get(healthz)).merge(token)
}

async fn healthz() -> Response {
    (
        [(header::CACHE_CONTROL, "no-store")],
        Json(serde_json::json!({ "status": "ok" })),
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
    let config = service.cache.issuer().config();
    let key = match query.org.as_deref().map(str::trim) {
        None | Some("") => config.default_org.clone(),
        Some(org) if is_valid_key(org) && config.org(org).is_some() => org.to_owned(),
        Some(_) => {
            return ApiError::new(
                StatusCode::NOT_FOUND,
                "UNKNOWN_ORG",
                "This organisation is not configured.",
            )
            .into_response()
        }
    };
    match service.cache.get(&key).await {
        Ok(issued) => {
            tracing::debug!(org = %key, principal = %principal.0, "token served");
            (
                [
                    (header::CACHE_CONTROL, "no-store"),
                    (header::CONTENT_TYPE, "application/json"),
                ],
                issued.response_body(),
            )
                .into_response()
        }
        Err(e) => {
            tracing::warn!(org = %key, error = %e, "no token for the page");
            ApiError::from(&e).into_response()
        }
    }
}
