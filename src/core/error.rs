//! The loader's errors as plain data: a stable code, a message that says
//! what to fix, and for HTTP failures the status and `Retry-After`. The
//! browser driver turns them into JavaScript `Error`s (`crate::error`).

use crate::prelude::*;
use core::fmt;

/// The stable error codes a page can branch on (`err.code`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorCode {
    /// An option has the wrong type, an unknown key or an invalid value.
    InvalidOptions,
    /// The token endpoint answered with a non-2xx status (not 401/403).
    TokenHttp,
    /// The token endpoint answered 401 or 403: the visitor may not chat.
    TokenUnauthorized,
    /// The token request failed before any answer (offline, DNS, CORS).
    TokenNetwork,
    /// The token request took longer than `requestTimeoutMs`.
    TokenTimeout,
    /// The answer was not `{"token": "...", "expiresAt": "ISO-8601"}`.
    TokenMalformed,
    /// The token (or its JWT `exp`) is already in the past.
    TokenExpired,
    /// The widget script failed to load.
    WidgetLoad,
    /// Another live manager for the same org has different options.
    ConflictingInstance,
    /// The manager was destroyed.
    Destroyed,
    /// There is no `window` (server-side rendering, a worker, Node).
    UnsupportedEnvironment,
}

impl ErrorCode {
    /// The string a page sees as `err.code`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidOptions => "INVALID_OPTIONS",
            ErrorCode::TokenHttp => "TOKEN_HTTP",
            ErrorCode::TokenUnauthorized => "TOKEN_UNAUTHORIZED",
            ErrorCode::TokenNetwork => "TOKEN_NETWORK",
            ErrorCode::TokenTimeout => "TOKEN_TIMEOUT",
            ErrorCode::TokenMalformed => "TOKEN_MALFORMED",
            ErrorCode::TokenExpired => "TOKEN_EXPIRED",
            ErrorCode::WidgetLoad => "WIDGET_LOAD",
            ErrorCode::ConflictingInstance => "CONFLICTING_INSTANCE",
            ErrorCode::Destroyed => "DESTROYED",
            ErrorCode::UnsupportedEnvironment => "UNSUPPORTED_ENVIRONMENT",
        }
    }

    /// Whether another attempt may succeed without anyone changing anything.
    pub fn is_transient(self) -> bool {
        matches!(
            self,
            ErrorCode::TokenNetwork | ErrorCode::TokenTimeout | ErrorCode::TokenHttp
        )
    }
}

/// A loader error: a code, a message that says what to fix, and for
/// HTTP failures the status.
#[derive(Clone, Debug, PartialEq)]
pub struct LoaderError {
    /// The stable code.
    pub code: ErrorCode,
    /// What went wrong and what to do about it.
    pub message: String,
    /// The HTTP status for `TOKEN_HTTP` / `TOKEN_UNAUTHORIZED`.
    pub status: Option<u16>,
    /// The endpoint's `Retry-After` (ms from when it answered), on 429/503.
    pub retry_after_ms: Option<f64>,
}

impl LoaderError {
    /// An error without an HTTP status.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        LoaderError {
            code,
            message: message.into(),
            status: None,
            retry_after_ms: None,
        }
    }

    /// `INVALID_OPTIONS` naming the key at fault.
    pub fn invalid(key: &str, what: impl AsRef<str>) -> Self {
        Self::invalid_str(key, what.as_ref())
    }

    // One copy of the message building for every call site (`invalid` is
    // generic only so that callers may pass a `String` or a `&str`).
    fn invalid_str(key: &str, what: &str) -> Self {
        Self::new(
            ErrorCode::InvalidOptions,
            crate::text::cat(&["chathub-loader: option `", key, "` ", what]),
        )
    }

    /// `WIDGET_LOAD`: the widget at `src` failed, `why`.
    pub fn widget_load(src: &str, why: &str) -> Self {
        Self::new(
            ErrorCode::WidgetLoad,
            crate::text::cat(&[
                "chathub-loader: the widget script ",
                src,
                " ",
                why,
                " (wrong widgetSrc, offline, blocked by CSP/SRI, or a broken widget?)",
            ]),
        )
    }

    /// The error for anything called after `destroy()`.
    pub fn destroyed() -> Self {
        Self::new(
            ErrorCode::Destroyed,
            "chathub-loader: this manager was destroyed; create a new WidgetTokenManager",
        )
    }

    /// Whether a retry may help (5xx, network, timeout; never 4xx).
    pub fn is_retryable(&self) -> bool {
        match self.code {
            ErrorCode::TokenHttp => {
                matches!(self.status, Some(s) if s >= 500 || s == 408 || s == 429)
            }
            code => code.is_transient(),
        }
    }
}

impl fmt::Display for LoaderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn http(status: u16) -> LoaderError {
        LoaderError {
            status: Some(status),
            ..LoaderError::new(ErrorCode::TokenHttp, "x")
        }
    }

    #[test]
    fn server_errors_and_network_failures_are_retried_client_errors_are_not() {
        assert!(http(500).is_retryable());
        assert!(http(503).is_retryable());
        assert!(http(429).is_retryable());
        assert!(!http(404).is_retryable());
        assert!(!LoaderError::new(ErrorCode::TokenUnauthorized, "x").is_retryable());
        assert!(LoaderError::new(ErrorCode::TokenNetwork, "x").is_retryable());
        assert!(LoaderError::new(ErrorCode::TokenTimeout, "x").is_retryable());
        assert!(!LoaderError::new(ErrorCode::TokenMalformed, "x").is_retryable());
        assert!(!LoaderError::new(ErrorCode::TokenExpired, "x").is_retryable());
    }
}
