//! The whole upstream flow against the fake ChatHub: caching, renewal,
//! single flight, company re-login, and how upstream failures look.

mod common;

use std::sync::Arc;
use std::time::Duration;

use chathub_token_server::auth::AllowAll;
use chathub_token_server::config::apply_operators;
use chathub_token_server::fake_api::{Fault, UPSTREAM_ERROR_MARKER};
use common::*;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

fn fault(
    endpoint: Option<&str>,
    status: Option<u16>,
    delay_ms: Option<u64>,
    drop: bool,
    count: u32,
) -> Fault {
    Fault {
        count,
        endpoint: endpoint.map(str::to_owned),
        status,
        delay_ms,
        drop,
    }
}

#[tokio::test]
async fn serves_a_validated_token_for_the_default_org() {
    let (fake, api, service) = start().await;
    let resp = client().get(service.token_url()).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["cache-control"], "no-store");
    let body: serde_json::Value = resp.json().await.unwrap();
    let token = body["token"].as_str().unwrap();
    assert_eq!(token.split('.').count(), 3);

    let expires = OffsetDateTime::parse(body["expiresAt"].as_str().unwrap(), &Rfc3339).unwrap();
    let ahead = (expires - OffsetDateTime::now_utc()).whole_seconds();
    assert!(
        (3590..=3600).contains(&ahead),
        "expiresAt is {ahead}s ahead"
    );

    // company token → organisations → operators → operator token → validate
    for endpoint in [
        "company_get_token",
        "organization",
        "operators",
        "get_token",
        "validate_token",
    ] {
        assert_eq!(count(&fake, endpoint), 1, "{endpoint}");
    }
    // The first *active* operator of "Sales" (101 is inactive).
    let who = session(&api, token).await;
    assert_eq!(who["operator"]["name"], "Marta Kovalenko");
    assert_eq!(who["organization"]["name"], "Sales");
}

#[tokio::test]
async fn org_query_selects_a_configured_org_and_unknown_orgs_are_404() {
    let (fake, api, service) = start().await;
    let (status, body) = get_token(&format!("{}?org=support", service.token_url())).await;
    assert_eq!(status, 200);
    let who = session(&api, body["token"].as_str().unwrap()).await;
    assert_eq!(who["operator"]["name"], "Ivan Petrenko");

    let before = total_calls(&fake);
    let (status, body) = get_token(&format!("{}?org=nope", service.token_url())).await;
    assert_eq!(status, 404);
    assert_eq!(body["code"], "UNKNOWN_ORG");
    let (status, _) = get_token(&format!("{}?org=%3Cscript%3E", service.token_url())).await;
    assert_eq!(status, 404);
    assert_eq!(
        total_calls(&fake),
        before,
        "an unknown org caused upstream calls"
    );
}

#[tokio::test]
async fn a_configured_operator_is_used_and_an_inactive_one_is_refused() {
    let (_fake, api) = start_fake().await;
    let mut cfg = config(&api);
    apply_operators(&mut cfg.orgs, &["sales=104".into(), "support=999".into()]).unwrap();
    let service = start_service_with(cfg, Arc::new(AllowAll), &[]).await;
    let (status, body) = get_token(&service.token_url()).await;
    assert_eq!(status, 200);
    assert_eq!(
        session(&api, body["token"].as_str().unwrap()).await["operator"]["name"],
        "Andrii Shevchuk"
    );

    let (status, body) = get_token(&format!("{}?org=support", service.token_url())).await;
    assert_eq!(status, 502);
    assert_eq!(body["code"], "UPSTREAM_NO_OPERATOR");
}

#[tokio::test]
async fn caches_tokens_per_org() {
    let (fake, _api, service) = start().await;
    let (_, a) = get_token(&service.token_url()).await;
    let (_, b) = get_token(&service.token_url()).await;
    let (_, c) = get_token(&format!("{}?org=sales", service.token_url())).await;
    assert_eq!(a["token"], b["token"]);
    assert_eq!(a["token"], c["token"]);
    assert_eq!(count(&fake, "get_token"), 1);
    assert_eq!(count(&fake, "company_get_token"), 1);

    let (_, d) = get_token(&format!("{}?org=support", service.token_url())).await;
    assert_ne!(a["token"], d["token"]);
    assert_eq!(count(&fake, "get_token"), 2);
    // The company token is cached too.
    assert_eq!(count(&fake, "company_get_token"), 1);
}

#[tokio::test]
async fn renews_a_token_in_the_background_before_it_expires() {
    let (fake, _api, service) = start().await;
    fake.set_token_lifetime(Some(Duration::from_secs(4)));
    let (_, a) = get_token(&service.token_url()).await;
    let exp = OffsetDateTime::parse(a["expiresAt"].as_str().unwrap(), &Rfc3339).unwrap();
    assert!(
        (exp - OffsetDateTime::now_utc()).whole_seconds() <= 4,
        "expiresAt follows the token's exp"
    );

    let (_, same) = get_token(&service.token_url()).await;
    assert_eq!(a["token"], same["token"]);
    // The renewal gets an hour token, so there is exactly one.
    fake.set_token_lifetime(None);
    // Past its renewal point the token is renewed with no request asking.
    wait_for("the background renewal", || {
        count(&fake, "validate_token") == 2
    })
    .await;
    assert!(
        OffsetDateTime::now_utc() < exp,
        "renewed only after the token expired"
    );
    let (status, b) = get_token(&service.token_url()).await;
    assert_eq!(status, 200);
    assert_ne!(a["token"], b["token"]);
    assert_eq!(count(&fake, "get_token"), 2);
    assert_eq!(count(&fake, "validate_token"), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn single_flight_100_concurrent_requests_make_one_get_token() {
    let (fake, _api, service) = start().await;
    // Slow the operator token down so all 100 requests overlap.
    fake.set_fault(fault(Some("get_token"), None, Some(300), false, 1));
    let http = client();
    let url = service.token_url();
    let answers = futures::future::join_all((0..100).map(|_| {
        let http = http.clone();
        let url = url.clone();
        async move {
            let resp = http.get(&url).send().await.unwrap();
            assert_eq!(resp.status(), 200);
            resp.json::<serde_json::Value>().await.unwrap()["token"].clone()
        }
    }))
    .await;
    assert!(answers.iter().all(|t| *t == answers[0]));
    assert_eq!(count(&fake, "get_token"), 1);
    assert_eq!(count(&fake, "company_get_token"), 1);
    assert_eq!(count(&fake, "validate_token"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn single_flight_shares_a_failure_and_the_next_attempt_waits_for_the_backoff() {
    let (fake, _api, service) = start().await;
    fake.set_fault(fault(Some("get_token"), Some(503), Some(200), false, 1));
    let url = service.token_url();
    let answers = futures::future::join_all((0..20).map(|_| {
        let url = url.clone();
        async move { get_token(&url).await }
    }))
    .await;
    // Those that waited for the flight share its 502; any that came after
    // it failed get 503 at once, inside the backoff window.
    assert!(answers.iter().any(|(s, _)| *s == 502), "{answers:?}");
    for (status, body) in &answers {
        let code = match status {
            502 => "UPSTREAM_ERROR",
            503 => "UPSTREAM_BACKOFF",
            _ => panic!("unexpected {status} {body}"),
        };
        assert_eq!(body["code"], code);
    }
    assert_eq!(count(&fake, "get_token"), 1);
    // A failure is not cached: once the window has passed, one new attempt.
    token_once_allowed(&url).await;
    assert_eq!(count(&fake, "get_token"), 2);
}

#[tokio::test]
async fn logs_in_again_once_when_the_company_token_is_refused() {
    let (fake, _api, service) = start().await;
    assert_eq!(get_token(&service.token_url()).await.0, 200);
    fake.revoke_company_tokens();
    service.cache.clear();
    let (status, _) = get_token(&service.token_url()).await;
    assert_eq!(status, 200);
    assert_eq!(count(&fake, "company_get_token"), 2);
    // The refused call was retried once with the new company token.
    assert_eq!(count(&fake, "organization"), 3);
}

#[tokio::test]
async fn a_refused_company_login_is_a_502() {
    let (_fake, api) = start_fake().await;
    let mut cfg = config(&api);
    cfg.password = secrecy::SecretString::from("wrong".to_owned());
    let service = start_service_with(cfg, Arc::new(AllowAll), &[]).await;
    let (status, body) = get_token(&service.token_url()).await;
    assert_eq!(status, 502);
    assert_eq!(body["code"], "UPSTREAM_LOGIN_REJECTED");
}

fn assert_clean_error(body: &serde_json::Value) {
    let obj = body.as_object().expect("a JSON object");
    let mut keys: Vec<_> = obj.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["code", "message"]);
    let text = body.to_string();
    assert!(
        !text.contains(UPSTREAM_ERROR_MARKER),
        "upstream body echoed: {text}"
    );
    assert!(!text.contains("fake_api.rs"), "trace echoed: {text}");
}

#[tokio::test]
async fn an_upstream_5xx_becomes_502_without_the_upstream_body() {
    let (fake, _api, service) = start().await;
    for endpoint in [
        "company_get_token",
        "organization",
        "operators",
        "get_token",
        "validate_token",
    ] {
        service.cache.clear();
        fake.set_fault(fault(Some(endpoint), Some(500), None, false, 1));
        let resp = client().get(service.token_url()).send().await.unwrap();
        assert_eq!(resp.status(), 502, "{endpoint}");
        assert_eq!(resp.headers()["cache-control"], "no-store");
        assert_eq!(resp.headers()["content-type"], "application/json");
        let body: serde_json::Value = resp.json().await.unwrap();
        assert_eq!(body["code"], "UPSTREAM_ERROR", "{endpoint}");
        assert_clean_error(&body);
    }
    // And it works again once ChatHub does (after the backoff window).
    token_once_allowed(&service.token_url()).await;
}

#[tokio::test]
async fn an_upstream_timeout_becomes_504() {
    let (fake, api) = start_fake().await;
    let mut cfg = config(&api);
    cfg.upstream_timeout = Duration::from_millis(400);
    let service = start_service_with(cfg, Arc::new(AllowAll), &[]).await;
    fake.set_fault(fault(Some("get_token"), None, Some(1500), false, 1));
    let (status, body) = get_token(&service.token_url()).await;
    assert_eq!(status, 504);
    assert_eq!(body["code"], "UPSTREAM_TIMEOUT");
    assert_clean_error(&body);
}

#[tokio::test]
async fn a_dropped_connection_becomes_502() {
    let (fake, _api, service) = start().await;
    fake.set_fault(fault(Some("operators"), None, None, true, 1));
    let (status, body) = get_token(&service.token_url()).await;
    assert_eq!(status, 502);
    assert_eq!(body["code"], "UPSTREAM_UNREACHABLE");
    assert_clean_error(&body);
}

#[tokio::test]
async fn an_unreachable_chathub_becomes_502() {
    // A port nothing listens on.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let service = start_service_with(config(&dead), Arc::new(AllowAll), &[]).await;
    let (status, body) = get_token(&service.token_url()).await;
    assert_eq!(status, 502);
    assert_eq!(body["code"], "UPSTREAM_UNREACHABLE");
}

#[tokio::test]
async fn healthz_answers_without_upstream_calls() {
    let (fake, _api, service) = start().await;
    let resp = client()
        .get(format!("{}/healthz", service.url))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(total_calls(&fake), 0);
}

#[tokio::test]
async fn renews_while_a_quarter_of_the_lifetime_is_left_even_with_a_small_margin() {
    let (fake, api) = start_fake().await;
    let mut cfg = config(&api);
    cfg.refresh_margin = Duration::ZERO;
    let service = start_service_with(cfg, Arc::new(AllowAll), &[]).await;
    fake.set_token_lifetime(Some(Duration::from_secs(12)));
    let (_, a) = get_token(&service.token_url()).await;
    let exp = OffsetDateTime::parse(a["expiresAt"].as_str().unwrap(), &Rfc3339).unwrap();
    fake.set_token_lifetime(None);
    wait_for("the background renewal", || {
        count(&fake, "validate_token") == 2
    })
    .await;
    // A page refreshing 20 % before expiry must then get a new token: the
    // renewal is planned before the last quarter (3.6 s or more before
    // expiry here) and done well before the page's 2.4 s.
    assert!(
        OffsetDateTime::now_utc() < exp - time::Duration::milliseconds(2400),
        "renewed too late with a zero margin"
    );
    let (_, b) = get_token(&service.token_url()).await;
    assert_ne!(a["token"], b["token"]);
}
