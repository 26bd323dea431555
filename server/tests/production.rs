//! The built binary as operators run it (`serve` mode, real sockets, real
//! mock ChatHubs): redirects, slow clients, shutdown, every answer's shape
//! and CORS, company tokens with short or skewed lifetimes, origins, the
//! metrics listener and the health endpoints.
//!
//! `CHATHUB_SERVER_BIN` runs these against another build of the binary
//! (to show that they fail on the code before a fix).

mod common;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::Router;
use chathub_token_server::fake_api::FakeChatHub;
use common::*;
use futures::StreamExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const PASSWORD: &str = "TopSecretPassw0rd";
const ORIGIN: &str = "https://shop.example.com";

fn binary() -> String {
    std::env::var("CHATHUB_SERVER_BIN")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_chathub-token-server").to_owned())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// The binary running in `serve` mode.
struct Server {
    child: Child,
    base: String,
    log: PathBuf,
}

impl Server {
    /// Starts it against `api` with `vars` (which win over the defaults
    /// here) and waits until `/healthz` answers.
    async fn start(api: &str, vars: &[(&str, &str)]) -> Server {
        Server::start_with_nofile(api, vars, None).await
    }

    /// [`Server::start`] with its open-file limit (soft, hard) set first.
    async fn start_with_nofile(
        api: &str,
        vars: &[(&str, &str)],
        nofile: Option<(u64, u64)>,
    ) -> Server {
        let port = free_port();
        let bind = format!("127.0.0.1:{port}");
        let log = std::env::temp_dir().join(format!(
            "chathub-production-{}-{port}.log",
            std::process::id()
        ));
        let mut all: Vec<(&str, &str)> = vec![
            ("CHATHUB_API_URL", api),
            ("CHATHUB_LOGIN", "acme"),
            ("CHATHUB_PASSWORD", PASSWORD),
            ("CHATHUB_ORGS", "sales=name:Sales,support=id:2"),
            ("CHATHUB_AUTH", "none"),
            ("CHATHUB_ALLOW_UNAUTHENTICATED", "true"),
            ("CHATHUB_RATE_LIMIT", "off"),
            ("CHATHUB_UPSTREAM_TIMEOUT", "5s"),
            // Many tests open many connections from 127.0.0.1.
            ("CHATHUB_MAX_CONNECTIONS_PER_CLIENT", "off"),
            ("RUST_LOG", "info"),
        ];
        all.retain(|(k, _)| !vars.iter().any(|(v, _)| v == k));
        all.extend_from_slice(vars);
        let file = std::fs::File::create(&log).expect("log file");
        let mut command = Command::new(binary());
        if let Some((soft, hard)) = nofile {
            use std::os::unix::process::CommandExt;
            let limit = libc::rlimit {
                rlim_cur: soft as libc::rlim_t,
                rlim_max: hard as libc::rlim_t,
            };
            // SAFETY: runs in the forked child before exec; setrlimit is
            // async-signal-safe and only reads `limit`, copied into the closure.
            unsafe {
                command.pre_exec(move || {
                    if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) == 0 {
                        Ok(())
                    } else {
                        Err(std::io::Error::last_os_error())
                    }
                });
            }
        }
        let child = command
            .env_clear()
            .env("NO_COLOR", "1")
            .env("CHATHUB_BIND", &bind)
            .envs(all)
            .stdin(Stdio::null())
            .stdout(file.try_clone().expect("log file"))
            .stderr(file)
            .spawn()
            .expect("start the binary");
        let mut server = Server {
            child,
            base: format!("http://{bind}"),
            log,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(r) = client()
                .get(format!("{}/healthz", server.base))
                .send()
                .await
            {
                if r.status() == 200 {
                    break;
                }
            }
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!("the server exited with {status}: {}", server.logs());
            }
            assert!(Instant::now() < deadline, "the server did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        server
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn addr(&self) -> SocketAddr {
        self.base
            .trim_start_matches("http://")
            .parse()
            .expect("an address")
    }

    fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Resident memory, KiB.
    fn rss_kib(&self) -> u64 {
        self.status_kib("VmRSS:")
    }

    /// The most resident memory the process has had, KiB.
    fn peak_rss_kib(&self) -> u64 {
        self.status_kib("VmHWM:")
    }

    /// A `/proc/PID/status` field in KiB (0 when unreadable).
    fn status_kib(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix(field))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    }

    fn sigterm(&self) {
        let ok = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(ok.success());
    }

    /// Waits for the exit (panics after `limit`); returns how long it took.
    async fn exited_within(&mut self, limit: Duration) -> Duration {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                assert!(status.success(), "exit status {status}: {}", self.logs());
                return start.elapsed();
            }
            assert!(
                start.elapsed() < limit,
                "still running {limit:?} after SIGTERM"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
    }
}

/// A fake ChatHub (`acme` / [`PASSWORD`]) on its own port.
async fn fake() -> (Arc<FakeChatHub>, String) {
    let fake = Arc::new(FakeChatHub::with_credentials("acme", PASSWORD));
    let url = serve(fake.clone().router()).await;
    (fake, url)
}

fn assert_shaped(what: &str, headers: &reqwest::header::HeaderMap, body: &str, code: &str) {
    let json: serde_json::Value =
        serde_json::from_str(body).unwrap_or_else(|_| panic!("{what}: not JSON: {body:?}"));
    assert_eq!(json["code"], code, "{what}: {body}");
    assert!(
        json["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{what}: {body}"
    );
    assert_eq!(headers["x-content-type-options"], "nosniff", "{what}");
    assert_eq!(headers["cache-control"], "no-store", "{what}");
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap_or_default()
            .starts_with("application/json"),
        "{what}"
    );
}

fn assert_cors(what: &str, headers: &reqwest::header::HeaderMap) {
    assert_eq!(
        headers
            .get("access-control-allow-origin")
            .map(|v| v.to_str().unwrap_or_default()),
        Some(ORIGIN),
        "{what}: no Access-Control-Allow-Origin"
    );
    assert!(varies_on_origin(headers), "{what}: no Vary: Origin");
    let exposed = headers
        .get("access-control-expose-headers")
        .map(|v| v.to_str().unwrap_or_default().to_lowercase())
        .unwrap_or_default();
    assert!(exposed.contains("retry-after"), "{what}: {exposed:?}");
}

// ------------------------------------------------------------- 1. redirects

/// What the attacker's host received.
type Stolen = Arc<Mutex<Vec<String>>>;

/// A host that records every body sent to it.
async fn thief() -> (Stolen, String) {
    let stolen: Stolen = Arc::default();
    let app = Router::new()
        .fallback(|State(stolen): State<Stolen>, body: String| async move {
            stolen.lock().unwrap().push(body);
            "ok"
        })
        .with_state(stolen.clone());
    (stolen, serve(app).await)
}

/// A ChatHub whose `step` (a path) answers `status` with `Location: to`;
/// every other call succeeds.
async fn redirecting_chathub(step: &'static str, status: StatusCode, to: String) -> String {
    let redirect = move || {
        let to = to.clone();
        async move { (status, [(header::LOCATION, to)]).into_response() }
    };
    let app = mock_chathub(|| jwt(exp_in(3600)), Arc::default(), &[step])
        .route(step, axum::routing::any(redirect));
    serve(app).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_from_chathub_is_an_error_and_no_credential_follows_it() {
    let (stolen, thief_url) = thief().await;
    for (step, status) in [
        ("/api/company/get-token", StatusCode::TEMPORARY_REDIRECT),
        (
            "/api/operator/validate-token",
            StatusCode::PERMANENT_REDIRECT,
        ),
    ] {
        let api = redirecting_chathub(step, status, format!("{thief_url}/steal")).await;
        let server = Server::start(&api, &[]).await;
        let resp = client()
            .get(server.url("/api/chathub/token"))
            .send()
            .await
            .unwrap();
        let (code, headers) = (resp.status().as_u16(), resp.headers().clone());
        let body = resp.text().await.unwrap();
        let stolen = stolen.lock().unwrap().clone();
        assert!(
            stolen.is_empty(),
            "{step}: a credential followed the redirect: {stolen:?}"
        );
        assert_eq!(code, 502, "{step}: {body}");
        assert_shaped(step, &headers, &body, "UPSTREAM_ERROR");
        assert!(
            server.logs().contains("redirect"),
            "{step}: the redirect was not logged: {}",
            server.logs()
        );
        assert!(
            !server.logs().contains(PASSWORD),
            "the password is in the logs"
        );
    }
}

// ---------------------------------------------------- 2. slow clients

/// Opens `n` connections that each send `head` (an unfinished request head)
/// and stop; returns them.
async fn slow_clients(addr: SocketAddr, n: usize, head: Arc<Vec<u8>>) -> Vec<TcpStream> {
    let mut clients = Vec::with_capacity(n);
    for _ in 0..n {
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        let head = head.clone();
        // The server may refuse (and close) before it has read it all.
        let _ = tokio::time::timeout(Duration::from_secs(5), stream.write_all(&head)).await;
        clients.push(stream);
    }
    clients
}

/// Reads each connection to its end; how long until the last was closed.
async fn all_closed(clients: Vec<TcpStream>, limit: Duration) -> (Duration, Vec<String>) {
    let start = Instant::now();
    let reads = clients.into_iter().map(|mut c| async move {
        let mut answer = Vec::new();
        tokio::time::timeout(limit, c.read_to_end(&mut answer))
            .await
            .map(|_| String::from_utf8_lossy(&answer).into_owned())
    });
    let answers = futures::future::join_all(reads).await;
    let open = answers.iter().filter(|a| a.is_err()).count();
    assert_eq!(
        open, 0,
        "{open} slow connections were still open after {limit:?}"
    );
    (
        start.elapsed(),
        answers.into_iter().map(Result::unwrap_or_default).collect(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn slow_clients_are_closed_in_time_with_bounded_memory_while_others_are_served() {
    let (_fake, api) = fake().await;
    let server = Server::start(&api, &[("CHATHUB_HEADER_READ_TIMEOUT", "2s")]).await;
    assert_eq!(get_token(&server.url("/api/chathub/token")).await.0, 200);
    let before = server.rss_kib();

    // 200 clients trickle the start of a 380 KB cookie and stop there.
    let mut head = b"GET /api/chathub/token HTTP/1.1\r\nhost: x\r\ncookie: ".to_vec();
    head.resize(head.len() + 380 * 1024, b'c');
    let started = Instant::now();
    let clients = slow_clients(server.addr(), 200, Arc::new(head)).await;
    let peak = server.rss_kib();
    eprintln!(
        "slow clients: RSS {before} KiB before, {peak} KiB with 200 clients sending 380 KB heads"
    );
    // A normal client is served meanwhile.
    assert_eq!(get_token(&server.url("/api/chathub/token")).await.0, 200);
    let (closed_in, answers) = all_closed(clients, Duration::from_secs(30)).await;
    let refused = answers
        .iter()
        .filter(|a| a.contains("HEADERS_TOO_LARGE"))
        .count();

    // 200 more send an incomplete head under every limit (20 KB of cookie,
    // more than the 16 KiB the service accepts, less than hyper buffers)
    // and stall: only the header-read timeout closes them.
    let mut head = b"GET /api/chathub/token HTTP/1.1\r\nhost: x\r\ncookie: ".to_vec();
    head.resize(head.len() + 20 * 1024, b'c');
    let stalled = slow_clients(server.addr(), 200, Arc::new(head)).await;
    let peak = peak.max(server.rss_kib());
    assert_eq!(get_token(&server.url("/api/chathub/token")).await.0, 200);
    let (stalled_closed_in, _) = all_closed(stalled, Duration::from_secs(30)).await;
    eprintln!(
        "slow clients: RSS {before} KiB before, {peak} KiB at most; 380 KB heads: {refused} of 200 refused with JSON 431, all closed {:.1} s after the last was opened ({:.1} s after the first); stalled 20 KB heads closed {:.1} s after the last was opened",
        closed_in.as_secs_f64(),
        started.elapsed().as_secs_f64(),
        stalled_closed_in.as_secs_f64()
    );
    // hyper holds at most its head buffer (4 x the 18 KiB of limits, 78
    // KiB) per connection: 200 of them are 15 MiB, plus some slack.
    assert!(
        peak.saturating_sub(before) < 20 * 1024,
        "RSS grew by {} KiB with 200 slow clients",
        peak - before
    );
    assert_eq!(get_token(&server.url("/api/chathub/token")).await.0, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kept_alive_connection_idles_past_the_header_read_timeout_until_the_idle_timeout() {
    let (_fake, api) = fake().await;
    let server = Server::start(
        &api,
        &[
            ("CHATHUB_HEADER_READ_TIMEOUT", "1s"),
            ("CHATHUB_IDLE_TIMEOUT", "6s"),
            ("CHATHUB_REQUEST_TIMEOUT", "2s"),
            ("CHATHUB_SHUTDOWN_TIMEOUT", "3s"),
        ],
    )
    .await;
    // A new connection that sends nothing is closed by the header-read
    // timeout, long before the idle one.
    let mut silent = TcpStream::connect(server.addr()).await.expect("connect");
    let opened = Instant::now();
    let mut nothing = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(30), silent.read_to_end(&mut nothing)).await;
    assert!(
        opened.elapsed() < Duration::from_secs(6),
        "a silent connection was held {:?}",
        opened.elapsed()
    );
    // A kept-alive connection between two requests is timed by the idle
    // timeout: it outlives the header-read timeout.
    let mut conn = TcpStream::connect(server.addr()).await.expect("connect");
    let request = b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n";
    let mut answer = [0u8; 4096];
    conn.write_all(request).await.unwrap();
    let n = conn.read(&mut answer).await.unwrap();
    assert!(String::from_utf8_lossy(&answer[..n]).starts_with("HTTP/1.1 200"));
    tokio::time::sleep(Duration::from_millis(2000)).await; // idle, longer than 1 s
    conn.write_all(request).await.unwrap();
    let n = conn.read(&mut answer).await.unwrap();
    assert!(
        String::from_utf8_lossy(&answer[..n]).starts_with("HTTP/1.1 200"),
        "the kept-alive connection was closed after 2 s idle"
    );
    let last = Instant::now();
    let mut rest = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(30), conn.read_to_end(&mut rest)).await;
    assert!(
        last.elapsed() >= Duration::from_secs(3),
        "closed {:?} after its last answer, before the 6 s idle timeout",
        last.elapsed()
    );
}

// --------------------------------------------------------- 3. shutdown

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_the_service_by_its_deadline_despite_a_client_that_does_not_read() {
    let (_fake, api) = fake().await;
    let mut server = Server::start(
        &api,
        &[
            ("CHATHUB_REQUEST_TIMEOUT", "1s"),
            ("CHATHUB_SHUTDOWN_TIMEOUT", "2s"),
            ("CHATHUB_IDLE_TIMEOUT", "300s"),
        ],
    )
    .await;
    // Pipelines requests and never reads an answer: the server's writes
    // stall on the full socket buffers, and then it stops reading too.
    let mut stream = TcpStream::connect(server.addr()).await.expect("connect");
    let writer = tokio::spawn(async move {
        let request = b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n".repeat(1000);
        while stream.write_all(&request).await.is_ok() {}
        stream
    });
    // Stalled: the answered count stops moving.
    let answered = || async {
        let text = scrape_metrics(&server.base).await;
        text.lines()
            .find_map(|l| {
                l.strip_prefix("chathub_http_requests_total{route=\"/healthz\",status=\"200\"} ")
            })
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut last = answered().await;
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let now = answered().await;
        if now == last && now > 1000 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the client's writes never stalled"
        );
        last = now;
    }
    server.sigterm();
    let took = server.exited_within(Duration::from_secs(20)).await;
    eprintln!(
        "shutdown with a client that does not read: exited {:.1} s after SIGTERM (deadline 2 s)",
        took.as_secs_f64()
    );
    writer.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_goes_503_at_sigterm_while_the_drain_delay_still_serves() {
    let (_fake, api) = fake().await;
    let mut server = Server::start(&api, &[("CHATHUB_SHUTDOWN_DELAY", "5s")]).await;
    let ready = client().get(server.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    assert_eq!(
        ready.json::<serde_json::Value>().await.unwrap()["status"],
        "ready"
    );
    assert_eq!(get_token(&server.url("/api/chathub/token")).await.0, 200);
    server.sigterm();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let resp = client().get(server.url("/readyz")).send().await.unwrap();
        if resp.status() == 503 {
            let headers = resp.headers().clone();
            let body = resp.text().await.unwrap();
            assert_shaped("/readyz", &headers, &body, "SHUTTING_DOWN");
            break;
        }
        assert!(Instant::now() < deadline, "/readyz never said 503");
    }
    // Still alive, still serving while the delay lasts, then gone.
    let health = client().get(server.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    let resp = client()
        .get(server.url("/api/chathub/token"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["connection"], "close");
    server.exited_within(Duration::from_secs(30)).await;
}

// ------------------------------------- 4, 5. every answer, CORS and shape

/// A ChatHub whose every call hangs for a minute.
async fn hanging_chathub() -> String {
    let app = Router::new().fallback(|| async {
        tokio::time::sleep(Duration::from_secs(60)).await;
        "late"
    });
    serve(app).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_answer_of_the_token_endpoint_carries_cors_and_the_documented_shape() {
    let (fake, api) = fake().await;
    let server = Server::start(
        &api,
        &[
            ("CHATHUB_ALLOWED_ORIGINS", ORIGIN),
            ("CHATHUB_RATE_LIMIT", "1/h"),
            ("CHATHUB_RATE_LIMIT_BURST", "100"),
            ("CHATHUB_CLIENT_IP_HEADER", "x-real-ip"),
        ],
    )
    .await;
    let token = server.url("/api/chathub/token");
    let get = |url: String, extra: Vec<(String, String)>| {
        let mut req = client().get(url).header("origin", ORIGIN);
        for (name, value) in extra {
            req = req.header(name, value);
        }
        async move {
            let resp = req.send().await.expect("request");
            let status = resp.status().as_u16();
            let headers = resp.headers().clone();
            (status, headers, resp.text().await.unwrap_or_default())
        }
    };
    let many_headers: Vec<(String, String)> = (0..120)
        .map(|i| (format!("x-h{i}"), "v".to_owned()))
        .collect();
    let cases: Vec<(&str, u16, &str, Answer)> = vec![
        (
            "URI too long",
            414,
            "URI_TOO_LONG",
            get(format!("{token}?org={}", "a".repeat(3000)), vec![]).await,
        ),
        (
            "20 KB cookie",
            431,
            "HEADERS_TOO_LARGE",
            get(
                token.clone(),
                vec![("cookie".into(), "c".repeat(20 * 1024))],
            )
            .await,
        ),
        (
            "120 headers",
            431,
            "HEADERS_TOO_LARGE",
            get(token.clone(), many_headers).await,
        ),
        (
            "unknown org",
            404,
            "UNKNOWN_ORG",
            get(format!("{token}?org=nope"), vec![]).await,
        ),
        (
            "bad query",
            400,
            "INVALID_QUERY",
            get(format!("{token}?org=a&org=b"), vec![]).await,
        ),
    ];
    for (what, status, code, (got, headers, body)) in &cases {
        assert_eq!(got, status, "{what}: {body}");
        assert_shaped(what, headers, body, code);
        assert_cors(what, headers);
    }
    // 429, readable cross-origin.
    let limited = Server::start(
        &api,
        &[
            ("CHATHUB_ALLOWED_ORIGINS", ORIGIN),
            ("CHATHUB_RATE_LIMIT", "1/h"),
            ("CHATHUB_RATE_LIMIT_BURST", "1"),
        ],
    )
    .await;
    let url = limited.url("/api/chathub/token");
    assert_eq!(get(url.clone(), vec![]).await.0, 200);
    let (status, headers, body) = get(url, vec![]).await;
    assert_eq!(status, 429, "{body}");
    assert_shaped("429", &headers, &body, "RATE_LIMITED");
    assert_cors("429", &headers);
    // 502 and 503 while ChatHub fails.
    fake.set_fault(chathub_token_server::fake_api::Fault {
        count: 1000,
        status: Some(500),
        ..Default::default()
    });
    for (status, code) in [(502, "UPSTREAM_ERROR"), (503, "UPSTREAM_BACKOFF")] {
        let (got, headers, body) = get(format!("{token}?org=support"), vec![]).await;
        assert_eq!(got, status, "{body}");
        assert_shaped(code, &headers, &body, code);
        assert_cors(code, &headers);
    }
    // 504 when answering takes longer than the request timeout.
    let slow = Server::start(
        &hanging_chathub().await,
        &[
            ("CHATHUB_ALLOWED_ORIGINS", ORIGIN),
            ("CHATHUB_REQUEST_TIMEOUT", "1s"),
            ("CHATHUB_UPSTREAM_TIMEOUT", "30s"),
            ("CHATHUB_SHUTDOWN_TIMEOUT", "5s"),
        ],
    )
    .await;
    let (status, headers, body) = get(slow.url("/api/chathub/token"), vec![]).await;
    assert_eq!(status, 504, "{body}");
    assert_shaped("504", &headers, &body, "REQUEST_TIMEOUT");
    assert_cors("504", &headers);
    // Each failed upstream attempt is logged once, at warn; an answer per
    // request is no error (a ChatHub outage would flood the logs).
    for logs in [server.logs(), slow.logs()] {
        assert!(
            !logs.contains(" ERROR "),
            "a per-request error log line: {logs}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_answers_hyper_writes_itself_have_the_documented_shape() {
    let (_fake, api) = fake().await;
    let server = Server::start(&api, &[]).await;
    let many: String = (0..600).map(|i| format!("x-h{i}: v\r\n")).collect();
    let cases = [
        (
            "600 headers",
            format!("GET /api/chathub/token HTTP/1.1\r\nhost: x\r\n{many}\r\n"),
            431,
            "HEADERS_TOO_LARGE",
        ),
        (
            "a 300 KB head",
            format!(
                "GET /api/chathub/token HTTP/1.1\r\nhost: x\r\ncookie: {}\r\n\r\n",
                "c".repeat(300 * 1024)
            ),
            431,
            "HEADERS_TOO_LARGE",
        ),
        (
            "a 70 KB URI",
            format!(
                "GET /api/chathub/token?{} HTTP/1.1\r\nhost: x\r\n\r\n",
                "a".repeat(70_000)
            ),
            414,
            "URI_TOO_LONG",
        ),
        (
            "garbage",
            "NOT HTTP \u{1}\r\n\r\n".to_owned(),
            400,
            "BAD_REQUEST",
        ),
    ];
    for (what, request, status, code) in cases {
        let (got, headers, body) = parse_answer(&raw(server.addr(), request.as_bytes()).await);
        assert_eq!(got, status, "{what}: {body}");
        assert_shaped(what, &headers, &body, code);
    }
    // Paths without a route and methods without a handler, too.
    for (what, request, status, code) in [
        ("no route", "GET /nothing HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n", 404, "NOT_FOUND"),
        ("POST", "POST /api/chathub/token HTTP/1.1\r\nhost: x\r\ncontent-length: 0\r\nconnection: close\r\n\r\n", 405, "METHOD_NOT_ALLOWED"),
    ] {
        let (got, headers, body) = parse_answer(&raw(server.addr(), request.as_bytes()).await);
        assert_eq!(got, status, "{what}: {body}");
        assert_shaped(what, &headers, &body, code);
    }
}

// ----------------------------------------------- 6. company token lifetime

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_company_token_that_lives_30_seconds_is_used_not_renewed_before_every_call() {
    let (fake, api) = fake().await;
    fake.set_company_token_lifetime(Duration::from_secs(30));
    let server = Server::start(&api, &[]).await;
    for org in ["sales", "support"] {
        let (status, body) = get_token(&server.url(&format!("/api/chathub/token?org={org}"))).await;
        assert_eq!(status, 200, "{body}");
    }
    assert_eq!(
        count(&fake, "company_get_token"),
        1,
        "logins for two orgs' flows (8 calls) with a 30 s company token"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_company_token_already_past_its_exp_by_our_clock_is_used_until_refused() {
    // A ChatHub whose company tokens carry an `exp` ten minutes in the
    // past (its clock, or ours, is off).
    let logins = Arc::new(AtomicU32::new(0));
    let api = serve(mock_chathub(|| jwt(exp_in(-600)), logins.clone(), &[])).await;
    let server = Server::start(&api, &[]).await;
    for org in ["sales", "support"] {
        let (status, body) = get_token(&server.url(&format!("/api/chathub/token?org={org}"))).await;
        assert_eq!(status, 200, "{body}");
    }
    assert_eq!(
        logins.load(Ordering::Relaxed),
        1,
        "a login before every call"
    );
    assert!(server.logs().contains("clocks"), "the skew was not logged");
}

// ------------------------------------------------------- origins, metrics

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configured_origins_match_what_browsers_send() {
    let (_fake, api) = fake().await;
    let server = Server::start(
        &api,
        // Accepted as written before, and then never equal to a browser's Origin.
        &[(
            "CHATHUB_ALLOWED_ORIGINS",
            "https://Shop.Example.com:443,HTTP://other.example:80",
        )],
    )
    .await;
    for origin in [ORIGIN, "http://other.example"] {
        let resp = client()
            .get(server.url("/api/chathub/token"))
            .header("origin", origin)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(
            resp.headers()
                .get("access-control-allow-origin")
                .map(|v| v.to_str().unwrap()),
            Some(origin),
            "{origin}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_can_have_a_listener_of_their_own_or_none() {
    let (_fake, api) = fake().await;
    let port = free_port();
    let own = format!("127.0.0.1:{port}");
    let server = Server::start(&api, &[("CHATHUB_METRICS_BIND", own.as_str())]).await;
    let main = client().get(server.url("/metrics")).send().await.unwrap();
    assert_eq!(
        main.status(),
        404,
        "/metrics is still on the token listener"
    );
    let text = scrape_metrics(&format!("http://{own}")).await;
    assert!(text.contains("chathub_token_requests_total"), "{text}");
    let token = client()
        .get(format!("http://{own}/api/chathub/token"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        token.status(),
        404,
        "the token endpoint is on the metrics listener"
    );

    let off = Server::start(&api, &[("CHATHUB_METRICS_BIND", "off")]).await;
    let resp = client().get(off.url("/metrics")).send().await.unwrap();
    assert_eq!(resp.status(), 404);
}

// ------------------------------------------- 7. an endless upstream body

/// A ChatHub whose `step` answers 200 with an endless chunked body (no
/// `Content-Length`); every other call succeeds.
async fn endless_chathub(step: &'static str) -> String {
    let endless = || async {
        let chunk = axum::body::Bytes::from(vec![b'A'; 1 << 20]);
        let body = futures::stream::repeat(chunk).map(Ok::<_, std::convert::Infallible>);
        (
            [(header::CONTENT_TYPE, "application/json")],
            axum::body::Body::from_stream(body),
        )
    };
    let app = mock_chathub(|| jwt(exp_in(3600)), Arc::default(), &[step])
        .route(step, axum::routing::any(endless));
    serve(app).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endless_upstream_body_is_refused_with_bounded_memory() {
    for step in ["/api/company/get-token", "/api/operator/get-token"] {
        let api = endless_chathub(step).await;
        // Long enough that reading until the timeout would hold gigabytes.
        let server = Server::start(&api, &[("CHATHUB_UPSTREAM_TIMEOUT", "10s")]).await;
        let resp = client()
            .get(server.url("/api/chathub/token"))
            .send()
            .await
            .unwrap();
        let (status, headers) = (resp.status().as_u16(), resp.headers().clone());
        let body = resp.text().await.unwrap();
        let peak = server.peak_rss_kib();
        eprintln!("endless body at {step}: {status} {body}; peak RSS {peak} KiB");
        assert!(
            peak < 100 * 1024,
            "{step}: the server held {peak} KiB reading an endless body"
        );
        assert_eq!(status, 502, "{step}: {body}");
        assert_shaped(step, &headers, &body, "UPSTREAM_MALFORMED");
    }
}

// ---------------------------------------- 8. the operator JWT's own exp

/// A JWT with header `alg` and payload `{"exp": exp}` (`exp` as written,
/// e.g. `1700000000.75`), signed with nothing the service could check.
fn raw_jwt(alg: &str, exp: &str) -> String {
    use base64::Engine;
    let b64 = |text: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text);
    let signature = if alg == "none" { "" } else { "c2ln" };
    format!(
        "{}.{}.{signature}",
        b64(&format!(r#"{{"alg":"{alg}","typ":"JWT"}}"#)),
        b64(&format!(r#"{{"exp":{exp},"jti":"x"}}"#))
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operator_jwts_own_exp_is_served_whatever_its_alg_or_number_format() {
    // What the mock's operator/get-token answers next.
    let next: Arc<Mutex<String>> = Arc::default();
    let answer = {
        let next = next.clone();
        move || {
            let token = next.lock().unwrap().clone();
            async move { axum::Json(serde_json::json!(token)) }
        }
    };
    let app = mock_chathub(
        || jwt(exp_in(3600)),
        Arc::default(),
        &["/api/operator/get-token"],
    )
    .route("/api/operator/get-token", axum::routing::post(answer));
    let api = serve(app).await;
    let server = Server::start(
        &api,
        &[("CHATHUB_ORGS", "a=id:1,b=id:1,c=id:1,d=id:1,e=id:1,f=id:1")],
    )
    .await;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let cases = [
        ("a", "ES512", format!("{}", now + 600), Some(now + 600)),
        ("b", "none", format!("{}", now + 600), Some(now + 600)),
        // RFC 7519: a NumericDate may have fractions (rounded down here).
        ("c", "HS256", format!("{}.75", now + 600), Some(now + 600)),
        ("d", "ES512", format!("{}", now - 10), None),
        ("e", "none", format!("{}.5", now - 10), None),
        ("f", "HS256", format!("{}.5", now - 10), None),
    ];
    for (org, alg, exp, expected) in cases {
        *next.lock().unwrap() = raw_jwt(alg, &exp);
        let (status, body) = get_token(&server.url(&format!("/api/chathub/token?org={org}"))).await;
        match expected {
            Some(exp_at) => {
                assert_eq!(status, 200, "{alg} exp {exp}: {body}");
                let served = time::OffsetDateTime::parse(
                    body["expiresAt"].as_str().unwrap_or_default(),
                    &time::format_description::well_known::Rfc3339,
                )
                .unwrap_or_else(|_| panic!("{alg} exp {exp}: {body}"));
                assert_eq!(
                    served.unix_timestamp(),
                    exp_at,
                    "{alg} exp {exp}: served expiresAt {served}, not the JWT's exp"
                );
            }
            None => {
                assert_eq!(
                    status, 502,
                    "{alg} exp {exp}: an expired token was served: {body}"
                );
                assert_eq!(
                    body["code"], "UPSTREAM_MALFORMED",
                    "{alg} exp {exp}: {body}"
                );
            }
        }
    }
}

// ------------------------------------------------ 9. file descriptors

/// The soft open-file limit of process `pid`.
fn open_file_limit(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/limits"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("Max open files"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// A connection that sent `GET /healthz` and got its answer within 5 s
/// (else `None`: it waits to be accepted).
async fn served_connection(addr: SocketAddr) -> Option<TcpStream> {
    let mut stream = TcpStream::connect(addr).await.ok()?;
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .ok()?;
    let mut answer = [0u8; 1024];
    let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut answer))
        .await
        .ok()?
        .ok()?;
    String::from_utf8_lossy(&answer[..n])
        .starts_with("HTTP/1.1 200")
        .then_some(stream)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_connection_cap_fits_the_open_file_limit_so_chathub_stays_reachable() {
    let (_fake, api) = fake().await;
    // A hard limit of 256 under the default cap of 2048: the cap is
    // lowered to fit, with one warning.
    let server = Server::start_with_nofile(&api, &[], Some((256, 256))).await;
    let mut victim = served_connection(server.addr()).await.expect("served");
    // One client takes every connection the server accepts.
    let mut held = Vec::new();
    while let Some(conn) = served_connection(server.addr()).await {
        held.push(conn);
        assert!(held.len() < 400, "more connections than open files");
    }
    eprintln!(
        "open files 256: {} connections held, then the rest wait to be accepted",
        held.len()
    );
    // A connection already open still reaches ChatHub (a cold cache).
    victim
        .write_all(b"GET /api/chathub/token HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    let mut answer = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(30), victim.read(&mut answer))
        .await
        .expect("an answer")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer[..n]).into_owned();
    assert!(
        answer.starts_with("HTTP/1.1 200"),
        "with every connection taken, ChatHub was unreachable: {answer}"
    );
    let logs = server.logs();
    let warnings: Vec<&str> = logs
        .lines()
        .filter(|l| l.contains("open-file limit"))
        .collect();
    assert_eq!(warnings.len(), 1, "{logs}");
    assert!(warnings[0].contains("CHATHUB_MAX_CONNECTIONS"), "{logs}");
    assert!(!logs.contains("Too many open files"), "{logs}");
    drop(held);
    drop(server);

    // The soft limit is raised to the hard one at start-up.
    let raised = Server::start_with_nofile(&api, &[], Some((256, 4096))).await;
    assert_eq!(
        open_file_limit(raised.child.id()),
        4096,
        "{}",
        raised.logs()
    );
    assert!(
        !raised.logs().contains("open-file limit"),
        "{}",
        raised.logs()
    );
}

/// Connects from `ip` (any 127/8 address is loopback).
async fn connect_from(ip: &str, addr: SocketAddr) -> TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket
        .bind(SocketAddr::new(ip.parse().unwrap(), 0))
        .unwrap();
    socket.connect(addr).await.expect("connect")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_client_cannot_hold_more_than_its_share_of_connections() {
    let (_fake, api) = fake().await;
    let server = Server::start(
        &api,
        &[
            ("CHATHUB_MAX_CONNECTIONS_PER_CLIENT", "5"),
            ("CHATHUB_HEADER_READ_TIMEOUT", "2s"),
        ],
    )
    .await;
    let request = b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n";
    let mut held = Vec::new();
    for _ in 0..5 {
        let mut conn = connect_from("127.0.0.1", server.addr()).await;
        conn.write_all(request).await.unwrap();
        let mut answer = [0u8; 1024];
        let n = conn.read(&mut answer).await.unwrap();
        assert!(String::from_utf8_lossy(&answer[..n]).starts_with("HTTP/1.1 200"));
        held.push(conn);
    }
    // The sixth from the same address is refused at once, in the JSON shape.
    let mut sixth = connect_from("127.0.0.1", server.addr()).await;
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(30), sixth.read_to_end(&mut answer)).await;
    let (status, headers, body) = parse_answer(&String::from_utf8_lossy(&answer));
    assert_eq!(status, 503, "the sixth connection: {body:?}");
    assert_shaped(
        "the sixth connection",
        &headers,
        &body,
        "TOO_MANY_CONNECTIONS",
    );
    // Another client is served meanwhile.
    let mut other = connect_from("127.0.0.2", server.addr()).await;
    other.write_all(request).await.unwrap();
    let mut answer = [0u8; 1024];
    let n = other.read(&mut answer).await.unwrap();
    assert!(String::from_utf8_lossy(&answer[..n]).starts_with("HTTP/1.1 200"));
    // A slot freed is a slot again.
    drop(held.pop());
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let mut again = connect_from("127.0.0.1", server.addr()).await;
        again.write_all(request).await.unwrap();
        let mut answer = [0u8; 1024];
        let n = again.read(&mut answer).await.unwrap_or(0);
        if String::from_utf8_lossy(&answer[..n]).starts_with("HTTP/1.1 200") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the freed slot was never given back"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

// ------------------------------------------------- 10. the bearer secret

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bearer_secret_is_trimmed_and_the_scheme_is_case_insensitive() {
    let (_fake, api) = fake().await;
    let secret = "bearer-secret-0123456789";
    let padded = format!("  {secret} \n");
    let server = Server::start(
        &api,
        &[
            ("CHATHUB_AUTH", "bearer"),
            ("CHATHUB_AUTH_BEARER_SECRET", padded.as_str()),
        ],
    )
    .await;
    for (authorization, status) in [
        (format!("Bearer {secret}"), 200),
        (format!("bearer {secret}"), 200),
        (format!("BEARER  {secret} "), 200),
        (format!("Basic {secret}"), 401),
        (format!("Bearer {secret}x"), 401),
        (secret.to_owned(), 401),
    ] {
        let resp = client()
            .get(server.url("/api/chathub/token"))
            .header("authorization", &authorization)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), status, "{authorization:?}");
    }
}

// ------------------------------------------------- 11. minor: shutdown, 414

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flow_still_running_at_sigterm_is_not_logged_as_an_error() {
    let mut server = Server::start(
        &hanging_chathub().await,
        &[
            ("CHATHUB_REQUEST_TIMEOUT", "1s"),
            ("CHATHUB_SHUTDOWN_TIMEOUT", "2s"),
            ("CHATHUB_UPSTREAM_TIMEOUT", "60s"),
        ],
    )
    .await;
    // The request times out; its flow goes on, waiting on ChatHub.
    let (status, body) = get_token(&server.url("/api/chathub/token")).await;
    assert_eq!(status, 504, "{body}");
    server.sigterm();
    server.exited_within(Duration::from_secs(30)).await;
    let logs = server.logs();
    assert!(
        !logs.contains(" ERROR "),
        "shutdown logged an error: {logs}"
    );
}
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_uri_too_long_for_any_buffer_is_414_not_431() {
    let (_fake, api) = fake().await;
    let server = Server::start(&api, &[]).await;
    for size in [70_000, 200_000, 1_000_000] {
        let request = format!(
            "GET /api/chathub/token?{} HTTP/1.1\r\nhost: x\r\n\r\n",
            "a".repeat(size)
        );
        let (status, headers, body) = parse_answer(&raw(server.addr(), request.as_bytes()).await);
        assert_eq!(status, 414, "a {size}-byte URI: {body}");
        assert_shaped("a long URI", &headers, &body, "URI_TOO_LONG");
    }
    // A long header is still 431.
    let request = format!(
        "GET /api/chathub/token HTTP/1.1\r\nhost: x\r\ncookie: {}\r\n\r\n",
        "c".repeat(200_000)
    );
    let (status, _, body) = parse_answer(&raw(server.addr(), request.as_bytes()).await);
    assert_eq!(status, 431, "{body}");
}
