//! What guards the HTTP surface: the per-client rate limit (peer address or
//! a trusted proxy header), URI and header size limits, the request
//! timeout, `nosniff` everywhere. Every refusal is JSON `{code, message}`.

mod common;

use std::sync::Arc;
use std::time::Duration;

use axum::http::HeaderName;
use chathub_token_server::auth::AllowAll;
use chathub_token_server::fake_api::Fault;
use chathub_token_server::limits::{HttpOptions, Limits, RateLimit};
use common::*;

/// A budget of `burst` requests that refills once an hour.
fn rate(burst: u32, header: Option<&'static str>) -> RateLimit {
    RateLimit {
        period: Duration::from_secs(3600),
        burst,
        client_ip_header: header.map(HeaderName::from_static),
    }
}

async fn service(
    options: HttpOptions,
) -> (Arc<chathub_token_server::fake_api::FakeChatHub>, Service) {
    let (fake, api) = start_fake().await;
    let service = start_service_with_options(config(&api), Arc::new(AllowAll), &options).await;
    (fake, service)
}

async fn status_from(url: &str, forwarded_for: Option<&str>) -> reqwest::Response {
    let mut req = client().get(url);
    if let Some(ip) = forwarded_for {
        req = req.header("x-forwarded-for", format!("198.51.100.9, {ip}"));
    }
    req.send().await.expect("request")
}

fn assert_json_error(body: &serde_json::Value, code: &str) {
    assert_eq!(body["code"], code, "{body}");
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));
}

#[tokio::test]
async fn a_client_over_its_rate_gets_429_json_with_retry_after() {
    let (_fake, service) = service(HttpOptions {
        rate_limit: Some(rate(3, None)),
        ..HttpOptions::default()
    })
    .await;
    for _ in 0..3 {
        assert_eq!(status_from(&service.token_url(), None).await.status(), 200);
    }
    let refused = status_from(&service.token_url(), None).await;
    assert_eq!(refused.status(), 429);
    let after: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=3601).contains(&after), "{after}");
    assert_eq!(refused.headers()["cache-control"], "no-store");
    assert_eq!(refused.headers()["x-content-type-options"], "nosniff");
    assert_json_error(&refused.json().await.unwrap(), "RATE_LIMITED");
    // Only the token endpoint is limited.
    let health = client()
        .get(format!("{}/healthz", service.url))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    let metrics = scrape_metrics(&service.url).await;
    assert!(
        metrics.contains("chathub_rate_limited_requests_total 1"),
        "{metrics}"
    );
    assert!(metrics
        .contains("chathub_http_requests_total{route=\"/api/chathub/token\",status=\"429\"} 1"));
}

#[tokio::test]
async fn a_trusted_proxy_header_gives_each_client_its_own_budget() {
    let (_fake, service) = service(HttpOptions {
        rate_limit: Some(rate(2, Some("x-forwarded-for"))),
        ..HttpOptions::default()
    })
    .await;
    let url = service.token_url();
    for _ in 0..2 {
        assert_eq!(status_from(&url, Some("203.0.113.1")).await.status(), 200);
    }
    assert_eq!(status_from(&url, Some("203.0.113.1")).await.status(), 429);
    // Another client behind the same proxy has its own budget; the entry the
    // client itself wrote (198.51.100.9) does not count.
    assert_eq!(status_from(&url, Some("203.0.113.2")).await.status(), 200);
}

#[tokio::test]
async fn without_a_trusted_header_a_client_cannot_pick_its_own_budget() {
    let (_fake, service) = service(HttpOptions {
        rate_limit: Some(rate(2, None)),
        ..HttpOptions::default()
    })
    .await;
    let url = service.token_url();
    for ip in ["203.0.113.1", "203.0.113.2"] {
        assert_eq!(status_from(&url, Some(ip)).await.status(), 200);
    }
    assert_eq!(status_from(&url, Some("203.0.113.3")).await.status(), 429);
}

#[tokio::test]
async fn over_long_uris_and_header_sections_are_refused_with_json() {
    let (fake, service) = service(HttpOptions::default()).await;
    let long = format!("{}?org={}", service.token_url(), "a".repeat(3000));
    let resp = client().get(&long).send().await.unwrap();
    assert_eq!(resp.status(), 414);
    assert_eq!(resp.headers()["x-content-type-options"], "nosniff");
    assert_json_error(&resp.json().await.unwrap(), "URI_TOO_LONG");

    let resp = client()
        .get(service.token_url())
        .header("cookie", "c".repeat(20 * 1024))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 431);
    assert_json_error(&resp.json().await.unwrap(), "HEADERS_TOO_LARGE");
    assert_eq!(total_calls(&fake), 0, "a refused request reached ChatHub");
}

#[tokio::test]
async fn a_request_slower_than_the_timeout_gets_504_json_and_the_flow_goes_on() {
    let (fake, api) = start_fake().await;
    let options = HttpOptions {
        limits: Limits {
            request_timeout: Duration::from_millis(300),
            ..Limits::default()
        },
        ..HttpOptions::default()
    };
    let service = start_service_with_options(config(&api), Arc::new(AllowAll), &options).await;
    fake.set_fault(Fault {
        count: 1,
        endpoint: Some("get_token".into()),
        delay_ms: Some(1500),
        ..Fault::default()
    });
    let resp = client().get(service.token_url()).send().await.unwrap();
    assert_eq!(resp.status(), 504);
    assert_json_error(&resp.json().await.unwrap(), "REQUEST_TIMEOUT");
    // The flow was not cancelled with the request: its token is cached.
    wait_for("the flow to finish", || count(&fake, "validate_token") == 1).await;
    assert_eq!(get_token(&service.token_url()).await.0, 200);
    assert_eq!(count(&fake, "get_token"), 1);
}

#[tokio::test]
async fn every_answer_says_nosniff() {
    let (_fake, service) = service(HttpOptions::default()).await;
    for path in [
        "/api/chathub/token",
        "/api/chathub/token?org=nope",
        "/healthz",
        "/metrics",
        "/nothing-here",
    ] {
        let resp = client()
            .get(format!("{}{path}", service.url))
            .send()
            .await
            .unwrap();
        assert_eq!(
            resp.headers()["x-content-type-options"],
            "nosniff",
            "{path}"
        );
    }
}
