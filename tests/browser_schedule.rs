//! Scheduling and signals: refresh before expiry, long tokens, the
//! `token expired` signal, wake-up checks (issue points 5 and 6).
#![cfg(target_arch = "wasm32")]

mod common;

use common::*;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen_test]
async fn a_short_lived_token_is_refreshed_before_it_expires() {
    let id = unique("short");
    script(&id, r#"[{"ttlMs": 1500}]"#).await;
    let m = manager(test_opts(&id, &format!(r#""org": "{id}""#)));
    assert_eq!(code_of(m.initialize()).await, "ok");
    let first_expiry = m.expires_at().unwrap().get_time();
    // Default margin: 20% of 1.5 s, so a refresh at about 1.2 s.
    wait(1350).await;
    assert!(requests(&id).await >= 2, "refreshed before expiry");
    assert!(m.expires_at().unwrap().get_time() > first_expiry);
    assert_eq!(m.state(), "ready");
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
    for _ in 0..20 {
        fire_window_error("Uncaught Error: ChatHub widget: token expired");
    }
    wait(700).await;
    assert_eq!(requests(&id).await, 2, "one refresh for the whole burst");
    fire_window_error("some unrelated error");
    wait(400).await;
    assert_eq!(requests(&id).await, 2, "other errors are ignored");
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
    wait(700).await;
    assert_eq!(requests(&id).await, 2);
    m.destroy();
}

#[wasm_bindgen_test]
async fn coming_back_online_or_visible_retries_from_the_fallback() {
    for (target, kind) in [
        ("window", "online"),
        ("window", "pageshow"),
        ("document", "visibilitychange"),
    ] {
        let id = unique(kind);
        script(&id, r#"[{"status": 401}]"#).await;
        let m = manager(test_opts(&id, &format!(r#""org": "{id}""#)));
        assert_eq!(code_of(m.initialize()).await, "TOKEN_UNAUTHORIZED");
        wait(300).await;
        assert_eq!(requests(&id).await, 1, "401 is not retried by itself");
        script(&id, "[{}]").await;
        fire(target, kind);
        wait(500).await;
        assert_eq!(m.state(), "ready", "{kind} re-checks");
        m.destroy();
    }
}

#[wasm_bindgen_test]
async fn the_periodic_check_is_a_safety_net() {
    let id = unique("interval");
    script(&id, r#"[{"status": 401}]"#).await;
    let m = manager(test_opts(
        &id,
        &format!(r#""org": "{id}", "checkIntervalMs": 200"#),
    ));
    assert_eq!(code_of(m.initialize()).await, "TOKEN_UNAUTHORIZED");
    script(&id, "[{}]").await;
    wait(700).await;
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
    fire_window_error("token expired");
    // Past the refresh point (800 ms) and many check intervals.
    wait(1200).await;
    assert_eq!(requests(&id).await, before);
}
