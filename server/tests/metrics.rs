//! `/metrics`: requests by route and status, cache outcomes, upstream calls
//! by step and result, renewals, seconds left per org; never a token or a
//! secret.

mod common;

use chathub_token_server::fake_api::{Fault, DEV_PASSWORD};
use common::*;

fn value(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no {series} in:\n{text}"))
}

#[tokio::test]
async fn metrics_count_requests_cache_outcomes_upstream_calls_and_renewals() {
    let (fake, _api, service) = start().await;
    let url = service.token_url();
    let (_, a) = get_token(&url).await;
    get_token(&url).await;
    get_token(&format!("{url}?org=nope")).await;
    fake.set_fault(Fault {
        count: 1,
        endpoint: Some("get_token".into()),
        status: Some(503),
        ..Fault::default()
    });
    get_token(&format!("{url}?org=support")).await;
    get_token(&format!("{url}?org=support")).await;

    let text = scrape_metrics(&service.url).await;
    for (series, expected) in [
        (
            "chathub_http_requests_total{route=\"/api/chathub/token\",status=\"200\"}",
            2.0,
        ),
        (
            "chathub_http_requests_total{route=\"/api/chathub/token\",status=\"404\"}",
            1.0,
        ),
        (
            "chathub_http_requests_total{route=\"/api/chathub/token\",status=\"502\"}",
            1.0,
        ),
        (
            "chathub_http_requests_total{route=\"/api/chathub/token\",status=\"503\"}",
            1.0,
        ),
        (
            "chathub_token_requests_total{org=\"sales\",result=\"miss\"}",
            1.0,
        ),
        (
            "chathub_token_requests_total{org=\"sales\",result=\"hit\"}",
            1.0,
        ),
        (
            "chathub_token_requests_total{org=\"sales\",result=\"stale\"}",
            0.0,
        ),
        (
            "chathub_token_requests_total{org=\"support\",result=\"fail_fast\"}",
            1.0,
        ),
        (
            "chathub_upstream_calls_total{step=\"company/get-token\",result=\"ok\"}",
            1.0,
        ),
        (
            "chathub_upstream_calls_total{step=\"operator/get-token\",result=\"ok\"}",
            1.0,
        ),
        (
            "chathub_upstream_calls_total{step=\"operator/get-token\",result=\"http_5xx\"}",
            1.0,
        ),
        (
            "chathub_upstream_calls_total{step=\"operator/validate-token\",result=\"ok\"}",
            1.0,
        ),
        (
            "chathub_token_renewals_total{org=\"sales\",trigger=\"request\",result=\"ok\"}",
            1.0,
        ),
        (
            "chathub_token_renewals_total{org=\"support\",trigger=\"request\",result=\"error\"}",
            1.0,
        ),
        ("chathub_token_seconds_left{org=\"support\"}", 0.0),
    ] {
        assert_eq!(value(&text, series), expected, "{series}");
    }
    let left = value(&text, "chathub_token_seconds_left{org=\"sales\"}");
    assert!((3500.0..=3600.0).contains(&left), "{left}");
    assert!(value(&text, "chathub_upstream_backoff_seconds{org=\"support\"}") > 0.0);

    // Never a token or a secret.
    let token = a["token"].as_str().unwrap();
    for (what, secret) in [
        ("the operator token", token),
        ("its signature", token.rsplit('.').next().unwrap()),
        ("the company password", DEV_PASSWORD),
        ("a JWT", "eyJ"),
    ] {
        assert!(!text.contains(secret), "{what} in /metrics");
    }
}
