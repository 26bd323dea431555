//! Scheduling and signals: refresh before expiry, long tokens, the
//! `token expired` signal, wake-up checks (issue points 5 and 6).
#![cfg(target_arch = "wasm32")]

mod common;

use common::*;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen_test]
async fn a_short_lived_token_is_refreshed_before_it_expires() {
    let id = unique("short");
    script(&id, r#"[{"ttlMs": 5000}]"#).await;
    let m = std::rc::Rc::new(manager(test_opts(&id, &format!(r#""org": "{id}""#))));
    assert_eq!(code_of(m.initialize()).await, "ok");
    let first_expiry = m.expires_at().unwrap().get_time();
    // Default margin: 20% of 5 s, so a refresh at about 4 s.
    assert!(wait_for_requests(&id, 2, 10_000).await, "refreshed");
    assert!(
        js_sys::Date::now() < first_expiry,
        "the refresh started before the token expired"
    );
    let renewed = {
        let m = m.clone();
        wait_for(
            move || m.expires_at().is_some_and(|e| e.get_time() > first_expiry),
            5000,
        )
        .await
    };
    assert!(renewed, "the new token is in use");
    assert!(wait_for_state(&m, "ready", 5000).await);
    let tokens = tokens(&id).await;
    assert_eq!(&only_tag_token(&tag_id(Some(&id))), tokens.last().unwrap());
    m.destroy();
}

#[wasm_bindgen_test]
async fn a_forty_day_token_does_not_fire_at_once() {
    let id = unique("long");
    script(&id, r#"[{"ttlMs": 3456000000}]"#).await;
    let m = manager(test_opts(&id, &format!(r#""org": "{id}""#)));
    assert_eq!(code_of(m.initialize()).await, "ok");
    wait(500).await;
    assert_eq!(
        requests(&id).await,
        1,
        "a delay over 2^31 ms must be clamped, not fire immediately"
    );
    m.destroy();
}

#[wasm_bindgen_test]
async fn a_burst_of_token_expired_errors_makes_one_refresh() {
    let id = unique("burst");
    let m = manager(test_opts(&id, &format!(r#""org": "{id}""#)));
    assert_eq!(code_of(m.initialize()).await, "ok");
    let from_widget = widget_src(&id);
    for _ in 0..20 {
        fire_window_error(
            "Uncaught Error: ChatHub widget: token expired",
            &from_widget,
        );
    }
    assert!(
        wait_for_requests(&id, 2, 3000).await,
        "the burst makes a refresh"
    );
    wait(500).await;
    assert_eq!(requests(&id).await, 2, "one refresh for the whole burst");
    fire_window_error("some unrelated error", &from_widget);
    wait(400).await;
    assert_eq!(requests(&id).await, 2, "other errors are ignored");
    m.destroy();
}

#[wasm_bindgen_test]
async fn a_token_expired_error_from_one_orgs_widget_refreshes_only_that_org() {
    // Two orgs on one page with the same widget (one folder, one origin):
    // the error names sales' own module URL, so support's chat (a visitor
    // may be mid-conversation there) is left alone.
    let (sales, support) = (unique("orgsales"), unique("orgsupport"));
    let a = manager(test_opts(&sales, &format!(r#""org": "{sales}""#)));
    let b = manager(test_opts(&support, &format!(r#""org": "{support}""#)));
    assert_eq!(code_of(a.initialize()).await, "ok");
    assert_eq!(code_of(b.initialize()).await, "ok");
    let tag: web_sys::HtmlScriptElement =
        tags_with_id(&tag_id(Some(&sales))).get(0).unchecked_into();
    fire_window_error("Uncaught Error: ChatHub widget: token expired", &tag.src());
    assert!(
        wait_for_requests(&sales, 2, 3000).await,
        "sales' widget error refreshes sales"
    );
    // Both managers' debounces would have fired together.
    wait(500).await;
    assert_eq!(requests(&support).await, 1, "support is not refreshed");
    assert_eq!(evaluations(&tag_id(Some(&support))).length(), 1);
    a.destroy();
    b.destroy();
}

#[wasm_bindgen_test]
async fn the_host_apps_own_token_expired_error_does_not_remount_the_widget() {
    let id = unique("hosterr");
    let m = manager(test_opts(&id, &format!(r#""org": "{id}""#)));
    assert_eq!(code_of(m.initialize()).await, "ok");
    // The page's own script (another origin than the widget's).
    fire_window_error("Uncaught Error: Session token expired", &page_url());
    fire_window_error("Session token expired", "");
    wait(700).await;
    assert_eq!(requests(&id).await, 1, "not the widget's error");
    assert_eq!(evaluations(&tag_id(Some(&id))).length(), 1);
    m.destroy();
}

#[wasm_bindgen_test]
async fn a_refresh_margin_longer_than_the_token_does_not_loop() {
    // Reported: refreshMarginMs 600000 with 5-minute tokens made 168
    // requests and 167 widget evaluations in 3 s.
    let id = unique("margin");
    script(&id, r#"[{"ttlMs": 300000}]"#).await;
    let m = manager(test_opts(
        &id,
        &format!(r#""org": "{id}", "refreshMarginMs": 600000"#),
    ));
    assert_eq!(code_of(m.initialize()).await, "ok");
    wait(1500).await;
    assert_eq!(requests(&id).await, 1);
    assert_eq!(evaluations(&tag_id(Some(&id))).length(), 1);
    // The margin is capped at half the lifetime: due in about 2.5 min.
    assert_eq!(m.state(), "ready");
    m.destroy();
}

#[wasm_bindgen_test]
async fn the_same_token_again_is_not_remounted_and_does_not_loop() {
    let id = unique("sametoken");
    let tag = tag_id(Some(&id));
    // A backend that serves its cached token, with a margin as long as
    // the token's life (capped at half of it).
    script(
        &id,
        r#"[{"ttlMs": 30000}, {"ttlMs": 30000, "sameToken": true}]"#,
    )
    .await;
    let m = manager(test_opts(
        &id,
        &format!(r#""org": "{id}", "refreshMarginMs": 30000"#),
    ));
    assert_eq!(code_of(m.initialize()).await, "ok");
    let first = only_tag_token(&tag);
    assert_eq!(code_of(m.refresh_token()).await, "ok");
    assert_eq!(requests(&id).await, 2);
    assert_eq!(
        evaluations(&tag).length(),
        1,
        "the same token is not remounted"
    );
    assert_eq!(only_tag_token(&tag), first);
    assert_eq!(m.state(), "ready");
    // The next try waits half of what is left (15 s), not a loop.
    wait(1500).await;
    assert_eq!(requests(&id).await, 2, "backed off, not looping");
    assert_eq!(evaluations(&tag).length(), 1);
    m.destroy();
}

#[wasm_bindgen_test]
async fn a_visitor_clock_hours_off_still_gets_a_widget_that_refreshes_on_time() {
    // skewMs shifts the server's clock: -2 h is a visitor 2 h ahead.
    for (skew, hide_date) in [
        (-7_200_000i64, false),
        (7_200_000, false),
        (-7_200_000, true),
        (7_200_000, true),
    ] {
        let id = unique("skew");
        script(
            &id,
            &format!(r#"[{{"ttlMs": 3000, "skewMs": {skew}, "hideDate": {hide_date}}}]"#),
        )
        .await;
        let m = std::rc::Rc::new(manager(test_opts(&id, &format!(r#""org": "{id}""#))));
        let what = format!("skew {skew} ms, Date header hidden: {hide_date}");
        assert_eq!(code_of(m.initialize()).await, "ok", "{what}");
        let left = m.expires_at().unwrap().get_time() - js_sys::Date::now();
        assert!(
            left > 1_000.0 && left <= 4_100.0,
            "{what}: expiresAt in the visitor's clock, got {left} ms left"
        );
        // Default margin: 20% of 3 s, so a refresh at about 2.4 s.
        assert!(
            wait_for_requests(&id, 2, 6000).await,
            "{what}: refreshed on time"
        );
        // The request is counted when it arrives; its answer is handled after.
        assert!(
            wait_for_state(&m, "ready", 5000).await,
            "{what}: ready again"
        );
        m.destroy();
    }
}

#[wasm_bindgen_test]
async fn a_success_clears_the_retry_a_failure_armed() {
    let id = unique("retryclear");
    let tag = tag_id(Some(&id));
    let m = manager(test_opts(
        &id,
        &format!(r#""org": "{id}", "maxRetries": 0, "retryDelayMs": 25, "maxRetryDelayMs": 10000"#),
    ));
    assert_eq!(code_of(m.initialize()).await, "ok");
    script(&id, r#"[{"status": 500}]"#).await;
    // Fails; a background retry is armed (0.17 to 0.5 s: 20 x 25 ms) and
    // the widget kept.
    assert_eq!(code_of(m.refresh_token()).await, "TOKEN_HTTP");
    script(&id, "[{}]").await;
    assert_eq!(code_of(m.refresh_token()).await, "ok");
    let (n, evals) = (requests(&id).await, evaluations(&tag).length());
    wait(1500).await;
    assert_eq!(requests(&id).await, n, "no retry after the success");
    assert_eq!(evaluations(&tag).length(), evals, "no extra remount");
    m.destroy();
}

#[wasm_bindgen_test]
async fn an_unhandled_rejection_saying_token_expired_triggers_a_refresh() {
    let id = unique("rejection");
    let m = manager(test_opts(&id, &format!(r#""org": "{id}""#)));
    assert_eq!(code_of(m.initialize()).await, "ok");
    for _ in 0..5 {
        fire_rejection("Token expired");
    }
    assert!(wait_for_requests(&id, 2, 3000).await);
    wait(400).await;
    assert_eq!(requests(&id).await, 2, "one refresh for the burst");
    m.destroy();
}

#[wasm_bindgen_test]
async fn a_401_is_not_retried_when_the_page_comes_back_or_the_check_runs() {
    // 401 means "this visitor may not chat": the page coming back
    // (online, pageshow, visible) and the periodic check ask nothing;
    // the visitor's "Try again" (or the page's refreshToken()) does.
    let id = unique("nounauth");
    script(&id, r#"[{"status": 401}]"#).await;
    let m = std::rc::Rc::new(manager(test_opts(
        &id,
        &format!(r#""org": "{id}", "checkIntervalMs": 100"#),
    )));
    assert_eq!(code_of(m.initialize()).await, "TOKEN_UNAUTHORIZED");
    script(&id, "[{}]").await;
    for (target, kind) in [
        ("window", "online"),
        ("window", "pageshow"),
        ("document", "visibilitychange"),
    ] {
        fire(target, kind);
    }
    // Many check intervals.
    wait(1000).await;
    assert_eq!(requests(&id).await, 1, "401 is not retried by itself");
    assert_eq!(m.state(), "fallback");
    assert_eq!(code_of(m.refresh_token()).await, "ok");
    assert_eq!(requests(&id).await, 2);
    m.destroy();
}

#[wasm_bindgen_test]
async fn the_periodic_check_makes_no_request_by_itself() {
    let id = unique("interval");
    let m = manager(test_opts(
        &id,
        &format!(r#""org": "{id}", "checkIntervalMs": 100"#),
    ));
    assert_eq!(code_of(m.initialize()).await, "ok");
    wait(1000).await;
    assert_eq!(requests(&id).await, 1, "an hour-long token, no refresh due");
    assert_eq!(m.state(), "ready");
    m.destroy();
}

#[wasm_bindgen_test]
async fn after_destroy_no_timer_or_listener_makes_requests() {
    let id = unique("quiet");
    script(&id, r#"[{"ttlMs": 1000}]"#).await;
    let m = manager(test_opts(
        &id,
        &format!(r#""org": "{id}", "checkIntervalMs": 100"#),
    ));
    assert_eq!(code_of(m.initialize()).await, "ok");
    m.destroy();
    wait(50).await;
    let before = requests(&id).await;
    fire("window", "online");
    fire_window_error("token expired", &widget_src(&id));
    // Past the refresh point (800 ms) and many check intervals.
    wait(1200).await;
    assert_eq!(requests(&id).await, before);
}

#[wasm_bindgen_test]
async fn destroy_from_a_state_listener_stops_the_refresh_before_its_request() {
    let id = unique("statedestroy");
    let m = JsValue::from(manager(test_opts(&id, &format!(r#""org": "{id}""#))));
    assert_eq!(code_of(refresh_via(&m)).await, "ok");
    assert_eq!(requests(&id).await, 1);
    destroy_on_state(&m, "refreshing");
    assert_eq!(code_of(refresh_via(&m)).await, "DESTROYED");
    wait(300).await;
    assert_eq!(requests(&id).await, 1, "no request after destroy()");
    assert_eq!(tags_with_id(&tag_id(Some(&id))).length(), 0);
}
