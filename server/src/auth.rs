//! Who may get an operator token. An operator token is a credential, so
//! every request passes an [`Authorizer`] before any upstream call.
//!
//! Built in: [`ProxyHeader`] (a trusted reverse proxy names the user),
//! [`BearerSecret`] (a shared secret) and [`AllowAll`] (dev only). A host
//! using this crate as a library implements the trait with its own session
//! check.

use axum::http::request::Parts;
use axum::http::HeaderName;
use futures::future::{BoxFuture, FutureExt};
use secrecy::{ExposeSecret, SecretString};

/// The caller a request was authorised for (logged, never a secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal(pub String);

/// A refused request: answered 401, with no upstream call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unauthorized {
    /// Why, for the JSON body (never echoes what the client sent).
    pub reason: &'static str,
    /// A `WWW-Authenticate` value, if the scheme has one.
    pub challenge: Option<&'static str>,
}

/// Decides whether a request may get a token.
///
/// ```
/// use chathub_token_server::auth::{Authorizer, Principal, Unauthorized};
/// use axum::http::request::Parts;
/// use futures::future::{BoxFuture, FutureExt};
///
/// /// Accepts requests that carry the host's session cookie.
/// struct SessionCookie;
///
/// impl Authorizer for SessionCookie {
///     fn authorize<'a>(&'a self, req: &'a Parts) -> BoxFuture<'a, Result<Principal, Unauthorized>> {
///         async move {
///             let has_session = req
///                 .headers
///                 .get("cookie")
///                 .and_then(|v| v.to_str().ok())
///                 .is_some_and(|c| c.contains("session="));
///             // A real check would look the session up here.
///             if has_session {
///                 Ok(Principal("session-user".into()))
///             } else {
///                 Err(Unauthorized { reason: "no session", challenge: None })
///             }
///         }
///         .boxed()
///     }
/// }
/// ```
pub trait Authorizer: Send + Sync + 'static {
    /// Checks the request head (headers, URI with `?org=`, extensions).
    fn authorize<'a>(
        &'a self,
        request: &'a Parts,
    ) -> BoxFuture<'a, Result<Principal, Unauthorized>>;

    /// A short name for logs.
    fn name(&self) -> &'static str {
        "custom"
    }
}

/// Trusts a header set by the reverse proxy in front of the service
/// (for example `X-Forwarded-User` after the proxy authenticated the user).
/// Safe only when clients cannot reach the service except through that
/// proxy, and the proxy overwrites the header on every request.
#[derive(Debug, Clone)]
pub struct ProxyHeader {
    header: HeaderName,
}

impl ProxyHeader {
    /// Trusts `header`.
    pub fn new(header: HeaderName) -> Self {
        ProxyHeader { header }
    }
}

impl Authorizer for ProxyHeader {
    fn authorize<'a>(
        &'a self,
        request: &'a Parts,
    ) -> BoxFuture<'a, Result<Principal, Unauthorized>> {
        let user = request
            .headers
            .get(&self.header)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty() && v.len() <= 256);
        let result = match user {
            Some(user) => Ok(Principal(user.to_owned())),
            None => Err(Unauthorized {
                reason: "the request was not authenticated by the proxy",
                challenge: None,
            }),
        };
        futures::future::ready(result).boxed()
    }

    fn name(&self) -> &'static str {
        "proxy-header"
    }
}

/// Requires `Authorization: Bearer <secret>` with a shared secret.
#[derive(Debug, Clone)]
pub struct BearerSecret {
    secret: SecretString,
}

impl BearerSecret {
    /// Requires `secret`, without surrounding whitespace (trimmed like
    /// the value a client sends).
    pub fn new(secret: SecretString) -> Self {
        let trimmed = secret.expose_secret().trim();
        if trimmed.len() == secret.expose_secret().len() {
            return BearerSecret { secret };
        }
        BearerSecret {
            secret: SecretString::from(trimmed.to_owned()),
        }
    }
}

impl Authorizer for BearerSecret {
    fn authorize<'a>(
        &'a self,
        request: &'a Parts,
    ) -> BoxFuture<'a, Result<Principal, Unauthorized>> {
        // RFC 7235: the scheme is case-insensitive, then one or more spaces.
        let given = request
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim_start().split_once([' ', '\t']))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, credentials)| credentials.trim());
        let ok = given.is_some_and(|g| {
            constant_time_eq(g.as_bytes(), self.secret.expose_secret().as_bytes())
        });
        let result = if ok {
            Ok(Principal("bearer".into()))
        } else {
            Err(Unauthorized {
                reason: "a valid bearer token is required",
                challenge: Some("Bearer"),
            })
        };
        futures::future::ready(result).boxed()
    }

    fn name(&self) -> &'static str {
        "bearer"
    }
}

/// Lets every request through. Only for dev mode or behind another gate,
/// and the service says so loudly at start-up.
#[derive(Debug, Clone, Default)]
pub struct AllowAll;

impl Authorizer for AllowAll {
    fn authorize<'a>(
        &'a self,
        _request: &'a Parts,
    ) -> BoxFuture<'a, Result<Principal, Unauthorized>> {
        futures::future::ready(Ok(Principal("anonymous".into()))).boxed()
    }

    fn name(&self) -> &'static str {
        "none"
    }
}

/// Compares without stopping at the first difference.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
