//! Dev mode: one port serving the fake ChatHub API, the token endpoint wired
//! to it, the stand-in widget, the demo page and `pkg/`, plus admin knobs.
//!
//! It has no authentication, so it answers only requests addressed to a
//! loopback name (`localhost`, `127.0.0.1`, `[::1]`, any port): a page on
//! another site could otherwise point its own DNS name at 127.0.0.1 (DNS
//! rebinding) and reach the admin knobs and the token endpoint from the
//! visitor's browser.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path as UrlPath, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use secrecy::SecretString;
use serde::Deserialize;
use serde_json::json;

use crate::auth::AllowAll;
use crate::cache::TokenCache;
use crate::config::{parse_orgs, Config, ConfigError, RenewalPolicy};
use crate::error::ApiError;
use crate::fake_api::{Chaos, FakeChatHub, Fault, DEV_LOGIN, DEV_PASSWORD};
use crate::issuer::Issuer;
use crate::layers::{around_with, Front};
use crate::limits::{HttpOptions, RateLimit};
use crate::routes::{token_routes, TokenService};
use crate::shutdown::Shutdown;
use crate::static_files;

/// The stand-in widget, an ES module.
pub const WIDGET_JS: &str = include_str!("../assets/widget-script.js");
/// Where dev mode nests the fake ChatHub API.
pub const FAKE_API_PREFIX: &str = "/fake-chathub";

/// Dev mode settings.
#[derive(Debug, Clone)]
pub struct DevOptions {
    /// The demo page directory (`www/`).
    pub www_dir: PathBuf,
    /// The built loader package (`pkg/`).
    pub pkg_dir: PathBuf,
    /// Lifetime the token endpoint asks for.
    pub token_ttl: Duration,
    /// Renew cached tokens this long before expiry.
    pub refresh_margin: Duration,
    /// Time limit for each call to the fake API.
    pub upstream_timeout: Duration,
    /// The per-client rate limit on the token endpoint (off unless asked).
    pub rate_limit: Option<RateLimit>,
    /// Also answer requests whose `Host` is any IP literal (for
    /// `--allow-non-loopback`; an IP literal cannot be rebound).
    pub allow_ip_hosts: bool,
    /// Once started, `/readyz` answers 503.
    pub shutdown: Shutdown,
}

impl Default for DevOptions {
    fn default() -> Self {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
        DevOptions {
            www_dir: root.join("www"),
            pkg_dir: root.join("pkg"),
            token_ttl: Duration::from_secs(60 * 60),
            refresh_margin: Duration::from_secs(5 * 60),
            upstream_timeout: Duration::from_secs(5),
            rate_limit: None,
            allow_ip_hosts: false,
            shutdown: Shutdown::new(),
        }
    }
}

/// The assembled dev app and handles on its parts (for tests).
#[derive(Debug, Clone)]
pub struct DevApp {
    /// Everything, on one router.
    pub router: Router,
    /// The fake ChatHub.
    pub fake: Arc<FakeChatHub>,
    /// The token endpoint's cache.
    pub cache: TokenCache,
}

/// The token service settings dev mode uses against the fake at `api_url`.
pub fn dev_config(api_url: String, opts: &DevOptions) -> Result<Config, ConfigError> {
    Ok(Config {
        api_url,
        login: DEV_LOGIN.into(),
        password: SecretString::from(DEV_PASSWORD.to_owned()),
        orgs: parse_orgs(&["sales=name:Sales".into(), "support=id:2".into()])?,
        default_org: "sales".into(),
        token_ttl: opts.token_ttl,
        refresh_margin: opts.refresh_margin,
        upstream_timeout: opts.upstream_timeout,
        renewal: RenewalPolicy::default(),
    })
}

/// Builds the dev app; `self_url` is where it will be reachable
/// (`http://127.0.0.1:PORT`), since the token endpoint calls the fake over HTTP
/// like it would call ChatHub.
pub fn dev_app(self_url: &str, opts: DevOptions) -> Result<DevApp, ConfigError> {
    let config = dev_config(
        format!("{}{FAKE_API_PREFIX}", self_url.trim_end_matches('/')),
        &opts,
    )?;
    let cache = TokenCache::new(Issuer::new(Arc::new(config))?);
    let fake = Arc::new(FakeChatHub::new());
    let service = TokenService {
        cache: cache.clone(),
        authorizer: Arc::new(AllowAll),
    };
    let admin = Admin {
        fake: fake.clone(),
        cache: cache.clone(),
    };
    let http = HttpOptions {
        rate_limit: opts.rate_limit.clone(),
        shutdown: opts.shutdown.clone(),
        ..HttpOptions::default()
    };
    let allow_ip_hosts = opts.allow_ip_hosts;
    let files = Router::new()
        .route("/", get(index))
        .route("/pkg/{*path}", get(pkg_file))
        .route("/operator-chat-panel/widget-script.js", get(widget))
        .fallback(get(www_file))
        .with_state(Arc::new(opts));
    let app = token_routes(service, &http)
        .nest(FAKE_API_PREFIX, fake.clone().router())
        .nest("/dev/admin", admin_router(admin))
        .merge(files);
    // The Host check comes first (a refused request gets nothing else);
    // every other answer says it is dev mode.
    let front = Front {
        refuse: Arc::new(move |request| refuse_other_hosts(request, allow_ip_hosts)),
        header: (
            header::HeaderName::from_static("x-chathub-dev-mode"),
            HeaderValue::from_static("fake upstream, no authentication"),
        ),
    };
    let router = around_with(app, &http, cache.metrics(), Some(front));
    Ok(DevApp {
        router,
        fake,
        cache,
    })
}

/// Whether `host` (a `Host` header: name or IP, optional port) is one dev
/// mode answers: `localhost`, a loopback IP, or with `allow_ip`, any IP.
pub fn is_allowed_host(host: &str, allow_ip: bool) -> bool {
    let (name, port) = match host.strip_prefix('[') {
        Some(rest) => match rest.split_once(']') {
            Some((ip, tail)) => (ip, tail.strip_prefix(':')),
            None => return false,
        },
        None => match host.rsplit_once(':') {
            Some((name, port)) => (name, Some(port)),
            None => (host, None),
        },
    };
    if port.is_some_and(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit())) {
        return false;
    }
    // The usual hosts without parsing (every dev request passes here).
    if name == "127.0.0.1" || name == "::1" || name.eq_ignore_ascii_case("localhost") {
        return true;
    }
    match name.parse::<std::net::IpAddr>() {
        Ok(ip) => allow_ip || ip.is_loopback(),
        Err(_) => name.eq_ignore_ascii_case("localhost"),
    }
}

/// Refuses requests addressed to any other name (DNS rebinding).
fn refuse_other_hosts(request: &Request, allow_ip: bool) -> Option<Response> {
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| request.uri().authority().map(|a| a.as_str()));
    if host.is_some_and(|h| is_allowed_host(h, allow_ip)) {
        return None;
    }
    Some(ApiError::new(
        StatusCode::FORBIDDEN,
        "DEV_HOST_REFUSED",
        "Dev mode answers only requests to localhost, 127.0.0.1 or [::1] (DNS rebinding protection); open http://127.0.0.1:PORT/ instead.",
    )
    .into_response())
}

type Files = State<Arc<DevOptions>>;

async fn index(State(files): Files) -> Response {
    static_files::serve(&files.www_dir, "index.html").await
}

async fn www_file(State(files): Files, uri: axum::http::Uri) -> Response {
    static_files::serve_site(&files.www_dir, &uri).await
}

async fn pkg_file(State(files): Files, UrlPath(path): UrlPath<String>) -> Response {
    static_files::serve(&files.pkg_dir, &path).await
}

async fn widget() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        WIDGET_JS,
    )
        .into_response()
}

#[derive(Clone)]
struct Admin {
    fake: Arc<FakeChatHub>,
    cache: TokenCache,
}

/// Admin POSTs must be JSON: a cross-site page cannot send that without a
/// CORS preflight, which dev mode never grants.
async fn json_only(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let is_json = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if request.method() == axum::http::Method::POST && !is_json {
        return (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Json(json!({ "code": "JSON_REQUIRED", "message": "send Content-Type: application/json" })),
        )
            .into_response();
    }
    next.run(request).await
}

fn admin_router<S>(admin: Admin) -> Router<S> {
    Router::new()
        .route("/stats", get(stats))
        .route("/state", get(state))
        .route("/fail", post(fail))
        .route("/recover", post(recover))
        .route("/chaos", post(chaos))
        .route("/token-lifetime", post(token_lifetime))
        .route("/revoke-company-tokens", post(revoke))
        .route("/flush-token-cache", post(flush))
        .route("/reset", post(reset))
        .layer(axum::middleware::from_fn(json_only))
        .with_state(admin)
}

fn no_store(body: serde_json::Value) -> Response {
    ([(header::CACHE_CONTROL, "no-store")], Json(body)).into_response()
}

fn bad_request(message: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({ "code": "BAD_REQUEST", "message": message })),
    )
        .into_response()
}

async fn stats(State(a): State<Admin>) -> Response {
    no_store(json!(a.fake.stats()))
}

fn state_json(a: &Admin) -> serde_json::Value {
    json!({
        "fault": a.fake.fault(),
        "chaos": a.fake.chaos(),
        "tokenLifetimeSeconds": a.fake.token_lifetime().map(|d| d.as_secs()),
        "stats": a.fake.stats(),
    })
}

async fn state(State(a): State<Admin>) -> Response {
    no_store(state_json(&a))
}

async fn fail(State(a): State<Admin>, body: axum::body::Bytes) -> Response {
    let Ok(fault) = serde_json::from_slice::<Fault>(&body) else {
        return bad_request("expected {\"count\":N, \"status\":503 | \"delayMs\":MS | \"drop\":true, \"endpoint\"?:NAME}");
    };
    if fault.status.is_none() && fault.delay_ms.is_none() && !fault.drop {
        return bad_request("give a status, a delayMs or drop:true");
    }
    if fault.status.is_some_and(|s| !(100..=599).contains(&s)) {
        return bad_request("status must be 100-599");
    }
    tracing::warn!(?fault, "dev: fake ChatHub will fail");
    a.fake.set_fault(fault);
    no_store(state_json(&a))
}

async fn chaos(State(a): State<Admin>, body: axum::body::Bytes) -> Response {
    let Ok(chaos) = serde_json::from_slice::<Chaos>(&body) else {
        return bad_request("expected {\"failPercent\":P, \"hangPercent\"?:P, \"hangMs\"?:MS, \"status\"?:503, \"endpoint\"?:NAME}");
    };
    if !chaos.is_valid() {
        return bad_request("percentages must be 0-100 (together at most 100), status 100-599");
    }
    tracing::warn!(?chaos, "dev: fake ChatHub fails at random");
    a.fake.set_chaos(Some(chaos));
    no_store(state_json(&a))
}

async fn recover(State(a): State<Admin>) -> Response {
    a.fake.clear_fault();
    // ChatHub works again: no reason to wait out a backoff window.
    a.cache.reset_backoff();
    tracing::info!("dev: fake ChatHub recovered");
    no_store(state_json(&a))
}

async fn token_lifetime(State(a): State<Admin>, body: axum::body::Bytes) -> Response {
    #[derive(Deserialize)]
    struct Lifetime {
        seconds: Option<u64>,
    }
    let Ok(l) = serde_json::from_slice::<Lifetime>(&body) else {
        return bad_request("expected {\"seconds\": N} or {\"seconds\": null}");
    };
    if l.seconds == Some(0) {
        return bad_request("seconds must be positive");
    }
    a.fake
        .set_token_lifetime(l.seconds.map(Duration::from_secs));
    // Tokens already cached keep their old lifetime; start afresh.
    a.cache.clear();
    tracing::info!(seconds = ?l.seconds, "dev: operator token lifetime set");
    no_store(state_json(&a))
}

async fn revoke(State(a): State<Admin>) -> Response {
    a.fake.revoke_company_tokens();
    no_store(state_json(&a))
}

async fn flush(State(a): State<Admin>) -> Response {
    a.cache.clear();
    no_store(state_json(&a))
}

async fn reset(State(a): State<Admin>) -> Response {
    a.fake.reset();
    a.cache.clear();
    no_store(state_json(&a))
}

#[cfg(test)]
mod tests {
    use super::is_allowed_host;

    #[test]
    fn only_loopback_names_are_allowed_hosts() {
        for ok in [
            "localhost",
            "localhost:8080",
            "LOCALHOST:1",
            "127.0.0.1",
            "127.0.0.1:8080",
            "127.1.2.3:80",
            "[::1]",
            "[::1]:8080",
        ] {
            assert!(is_allowed_host(ok, false), "{ok}");
        }
        for bad in [
            "evil.example",
            "evil.example:8080",
            "localhost.evil.example",
            "127.0.0.1.nip.io:8080",
            "localhost:",
            "localhost:80x",
            "10.0.0.5:8080",
            "[::1",
            "[2001:db8::1]:80",
            "",
        ] {
            assert!(!is_allowed_host(bad, false), "{bad}");
        }
        assert!(is_allowed_host("10.0.0.5:8080", true));
        assert!(is_allowed_host("[2001:db8::1]:80", true));
        assert!(!is_allowed_host("evil.example", true));
    }
}
