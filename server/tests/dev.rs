//! Dev mode on one port: token endpoint wired to the fake, stand-in widget,
//! demo files with browser content types, admin knobs.

mod common;

use std::path::PathBuf;

use chathub_token_server::dev::{dev_app, DevOptions};
use common::*;
use serde_json::json;

fn temp_dirs(name: &str) -> (PathBuf, PathBuf) {
    let base = std::env::temp_dir().join(format!("chathub-dev-test-{name}-{}", std::process::id()));
    let (www, pkg) = (base.join("www"), base.join("pkg"));
    std::fs::create_dir_all(&www).unwrap();
    std::fs::create_dir_all(&pkg).unwrap();
    std::fs::write(www.join("index.html"), "<!doctype html><title>demo</title>").unwrap();
    std::fs::write(www.join("demo.js"), "export {};").unwrap();
    // A page as static site generators build it (Astro: `about/index.html`),
    // and a file beside the root that must never be served.
    std::fs::create_dir_all(www.join("about")).unwrap();
    std::fs::write(
        www.join("about/index.html"),
        "<!doctype html><title>about</title>",
    )
    .unwrap();
    std::fs::write(base.join("secret.txt"), "secret").unwrap();
    std::fs::write(pkg.join("chathub_loader.js"), "export default 1;").unwrap();
    std::fs::write(pkg.join("chathub_loader_bg.wasm"), b"\0asm\x01\0\0\0").unwrap();
    (www, pkg)
}

/// The dev app on a loopback port: its base URL.
async fn start_dev(name: &str) -> String {
    let (www_dir, pkg_dir) = temp_dirs(name);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let app = dev_app(
        &url,
        DevOptions {
            www_dir,
            pkg_dir,
            ..DevOptions::default()
        },
    )
    .unwrap();
    tokio::spawn(async move { axum::serve(listener, app.router).await.unwrap() });
    url
}

async fn header(url: &str, name: &str) -> (u16, String) {
    let resp = client().get(url).send().await.unwrap();
    let value = resp
        .headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (resp.status().as_u16(), value)
}

#[tokio::test]
async fn serves_the_page_pkg_and_widget_with_browser_content_types() {
    let url = start_dev("types").await;
    assert_eq!(
        header(&format!("{url}/"), "content-type").await,
        (200, "text/html; charset=utf-8".into())
    );
    let (status, ct) = header(&format!("{url}/pkg/chathub_loader.js"), "content-type").await;
    assert_eq!((status, ct.starts_with("text/javascript")), (200, true));
    assert_eq!(
        header(&format!("{url}/pkg/chathub_loader_bg.wasm"), "content-type").await,
        (200, "application/wasm".into())
    );
    let (status, ct) = header(&format!("{url}/demo.js"), "content-type").await;
    assert_eq!((status, ct.starts_with("text/javascript")), (200, true));
    let (status, ct) = header(
        &format!("{url}/operator-chat-panel/widget-script.js?chathub_v=3"),
        "content-type",
    )
    .await;
    assert_eq!((status, ct.starts_with("text/javascript")), (200, true));
    assert_eq!(
        header(&format!("{url}/pkg/..%2F..%2Fetc%2Fpasswd"), "content-type")
            .await
            .0,
        404
    );
    assert_eq!(
        header(&format!("{url}/missing.js"), "content-type").await.0,
        404
    );
    assert_eq!(
        header(&format!("{url}/healthz"), "content-type").await.0,
        200
    );
}

#[tokio::test]
async fn a_directory_is_its_index_html_and_without_its_slash_redirects_to_it() {
    let url = start_dev("index").await;
    // A browser (reqwest follows redirects too) lands on the page.
    let resp = client()
        .get(format!("{url}/about?lang=en"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.url().as_str(), format!("{url}/about/?lang=en"));
    assert!(resp.text().await.unwrap().contains("<title>about</title>"));
    // The redirect itself: temporary (a browser keeps no permanent one for
    // localhost:PORT), to the directory with its slash.
    let addr = url.trim_start_matches("http://").parse().unwrap();
    let get =
        |path: &str| format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    let (status, headers, _) = parse_answer(&raw(addr, get("/about").as_bytes()).await);
    assert_eq!(status, 307);
    assert_eq!(headers.get("location").unwrap(), "/about/");
    let (status, headers, body) = parse_answer(&raw(addr, get("/about/").as_bytes()).await);
    assert_eq!((status, body.contains("<title>about</title>")), (200, true));
    assert!(headers
        .get("content-type")
        .unwrap()
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    // Nothing outside the root, however the path is spelled.
    for path in [
        "/../secret.txt",
        "/%2e%2e/secret.txt",
        "/about/..%2F..%2Fsecret.txt",
        "/about/%2E%2E/%2E%2E/secret.txt",
        "/..%5Csecret.txt",
    ] {
        let answer = raw(addr, get(path).as_bytes()).await;
        let (status, _, body) = parse_answer(&answer);
        assert_eq!(status, 404, "{path}: {answer}");
        assert!(!body.contains("secret"), "{path}: {answer}");
    }
}

#[tokio::test]
async fn the_token_endpoint_uses_the_in_process_fake_and_admin_knobs_steer_it() {
    let url = start_dev("knobs").await;
    let http = client();
    let token_url = format!("{url}/api/chathub/token");
    let (status, a) = get_token(&token_url).await;
    assert_eq!(status, 200);
    let who = session(&format!("{url}/fake-chathub"), a["token"].as_str().unwrap()).await;
    assert_eq!(who["operator"]["name"], "Marta Kovalenko");

    let stats: serde_json::Value = http.get(format!("{url}/dev/admin/stats")).send_json().await;
    assert_eq!(stats["get_token"], 1);

    // Break: every ChatHub call fails; flushing the cache makes it visible.
    let post = |path: &str, body: serde_json::Value| {
        http.post(format!("{url}/dev/admin/{path}"))
            .json(&body)
            .send()
    };
    assert_eq!(
        post("fail", json!({ "count": 100, "status": 503 }))
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        post("flush-token-cache", json!({})).await.unwrap().status(),
        200
    );
    assert_eq!(get_token(&token_url).await.0, 502);
    assert_eq!(post("recover", json!({})).await.unwrap().status(), 200);
    let (status, b) = get_token(&token_url).await;
    assert_eq!(status, 200);
    assert_ne!(a["token"], b["token"]);

    // Short lifetimes.
    post("token-lifetime", json!({ "seconds": 30 }))
        .await
        .unwrap();
    let (_, c) = get_token(&token_url).await;
    let exp = time::OffsetDateTime::parse(
        c["expiresAt"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    assert!((exp - time::OffsetDateTime::now_utc()).whole_seconds() <= 30);

    // Bad knob input is a 400, not a panic.
    assert_eq!(
        post("fail", json!({ "count": 1 })).await.unwrap().status(),
        400
    );
    assert_eq!(
        post("fail", json!({ "status": 42 }))
            .await
            .unwrap()
            .status(),
        400
    );
    assert_eq!(
        post("token-lifetime", json!({ "seconds": "x" }))
            .await
            .unwrap()
            .status(),
        400
    );

    // A cross-site form post (no JSON content type) cannot pull the knobs.
    let form = http
        .post(format!("{url}/dev/admin/fail"))
        .header("content-type", "text/plain")
        .body(r#"{"count":1,"status":500}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), 415);

    assert_eq!(post("reset", json!({})).await.unwrap().status(), 200);
    let stats: serde_json::Value = http.get(format!("{url}/dev/admin/stats")).send_json().await;
    assert_eq!(stats["get_token"], 0);
}

#[tokio::test]
async fn dev_mode_answers_only_requests_addressed_to_a_loopback_name() {
    let url = start_dev("hosts").await;
    let port = url.rsplit(':').next().unwrap().to_owned();
    let http = client();
    let with_host =
        |path: &str, host: String| http.get(format!("{url}{path}")).header("host", host).send();
    // A page on another site whose DNS name points at 127.0.0.1 (DNS
    // rebinding) reaches the same socket with its own name as Host.
    for path in [
        "/dev/admin/stats",
        "/api/chathub/token",
        "/",
        "/fake-chathub/api/company/organization",
    ] {
        for host in [
            format!("evil.example:{port}"),
            "evil.example".into(),
            format!("127.0.0.1.nip.io:{port}"),
        ] {
            let resp = with_host(path, host.clone()).await.unwrap();
            assert_eq!(resp.status(), 403, "{path} for {host}");
            let body: serde_json::Value = resp.json().await.unwrap();
            assert_eq!(body["code"], "DEV_HOST_REFUSED");
            assert!(body["message"].as_str().unwrap().contains("127.0.0.1"));
        }
    }
    for host in [
        format!("127.0.0.1:{port}"),
        format!("localhost:{port}"),
        "localhost".into(),
        format!("[::1]:{port}"),
    ] {
        let resp = with_host("/dev/admin/stats", host.clone()).await.unwrap();
        assert_eq!(resp.status(), 200, "{host}");
    }
}

#[tokio::test]
async fn the_chaos_knob_fails_a_share_of_calls_until_recovered() {
    let url = start_dev("chaos").await;
    let http = client();
    let post = |path: &str, body: serde_json::Value| {
        http.post(format!("{url}/dev/admin/{path}"))
            .json(&body)
            .send()
    };
    let state: serde_json::Value = post("chaos", json!({ "failPercent": 100 }))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(state["chaos"]["failPercent"], 100.0);
    assert_eq!(state["chaos"]["status"], 503);
    let organizations = format!("{url}/fake-chathub/api/company/organization");
    assert_eq!(http.get(&organizations).send().await.unwrap().status(), 503);
    let token_url = format!("{url}/api/chathub/token");
    assert_eq!(get_token(&token_url).await.0, 502);
    assert_eq!(
        get_token(&token_url).await.0,
        503,
        "no backoff after a failure"
    );
    // The widget's own session check is never broken by chaos.
    let session = http
        .get(format!("{url}/fake-chathub/api/widget/session"))
        .send()
        .await
        .unwrap();
    assert_eq!(session.status(), 401);

    for bad in [
        json!({ "failPercent": 101 }),
        json!({ "failPercent": 60, "hangPercent": 50 }),
        json!({ "failPercent": 10, "status": 42 }),
        json!({ "failPercent": "many" }),
    ] {
        assert_eq!(
            post("chaos", bad.clone()).await.unwrap().status(),
            400,
            "{bad}"
        );
    }

    let state: serde_json::Value = post("recover", json!({}))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(state["chaos"].is_null());
    // Recover also ends the token endpoint's backoff: the next request works.
    let (status, _) = get_token(&token_url).await;
    assert_eq!(status, 200);
}
