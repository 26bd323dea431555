//! Token fetch, validation and retry (issue points 1 and 2), in headless
//! Chromium against the real test server.
#![cfg(target_arch = "wasm32")]

mod common;

use common::*;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen_test]
async fn initialize_puts_one_tag_carrying_the_fetched_token() {
    let id = unique("happy");
    let org = id.clone();
    let m = manager(test_opts(&id, &format!(r#""org": "{org}""#)));
    assert_eq!(m.state(), "idle");
    assert_eq!(code_of(m.initialize()).await, "ok");
    let tokens = tokens(&id).await;
    assert_eq!(tokens.len(), 1);
    assert_eq!(only_tag_token(&tag_id(Some(&org))), tokens[0]);
    assert_eq!(m.state(), "ready");
    assert!(m.expires_at().is_some());
    // The stand-in widget evaluated once and saw that token.
    let evals = evaluations(&tag_id(Some(&org)));
    assert_eq!(evals.length(), 1);
    assert_eq!(get(&evals.get(0), "token").as_string().unwrap(), tokens[0]);
    m.destroy();
}

#[wasm_bindgen_test]
async fn org_goes_into_the_query_url_encoded_and_names_the_tag() {
    let id = unique("org");
    let org = "s&l/é#1";
    let m = manager(test_opts(&id, &format!(r#""org": "{org}""#)));
    assert_eq!(code_of(m.initialize()).await, "ok");
    let orgs = js_sys::Array::from(&get(&stats(&id).await, "orgs"));
    assert_eq!(orgs.get(0).as_string().as_deref(), Some(org));
    // The id stays a plain, unique id: no character of the org in it
    // needs escaping in a selector or an attribute.
    let id_for_org = "operator-chat-panel-script-s_26l_2f_c3_a9_231";
    assert_eq!(tag_id(Some(org)), id_for_org);
    assert_eq!(tags_with_id(id_for_org).length(), 1);
    m.destroy();
}

#[wasm_bindgen_test]
async fn server_errors_and_dropped_connections_are_retried_with_backoff() {
    let id = unique("retry");
    script(
        &id,
        r#"[{"status": 500}, {"drop": true}, {"status": 503}, {}]"#,
    )
    .await;
    let m = manager(test_opts(&id, r#""org": "retry""#));
    assert_eq!(code_of(m.initialize()).await, "ok");
    assert_eq!(requests(&id).await, 4);
    assert_eq!(m.state(), "ready");
    m.destroy();
}

async fn first_failure(steps: &str, extra: &str) -> (JsValue, u32, String) {
    let id = unique("fail");
    script(&id, steps).await;
    let sep = if extra.is_empty() { "" } else { "," };
    let m = manager(test_opts(
        &id,
        &format!(r#""org": "{id}", "fallback": false{sep}{extra}"#),
    ));
    let err = outcome(m.initialize())
        .await
        .expect("initialize must reject");
    let n = requests(&id).await;
    let state = m.state();
    assert_eq!(
        tags_with_id(&tag_id(Some(&id))).length(),
        0,
        "no tag without a valid token"
    );
    m.destroy();
    (err, n, state)
}

#[wasm_bindgen_test]
async fn unauthorized_is_reported_and_never_retried() {
    for status in [401, 403] {
        let (err, n, state) = first_failure(&format!(r#"[{{"status": {status}}}]"#), "").await;
        assert_eq!(get(&err, "code").as_string().unwrap(), "TOKEN_UNAUTHORIZED");
        assert_eq!(get(&err, "status").as_f64(), Some(status as f64));
        assert_eq!(n, 1, "401/403 must not be retried");
        assert_eq!(state, "fallback");
    }
}

#[wasm_bindgen_test]
async fn client_errors_are_token_http_with_the_status_and_not_retried() {
    let (err, n, _) = first_failure(r#"[{"status": 404, "body": {"error": "nope"}}]"#, "").await;
    assert_eq!(get(&err, "code").as_string().unwrap(), "TOKEN_HTTP");
    assert_eq!(get(&err, "status").as_f64(), Some(404.0));
    assert!(get(&err, "message").as_string().unwrap().contains("404"));
    assert_eq!(n, 1);
}

#[wasm_bindgen_test]
async fn initialize_gives_up_after_the_bounded_retries_and_shows_the_fallback_state() {
    let (err, n, state) = first_failure(r#"[{"status": 500}]"#, r#""maxRetries": 2"#).await;
    assert_eq!(get(&err, "code").as_string().unwrap(), "TOKEN_HTTP");
    assert_eq!(n, 3, "one attempt plus maxRetries");
    assert_eq!(state, "fallback");
}

#[wasm_bindgen_test]
async fn an_html_error_page_with_status_200_is_malformed_not_a_crash() {
    let (err, n, _) = first_failure(r#"[{"body": "<html>Bad gateway</html>"}]"#, "").await;
    assert_eq!(get(&err, "code").as_string().unwrap(), "TOKEN_MALFORMED");
    assert_eq!(n, 1, "a malformed answer is not retried");
}

#[wasm_bindgen_test]
async fn answers_missing_or_empty_fields_are_malformed() {
    for body in [
        r#"{"token": "", "expiresAt": "2099-01-01T00:00:00Z"}"#,
        r#"{"token": "abc"}"#,
        r#"{"token": "abc", "expiresAt": "next tuesday-ish"}"#,
        // What the browser's Date.parse would take: a lifetime in seconds
        // (the year 3600), a bare year, a US date, a word it reads as one.
        r#"{"token": "abc", "expiresAt": "3600"}"#,
        r#"{"token": "abc", "expiresAt": "2030"}"#,
        r#"{"token": "abc", "expiresAt": "12/31/2099"}"#,
        r#"{"token": "abc", "expiresAt": "SECRET-TOKEN-2"}"#,
        r#"{"expiresAt": "2099-01-01T00:00:00Z"}"#,
        r#"[1, 2]"#,
    ] {
        let (err, _, _) = first_failure(&format!(r#"[{{"body": {body}}}]"#), "").await;
        assert_eq!(
            get(&err, "code").as_string().unwrap(),
            "TOKEN_MALFORMED",
            "body {body}"
        );
    }
}

#[wasm_bindgen_test]
async fn expires_at_in_the_past_is_token_expired() {
    let (err, _, _) = first_failure(r#"[{"ttlMs": -60000}]"#, "").await;
    assert_eq!(get(&err, "code").as_string().unwrap(), "TOKEN_EXPIRED");
}

#[wasm_bindgen_test]
async fn a_jwt_whose_exp_is_past_is_expired_even_if_expires_at_is_not() {
    let (err, _, _) = first_failure(r#"[{"ttlMs": 3600000, "jwtExpOffsetMs": -5000}]"#, "").await;
    assert_eq!(get(&err, "code").as_string().unwrap(), "TOKEN_EXPIRED");
}

#[wasm_bindgen_test]
async fn the_earlier_of_jwt_exp_and_expires_at_is_the_expiry() {
    let id = unique("exp");
    script(&id, r#"[{"ttlMs": 3600000, "jwtExpOffsetMs": 600000}]"#).await;
    let m = manager(test_opts(&id, r#""org": "exp""#));
    assert_eq!(code_of(m.initialize()).await, "ok");
    let left = m.expires_at().unwrap().get_time() - js_sys::Date::now();
    assert!(
        left > 500_000.0 && left <= 600_000.0,
        "expiry follows the JWT's exp (10 min), got {left} ms"
    );
    m.destroy();
}

#[wasm_bindgen_test]
async fn a_hanging_endpoint_times_out() {
    let (err, n, _) = first_failure(
        r#"[{"delay": 3000}]"#,
        r#""requestTimeoutMs": 150, "maxRetries": 0"#,
    )
    .await;
    assert_eq!(get(&err, "code").as_string().unwrap(), "TOKEN_TIMEOUT");
    assert_eq!(n, 1);
}

#[wasm_bindgen_test]
async fn an_unreachable_endpoint_is_a_network_error() {
    let m = manager(opts(
        r#"{"tokenUrl": "http://127.0.0.1:9/token", "org": "unreachable", "maxRetries": 0, "fallback": false}"#,
    ));
    assert_eq!(code_of(m.initialize()).await, "TOKEN_NETWORK");
    m.destroy();
}

#[wasm_bindgen_test]
async fn concurrent_initialize_and_refresh_calls_make_one_request() {
    let id = unique("single");
    script(&id, r#"[{"delay": 200}]"#).await;
    let m = manager(test_opts(&id, r#""org": "single""#));
    let calls = [
        m.initialize(),
        m.initialize(),
        m.refresh_token(),
        m.initialize(),
    ];
    for p in calls {
        assert_eq!(code_of(p).await, "ok");
    }
    assert_eq!(requests(&id).await, 1);
    let refreshes = [m.refresh_token(), m.refresh_token(), m.refresh_token()];
    for p in refreshes {
        assert_eq!(code_of(p).await, "ok");
    }
    assert_eq!(requests(&id).await, 2);
    // Initialising a ready manager again costs nothing.
    assert_eq!(code_of(m.initialize()).await, "ok");
    assert_eq!(requests(&id).await, 2);
    m.destroy();
}

#[wasm_bindgen_test]
async fn a_failed_refresh_keeps_the_working_widget_and_retries_until_it_succeeds() {
    let id = unique("keep");
    let org = "keep";
    let m = manager(test_opts(
        &id,
        // Background retries start at 20 x retryDelayMs (at least
        // maxRetryDelayMs / 30): about a second here.
        &format!(r#""org": "{org}", "retryDelayMs": 50, "maxRetryDelayMs": 10000"#),
    ));
    assert_eq!(code_of(m.initialize()).await, "ok");
    let first = only_tag_token(&tag_id(Some(org)));
    script(
        &id,
        r#"[{"status": 500}, {"status": 500}, {"status": 500}, {"status": 500}, {"status": 500}]"#,
    )
    .await;
    let log = start_state_log();
    assert_eq!(code_of(m.refresh_token()).await, "TOKEN_HTTP");
    // Nothing that works is lost: same tag, same token, no fallback box.
    assert_eq!(m.state(), "ready");
    assert_eq!(only_tag_token(&tag_id(Some(org))), first);
    assert_eq!(count(".chathub-loader-fallback"), 0);
    let entries = js_sys::Array::from(&get(&log, "log"));
    let last = entries.get(entries.length() - 1);
    assert_eq!(get(&last, "state").as_string().unwrap(), "ready");
    assert_eq!(
        get(&get(&last, "error"), "code").as_string().unwrap(),
        "TOKEN_HTTP"
    );
    // The backend recovers; the manager retries by itself. Wait for what
    // the user waits for: ready with the new token (the tag carries it
    // while the new module is still loading, in "refreshing").
    script(&id, "[{}]").await;
    let tag = tag_id(Some(org));
    let m = std::rc::Rc::new(m);
    let watched = m.clone();
    let recovered = wait_for(
        move || watched.state() == "ready" && only_tag_token(&tag) != first,
        15000,
    )
    .await;
    assert!(recovered, "background retry installs a new token");
    get(&log, "stop")
        .dyn_into::<js_sys::Function>()
        .unwrap()
        .call0(&JsValue::NULL)
        .unwrap();
    m.destroy();
}

use wasm_bindgen::{JsCast, JsValue};
