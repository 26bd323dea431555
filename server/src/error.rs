//! What a page sees when it gets no token: a status and `{ "code", "message" }`.
//! Never a stack trace, never an upstream body.

use std::time::Duration;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

use crate::cache::TokenError;
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
    /// `Retry-After`, sent in whole seconds (rounded up, at least 1).
    pub retry_after: Option<Duration>,
}

impl ApiError {
    /// A new error.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            challenge: None,
            retry_after: None,
        }
    }

    /// The same error with a `Retry-After`.
    pub fn retry_after(mut self, after: Duration) -> Self {
        self.retry_after = Some(after);
        self
    }
}

impl From<&TokenError> for ApiError {
    fn from(e: &TokenError) -> Self {
        match e {
            TokenError::UnknownOrg => ApiError::new(
                StatusCode::NOT_FOUND,
                "UNKNOWN_ORG",
                "This organisation is not configured.",
            ),
            TokenError::Upstream { error, retry_after } => {
                ApiError::from(error).retry_after(*retry_after)
            }
            TokenError::Backoff { retry_after, .. } => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "UPSTREAM_BACKOFF",
                "The chat service failed a moment ago; try again after Retry-After seconds.",
            )
            .retry_after(*retry_after),
        }
    }
}

/// `after` in whole seconds, rounded up, at least 1.
pub fn retry_after_seconds(after: Duration) -> u64 {
    let whole = after.as_secs();
    let up = if after.subsec_nanos() > 0 {
        whole.saturating_add(1)
    } else {
        whole
    };
    up.max(1)
}

impl From<&UpstreamError> for ApiError {
    fn from(e: &UpstreamError) -> Self {
        use UpstreamError as U;
        let (status, code) = match e {
            U::Timeout(_) => (StatusCode::GATEWAY_TIMEOUT, "UPSTREAM_TIMEOUT"),
            U::Unreachable(_) => (StatusCode::BAD_GATEWAY, "UPSTREAM_UNREACHABLE"),
            U::Status { .. } | U::Redirect { .. } => (StatusCode::BAD_GATEWAY, "UPSTREAM_ERROR"),
            U::LoginRejected => (StatusCode::BAD_GATEWAY, "UPSTREAM_LOGIN_REJECTED"),
            U::Malformed(_) | U::ShortLived(_) => (StatusCode::BAD_GATEWAY, "UPSTREAM_MALFORMED"),
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
        if let Some(after) = self.retry_after {
            headers.insert(
                header::RETRY_AFTER,
                HeaderValue::from(retry_after_seconds(after)),
            );
        }
        resp
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_is_whole_seconds_rounded_up_and_at_least_one() {
        for (ms, s) in [(0, 1), (1, 1), (999, 1), (1000, 1), (1001, 2), (59_500, 60)] {
            assert_eq!(retry_after_seconds(Duration::from_millis(ms)), s, "{ms} ms");
        }
    }
}
