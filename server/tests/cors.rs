//! CORS only for the configured origins.

mod common;

use std::sync::Arc;

use chathub_token_server::auth::AllowAll;
use common::*;

const ALLOWED: &str = "https://shop.example.com";

async fn service(origins: &[String]) -> Service {
    let (_fake, api) = start_fake().await;
    start_service_with(config(&api), Arc::new(AllowAll), origins).await
}

/// GET the token endpoint as a page on `origin` would.
async fn get_from(service: &Service, origin: &str) -> reqwest::Response {
    client()
        .get(service.token_url())
        .header("origin", origin)
        .send()
        .await
        .expect("request")
}

#[tokio::test]
async fn an_allowed_origin_may_read_the_token() {
    let service = service(&[ALLOWED.to_owned()]).await;
    let resp = get_from(&service, ALLOWED).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["access-control-allow-origin"], ALLOWED);
    assert_eq!(resp.headers()["access-control-allow-credentials"], "true");
}

#[tokio::test]
async fn other_origins_get_no_cors_headers() {
    let service = service(&[ALLOWED.to_owned()]).await;
    for origin in [
        "https://evil.example.com",
        "https://shop.example.com.evil.io",
        "null",
    ] {
        let resp = get_from(&service, origin).await;
        assert!(
            resp.headers().get("access-control-allow-origin").is_none(),
            "{origin} was allowed"
        );
    }
}

#[tokio::test]
async fn preflight_is_answered_for_allowed_origins_only() {
    let service = service(&[ALLOWED.to_owned()]).await;
    let preflight = |origin: &'static str| {
        client()
            .request(reqwest::Method::OPTIONS, service.token_url())
            .header("origin", origin)
            .header("access-control-request-method", "GET")
            .header("access-control-request-headers", "authorization")
            .send()
    };
    let ok = preflight(ALLOWED).await.unwrap();
    assert!(ok.status().is_success());
    assert_eq!(ok.headers()["access-control-allow-origin"], ALLOWED);
    let methods = ok.headers()["access-control-allow-methods"]
        .to_str()
        .unwrap();
    assert!(methods.contains("GET"));
    let headers = ok.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_lowercase();
    assert!(headers.contains("authorization"));

    let refused = preflight("https://evil.example.com").await.unwrap();
    assert!(refused
        .headers()
        .get("access-control-allow-origin")
        .is_none());
}

#[tokio::test]
async fn without_configured_origins_there_is_no_cors() {
    let service = service(&[]).await;
    let resp = get_from(&service, ALLOWED).await;
    assert_eq!(resp.status(), 200);
    assert!(resp.headers().get("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn the_token_answer_exposes_date_and_retry_after_and_varies_on_origin() {
    let service = service(&[ALLOWED.to_owned()]).await;
    let resp = get_from(&service, ALLOWED).await;
    assert_eq!(resp.status(), 200);
    let headers = resp.headers();
    let exposed = headers["access-control-expose-headers"]
        .to_str()
        .unwrap()
        .to_lowercase();
    for name in ["date", "retry-after"] {
        assert!(exposed.contains(name), "{name} not exposed: {exposed}");
    }
    assert!(headers.contains_key("date"));
    assert!(varies_on_origin(headers), "{headers:?}");
    assert_eq!(headers["x-content-type-options"], "nosniff");
}

#[tokio::test]
async fn a_rate_limited_answer_is_readable_cross_origin() {
    use chathub_token_server::limits::{HttpOptions, RateLimit};
    let (_fake, api) = start_fake().await;
    let options = HttpOptions {
        allowed_origins: vec![ALLOWED.to_owned()],
        rate_limit: Some(RateLimit {
            period: std::time::Duration::from_secs(3600),
            burst: 1,
            client_ip_header: None,
        }),
        ..HttpOptions::default()
    };
    let service = start_service_with_options(config(&api), Arc::new(AllowAll), &options).await;
    assert_eq!(get_from(&service, ALLOWED).await.status(), 200);
    let refused = get_from(&service, ALLOWED).await;
    assert_eq!(refused.status(), 429);
    assert_eq!(refused.headers()["access-control-allow-origin"], ALLOWED);
    assert!(refused.headers()["access-control-expose-headers"]
        .to_str()
        .unwrap()
        .to_lowercase()
        .contains("retry-after"));
}
