//! The binary: one-line start-up errors, no secrets in `--help` or logs,
//! graceful shutdown, dev mode stays on loopback.

mod common;

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use chathub_token_server::fake_api::FakeChatHub;
use common::*;

const BIN: &str = env!("CARGO_BIN_EXE_chathub-token-server");
const PASSWORD: &str = "company-PASSWORD-s3cr3t-4471";
const BEARER: &str = "bearer-SECRET-9f8e7d6c5b4a";

/// A command with a clean environment plus `vars`.
fn cmd(args: &[&str], vars: &[(&str, &str)]) -> Command {
    let mut c = Command::new(BIN);
    c.args(args).env_clear().env("NO_COLOR", "1");
    for (k, v) in vars {
        c.env(k, v);
    }
    c
}

fn good_env() -> Vec<(&'static str, &'static str)> {
    vec![
        ("CHATHUB_API_URL", "http://127.0.0.1:9"),
        ("CHATHUB_LOGIN", "dev-company"),
        ("CHATHUB_PASSWORD", PASSWORD),
        ("CHATHUB_ORGS", "sales=name:Sales"),
        ("CHATHUB_AUTH", "bearer"),
        ("CHATHUB_AUTH_BEARER_SECRET", BEARER),
        ("CHATHUB_BIND", "127.0.0.1:0"),
    ]
}

/// Runs the binary with `good_env()` changed by `change`; expects a start-up
/// failure and returns its stderr.
fn startup_error(change: &[(&str, Option<&str>)]) -> String {
    let mut vars = good_env();
    for (k, v) in change {
        vars.retain(|(name, _)| name != k);
        if let Some(v) = v {
            vars.push((k, v));
        }
    }
    let mut child = cmd(&[], &vars)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run the binary");
    // A setting that is accepted starts the service, which would run on:
    // a failure, not a hang.
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break Some(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stderr = String::new();
    let _ = child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut stderr);
    let status = status.unwrap_or_else(|| panic!("{change:?} was accepted: {stderr}"));
    assert_eq!(
        status.code(),
        Some(2),
        "expected a start-up error, got {status:?}: {stderr}"
    );
    stderr
}

/// Variables to set (`Some`) or remove (`None`).
type Change<'a> = &'a [(&'a str, Option<&'a str>)];

#[test]
fn bad_configuration_stops_start_up_with_one_line_naming_the_setting() {
    let cases: &[(Change, &str)] = &[
        (&[("CHATHUB_LOGIN", None)], "CHATHUB_LOGIN"),
        (&[("CHATHUB_PASSWORD", None)], "CHATHUB_PASSWORD"),
        (&[("CHATHUB_ORGS", None)], "CHATHUB_ORGS"),
        (&[("CHATHUB_ORGS", Some("sales"))], "CHATHUB_ORGS"),
        (
            &[("CHATHUB_API_URL", Some("chatapi.smsbat.com"))],
            "CHATHUB_API_URL",
        ),
        (&[("CHATHUB_TOKEN_TTL", Some("25h"))], "CHATHUB_TOKEN_TTL"),
        (&[("CHATHUB_TOKEN_TTL", Some("soon"))], "CHATHUB_TOKEN_TTL"),
        (
            &[("CHATHUB_DEFAULT_ORG", Some("support"))],
            "CHATHUB_DEFAULT_ORG",
        ),
        (
            &[("CHATHUB_OPERATORS", Some("support=7"))],
            "CHATHUB_OPERATORS",
        ),
        (&[("CHATHUB_AUTH", None)], "CHATHUB_AUTH"),
        (&[("CHATHUB_AUTH", Some("magic"))], "CHATHUB_AUTH"),
        (
            &[("CHATHUB_AUTH", Some("none"))],
            "CHATHUB_ALLOW_UNAUTHENTICATED",
        ),
        (
            &[("CHATHUB_AUTH_BEARER_SECRET", None)],
            "CHATHUB_AUTH_BEARER_SECRET",
        ),
        (
            &[("CHATHUB_ALLOWED_ORIGINS", Some("https://a.example/path"))],
            "CHATHUB_ALLOWED_ORIGINS",
        ),
        (&[("CHATHUB_BIND", Some("everywhere"))], "CHATHUB_BIND"),
        (
            &[
                ("CHATHUB_PASSWORD", None),
                ("CHATHUB_PASSWORD_FILE", Some("/nonexistent/pw")),
            ],
            "CHATHUB_PASSWORD_FILE",
        ),
        (
            &[("CHATHUB_RATE_LIMIT", Some("fast"))],
            "CHATHUB_RATE_LIMIT",
        ),
        (
            &[("CHATHUB_RATE_LIMIT_BURST", Some("0"))],
            "CHATHUB_RATE_LIMIT_BURST",
        ),
        (
            &[("CHATHUB_CLIENT_IP_HEADER", Some("not a header"))],
            "CHATHUB_CLIENT_IP_HEADER",
        ),
        (
            &[("CHATHUB_REFRESH_AHEAD", Some("99%"))],
            "CHATHUB_REFRESH_AHEAD",
        ),
        // Accepted before, yet renewal happened at 74 % all the same.
        (
            &[("CHATHUB_REFRESH_AHEAD", Some("90%"))],
            "CHATHUB_REFRESH_AHEAD",
        ),
        (
            &[
                ("CHATHUB_REQUEST_TIMEOUT", Some("30s")),
                ("CHATHUB_SHUTDOWN_TIMEOUT", Some("15s")),
            ],
            "CHATHUB_SHUTDOWN_TIMEOUT",
        ),
        (
            &[("CHATHUB_HEADER_READ_TIMEOUT", Some("0s"))],
            "CHATHUB_HEADER_READ_TIMEOUT",
        ),
        (
            &[("CHATHUB_MAX_CONNECTIONS", Some("many"))],
            "CHATHUB_MAX_CONNECTIONS",
        ),
        // Far past what an instant can hold: every connection panicked.
        (
            &[("CHATHUB_IDLE_TIMEOUT", Some("200000000000000d"))],
            "CHATHUB_IDLE_TIMEOUT",
        ),
        (
            &[("CHATHUB_METRICS_BIND", Some("elsewhere"))],
            "CHATHUB_METRICS_BIND",
        ),
        (
            &[("CHATHUB_ALLOWED_ORIGINS", Some("*"))],
            "CHATHUB_ALLOWED_ORIGINS",
        ),
        (
            &[("CHATHUB_MIN_TOKEN_LEFT", Some("soon"))],
            "CHATHUB_MIN_TOKEN_LEFT",
        ),
        (
            &[("CHATHUB_BACKOFF_MAX", Some("10ms"))],
            "CHATHUB_BACKOFF_MAX",
        ),
        (
            &[("CHATHUB_MAX_URI_BYTES", Some("0"))],
            "CHATHUB_MAX_URI_BYTES",
        ),
        (
            &[("CHATHUB_REQUEST_TIMEOUT", Some("0s"))],
            "CHATHUB_REQUEST_TIMEOUT",
        ),
        (&[("CHATHUB_LOG_FORMAT", Some("xml"))], "CHATHUB_LOG_FORMAT"),
        // Accepted before: hyper's head buffer (4x) let 4 clients hold 1.5 GB.
        (
            &[("CHATHUB_MAX_HEADER_BYTES", Some("4000000000"))],
            "CHATHUB_MAX_HEADER_BYTES",
        ),
        (
            &[("CHATHUB_MAX_HEADER_BYTES", Some("100"))],
            "CHATHUB_MAX_HEADER_BYTES",
        ),
        // Accepted before, and then every request, /healthz too, was refused.
        (
            &[("CHATHUB_MAX_URI_BYTES", Some("1"))],
            "CHATHUB_MAX_URI_BYTES",
        ),
        (
            &[("CHATHUB_MAX_URI_BYTES", Some("10000000"))],
            "CHATHUB_MAX_URI_BYTES",
        ),
        (&[("CHATHUB_MAX_HEADERS", Some("2"))], "CHATHUB_MAX_HEADERS"),
        (
            &[("CHATHUB_MAX_HEADERS", Some("4000000000"))],
            "CHATHUB_MAX_HEADERS",
        ),
        (
            &[("CHATHUB_MAX_CONNECTIONS", Some("4000000000"))],
            "CHATHUB_MAX_CONNECTIONS",
        ),
        (
            &[("CHATHUB_MAX_CONNECTIONS_PER_CLIENT", Some("many"))],
            "CHATHUB_MAX_CONNECTIONS_PER_CLIENT",
        ),
        (
            &[("CHATHUB_BACKOFF_MAX", Some("100000d"))],
            "CHATHUB_BACKOFF_MAX",
        ),
        (
            &[
                ("CHATHUB_BACKOFF_INITIAL", Some("2d")),
                ("CHATHUB_BACKOFF_MAX", Some("2d")),
            ],
            "CHATHUB_BACKOFF_INITIAL",
        ),
        // RFC 7239's `for=` was parsed as an address and never matched.
        (
            &[("CHATHUB_CLIENT_IP_HEADER", Some("Forwarded"))],
            "CHATHUB_CLIENT_IP_HEADER",
        ),
        (
            &[("CHATHUB_AUTH_BEARER_SECRET", Some("short"))],
            "CHATHUB_AUTH_BEARER_SECRET",
        ),
        (
            &[("CHATHUB_AUTH_BEARER_SECRET", Some("   \t "))],
            "CHATHUB_AUTH_BEARER_SECRET",
        ),
        // The company password would travel in clear.
        (
            &[("CHATHUB_API_URL", Some("http://chatapi.example.com"))],
            "CHATHUB_API_URL",
        ),
    ];
    for (change, setting) in cases {
        let stderr = startup_error(change);
        let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
        assert_eq!(
            lines.len(),
            1,
            "{setting}: expected one line, got: {stderr}"
        );
        assert!(
            lines[0].contains(setting),
            "{setting} not named in: {stderr}"
        );
        assert!(
            !stderr.contains(PASSWORD) && !stderr.contains(BEARER),
            "a secret leaked: {stderr}"
        );
    }
}

#[test]
fn help_never_shows_secrets() {
    for args in [&["--help"][..], &["serve", "--help"], &["dev", "--help"]] {
        let out = cmd(args, &good_env()).output().unwrap();
        assert!(out.status.success());
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(!text.contains(PASSWORD), "password in {args:?} help");
        assert!(!text.contains(BEARER), "bearer secret in {args:?} help");
    }
    let out = cmd(&["--help"], &[]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("CHATHUB_PASSWORD"),
        "help should say where the password comes from"
    );
}

#[test]
fn dev_mode_refuses_a_non_loopback_address() {
    let out = cmd(&["dev", "--host", "0.0.0.0", "--port", "0"], &[])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--allow-non-loopback"), "{stderr}");
}

#[test]
fn dev_mode_refuses_a_site_folder_that_is_not_there() {
    let missing = std::env::temp_dir().join(format!("chathub-no-site-{}", std::process::id()));
    let file = std::env::temp_dir().join(format!("chathub-site-file-{}", std::process::id()));
    std::fs::write(&file, "not a folder").unwrap();
    for (path, says) in [(&missing, "does not exist"), (&file, "not a folder")] {
        let out = cmd(
            &["dev", "--port", "0", "--www", path.to_str().unwrap()],
            &[],
        )
        .output()
        .unwrap();
        assert_eq!(out.status.code(), Some(2), "{path:?} was accepted");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("--www")
                && stderr.contains(says)
                && stderr.contains(path.to_str().unwrap()),
            "{stderr}"
        );
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// What the binary did in [`run_service`].
struct Run {
    /// Everything it wrote to stdout and stderr.
    logs: String,
    /// The operator tokens it handed out.
    tokens: Vec<String>,
    /// Its `/metrics` at the end.
    metrics: String,
}

/// Runs the service with `args` through the flow, a refused request, a
/// company re-login and an upstream failure, scrapes `/metrics`, then stops
/// it with SIGTERM (which must exit 0).
async fn run_service(args: &[&str]) -> Run {
    let fake = std::sync::Arc::new(FakeChatHub::with_credentials("acme", PASSWORD));
    let api = serve(fake.clone().router()).await;
    let port = free_port();
    let bind = format!("127.0.0.1:{port}");
    let mut vars = good_env();
    vars.retain(|(k, _)| {
        !matches!(
            *k,
            "CHATHUB_API_URL" | "CHATHUB_LOGIN" | "CHATHUB_BIND" | "CHATHUB_ORGS"
        )
    });
    vars.extend([
        ("CHATHUB_API_URL", api.as_str()),
        ("CHATHUB_LOGIN", "acme"),
        ("CHATHUB_BIND", bind.as_str()),
        ("CHATHUB_ORGS", "sales=name:Sales,support=id:2,broken=id:1"),
        ("CHATHUB_UPSTREAM_TIMEOUT", "1s"),
        ("RUST_LOG", "debug"),
    ]);
    let mut child = cmd(args, &vars)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();

    let base = format!("http://{bind}");
    let deadline = Instant::now() + Duration::from_secs(10);
    while client()
        .get(format!("{base}/healthz"))
        .send()
        .await
        .is_err()
    {
        assert!(Instant::now() < deadline, "the service did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let url = format!("{base}/api/chathub/token");
    let http = client();
    let mut tokens = Vec::new();
    // The flow, a refused request, a company re-login, an upstream failure.
    let a: serde_json::Value = http.get(&url).bearer_auth(BEARER).send_json().await;
    tokens.push(a["token"].as_str().unwrap().to_owned());
    assert_eq!(
        http.get(&url)
            .bearer_auth("wrong")
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    fake.revoke_company_tokens();
    let b: serde_json::Value = http
        .get(format!("{url}?org=support"))
        .bearer_auth(BEARER)
        .send_json()
        .await;
    tokens.push(b["token"].as_str().unwrap().to_owned());
    assert_eq!(count(&fake, "company_get_token"), 2);
    fake.set_fault(chathub_token_server::fake_api::Fault {
        count: 1,
        status: Some(500),
        ..Default::default()
    });
    let resp = http
        .get(format!("{url}?org=broken"))
        .bearer_auth(BEARER)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 502);
    let metrics = scrape_metrics(&base).await;

    // SIGTERM: a graceful stop with exit code 0.
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "no exit after SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "exit after SIGTERM: {status:?}");

    let mut logs = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut logs)
        .unwrap();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut logs)
        .unwrap();
    Run {
        logs,
        tokens,
        metrics,
    }
}

/// None of the run's tokens, nor a secret, appears in `text`.
fn assert_no_secret(what: &str, text: &str, tokens: &[String]) {
    assert!(
        !text.contains(PASSWORD),
        "the company password is in {what}"
    );
    assert!(!text.contains(BEARER), "the bearer secret is in {what}");
    assert!(!text.contains("wrong"), "a client credential is in {what}");
    for t in tokens {
        assert!(!text.contains(t.as_str()), "an operator token is in {what}");
        let signature = t.rsplit('.').next().unwrap_or_default();
        assert!(!text.contains(signature), "a token signature is in {what}");
    }
    assert!(!text.contains("eyJ"), "a JWT is in {what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_reaches_the_logs_or_metrics_and_sigterm_stops_the_service() {
    let run = run_service(&[]).await;
    assert!(
        run.logs.contains("logging in again"),
        "the re-login was not logged: {}",
        run.logs
    );
    assert!(
        run.logs.contains("HTTP 500"),
        "the upstream failure was not logged"
    );
    assert!(run
        .metrics
        .contains("chathub_http_requests_total{route=\"/api/chathub/token\",status=\"401\"} 1"));
    assert_no_secret("the logs", &run.logs, &run.tokens);
    assert_no_secret("/metrics", &run.metrics, &run.tokens);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_are_one_object_per_line_without_secrets() {
    let run = run_service(&["--log-format", "json"]).await;
    let mut messages = Vec::new();
    for line in run.logs.lines().filter(|l| !l.trim().is_empty()) {
        let entry: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"));
        assert!(
            entry["timestamp"].is_string() && entry["level"].is_string(),
            "{line}"
        );
        if let Some(m) = entry["fields"]["message"].as_str() {
            messages.push(m.to_owned());
        }
    }
    for expected in [
        "chathub-token-server listening",
        "company token refused; logging in again",
        "no new operator token from ChatHub",
    ] {
        assert!(
            messages.iter().any(|m| m == expected),
            "no {expected:?} in {messages:?}"
        );
    }
    assert_no_secret("the JSON logs", &run.logs, &run.tokens);
}
