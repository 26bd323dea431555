//! The ChatHub REST client: company login (cached until shortly before its
//! `exp`, renewed once on a 401),
//! organisations, operators, operator tokens and their validation.
//!
//! Upstream bodies are parsed, never passed on: errors carry only the
//! endpoint and the status, so nothing ChatHub says can reach a page.
//!
//! Redirects are never followed. The login body holds the company password
//! and the validation body an operator token; on a 307 or 308 an HTTP
//! client re-sends the body to wherever `Location` points (reqwest drops
//! `Authorization` across hosts, not the body). A redirect is an upstream
//! error, logged with the host it pointed to.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::Value;
use time::OffsetDateTime;
use tokio::time::Instant;

use crate::backoff::Backoff;
use crate::config::{Config, ConfigError};
use crate::metrics::Metrics;

/// Upstream answers larger than this are refused (read chunk by chunk, so
/// no more than this is ever held).
pub const MAX_BODY: usize = 1024 * 1024;

/// The ChatHub calls, named as in logs and in the dev stats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// `POST /api/company/get-token`
    CompanyToken,
    /// `GET /api/company/organization`
    Organizations,
    /// `GET /api/operator?organizationId=ID`
    Operators,
    /// `POST /api/operator/get-token`
    OperatorToken,
    /// `POST /api/operator/validate-token`
    ValidateToken,
}

impl Endpoint {
    /// A short stable name.
    pub fn name(self) -> &'static str {
        match self {
            Endpoint::CompanyToken => "company/get-token",
            Endpoint::Organizations => "company/organization",
            Endpoint::Operators => "operator",
            Endpoint::OperatorToken => "operator/get-token",
            Endpoint::ValidateToken => "operator/validate-token",
        }
    }

    fn path(self) -> &'static str {
        match self {
            Endpoint::CompanyToken => "/api/company/get-token",
            Endpoint::Organizations => "/api/company/organization",
            Endpoint::Operators => "/api/operator",
            Endpoint::OperatorToken => "/api/operator/get-token",
            Endpoint::ValidateToken => "/api/operator/validate-token",
        }
    }
}

/// Why the upstream flow failed. Cheap to clone (shared by waiting requests).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UpstreamError {
    /// No answer within the configured timeout.
    #[error("ChatHub did not answer {} in time", .0.name())]
    Timeout(Endpoint),
    /// Connection refused, reset or dropped.
    #[error("ChatHub could not be reached ({})", .0.name())]
    Unreachable(Endpoint),
    /// A redirect, which is not followed (it would re-send credentials).
    #[error("ChatHub answered {} with a redirect (HTTP {}), which is not followed", .endpoint.name(), .status)]
    Redirect {
        /// The call.
        endpoint: Endpoint,
        /// The HTTP status.
        status: u16,
    },
    /// A non-success status.
    #[error("ChatHub answered {} with HTTP {}", .endpoint.name(), .status)]
    Status {
        /// The call.
        endpoint: Endpoint,
        /// The HTTP status.
        status: u16,
    },
    /// The company login was refused.
    #[error("ChatHub refused the company credentials")]
    LoginRejected,
    /// An answer that does not have the documented shape.
    #[error("ChatHub's answer to {} was not understood", .0.name())]
    Malformed(Endpoint),
    /// The configured organisation is not in the company's list.
    #[error("organisation {0} was not found in ChatHub")]
    OrgNotFound(String),
    /// No operator to issue a token for.
    #[error("no active operator in organisation {0}")]
    NoActiveOperator(String),
    /// The configured operator is missing or not active.
    #[error("operator {0} is missing or not active")]
    OperatorUnavailable(String),
    /// `validate-token` said the new token is not valid.
    #[error("ChatHub did not accept the new operator token")]
    TokenRejected,
    /// The operator token lives only this many seconds (less than
    /// [`crate::cache::MIN_TOKEN_LIFETIME`]): served, but the next flow
    /// waits for the backoff window as after a failure.
    #[error("ChatHub's operator token lives only {0} s")]
    ShortLived(u64),
    /// The flow stopped for a reason of our own (a task panicked).
    #[error("internal error while talking to ChatHub")]
    Internal,
}

/// An organisation as ChatHub lists it.
#[derive(Debug, Clone, Deserialize)]
pub struct Organization {
    /// Its id (number or string).
    pub id: Value,
    /// Its name.
    #[serde(default)]
    pub name: String,
}

/// An operator as ChatHub lists it.
#[derive(Debug, Clone, Deserialize)]
pub struct Operator {
    /// Its id (number or string).
    pub id: Value,
    /// Its display name.
    #[serde(default)]
    pub name: String,
    /// 0 active, 1 inactive, 2 deleted.
    #[serde(default = "inactive")]
    pub status: i64,
}

fn inactive() -> i64 {
    1
}

/// The id of an organisation or operator as text, for comparisons and logs.
pub fn id_text(id: &Value) -> String {
    match id {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A client for one company account.
pub struct ChatHubClient {
    http: reqwest::Client,
    base: String,
    login: String,
    password: SecretString,
    /// Held across a login, so concurrent requests share it.
    company: tokio::sync::Mutex<Option<CompanyToken>>,
    /// After a failed login, the next one waits for the window like any
    /// other upstream attempt.
    login_backoff: std::sync::Mutex<LoginBackoff>,
    metrics: Metrics,
}

struct LoginBackoff {
    backoff: Backoff,
    last_error: Option<UpstreamError>,
}

/// A company token and when to log in again, judged once, when it arrives.
struct CompanyToken {
    token: SecretString,
    /// Log in again from then on (`None`: only when ChatHub refuses it).
    renew_at: Option<OffsetDateTime>,
    /// Its `exp`, when it was ahead of our clock on arrival.
    expires_at: Option<OffsetDateTime>,
}

impl CompanyToken {
    /// Times a token received at `now` whose JWT says `exp`.
    ///
    /// It is renewed ahead of `exp` by a share of the lifetime it arrived
    /// with (a quarter, at most a minute), so a token that lives 30 s is
    /// used for 22 s rather than counting as expiring from the start. One
    /// whose `exp` is already past by our clock says our clock and
    /// ChatHub's disagree; it is used until ChatHub refuses it (a 401
    /// logs in again) instead of logging in before every call.
    fn new(token: SecretString, exp: Option<OffsetDateTime>, now: OffsetDateTime) -> Self {
        let life = exp.and_then(|exp| Duration::try_from(exp - now).ok());
        let Some(life) = life.filter(|l| !l.is_zero()) else {
            if exp.is_some() {
                tracing::warn!("ChatHub's company token is already expired by this server's clock (are the clocks in sync?); using it until ChatHub refuses it");
            }
            return CompanyToken {
                token,
                renew_at: None,
                expires_at: None,
            };
        };
        let ahead = (life / 4).min(COMPANY_RENEW_AHEAD);
        CompanyToken {
            token,
            renew_at: now.checked_add(time::Duration::try_from(life - ahead).unwrap_or_default()),
            expires_at: exp,
        }
    }

    /// Due for a new login.
    fn expiring(&self, now: OffsetDateTime) -> bool {
        self.renew_at.is_some_and(|at| at <= now)
    }

    /// Still accepted by ChatHub as far as we know (its `exp` is ahead).
    fn valid(&self, now: OffsetDateTime) -> bool {
        self.expires_at.is_none_or(|exp| exp > now)
    }
}

/// Log in again at most this long before the company token's `exp`.
const COMPANY_RENEW_AHEAD: Duration = Duration::from_secs(60);

impl std::fmt::Debug for ChatHubClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChatHubClient")
            .field("base", &self.base)
            .field("login", &self.login)
            .finish_non_exhaustive()
    }
}

impl ChatHubClient {
    /// A client for the account in `config`, counting its calls in `metrics`.
    pub fn new(config: &Config, metrics: Metrics) -> Result<Self, ConfigError> {
        let http = reqwest::Client::builder()
            // Never follow a redirect: see the module docs.
            .redirect(reqwest::redirect::Policy::none())
            .timeout(config.upstream_timeout)
            .connect_timeout(config.upstream_timeout.min(Duration::from_secs(5)))
            .user_agent(concat!("chathub-token-server/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|_| {
                ConfigError::new(
                    "HTTP client",
                    "could not be built",
                    "check the system's TLS setup",
                )
            })?;
        Ok(ChatHubClient {
            http,
            base: config.api_url.trim_end_matches('/').to_owned(),
            login: config.login.clone(),
            password: config.password.clone(),
            company: tokio::sync::Mutex::new(None),
            login_backoff: std::sync::Mutex::new(LoginBackoff {
                backoff: Backoff::new(config.renewal.backoff_initial, config.renewal.backoff_max),
                last_error: None,
            }),
            metrics,
        })
    }

    /// `GET /api/company/organization`.
    pub async fn organizations(&self) -> Result<Vec<Organization>, UpstreamError> {
        let body = self
            .authed(Endpoint::Organizations, Method::GET, &[], None)
            .await?;
        serde_json::from_slice(&body).map_err(|_| UpstreamError::Malformed(Endpoint::Organizations))
    }

    /// `GET /api/operator?organizationId=ID`.
    pub async fn operators(&self, org_id: &Value) -> Result<Vec<Operator>, UpstreamError> {
        let query = [("organizationId", id_text(org_id))];
        let body = self
            .authed(Endpoint::Operators, Method::GET, &query, None)
            .await?;
        serde_json::from_slice(&body).map_err(|_| UpstreamError::Malformed(Endpoint::Operators))
    }

    /// `POST /api/operator/get-token` for `operator_id`, valid until `expires_at`.
    pub async fn operator_token(
        &self,
        operator_id: &Value,
        expires_at: OffsetDateTime,
    ) -> Result<SecretString, UpstreamError> {
        let expires = expires_at
            .format(&time::format_description::well_known::Rfc3339)
            .map_err(|_| UpstreamError::Internal)?;
        let body = serde_json::json!({ "id": operator_id, "expiresAt": expires });
        let answer = self
            .authed(Endpoint::OperatorToken, Method::POST, &[], Some(body))
            .await?;
        token_from_body(&answer).ok_or(UpstreamError::Malformed(Endpoint::OperatorToken))
    }

    /// `POST /api/operator/validate-token`: whether ChatHub accepts `token`.
    pub async fn validate_token(&self, token: &SecretString) -> Result<bool, UpstreamError> {
        let body = Value::String(token.expose_secret().to_owned());
        let answer = self
            .authed(Endpoint::ValidateToken, Method::POST, &[], Some(body))
            .await?;
        let parsed: Value = serde_json::from_slice(&answer)
            .map_err(|_| UpstreamError::Malformed(Endpoint::ValidateToken))?;
        match parsed {
            Value::Bool(b) => Ok(b),
            Value::Object(map) => map
                .get("valid")
                .or_else(|| map.get("isValid"))
                .and_then(Value::as_bool)
                .ok_or(UpstreamError::Malformed(Endpoint::ValidateToken)),
            _ => Err(UpstreamError::Malformed(Endpoint::ValidateToken)),
        }
    }

    /// An authenticated call; on a 401 logs in again once and retries.
    async fn authed(
        &self,
        endpoint: Endpoint,
        method: Method,
        query: &[(&str, String)],
        body: Option<Value>,
    ) -> Result<Vec<u8>, UpstreamError> {
        let mut token = self.company_token(None).await?;
        for attempt in 0..2 {
            let mut req = self
                .http
                .request(method.clone(), format!("{}{}", self.base, endpoint.path()))
                .bearer_auth(token.expose_secret());
            if !query.is_empty() {
                req = req.query(query);
            }
            if let Some(body) = &body {
                req = req.json(body);
            }
            let resp = self.send(endpoint, req).await?;
            if resp.status() == StatusCode::UNAUTHORIZED && attempt == 0 {
                tracing::info!(
                    endpoint = endpoint.name(),
                    "company token refused; logging in again"
                );
                token = self.company_token(Some(&token)).await?;
                continue;
            }
            return read_ok(endpoint, resp).await;
        }
        Err(UpstreamError::Status {
            endpoint,
            status: 401,
        })
    }

    /// The cached company token; `refused` is a token ChatHub just refused,
    /// replaced unless another request already did. A new login is made at
    /// most once per backoff window; meanwhile a token that is merely close
    /// to its `exp` is still used.
    async fn company_token(
        &self,
        refused: Option<&SecretString>,
    ) -> Result<SecretString, UpstreamError> {
        let mut cached = self.company.lock().await;
        let now = OffsetDateTime::now_utc();
        let mut usable = None;
        if let Some(current) = cached.as_ref() {
            let refused_now =
                refused.is_some_and(|r| r.expose_secret() == current.token.expose_secret());
            if !refused_now && !current.expiring(now) {
                return Ok(current.token.clone());
            }
            if !refused_now && current.valid(now) {
                usable = Some(current.token.clone());
            }
        }
        if let Some(last) = self.login_backoff_error() {
            return usable.ok_or(last);
        }
        match self.log_in().await {
            Ok(token) => {
                tracing::info!("logged in to ChatHub");
                let mut login = lock(&self.login_backoff);
                login.backoff.succeed();
                login.last_error = None;
                *cached = Some(CompanyToken::new(
                    token.clone(),
                    unverified_expiry(&token),
                    OffsetDateTime::now_utc(),
                ));
                Ok(token)
            }
            Err(error) => {
                let mut login = lock(&self.login_backoff);
                login.backoff.fail(Instant::now());
                login.last_error = Some(error.clone());
                if usable.is_none() {
                    *cached = None;
                }
                usable.ok_or(error)
            }
        }
    }

    /// The last login error while its backoff window is open.
    fn login_backoff_error(&self) -> Option<UpstreamError> {
        let login = lock(&self.login_backoff);
        login.backoff.remaining(Instant::now())?;
        Some(
            login
                .last_error
                .clone()
                .unwrap_or(UpstreamError::LoginRejected),
        )
    }

    /// Closes the login's backoff window (ChatHub is known to work again).
    pub fn reset_backoff(&self) {
        let mut login = lock(&self.login_backoff);
        login.backoff.succeed();
        login.last_error = None;
    }

    /// `POST /api/company/get-token`.
    async fn log_in(&self) -> Result<SecretString, UpstreamError> {
        let body = serde_json::json!({
            "login": self.login,
            "password": self.password.expose_secret(),
        });
        let req = self
            .http
            .post(format!("{}{}", self.base, Endpoint::CompanyToken.path()))
            .json(&body);
        let resp = self.send(Endpoint::CompanyToken, req).await?;
        if matches!(resp.status().as_u16(), 400 | 401 | 403) {
            return Err(UpstreamError::LoginRejected);
        }
        let answer = read_ok(Endpoint::CompanyToken, resp).await?;
        token_from_body(&answer).ok_or(UpstreamError::Malformed(Endpoint::CompanyToken))
    }

    /// Sends one call and counts it by step and result.
    async fn send(
        &self,
        endpoint: Endpoint,
        req: reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, UpstreamError> {
        let result = req.send().await.map_err(|e| classify(endpoint, &e));
        let label = match &result {
            Ok(resp) if resp.status().is_success() => "ok",
            Ok(resp) if resp.status().is_redirection() => "http_3xx",
            Ok(resp) if resp.status().is_client_error() => "http_4xx",
            Ok(resp) if resp.status().is_server_error() => "http_5xx",
            Ok(_) => "http_other",
            Err(UpstreamError::Timeout(_)) => "timeout",
            Err(_) => "unreachable",
        };
        self.metrics.upstream_call(endpoint.name(), label);
        let resp = result?;
        if resp.status().is_redirection() {
            // Where it pointed, as scheme://host[:port] only (no path or query).
            let to = resp
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|l| l.to_str().ok())
                .and_then(|l| resp.url().join(l).ok())
                .map(|u| u.origin().ascii_serialization());
            tracing::warn!(
                endpoint = endpoint.name(),
                status = resp.status().as_u16(),
                location = to.as_deref().unwrap_or("none"),
                "ChatHub answered with a redirect, which is not followed (it would re-send the request's credentials); check CHATHUB_API_URL"
            );
            return Err(UpstreamError::Redirect {
                endpoint,
                status: resp.status().as_u16(),
            });
        }
        Ok(resp)
    }
}

fn classify(endpoint: Endpoint, e: &reqwest::Error) -> UpstreamError {
    if e.is_timeout() {
        tracing::warn!(endpoint = endpoint.name(), "ChatHub call timed out");
        UpstreamError::Timeout(endpoint)
    } else {
        // reqwest's message names the URL and the cause, never a body or header.
        tracing::warn!(endpoint = endpoint.name(), error = %e, "ChatHub call failed");
        UpstreamError::Unreachable(endpoint)
    }
}

async fn read_ok(endpoint: Endpoint, resp: reqwest::Response) -> Result<Vec<u8>, UpstreamError> {
    let status = resp.status();
    if !status.is_success() {
        tracing::warn!(
            endpoint = endpoint.name(),
            status = status.as_u16(),
            "ChatHub call refused"
        );
        return Err(UpstreamError::Status {
            endpoint,
            status: status.as_u16(),
        });
    }
    read_body(endpoint, resp).await
}

/// The body of `resp`, read chunk by chunk: an answer without
/// `Content-Length` (chunked, possibly endless) is refused as soon as it
/// passes [`MAX_BODY`], and the connection is dropped with it, instead of
/// being buffered whole first.
async fn read_body(
    endpoint: Endpoint,
    mut resp: reqwest::Response,
) -> Result<Vec<u8>, UpstreamError> {
    let too_large = || {
        tracing::warn!(
            endpoint = endpoint.name(),
            limit_bytes = MAX_BODY,
            "ChatHub's answer is larger than the limit; refused"
        );
        UpstreamError::Malformed(endpoint)
    };
    let announced = resp.content_length();
    if announced.is_some_and(|n| n > MAX_BODY as u64) {
        return Err(too_large());
    }
    let capacity = announced.map_or(0, |n| usize::try_from(n).unwrap_or(MAX_BODY));
    let mut body = Vec::with_capacity(capacity.min(MAX_BODY));
    while let Some(chunk) = resp.chunk().await.map_err(|e| classify(endpoint, &e))? {
        if body.len().saturating_add(chunk.len()) > MAX_BODY {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A token answer: a JSON string, an object with `token`, or the bare JWT.
fn token_from_body(body: &[u8]) -> Option<SecretString> {
    let text = std::str::from_utf8(body).ok()?.trim();
    let token = match serde_json::from_str::<Value>(text) {
        Ok(Value::String(s)) => s,
        Ok(Value::Object(map)) => map
            .get("token")
            .or_else(|| map.get("accessToken"))
            .and_then(Value::as_str)?
            .to_owned(),
        Ok(_) => return None,
        Err(_) => text.to_owned(),
    };
    let looks_like_jwt = token.split('.').count() == 3
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.');
    looks_like_jwt.then(|| SecretString::from(token))
}

/// A JWT's `exp` claim, read from its payload without checking the
/// signature (ChatHub checks it; we only want to know when to renew).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JwtExpiry {
    /// The payload has no `exp`.
    Missing,
    /// It expires then (a fractional `exp`, which RFC 7519 allows, is
    /// rounded down to the second).
    At(OffsetDateTime),
    /// Later than this server can represent (past the year 9999).
    Beyond,
    /// Not a JWT with a base64url JSON object as its payload, or an `exp`
    /// that is not a number.
    Unreadable,
}

/// The `exp` of `token`, from its middle segment decoded as base64url
/// JSON: whatever its header's `alg` (`ES512`, `none`, ...), which a JWT
/// library would refuse to decode without a key.
pub fn jwt_expiry(token: &str) -> JwtExpiry {
    use base64::Engine;
    let mut parts = token.split('.');
    let (Some(_), Some(payload), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return JwtExpiry::Unreadable;
    };
    let Ok(bytes) =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload.trim_end_matches('='))
    else {
        return JwtExpiry::Unreadable;
    };
    let Ok(Value::Object(claims)) = serde_json::from_slice::<Value>(&bytes) else {
        return JwtExpiry::Unreadable;
    };
    let exp = match claims.get("exp") {
        None => return JwtExpiry::Missing,
        Some(Value::Number(n)) => n.as_f64(),
        Some(_) => None,
    };
    match exp.filter(|e| e.is_finite()).map(f64::floor) {
        None => JwtExpiry::Unreadable,
        // Before 1970 (or far before): long expired, whatever the date.
        Some(e) if e < 0.0 => JwtExpiry::At(OffsetDateTime::UNIX_EPOCH),
        // `as` saturates; a value past i64 fails the conversion below.
        Some(e) => match OffsetDateTime::from_unix_timestamp(e as i64) {
            Ok(at) => JwtExpiry::At(at),
            Err(_) => JwtExpiry::Beyond,
        },
    }
}

/// The `exp` of a JWT when it has a representable one (see [`jwt_expiry`]).
pub fn unverified_expiry(token: &SecretString) -> Option<OffsetDateTime> {
    match jwt_expiry(token.expose_secret()) {
        JwtExpiry::At(at) => Some(at),
        JwtExpiry::Missing | JwtExpiry::Beyond | JwtExpiry::Unreadable => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_token_answers_in_any_documented_shape() {
        let jwt = "aaa.bbb.ccc";
        for body in [
            "\"aaa.bbb.ccc\"".to_string(),
            "{\"token\":\"aaa.bbb.ccc\"}".to_string(),
            jwt.to_string(),
        ] {
            let t = token_from_body(body.as_bytes()).unwrap();
            assert_eq!(t.expose_secret(), jwt);
        }
        assert!(token_from_body(b"<html>oops</html>").is_none());
        assert!(token_from_body(b"{\"error\":1}").is_none());
    }

    #[test]
    fn reads_exp_from_the_payload_whatever_the_alg_or_number_format() {
        use base64::Engine;
        let jwt = |header: &str, payload: &str, signature: &str| {
            let b64 = |t: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(t);
            format!("{}.{}.{signature}", b64(header), b64(payload))
        };
        let at = |s: i64| JwtExpiry::At(OffsetDateTime::from_unix_timestamp(s).unwrap());
        for (header, payload, signature, expected) in [
            (
                r#"{"alg":"ES512"}"#,
                r#"{"exp":1800000000}"#,
                "c2ln",
                at(1_800_000_000),
            ),
            (
                r#"{"alg":"none"}"#,
                r#"{"exp":1800000000}"#,
                "",
                at(1_800_000_000),
            ),
            (
                r#"{"alg":"HS256"}"#,
                r#"{"exp":1800000000.9}"#,
                "c2ln",
                at(1_800_000_000),
            ),
            (
                r#"{"alg":"HS256"}"#,
                r#"{"exp":1.8e9}"#,
                "c2ln",
                at(1_800_000_000),
            ),
            (
                r#"{"alg":"HS256"}"#,
                r#"{"exp":-5}"#,
                "c2ln",
                JwtExpiry::At(OffsetDateTime::UNIX_EPOCH),
            ),
            (
                r#"{"alg":"HS256"}"#,
                r#"{"exp":1e300}"#,
                "c2ln",
                JwtExpiry::Beyond,
            ),
            (
                r#"{"alg":"HS256"}"#,
                r#"{"sub":"x"}"#,
                "c2ln",
                JwtExpiry::Missing,
            ),
            (
                r#"{"alg":"HS256"}"#,
                r#"{"exp":"soon"}"#,
                "c2ln",
                JwtExpiry::Unreadable,
            ),
            (
                r#"{"alg":"HS256"}"#,
                r#"[1]"#,
                "c2ln",
                JwtExpiry::Unreadable,
            ),
        ] {
            assert_eq!(
                jwt_expiry(&jwt(header, payload, signature)),
                expected,
                "{payload}"
            );
        }
        for garbled in ["a.b", "a.b.c.d", "x.!!!.y", "x.bm90IGpzb24.y"] {
            assert_eq!(jwt_expiry(garbled), JwtExpiry::Unreadable, "{garbled}");
        }
    }
}
