//! The token service through a ChatHub outage, over HTTP against the fake:
//! a cached token keeps being served, an outage with an empty cache costs
//! one upstream call per backoff window, the company re-login backs off too,
//! and odd upstream answers cannot panic the flow.

mod common;

use std::sync::Arc;
use std::time::Duration;

use chathub_token_server::auth::AllowAll;
use chathub_token_server::config::parse_orgs;
use chathub_token_server::fake_api::Fault;
use common::*;
use serde_json::json;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

fn fail_everything(status: u16) -> Fault {
    Fault {
        count: 100_000,
        status: Some(status),
        ..Fault::default()
    }
}

/// Answer headers and JSON body.
async fn get_with_headers(url: &str) -> (u16, reqwest::header::HeaderMap, serde_json::Value) {
    let resp = client().get(url).send().await.expect("request");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = resp.json().await.unwrap_or(serde_json::Value::Null);
    (status, headers, body)
}

/// Sleeps until `before` ahead of the wall-clock time `at`.
async fn sleep_until_before(at: OffsetDateTime, before: Duration) {
    let wait = at - before - OffsetDateTime::now_utc();
    if let Ok(wait) = Duration::try_from(wait) {
        tokio::time::sleep(wait).await;
    }
}

fn retry_after(headers: &reqwest::header::HeaderMap) -> u64 {
    headers
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("a Retry-After in whole seconds")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_keeps_serving_the_cached_token_with_its_true_expiry() {
    let (fake, _api, service) = start().await;
    // 10 s tokens: renewed in the background after about 4.5 s, still served
    // while renewal fails until 1 s (10 %) is left.
    fake.set_token_lifetime(Some(Duration::from_secs(10)));
    let url = service.token_url();
    let (_, a) = get_token(&url).await;
    let expires = OffsetDateTime::parse(a["expiresAt"].as_str().unwrap(), &Rfc3339).unwrap();
    fake.set_fault(fail_everything(503));
    let before = count(&fake, "organization");
    wait_for("a failed background renewal", || {
        count(&fake, "organization") > before
    })
    .await;
    // Past its fresh half the token would be renewed, and renewal fails.
    sleep_until_before(expires, Duration::from_millis(4500)).await;

    let (status, headers, b) = get_with_headers(&url).await;
    assert_eq!(status, 200, "{b}");
    assert_eq!(b["token"], a["token"]);
    assert_eq!(b["expiresAt"], a["expiresAt"], "not its true expiry");
    assert!(retry_after(&headers) >= 1);
    assert!(
        OffsetDateTime::now_utc() < expires,
        "the machine was too slow to see the stale answer"
    );

    // Once less than the minimum is left, nothing valid is cached: an error
    // that says when to ask again.
    sleep_until_before(expires, Duration::from_millis(900)).await;
    let (status, headers, body) = get_with_headers(&url).await;
    assert!(matches!(status, 502 | 503), "{status} {body}");
    assert!(
        matches!(
            body["code"].as_str(),
            Some("UPSTREAM_ERROR" | "UPSTREAM_BACKOFF")
        ),
        "{body}"
    );
    assert!(retry_after(&headers) >= 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_concurrent_requests_in_an_outage_make_one_upstream_call() {
    let (fake, api) = start_fake().await;
    let mut cfg = config(&api);
    // A window longer than any test run: exactly one attempt is allowed.
    cfg.renewal.backoff_initial = Duration::from_secs(600);
    cfg.renewal.backoff_max = Duration::from_secs(600);
    let service = start_service_with(cfg, Arc::new(AllowAll), &[]).await;
    fake.set_fault(fail_everything(503));
    let url = service.token_url();
    let answers = futures::future::join_all((0..200).map(|_| {
        let url = url.clone();
        async move { get_with_headers(&url).await }
    }))
    .await;
    assert_eq!(total_calls(&fake), 1, "{:?}", fake.stats());
    for (status, headers, body) in &answers {
        let code = match status {
            502 => "UPSTREAM_ERROR",
            503 => "UPSTREAM_BACKOFF",
            _ => panic!("unexpected {status} {body}"),
        };
        assert_eq!(body["code"], code);
        assert!((600..=720).contains(&retry_after(headers)));
    }
    // Later requests fail at once, without touching the upstream.
    for _ in 0..50 {
        let (status, _, _) = get_with_headers(&url).await;
        assert_eq!(status, 503);
    }
    assert_eq!(total_calls(&fake), 1);
}

#[tokio::test]
async fn the_company_relogin_waits_for_the_backoff_window_too() {
    let (fake, api) = start_fake().await;
    let mut cfg = config(&api);
    cfg.orgs = parse_orgs(&[
        "sales=name:Sales".into(),
        "support=id:2".into(),
        "backup=id:1".into(),
    ])
    .unwrap();
    cfg.renewal.backoff_initial = Duration::from_secs(600);
    cfg.renewal.backoff_max = Duration::from_secs(600);
    let service = start_service_with(cfg, Arc::new(AllowAll), &[]).await;
    let url = service.token_url();
    assert_eq!(get_token(&format!("{url}?org=support")).await.0, 200);
    assert_eq!(count(&fake, "company_get_token"), 1);

    // ChatHub refuses the company token and its login endpoint is down.
    fake.revoke_company_tokens();
    fake.set_fault(Fault {
        count: 100,
        endpoint: Some("company_get_token".into()),
        status: Some(503),
        ..Fault::default()
    });
    let (status, headers, body) = get_with_headers(&url).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (502, Some("UPSTREAM_ERROR"))
    );
    assert!(retry_after(&headers) >= 600);
    assert_eq!(count(&fake, "company_get_token"), 2);
    // Another org's flow needs a company token too, but inside the window
    // it gets the login's failure without a call.
    let calls = total_calls(&fake);
    let (status, _, body) = get_with_headers(&format!("{url}?org=backup")).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (502, Some("UPSTREAM_ERROR"))
    );
    assert_eq!(total_calls(&fake), calls);
    // The org that still holds a valid token keeps serving it.
    assert_eq!(get_token(&format!("{url}?org=support")).await.0, 200);
}

#[tokio::test]
async fn a_company_token_whose_exp_is_at_the_edge_of_time_does_not_panic_the_flow() {
    // A ChatHub whose company JWT carries the earliest `exp` a date can hold.
    let company = jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &json!({ "exp": -377_705_116_800_i64 }),
        &jsonwebtoken::EncodingKey::from_secret(b"any"),
    )
    .unwrap();
    let api = mock_chathub(move || company.clone(), Arc::default(), &[]);
    let api = serve(api).await;
    let service = start_service_with(config(&api), Arc::new(AllowAll), &[]).await;
    // Before the fix, `exp - 60 s` overflowed and panicked inside the flow.
    let (status, body) = get_token(&service.token_url()).await;
    assert_eq!(status, 200, "{body}");
    service.cache.clear();
    let (status, body) = get_token(&service.token_url()).await;
    assert_eq!(status, 200, "{body}");
}
