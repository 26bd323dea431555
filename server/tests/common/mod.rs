//! Shared helpers: the fake ChatHub and the token service on loopback ports.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use axum::Router;
use chathub_token_server::auth::{AllowAll, Authorizer};
use chathub_token_server::config::parse_orgs;
use chathub_token_server::fake_api::{FakeChatHub, DEV_LOGIN, DEV_PASSWORD};
use chathub_token_server::limits::HttpOptions;
use chathub_token_server::routes::{router, TokenService};
use chathub_token_server::server::ServeOptions;
use chathub_token_server::{Config, Issuer, RenewalPolicy, TokenCache};
use secrecy::SecretString;

/// Serves `app` (a stand-in ChatHub) on 127.0.0.1:0 with `axum::serve`,
/// with each request's peer address; returns its base URL.
pub async fn serve(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let addr = listener.local_addr().expect("local addr");
    tokio::spawn(async move {
        let app = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
        axum::serve(listener, app).await.expect("serve");
    });
    format!("http://{addr}")
}

/// A fake ChatHub on its own port.
pub async fn start_fake() -> (Arc<FakeChatHub>, String) {
    let fake = Arc::new(FakeChatHub::new());
    let url = serve(fake.clone().router()).await;
    (fake, url)
}

/// Settings against the fake at `api_url`: orgs `sales` (by name, default),
/// `support` (by id 2).
pub fn config(api_url: &str) -> Config {
    Config {
        api_url: api_url.to_owned(),
        login: DEV_LOGIN.into(),
        password: SecretString::from(DEV_PASSWORD.to_owned()),
        orgs: parse_orgs(&["sales=name:Sales".into(), "support=id:2".into()]).expect("orgs"),
        default_org: "sales".into(),
        token_ttl: Duration::from_secs(3600),
        refresh_margin: Duration::from_secs(300),
        upstream_timeout: Duration::from_secs(2),
        renewal: RenewalPolicy::default(),
    }
}

/// A running token service.
pub struct Service {
    pub url: String,
    pub cache: TokenCache,
}

impl Service {
    pub fn token_url(&self) -> String {
        format!("{}/api/chathub/token", self.url)
    }
}

/// Starts the token service with `config`, `authorizer` and CORS `origins`.
pub async fn start_service_with(
    config: Config,
    authorizer: Arc<dyn Authorizer>,
    origins: &[String],
) -> Service {
    let options = HttpOptions {
        allowed_origins: origins.to_vec(),
        ..HttpOptions::default()
    };
    start_service_with_options(config, authorizer, &options).await
}

/// Starts the token service with `config`, `authorizer` and HTTP `options`
/// on 127.0.0.1:0, through the binary's connection layer
/// ([`chathub_token_server::server::serve`]).
pub async fn start_service_with_options(
    config: Config,
    authorizer: Arc<dyn Authorizer>,
    options: &HttpOptions,
) -> Service {
    let cache = TokenCache::new(Issuer::new(Arc::new(config)).expect("valid config"));
    let app = router(
        TokenService {
            cache: cache.clone(),
            authorizer,
        },
        options,
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let addr = listener.local_addr().expect("local addr");
    let serve_options = ServeOptions {
        peer_address: true,
        ..ServeOptions::new(&options.limits)
    };
    let shutdown = options.shutdown.clone();
    tokio::spawn(async move {
        chathub_token_server::server::serve(listener, app, serve_options, shutdown)
            .await
            .expect("serve");
    });
    Service {
        url: format!("http://{addr}"),
        cache,
    }
}

/// The fake plus an open token service in front of it.
pub async fn start() -> (Arc<FakeChatHub>, String, Service) {
    let (fake, api) = start_fake().await;
    let service = start_service_with(config(&api), Arc::new(AllowAll), &[]).await;
    (fake, api, service)
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .expect("client")
}

/// A call count from the fake's stats.
pub fn count(fake: &FakeChatHub, endpoint: &str) -> u64 {
    fake.stats().get(endpoint).copied().unwrap_or(0)
}

/// The sum of all the fake's call counts.
pub fn total_calls(fake: &FakeChatHub) -> u64 {
    fake.stats().values().sum()
}

/// Polls `condition` every 20 ms until it holds; panics naming `what`
/// after a generous deadline (a loaded machine is slow, not wrong).
pub async fn wait_for(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !condition() {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// GETs `url` until it answers 200 (inside a backoff window it answers 503
/// at once); returns the body.
pub async fn token_once_allowed(url: &str) -> serde_json::Value {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let (status, body) = get_token(url).await;
        if status == 200 {
            return body;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no token within 30 s; last answer {status} {body}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The service's `/metrics` (checked: 200, Prometheus text format).
pub async fn scrape_metrics(base: &str) -> String {
    let resp = client()
        .get(format!("{base}/metrics"))
        .send()
        .await
        .expect("metrics");
    assert_eq!(resp.status(), 200);
    assert!(resp.headers()["content-type"]
        .to_str()
        .unwrap_or_default()
        .starts_with("text/plain; version=0.0.4"));
    resp.text().await.expect("metrics text")
}

/// GET the token endpoint; returns status and JSON body.
pub async fn get_token(url: &str) -> (u16, serde_json::Value) {
    let resp = client().get(url).send().await.expect("request");
    let status = resp.status().as_u16();
    let body = resp.json().await.unwrap_or(serde_json::Value::Null);
    (status, body)
}

/// What the fake's widget session endpoint says about `token`.
pub async fn session(api: &str, token: &str) -> serde_json::Value {
    client()
        .get(format!("{api}/api/widget/session"))
        .bearer_auth(token)
        .send()
        .await
        .expect("session")
        .json()
        .await
        .expect("session json")
}

/// `request.send_json().await`: send, expect an answer, parse its JSON body.
pub trait SendJson {
    /// The answer's body as JSON (panics, naming the step, on failure).
    fn send_json(self) -> impl std::future::Future<Output = serde_json::Value>;
}

impl SendJson for reqwest::RequestBuilder {
    async fn send_json(self) -> serde_json::Value {
        self.send()
            .await
            .expect("request")
            .json()
            .await
            .expect("JSON body")
    }
}

/// A JWT with `exp` (signed with a throw-away key: the service never checks
/// ChatHub's signatures).
pub fn jwt(exp: i64) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &serde_json::json!({ "exp": exp }),
        &jsonwebtoken::EncodingKey::from_secret(b"any"),
    )
    .expect("a JWT")
}

/// `exp` of a token that lives `seconds` from now.
pub fn exp_in(seconds: i64) -> i64 {
    (time::OffsetDateTime::now_utc() + time::Duration::seconds(seconds)).unix_timestamp()
}

/// The flow's ChatHub paths, in the order the flow calls them.
pub const FLOW_PATHS: [&str; 5] = [
    "/api/company/get-token",
    "/api/company/organization",
    "/api/operator",
    "/api/operator/get-token",
    "/api/operator/validate-token",
];

/// A small ChatHub for odd answers: organisations `Sales` (1) and
/// `Support` (2), operator 102 active, one-hour operator tokens, every
/// token valid; `company()` is the company token, and `logins` counts the
/// logins. Every path in `except` is left out, for the caller to route.
pub fn mock_chathub(
    company: impl Fn() -> String + Clone + Send + Sync + 'static,
    logins: Arc<std::sync::atomic::AtomicU32>,
    except: &[&str],
) -> Router {
    use axum::routing::{get, post, MethodRouter};
    use axum::Json;
    use serde_json::json;
    let route = |path: &str| -> MethodRouter {
        match path {
            "/api/company/get-token" => {
                let (company, logins) = (company.clone(), logins.clone());
                post(move || async move {
                    logins.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    Json(json!(company()))
                })
            }
            "/api/company/organization" => get(|| async {
                Json(json!([{ "id": 1, "name": "Sales" }, { "id": 2, "name": "Support" }]))
            }),
            "/api/operator" => {
                get(|| async { Json(json!([{ "id": 102, "name": "M", "status": 0 }])) })
            }
            "/api/operator/get-token" => post(|| async { Json(json!(jwt(exp_in(3600)))) }),
            _ => post(|| async { Json(json!(true)) }),
        }
    };
    FLOW_PATHS
        .iter()
        .filter(|path| !except.contains(path))
        .fold(Router::new(), |app, path| app.route(path, route(path)))
}

/// Whether an answer's `Vary` names `Origin` (in any of its values).
pub fn varies_on_origin(headers: &reqwest::header::HeaderMap) -> bool {
    headers.get_all("vary").iter().any(|v| {
        v.to_str()
            .unwrap_or_default()
            .split(',')
            .any(|h| h.trim().eq_ignore_ascii_case("origin"))
    })
}

/// Status, headers and body of an answer.
pub type Answer = (u16, reqwest::header::HeaderMap, String);

/// Writes `request` on a fresh connection and reads the answer to the end.
pub async fn raw(addr: std::net::SocketAddr, request: &[u8]) -> String {
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    // The server may answer and close before it has read everything.
    let _ = stream.write_all(request).await;
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut answer)).await;
    String::from_utf8_lossy(&answer).into_owned()
}

/// The status, headers (lower-case names) and body of a raw HTTP/1.1 answer.
pub fn parse_answer(answer: &str) -> Answer {
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((answer, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let mut headers = reqwest::header::HeaderMap::new();
    for line in lines {
        if let Some((name, value)) = line.split_once(':') {
            if let (Ok(name), Ok(value)) = (
                reqwest::header::HeaderName::from_bytes(name.trim().as_bytes()),
                reqwest::header::HeaderValue::from_str(value.trim()),
            ) {
                headers.append(name, value);
            }
        }
    }
    (status, headers, body.to_owned())
}
