//! The fault matrix (issue 10): what the token endpoint, the widget script
//! and the page's life can do wrong, and what the visitor sees meanwhile.
//! Every test checks, besides its row: no unhandled rejection, at most one
//! contact box and one widget tag, the right state and code, a working
//! widget kept while its token is valid, recovery when the fault ends and
//! a request count within the retry budget.
#![cfg(target_arch = "wasm32")]

mod common;

use std::rc::Rc;

use chathub_loader::WidgetTokenManager;
use common::*;
use wasm_bindgen::JsValue;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

/// Options for scenario `id` rendering into `box_id`; `extra` as in `test_opts`.
fn opts_in(id: &str, box_id: &str, extra: &str) -> JsValue {
    let sep = if extra.is_empty() { "" } else { ", " };
    test_opts(
        id,
        &format!(r##""org": "{id}", "container": "#{box_id}"{sep}{extra}"##),
    )
}

fn managed(options: JsValue) -> Rc<WidgetTokenManager> {
    Rc::new(manager(options))
}

/// An HTTP date `ms` from now (what `Retry-After` may carry).
fn http_date_in(ms: f64) -> String {
    js_sys::Date::new(&JsValue::from(js_sys::Date::now() + ms))
        .to_utc_string()
        .as_string()
        .unwrap()
}

/// One attempt per round, background retries 111..333 ms after the first
/// failure: the first step is max(20 * retryDelayMs, maxRetryDelayMs / 30).
const QUICK_BACKGROUND: &str = r#""maxRetries": 0, "maxRetryDelayMs": 10000"#;

// ---------------------------------------------------------------------
// The retry budget

#[wasm_bindgen_test]
async fn an_outage_from_before_initialize_stays_within_the_request_budget() {
    // retryDelayMs 25 and maxRetryDelayMs 15000 are the defaults (500,
    // 300000) at 1/20 scale: the first minute is 3 s, ten minutes 30 s.
    let id = unique("budget");
    let box_id = container_for(&id);
    let rec = record_rejections();
    script(&id, r#"[{"status": 503}]"#).await;
    let m = managed(opts_in(
        &id,
        &box_id,
        r#""retryDelayMs": 25, "maxRetryDelayMs": 15000"#,
    ));
    assert_eq!(code_of(m.initialize()).await, "TOKEN_HTTP");
    assert_eq!(m.state(), "fallback");
    assert_eq!(boxes_in(&box_id), 1);
    wait(30_300).await;
    let times = request_times(&id).await;
    let (state, shown) = (m.state(), boxes_in(&box_id));
    m.destroy();
    let t0 = times[0];
    let within = |ms: f64| times.iter().filter(|t| **t - t0 <= ms).count();
    assert!(
        times.len() >= 4,
        "initialize made its 1 + maxRetries quick attempts: {times:?}"
    );
    assert!(
        times[3] - t0 < 3000.0,
        "the quick attempts are quick: {times:?}"
    );
    assert!(
        within(3_000.0) <= 8,
        "at most 8 requests in the (scaled) first minute, got {}: {times:?}",
        within(3_000.0)
    );
    assert!(
        within(30_000.0) <= 13,
        "at most 13 requests in the (scaled) ten minutes, got {}: {times:?}",
        within(30_000.0)
    );
    // After the quick round, single attempts whose waits are at least a
    // third of a step that doubles from max(250, 10 * 25) up to the cap.
    for (n, pair) in times[3..].windows(2).enumerate() {
        let step = (250.0 * 2f64.powi(n as i32)).min(15_000.0);
        assert!(
            pair[1] - pair[0] >= step / 3.0 - 5.0,
            "background retry {} came {} ms after the previous one (step {step}): {times:?}",
            n + 1,
            pair[1] - pair[0]
        );
    }
    assert_eq!(state, "fallback");
    assert_eq!(shown, 1, "one contact box through the whole outage");
    assert_eq!(tags_with_id(&tag_id(Some(&id))).length(), 0);
    assert_no_rejections(&rec, "budget");
    remove_container(&box_id);
}

#[wasm_bindgen_test]
async fn every_background_retry_is_made() {
    // A round failed, its background retry is due in 167 ms at most: it
    // must come. Eight pages in a row, so a retry lost one time in three
    // does not pass by luck.
    let rec = record_rejections();
    let mut lost = Vec::new();
    for i in 0..8 {
        let id = unique("everyretry");
        let box_id = container_for(&id);
        script(&id, r#"[{"status": 500}, {}]"#).await;
        let m = managed(opts_in(&id, &box_id, QUICK_BACKGROUND));
        assert_eq!(code_of(m.initialize()).await, "TOKEN_HTTP");
        if !wait_for_state(&m, "ready", 2000).await {
            lost.push((i, requests(&id).await));
        }
        m.destroy();
        remove_container(&box_id);
    }
    assert!(
        lost.is_empty(),
        "background retries that never came (page, requests seen): {lost:?}"
    );
    assert_no_rejections(&rec, "every retry");
}

#[wasm_bindgen_test]
async fn a_clock_set_back_while_a_retry_is_pending_does_not_lose_the_retry() {
    // The visitor's clock is corrected (NTP) a second back while the
    // background retry (due in 111..333 ms) waits: it still comes, on
    // time (every deadline is on the monotonic clock).
    let id = unique("clockback");
    let box_id = container_for(&id);
    let rec = record_rejections();
    script(&id, r#"[{"status": 500}, {}]"#).await;
    let m = managed(opts_in(&id, &box_id, QUICK_BACKGROUND));
    assert_eq!(code_of(m.initialize()).await, "TOKEN_HTTP");
    shift_clock(-1000.0);
    let recovered = wait_for_state(&m, "ready", 5000).await;
    shift_clock(0.0);
    let n = requests(&id).await;
    m.destroy();
    remove_container(&box_id);
    assert!(
        recovered,
        "the retry never came ({n} requests): the retry timer fired while Date.now() was still before the retry's due time, and nothing re-armed it"
    );
    assert_no_rejections(&rec, "clock set back");
}

// ---------------------------------------------------------------------
// Token endpoint faults

#[wasm_bindgen_test]
async fn server_errors_show_one_box_and_recover_without_a_reload() {
    // (status, code, retried in the background)
    for (status, code, retried) in [
        (500, "TOKEN_HTTP", true),
        (502, "TOKEN_HTTP", true),
        (403, "TOKEN_UNAUTHORIZED", false),
    ] {
        let id = unique(&format!("s{status}"));
        let box_id = container_for(&id);
        let rec = record_rejections();
        script(&id, &format!(r#"[{{"status": {status}}}]"#)).await;
        // Quick backoff 50..100 ms; background retries start at 333..1000 ms.
        let m = managed(opts_in(
            &id,
            &box_id,
            r#""maxRetries": 1, "retryDelayMs": 100, "maxRetryDelayMs": 10000"#,
        ));
        let err = outcome(m.initialize()).await.expect("initialize rejects");
        assert_eq!(get(&err, "code").as_string().as_deref(), Some(code));
        assert_eq!(get(&err, "status").as_f64(), Some(status as f64));
        let expected = if retried { 2 } else { 1 };
        assert_eq!(requests(&id).await, expected, "{status}: quick attempts");
        assert_eq!(m.state(), "fallback", "{status}");
        assert_eq!(boxes_in(&box_id), 1, "{status}");
        assert_eq!(statuses_in(&box_id), 0, "{status}: no loading status left");
        assert_eq!(tags_with_id(&tag_id(Some(&id))).length(), 0);
        script(&id, "[{}]").await;
        if retried {
            assert!(
                wait_for_state(&m, "ready", 6000).await,
                "{status}: the background retry recovers once the backend does"
            );
        } else {
            // 401/403 wait for the visitor (or the page) to try again.
            wait(2500).await;
            assert_eq!(requests(&id).await, 1, "{status} is not retried by itself");
            box_button(&box_id).click();
            assert!(wait_for_state(&m, "ready", 5000).await, "{status}");
        }
        assert_eq!(boxes_in(&box_id), 0, "{status}: the box is gone");
        assert_eq!(tags_with_id(&tag_id(Some(&id))).length(), 1);
        assert_eq!(evaluations(&tag_id(Some(&id))).length(), 1);
        m.destroy();
        assert_no_rejections(&rec, &format!("{status}"));
        remove_container(&box_id);
    }
}

#[wasm_bindgen_test]
async fn retry_after_in_seconds_paces_the_quick_attempts() {
    let id = unique("ra503");
    let rec = record_rejections();
    script(&id, r#"[{"status": 503, "retryAfter": "2"}, {}]"#).await;
    let m = managed(test_opts(&id, &format!(r#""org": "{id}""#)));
    assert_eq!(code_of(m.initialize()).await, "ok");
    let times = request_times(&id).await;
    assert_eq!(times.len(), 2);
    assert!(
        times[1] - times[0] >= 1900.0,
        "the retry waited Retry-After: 2, not the 10 ms backoff: {} ms",
        times[1] - times[0]
    );
    assert_eq!(m.state(), "ready");
    m.destroy();
    assert_no_rejections(&rec, "503 Retry-After");
}

#[wasm_bindgen_test]
async fn a_long_retry_after_ends_the_quick_round_and_holds_back_the_background_retry() {
    // 429 with Retry-After: 12 (over 10 s): initialize gives up after one
    // request (not 1 + maxRetries); the background retry, whose backoff
    // is 111..333 ms here, waits for it (up to maxRetryDelayMs, 10 s).
    let id = unique("ra429");
    let box_id = container_for(&id);
    let rec = record_rejections();
    script(&id, r#"[{"status": 429, "retryAfter": "12"}]"#).await;
    let m = managed(opts_in(&id, &box_id, r#""maxRetryDelayMs": 10000"#));
    let err = outcome(m.initialize()).await.expect("rejects");
    assert_eq!(get(&err, "code").as_string().as_deref(), Some("TOKEN_HTTP"));
    assert_eq!(get(&err, "status").as_f64(), Some(429.0));
    assert_eq!(
        requests(&id).await,
        1,
        "no quick retry against Retry-After: 12"
    );
    assert_eq!(m.state(), "fallback");
    assert_eq!(boxes_in(&box_id), 1);
    wait(3000).await;
    assert_eq!(
        requests(&id).await,
        1,
        "the background retry waits for Retry-After, not its backoff"
    );
    // The visitor may still try at once.
    script(&id, "[{}]").await;
    box_button(&box_id).click();
    assert!(wait_for_state(&m, "ready", 5000).await, "recovers");
    assert_eq!(requests(&id).await, 2);
    assert_eq!(boxes_in(&box_id), 0);
    m.destroy();
    assert_no_rejections(&rec, "429 Retry-After");
    remove_container(&box_id);
}

#[wasm_bindgen_test]
async fn retry_after_as_an_http_date_paces_the_background_retry() {
    let id = unique("radate");
    let box_id = container_for(&id);
    let rec = record_rejections();
    let date = http_date_in(4000.0);
    script(
        &id,
        &format!(r#"[{{"status": 503, "retryAfter": "{date}"}}, {{}}]"#),
    )
    .await;
    // Backoff 111..333 ms: the wait is the date's.
    let m = managed(opts_in(&id, &box_id, QUICK_BACKGROUND));
    assert_eq!(code_of(m.initialize()).await, "TOKEN_HTTP");
    assert!(wait_for_state(&m, "ready", 10_000).await, "recovers");
    let times = request_times(&id).await;
    assert_eq!(times.len(), 2);
    assert!(
        times[1] - times[0] >= 2500.0,
        "waited until the date (3..4 s), got {} ms",
        times[1] - times[0]
    );
    m.destroy();
    assert_no_rejections(&rec, "Retry-After date");
    remove_container(&box_id);
}

#[wasm_bindgen_test]
async fn a_retry_after_longer_than_the_token_is_cut_at_its_expiry() {
    // The widget works with a 4 s token; a refresh gets 503 Retry-After:
    // 60. The retry comes when the token runs out, not a minute later.
    let id = unique("raexpiry");
    let tag = tag_id(Some(&id));
    let box_id = container_for(&id);
    let rec = record_rejections();
    script(&id, r#"[{"ttlMs": 4000}]"#).await;
    let m = managed(opts_in(&id, &box_id, ""));
    assert_eq!(code_of(m.initialize()).await, "ok");
    let expiry = m.expires_at().unwrap().get_time();
    let first = only_tag_token(&tag);
    script(&id, r#"[{"status": 503, "retryAfter": "60"}, {}]"#).await;
    assert_eq!(code_of(m.refresh_token()).await, "TOKEN_HTTP");
    assert_eq!(
        requests(&id).await,
        2,
        "Retry-After: 60 ends the quick round"
    );
    assert_eq!(m.state(), "ready", "the widget works on");
    assert_eq!(only_tag_token(&tag), first);
    assert_eq!(boxes_in(&box_id), 0);
    assert!(
        wait_for_requests(&id, 3, 8000).await,
        "retried by the expiry"
    );
    let times = request_times(&id).await;
    assert!(
        times[2] >= expiry - 300.0 && times[2] <= expiry + 1000.0,
        "the retry came at the token's expiry ({expiry}), got {} ({} ms off)",
        times[2],
        times[2] - expiry
    );
    let t = tag.clone();
    let mm = m.clone();
    assert!(
        wait_for(
            move || mm.state() == "ready" && only_tag_token(&t) != first,
            5000
        )
        .await,
        "the new token is in use"
    );
    assert_eq!(boxes_in(&box_id), 0);
    m.destroy();
    assert_no_rejections(&rec, "Retry-After vs expiry");
    remove_container(&box_id);
}

#[wasm_bindgen_test]
async fn an_answer_just_inside_the_timeout_is_used() {
    let id = unique("slow");
    let rec = record_rejections();
    script(&id, r#"[{"delay": 1000}]"#).await;
    let m = managed(test_opts(
        &id,
        &format!(r#""org": "{id}", "requestTimeoutMs": 1500"#),
    ));
    assert_eq!(code_of(m.initialize()).await, "ok");
    assert_eq!(requests(&id).await, 1, "not timed out and asked again");
    assert_eq!(m.state(), "ready");
    assert_eq!(only_tag_token(&tag_id(Some(&id))), tokens(&id).await[0]);
    m.destroy();
    assert_no_rejections(&rec, "slow answer");
}

#[wasm_bindgen_test]
async fn answers_that_are_not_a_usable_token_are_malformed_and_leave_nothing_of_themselves() {
    let huge = "T0K".repeat(20 * 1024 / 3 + 1);
    let proto =
        r#"{"__proto__": {"token": "inherited-token-x1", "expiresAt": "2099-01-01T00:00:00Z"}}"#;
    // (what, step, a string of the answer that must not reach the page)
    let rows: Vec<(&str, String, &str)> = vec![
        (
            "token only under __proto__",
            format!(r#"{{"body": {proto}}}"#),
            "inherited-token-x1",
        ),
        (
            "expiresAt not a date",
            r#"{"body": {"token": "tok-baddate-x2", "expiresAt": "2026-13-45T99:99:99Z"}}"#.into(),
            "tok-baddate-x2",
        ),
        (
            "expiresAt a number",
            r#"{"body": {"token": "tok-number-x3", "expiresAt": 4102444800000}}"#.into(),
            "tok-number-x3",
        ),
        (
            "5 MB with Content-Length",
            r#"{"bigBody": 5242880}"#.into(),
            "xxxxxxxxxxxxxxxx",
        ),
        (
            "5 MB chunked",
            r#"{"bigBody": 5242880, "chunked": true}"#.into(),
            "xxxxxxxxxxxxxxxx",
        ),
        (
            "a 20 KiB token",
            format!(r#"{{"body": {{"token": "{huge}", "expiresAt": "2099-01-01T00:00:00Z"}}}}"#),
            "T0KT0KT0KT0K",
        ),
    ];
    for (what, step, marker) in rows {
        let id = unique("malformed");
        let box_id = container_for(&id);
        let rec = record_rejections();
        script(&id, &format!("[{step}]")).await;
        let m = managed(opts_in(&id, &box_id, ""));
        let err = outcome(m.initialize()).await.expect("rejects");
        assert_eq!(
            get(&err, "code").as_string().as_deref(),
            Some("TOKEN_MALFORMED"),
            "{what}"
        );
        let message = get(&err, "message").as_string().unwrap_or_default();
        assert!(
            !message.contains(marker),
            "{what}: the message does not quote the answer"
        );
        assert_eq!(
            requests(&id).await,
            1,
            "{what}: a bad answer is not retried"
        );
        assert_eq!(m.state(), "fallback", "{what}");
        assert_eq!(boxes_in(&box_id), 1, "{what}");
        assert_eq!(tags_with_id(&tag_id(Some(&id))).length(), 0, "{what}");
        assert!(
            !outer_html().contains(marker),
            "{what}: nothing of the answer in the DOM"
        );
        m.destroy();
        assert_no_rejections(&rec, what);
        remove_container(&box_id);
    }
}

#[wasm_bindgen_test]
async fn a_forty_day_token_is_used_and_page_signals_do_not_refresh_it() {
    let id = unique("fortydays");
    let rec = record_rejections();
    script(&id, r#"[{"ttlMs": 3456000000}]"#).await;
    let m = managed(test_opts(&id, &format!(r#""org": "{id}""#)));
    assert_eq!(code_of(m.initialize()).await, "ok");
    let left = m.expires_at().unwrap().get_time() - js_sys::Date::now();
    assert!(left > 39.0 * 86_400_000.0, "40 days left, got {left} ms");
    // Every wake-up re-checks the clock and re-arms the clamped timer.
    for _ in 0..5 {
        fire("document", "visibilitychange");
        fire("window", "pageshow");
        fire("window", "online");
    }
    wait(2000).await;
    assert_eq!(requests(&id).await, 1, "no refresh storm");
    assert_eq!(evaluations(&tag_id(Some(&id))).length(), 1);
    assert_eq!(m.state(), "ready");
    m.destroy();
    assert_no_rejections(&rec, "40 days");
}

#[wasm_bindgen_test]
async fn a_flapping_backend_keeps_the_widget_within_the_budget() {
    // Every refresh of a 4 s token (3..4 s: the JWT's exp is in whole
    // seconds) fails once, then succeeds.
    let id = unique("flap");
    let tag = tag_id(Some(&id));
    let box_id = container_for(&id);
    let rec = record_rejections();
    let pair = r#"{"ttlMs": 4000}, {"status": 500}"#;
    script(
        &id,
        &format!("[{}, {{\"ttlMs\": 4000}}]", [pair; 8].join(", ")),
    )
    .await;
    let watch = watch_tag_count(&tag);
    let status = watch_added(".chathub-loader-status");
    let m = managed(opts_in(
        &id,
        &box_id,
        r#""maxRetryDelayMs": 10000, "refreshMarginMs": 1500"#,
    ));
    assert_eq!(code_of(m.initialize()).await, "ok");
    let log = start_state_log();
    // A refresh every 1.5..2.5 s (1.5 s before expiry), each a failure and
    // a retry (111..333 ms later) well before the token runs out.
    let mut expired = 0;
    let began = js_sys::Date::now();
    while js_sys::Date::now() - began < 8000.0 {
        if m.expires_at()
            .is_none_or(|e| e.get_time() <= js_sys::Date::now())
        {
            expired += 1;
        }
        wait(100).await;
    }
    let times = request_times(&id).await;
    let n = times.len();
    let t0 = times[0];
    let at: Vec<i64> = times.iter().map(|t| (t - t0) as i64).collect();
    let seen = states_of(&log, &id);
    stop_handle(&log);
    let max_tags = stop_handle(&watch).as_f64();
    let status_shown = stop_handle(&status).as_f64();
    let state = m.state();
    m.destroy();
    assert_eq!(
        expired, 0,
        "the widget ran on an expired token for {expired} of 80 probes; requests at {at:?} ms; states {seen:?}"
    );
    assert!(
        (5..=12).contains(&n),
        "two requests per refresh cycle, no storm: got {n} in 8 s: {at:?}"
    );
    assert!(
        seen.iter().all(|(s, _)| s == "ready" || s == "refreshing"),
        "never loading or fallback: {seen:?}"
    );
    assert!(
        seen.iter()
            .any(|(s, e)| s == "ready" && e.as_deref() == Some("TOKEN_HTTP")),
        "the failures were reported: {seen:?}"
    );
    assert!(state == "ready" || state == "refreshing", "{state}");
    assert_eq!(max_tags, Some(1.0), "never two tags");
    assert_eq!(
        status_shown,
        Some(1.0),
        "only the first load showed a status"
    );
    assert_eq!(boxes_in(&box_id), 0);
    assert_no_rejections(&rec, "flapping");
    remove_container(&box_id);
}

// ---------------------------------------------------------------------
// The quiet fallback

#[wasm_bindgen_test]
async fn background_retries_keep_the_box_quietly_and_try_again_shows_progress() {
    let id = unique("quiet");
    let box_id = container_for(&id);
    let rec = record_rejections();
    // Retry-After: 1 makes each background retry wait exactly 1 s.
    script(&id, r#"[{"status": 503, "retryAfter": "1"}]"#).await;
    let m = managed(opts_in(
        &id,
        &box_id,
        r#""maxRetries": 0, "maxRetryDelayMs": 10000, "loadingText": "Connecting to chat…",
            "fallback": {"buttonText": "Retry now"}"#,
    ));
    assert_eq!(code_of(m.initialize()).await, "TOKEN_HTTP");
    let the_box = find(&format!("#{box_id} .chathub-loader-fallback")).expect("box");
    let log = start_state_log();
    let status = watch_added(".chathub-loader-status");
    assert!(
        wait_for_requests(&id, 4, 10_000).await,
        "three background retries"
    );
    // Let the third attempt's answer arrive.
    let log2 = log.clone();
    let id2 = id.clone();
    assert!(
        wait_for(move || states_of(&log2, &id2).len() >= 3, 5000).await,
        "each failed attempt is reported"
    );
    let seen = states_of(&log, &id);
    assert!(
        seen.iter()
            .all(|(s, e)| s == "fallback" && e.as_deref() == Some("TOKEN_HTTP")),
        "quiet: state stays fallback, each attempt reports its error: {seen:?}"
    );
    assert_eq!(
        stop_handle(&status).as_f64(),
        Some(0.0),
        "no loading status"
    );
    assert!(the_box.is_connected(), "the same box stays");
    assert_eq!(boxes_in(&box_id), 1);
    assert_eq!(m.state(), "fallback");

    // The visitor presses the button: busy until the attempt ends.
    script(&id, r#"[{"status": 500, "delay": 700}]"#).await;
    let b = box_button(&box_id);
    assert_eq!(b.text_content().as_deref(), Some("Retry now"));
    b.click();
    assert!(b.disabled(), "disabled while its attempt runs");
    assert_eq!(b.text_content().as_deref(), Some("Connecting to chat…"));
    let b2 = b.clone();
    assert!(
        wait_for(move || !b2.disabled(), 5000).await,
        "re-enabled after the failure"
    );
    assert_eq!(b.text_content().as_deref(), Some("Retry now"));
    assert!(the_box.is_connected());
    assert_eq!(boxes_in(&box_id), 1);
    assert_eq!(m.state(), "fallback");
    assert_eq!(statuses_in(&box_id), 0);

    script(&id, "[{}]").await;
    b.click();
    assert!(wait_for_state(&m, "ready", 5000).await, "a success ends it");
    assert_eq!(boxes_in(&box_id), 0, "the box is gone");
    assert_eq!(tags_with_id(&tag_id(Some(&id))).length(), 1);
    let seen = states_of(&log, &id);
    assert!(
        !seen.iter().any(|(s, _)| s == "loading"),
        "no loading state from the fallback: {seen:?}"
    );
    stop_handle(&log);
    m.destroy();
    assert_no_rejections(&rec, "quiet fallback");
    remove_container(&box_id);
}

// ---------------------------------------------------------------------
// The widget script

#[wasm_bindgen_test]
async fn a_widget_script_on_a_closed_port_is_widget_load_with_one_box() {
    let id = unique("closedport");
    let box_id = container_for(&id);
    let rec = record_rejections();
    let o = opts(&format!(
        r##"{{"tokenUrl": "{}", "org": "{id}", "container": "#{box_id}", "widgetSrc": "http://127.0.0.1:9/w.js"}}"##,
        token_url(&id)
    ));
    let m = managed(o);
    assert_eq!(code_of(m.initialize()).await, "WIDGET_LOAD");
    assert_eq!(m.state(), "fallback");
    assert_eq!(boxes_in(&box_id), 1);
    assert_eq!(statuses_in(&box_id), 0);
    assert_eq!(tags_with_id(&tag_id(Some(&id))).length(), 0);
    let token = tokens(&id).await[0].clone();
    assert!(
        !outer_html().contains(&token),
        "the token left the DOM with the tag"
    );
    // Trying again from the box does not add a second one.
    box_button(&box_id).click();
    let b = box_button(&box_id);
    assert!(wait_for(move || !b.disabled(), 10_000).await);
    assert_eq!(boxes_in(&box_id), 1);
    assert_eq!(tags_with_id(&tag_id(Some(&id))).length(), 0);
    m.destroy();
    assert_eq!(boxes_in(&box_id), 0);
    assert_no_rejections(&rec, "closed port");
    remove_container(&box_id);
}

// ---------------------------------------------------------------------
// The page's life

#[wasm_bindgen_test]
async fn coming_back_online_retries_a_network_failure_at_once_but_not_a_server_error() {
    // Background retries wait 10..30 s here (20 x retryDelayMs 1500).
    // (what, the failing answer, its code, `online` makes the retry due)
    for (what, step, code, at_once) in [
        ("dropped", r#"{"drop": true}"#, "TOKEN_NETWORK", true),
        ("timed out", r#"{"delay": 3000}"#, "TOKEN_TIMEOUT", true),
        ("500", r#"{"status": 500}"#, "TOKEN_HTTP", false),
    ] {
        let id = unique("online");
        let box_id = container_for(&id);
        let rec = record_rejections();
        // (Chromium itself may send a GET again once when a kept-alive
        // connection drops: the failing answer repeats until the test
        // scripts the recovery.)
        script(&id, &format!("[{step}]")).await;
        let m = managed(opts_in(
            &id,
            &box_id,
            r#""maxRetries": 0, "retryDelayMs": 1500, "requestTimeoutMs": 500"#,
        ));
        assert_eq!(code_of(m.initialize()).await, code, "{what}");
        assert_eq!(m.state(), "fallback", "{what}");
        let failed = requests(&id).await;
        script(&id, "[{}]").await;
        if at_once {
            // The visitor was offline a while: 10 s on the clock, within
            // the 10..30 s the background retry waits.
            pass_time(10_050.0);
        }
        fire("window", "online");
        if at_once {
            let back = wait_for_state(&m, "ready", 5000).await;
            pass_time(0.0);
            assert!(back, "{what}: `online` retries at once");
            assert_eq!(boxes_in(&box_id), 0, "{what}");
        } else {
            wait(1500).await;
            assert_eq!(
                requests(&id).await,
                failed,
                "{what}: the network was not the problem; the backoff stands"
            );
            assert_eq!(m.state(), "fallback", "{what}");
            assert_eq!(boxes_in(&box_id), 1, "{what}");
        }
        m.destroy();
        assert_no_rejections(&rec, what);
        remove_container(&box_id);
    }
}

#[wasm_bindgen_test]
async fn a_tab_hidden_past_the_tokens_life_retries_once_when_shown_again() {
    let id = unique("hidden");
    let tag = tag_id(Some(&id));
    let box_id = container_for(&id);
    let rec = record_rejections();
    script(&id, r#"[{"ttlMs": 3000}, {"status": 500}]"#).await;
    let m = managed(opts_in(&id, &box_id, ""));
    assert_eq!(code_of(m.initialize()).await, "ok");
    let expiry = m.expires_at().unwrap().get_time();
    let first = only_tag_token(&tag);
    set_hidden(true);
    // The scheduled refresh still runs in the hidden tab (and fails).
    let refreshed = wait_for_requests(&id, 2, 6000).await;
    // Its retry falls due by the token's expiry at the latest; two more
    // seconds on, still nothing while hidden.
    let e = expiry;
    wait_for(move || js_sys::Date::now() > e + 2000.0, 10_000).await;
    let while_hidden = requests(&id).await;
    script(&id, "[{}]").await;
    set_hidden(false);
    fire("document", "visibilitychange");
    let t = tag.clone();
    let mm = m.clone();
    let recovered = wait_for(
        move || mm.state() == "ready" && only_tag_token(&t) != first,
        5000,
    )
    .await;
    wait(500).await;
    let after = requests(&id).await;
    m.destroy();
    assert!(refreshed, "the refresh ran while hidden");
    assert_eq!(while_hidden, 2, "no retry while the page is hidden");
    assert!(recovered, "shown again: one attempt, a new token");
    assert_eq!(after, 3, "exactly one attempt on becoming visible");
    assert_eq!(boxes_in(&box_id), 0);
    assert_eq!(statuses_in(&box_id), 0);
    assert_no_rejections(&rec, "hidden tab");
    remove_container(&box_id);
}

#[wasm_bindgen_test]
async fn a_page_restored_from_the_back_forward_cache_runs_the_due_retry() {
    let id = unique("bfcache");
    let box_id = container_for(&id);
    let rec = record_rejections();
    script(&id, r#"[{"status": 500}]"#).await;
    let m = managed(opts_in(&id, &box_id, QUICK_BACKGROUND));
    assert_eq!(code_of(m.initialize()).await, "TOKEN_HTTP");
    // Into the cache (hidden) before the retry (111..333 ms) is due.
    set_hidden(true);
    wait(1000).await;
    let cached = requests(&id).await;
    script(&id, "[{}]").await;
    set_hidden(false);
    fire("window", "pageshow");
    let recovered = wait_for_state(&m, "ready", 5000).await;
    let n = requests(&id).await;
    m.destroy();
    assert_eq!(cached, 1, "no retry while hidden");
    assert!(recovered, "pageshow runs the retry that fell due");
    assert_eq!(n, 2);
    assert_eq!(boxes_in(&box_id), 0);
    assert_no_rejections(&rec, "bfcache");
    remove_container(&box_id);
}

#[wasm_bindgen_test]
async fn a_sleep_past_the_refresh_point_refreshes_on_the_next_wake_up() {
    let id = unique("clockjump");
    let tag = tag_id(Some(&id));
    let rec = record_rejections();
    let m = managed(test_opts(&id, &format!(r#""org": "{id}""#)));
    assert_eq!(code_of(m.initialize()).await, "ok");
    let first = only_tag_token(&tag);
    // A wake-up before the refresh point (48 min for a 1 h token) does nothing.
    fire("document", "visibilitychange");
    wait(500).await;
    let before = requests(&id).await;
    // The laptop slept 50 minutes: timers did not run, the clocks moved.
    pass_time(50.0 * 60_000.0);
    fire("window", "pageshow");
    let refreshed = wait_for_requests(&id, 2, 5000).await;
    let t = tag.clone();
    let mm = m.clone();
    let in_use = wait_for(
        move || mm.state() == "ready" && only_tag_token(&t) != first,
        5000,
    )
    .await;
    pass_time(0.0);
    wait(500).await;
    let after = requests(&id).await;
    let state = m.state();
    m.destroy();
    assert_eq!(before, 1, "not due yet");
    assert!(refreshed, "the wake-up saw the refresh was due");
    assert!(in_use, "the widget got the new token");
    assert_eq!(after, 2, "one refresh, and none when the clock comes back");
    assert_eq!(state, "ready");
    assert_no_rejections(&rec, "clock jump");
}

#[wasm_bindgen_test]
async fn a_second_manager_created_while_the_first_request_is_out_shares_it() {
    let id = unique("race");
    let tag = tag_id(Some(&id));
    let rec = record_rejections();
    script(&id, r#"[{"delay": 600}]"#).await;
    let o = format!(r#""org": "{id}""#);
    let a = manager(test_opts(&id, &o));
    let pa = a.initialize();
    assert!(wait_for_requests(&id, 1, 5000).await);
    let b = manager(test_opts(&id, &o));
    let pb = b.initialize();
    assert_eq!(b.state(), "loading", "b is the same, loading manager");
    assert_eq!(code_of(pb).await, "ok");
    assert_eq!(code_of(pa).await, "ok");
    assert_eq!(requests(&id).await, 1, "one request for both");
    assert_eq!(tags_with_id(&tag).length(), 1, "one tag");
    assert_eq!(evaluations(&tag).length(), 1);
    a.destroy();
    assert_eq!(b.state(), "ready");
    assert_eq!(tags_with_id(&tag).length(), 1);
    b.destroy();
    assert_eq!(tags_with_id(&tag).length(), 0);
    assert_no_rejections(&rec, "race");
}

#[wasm_bindgen_test]
async fn destroy_during_a_backoff_makes_no_more_requests() {
    // In initialize()'s quick round: the first attempt failed, the next
    // waits 200..400 ms.
    let id = unique("destroyquick");
    let box_id = container_for(&id);
    let rec = record_rejections();
    script(&id, r#"[{"status": 500}]"#).await;
    let m = managed(opts_in(&id, &box_id, r#""retryDelayMs": 400"#));
    let p = m.initialize();
    assert!(wait_for_requests(&id, 1, 5000).await);
    wait(50).await;
    m.destroy();
    assert_eq!(code_of(p).await, "DESTROYED");
    wait(1500).await;
    assert_eq!(
        requests(&id).await,
        1,
        "no request after destroy (quick round)"
    );
    assert_eq!(count(&format!("#{box_id} *")), 0, "nothing left shown");
    assert_no_rejections(&rec, "destroy in the quick backoff");
    remove_container(&box_id);

    // In the fallback, a background retry pending (333..1000 ms).
    let id = unique("destroybg");
    let box_id = container_for(&id);
    let rec = record_rejections();
    script(&id, r#"[{"status": 500}]"#).await;
    let m = managed(opts_in(
        &id,
        &box_id,
        r#""maxRetries": 0, "retryDelayMs": 100, "maxRetryDelayMs": 10000"#,
    ));
    assert_eq!(code_of(m.initialize()).await, "TOKEN_HTTP");
    m.destroy();
    fire("window", "online");
    fire("window", "pageshow");
    wait(3000).await;
    assert_eq!(
        requests(&id).await,
        1,
        "no request after destroy (background)"
    );
    assert_eq!(count(&format!("#{box_id} *")), 0);
    assert_eq!(m.state(), "destroyed");
    assert_no_rejections(&rec, "destroy in the background backoff");
    remove_container(&box_id);
}
