//! Dev mode: one port serving the fake ChatHub API, the token endpoint wired
//! to it, the stand-in widget, the demo page and `pkg/`, plus admin knobs.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path as UrlPath, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use secrecy::SecretString;
use serde::Deserialize;
use serde_json::json;

use crate::auth::AllowAll;
use crate::cache::TokenCache;
use crate::config::{parse_orgs, Config, ConfigError};
use crate::fake_api::{FakeChatHub, Fault, DEV_LOGIN, DEV_PASSWORD};
use crate::issuer::Issuer;
use crate::routes::{router, TokenService};
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
    let files = Router::new()
        .route("/", get(index))
        .route("/pkg/{*path}", get(pkg_file))
        .route("/operator-chat-panel/widget-script.js", get(widget))
        .fallback(get(www_file))
        .with_state(Arc::new(opts));
    let router = router(service, &[])
        .nest(FAKE_API_PREFIX, fake.clone().router())
        .nest("/dev/admin", admin_router(admin))
        .merge(files)
        .layer(tower_http::set_header::SetResponseHeaderLayer::overriding(
            header::HeaderName::from_static("x-chathub-dev-mode"),
            HeaderValue::from_static("fake upstream, no authentication"),
        ));
    Ok(DevApp {
        router,
        fake,
        cache,
    })
}

type Files = State<Arc<DevOptions>>;

async fn index(State(files): Files) -> Response {
    static_files::serve(&files.www_dir, "index.html").await
}

async fn www_file(State(files): Files, uri: axum::http::Uri) -> Response {
    static_files::serve(&files.www_dir, uri.path()).await
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

async fn recover(State(a): State<Admin>) -> Response {
    a.fake.clear_fault();
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
