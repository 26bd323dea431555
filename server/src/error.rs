//! What a page sees when it gets no token: a status and `{ "code", "message" }`.
//! Never a stack trace, never an upstream body.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

use crate::upstream::UpstreamError;

/// An error answer of the token endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable machine-readable code.
    pub code: &'static str,
    /// One sentence for humans.
    pub message: String,
    /// `WWW-Authenticate`, for 401.
    pub challenge: Option<&'static str>,
}

impl ApiError {
    /// A new error.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            challenge: None,
        }
    }
}

impl From<&UpstreamError> for ApiError {
    fn from(e: &UpstreamError) -> Self {
        use UpstreamError as U;
        let (status, code) = match e {
            U::Timeout(_) => (StatusCode::GATEWAY_TIMEOUT, "UPSTREAM_TIMEOUT"),
            U::Unreachable(_) => (StatusCode::BAD_GATEWAY, "UPSTREAM_UNREACHABLE"),
            U::Status { .. } => (StatusCode::BAD_GATEWAY, "UPSTREAM_ERROR"),
            U::LoginRejected => (StatusCode::BAD_GATEWAY, "UPSTREAM_LOGIN_REJECTED"),
            U::Malformed(_) => (StatusCode::BAD_GATEWAY, "UPSTREAM_MALFORMED"),
            U::OrgNotFound(_) => (StatusCode::BAD_GATEWAY, "UPSTREAM_ORG_NOT_FOUND"),
            U::NoActiveOperator(_) | U::OperatorUnavailable(_) => {
                (StatusCode::BAD_GATEWAY, "UPSTREAM_NO_OPERATOR")
            }
            U::TokenRejected => (StatusCode::BAD_GATEWAY, "UPSTREAM_TOKEN_REJECTED"),
            U::Internal => (StatusCode::BAD_GATEWAY, "UPSTREAM_INTERNAL"),
        };
        // The message names the step, not ChatHub's words or our configuration.
        let message = match e {
            U::Timeout(_) => "The chat service did not answer in time.".to_owned(),
            U::LoginRejected => "The chat service refused the company credentials.".to_owned(),
            U::OrgNotFound(_) | U::NoActiveOperator(_) | U::OperatorUnavailable(_) => {
                "The chat service has no operator available for this organisation.".to_owned()
            }
            _ => "The chat service is unavailable.".to_owned(),
        };
        ApiError::new(status, code, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "code": self.code, "message": self.message });
        let mut resp = (self.status, Json(body)).into_response();
        let headers = resp.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if let Some(challenge) = self.challenge {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(challenge),
            );
        }
        resp
    }
}
