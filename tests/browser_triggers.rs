//! Load triggers (option `trigger`, issue 8 §2): `initialize()` waits for
//! the trigger with the state `idle` and no token request, loads once it
//! fires, and `destroy()` during the wait cancels it cleanly (no request,
//! no listener left). Waits are for request counts and states; the fixed
//! sleeps only prove that nothing happens in a window far longer than an
//! eager load takes on loopback (a few ms).
#![cfg(target_arch = "wasm32")]

mod common;

use std::rc::Rc;

use chathub_loader::WidgetTokenManager;
use common::*;
use wasm_bindgen::prelude::*;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

/// Long enough that an eager load would have made its request many times over.
const QUIET_MS: u32 = 500;

/// Removes the container below the fold and scrolls back to the top.
async fn remove_below_the_fold(id: &str) {
    let _ = wasm_bindgen_futures::JsFuture::from(remove_below_the_fold_js(id)).await;
}

fn number(obj: &JsValue, key: &str) -> f64 {
    get(obj, key).as_f64().unwrap_or(-1.0)
}

/// The interaction listeners attached now (see `trackListeners`).
fn listeners(tracker: &JsValue) -> u32 {
    call(tracker, "count").as_f64().unwrap_or(-1.0) as u32
}

/// A manager for scenario `id` (own org, own container) with `trigger`.
fn triggered(id: &str, trigger: &str, container: &str) -> Rc<WidgetTokenManager> {
    Rc::new(manager(test_opts(
        id,
        &format!(r##""org": "{id}", "container": "#{container}", "trigger": "{trigger}""##),
    )))
}

/// Nothing started: no request, state `idle`, no loading status, no tag.
async fn nothing_started(id: &str, m: &WidgetTokenManager, box_id: &str, what: &str) {
    assert_eq!(requests(id).await, 0, "{what}: no token request yet");
    assert_eq!(m.state(), "idle", "{what}: still idle");
    assert_eq!(statuses_in(box_id), 0, "{what}: no loading status yet");
    assert_eq!(
        tags_with_id(&tag_id(Some(id))).length(),
        0,
        "{what}: no widget tag"
    );
}

#[wasm_bindgen_test]
fn a_bad_trigger_is_invalid_options_naming_the_allowed_values() {
    let (code, message) = constructor_error(opts(r#"{"tokenUrl": "/t", "trigger": "lazy"}"#));
    assert_eq!(code, "INVALID_OPTIONS");
    assert!(
        message.contains("trigger") && message.contains("eager, idle, visible, interaction"),
        "{message}"
    );
    let (code, message) = constructor_error(opts(r#"{"tokenUrl": "/t", "trigger": 1}"#));
    assert_eq!(code, "INVALID_OPTIONS");
    assert!(message.contains("trigger"), "{message}");
    for ok in ["eager", "idle", "visible", "interaction"] {
        let o = format!(r#"{{"tokenUrl": "/t", "trigger": "{ok}"}}"#);
        assert_eq!(constructor_error(opts(&o)).0, "none", "{ok}");
    }
    // Part of the options a second handle must match.
    let id = unique("trigger-conflict");
    let m = manager(test_opts(
        &id,
        &format!(r#""org": "{id}", "trigger": "idle""#),
    ));
    let (code, message) = constructor_error(test_opts(
        &id,
        &format!(r#""org": "{id}", "trigger": "interaction""#),
    ));
    assert_eq!(code, "CONFLICTING_INSTANCE");
    assert!(message.contains("(trigger)"), "{message}");
    m.destroy();
}

#[wasm_bindgen_test]
async fn interaction_loads_at_the_first_keydown_and_not_before() {
    let id = unique("interaction");
    let box_id = container_for(&id);
    let tracker = track_listeners();
    let log = start_state_log();
    let m = triggered(&id, "interaction", &box_id);
    let p = m.initialize();
    wait(QUIET_MS).await;
    nothing_started(&id, &m, &box_id, "before any interaction").await;
    assert!(
        states_of(&log, &id).is_empty(),
        "no state event while waiting"
    );
    assert_eq!(listeners(&tracker), 5, "one listener per event type");

    dispatch("keydown");
    assert!(wait_for_requests(&id, 1, 5000).await);
    assert_eq!(code_of(p).await, "ok");
    assert_eq!(m.state(), "ready");
    assert_eq!(only_tag_token(&tag_id(Some(&id))), tokens(&id).await[0]);
    assert_eq!(listeners(&tracker), 0, "the listeners went when it fired");
    assert_eq!(
        states_of(&log, &id),
        [("loading".into(), None), ("ready".into(), None)]
    );
    // Later interactions do nothing more.
    dispatch("keydown");
    dispatch("pointerdown");
    wait(QUIET_MS).await;
    assert_eq!(requests(&id).await, 1);
    call(&tracker, "stop");
    stop_handle(&log);
    m.destroy();
    remove_container(&box_id);
}

#[wasm_bindgen_test]
async fn each_interaction_event_fires_it() {
    for event in ["pointerdown", "touchstart", "scroll", "wheel"] {
        let id = unique(&format!("interaction-{event}"));
        let box_id = container_for(&id);
        let m = triggered(&id, "interaction", &box_id);
        let p = m.initialize();
        wait(100).await;
        nothing_started(&id, &m, &box_id, event).await;
        dispatch(event);
        assert!(wait_for_requests(&id, 1, 5000).await, "{event} fires it");
        assert_eq!(code_of(p).await, "ok", "{event}");
        assert_eq!(requests(&id).await, 1, "{event}");
        m.destroy();
        remove_container(&box_id);
    }
}

#[wasm_bindgen_test]
async fn idle_waits_for_request_idle_callback() {
    let id = unique("idle-stub");
    let box_id = container_for(&id);
    let idle = stub_idle();
    let m = triggered(&id, "idle", &box_id);
    let p = m.initialize();
    let probe = idle.clone();
    assert!(wait_for(move || number(&probe, "calls") == 1.0, 2000).await);
    assert_eq!(number(&idle, "timeout"), 5000.0, "with a timeout");
    wait(QUIET_MS).await;
    nothing_started(&id, &m, &box_id, "before the idle callback").await;
    call(&idle, "run");
    assert!(wait_for_state(&m, "ready", 5000).await);
    assert_eq!(code_of(p).await, "ok");
    assert_eq!(requests(&id).await, 1);
    call(&idle, "restore");
    m.destroy();
    remove_container(&box_id);
}

#[wasm_bindgen_test]
async fn idle_loads_with_the_browsers_own_idle_callback() {
    let id = unique("idle");
    let box_id = container_for(&id);
    let m = triggered(&id, "idle", &box_id);
    let p = m.initialize();
    assert_eq!(m.state(), "idle", "not started synchronously");
    assert!(wait_for_state(&m, "ready", 8000).await);
    assert_eq!(code_of(p).await, "ok");
    assert_eq!(requests(&id).await, 1);
    m.destroy();
    remove_container(&box_id);
}

#[wasm_bindgen_test]
async fn idle_without_request_idle_callback_uses_a_timer_after_load() {
    let id = unique("idle-safari");
    let box_id = container_for(&id);
    let restore = without_idle();
    let m = triggered(&id, "idle", &box_id);
    let p = m.initialize();
    assert_eq!(m.state(), "idle");
    // The page has loaded long ago: 200 ms later.
    assert!(wait_for_state(&m, "ready", 5000).await);
    let _ = restore.call0(&JsValue::NULL);
    assert_eq!(code_of(p).await, "ok");
    assert_eq!(requests(&id).await, 1);
    m.destroy();
    remove_container(&box_id);
}

#[wasm_bindgen_test]
async fn visible_waits_until_the_container_scrolls_into_view() {
    let id = unique("visible");
    let box_id = format!("{id}-box");
    below_the_fold(&box_id);
    let m = triggered(&id, "visible", &box_id);
    let p = m.initialize();
    wait(QUIET_MS).await;
    nothing_started(&id, &m, &box_id, "below the fold").await;
    scroll_into_view(&box_id);
    assert!(wait_for_requests(&id, 1, 5000).await);
    assert_eq!(code_of(p).await, "ok");
    assert_eq!(m.state(), "ready");
    assert_eq!(requests(&id).await, 1);
    m.destroy();
    remove_below_the_fold(&box_id).await;
}

#[wasm_bindgen_test]
async fn visible_with_the_default_container_loads_at_once() {
    let id = unique("visible-body");
    let m = manager(test_opts(
        &id,
        &format!(r#""org": "{id}", "trigger": "visible""#),
    ));
    assert_eq!(code_of(m.initialize()).await, "ok");
    assert_eq!(requests(&id).await, 1);
    m.destroy();
}

#[wasm_bindgen_test]
async fn destroy_while_waiting_makes_no_request_and_leaves_no_listener() {
    // interaction
    let id = unique("destroy-interaction");
    let box_id = container_for(&id);
    let tracker = track_listeners();
    let m = triggered(&id, "interaction", &box_id);
    let p = m.initialize();
    assert_eq!(listeners(&tracker), 5);
    m.destroy();
    assert_eq!(listeners(&tracker), 0, "removed by destroy() itself");
    call(&tracker, "stop");
    assert_eq!(code_of(p).await, "DESTROYED");
    dispatch("keydown");
    dispatch("pointerdown");
    wait(QUIET_MS).await;
    assert_eq!(
        requests(&id).await,
        0,
        "interaction: no request after destroy"
    );
    assert_eq!(m.state(), "destroyed");
    assert_eq!(statuses_in(&box_id) + boxes_in(&box_id), 0);
    remove_container(&box_id);

    // idle
    let id = unique("destroy-idle");
    let box_id = container_for(&id);
    let idle = stub_idle();
    let m = triggered(&id, "idle", &box_id);
    let p = m.initialize();
    assert_eq!(number(&idle, "calls"), 1.0);
    m.destroy();
    assert_eq!(
        number(&idle, "cancels"),
        1.0,
        "the idle callback is cancelled"
    );
    assert_eq!(code_of(p).await, "DESTROYED");
    call(&idle, "run"); // even if the browser called it anyway
    wait(QUIET_MS).await;
    assert_eq!(requests(&id).await, 0, "idle: no request after destroy");
    call(&idle, "restore");
    remove_container(&box_id);

    // visible
    let id = unique("destroy-visible");
    let box_id = format!("{id}-box");
    below_the_fold(&box_id);
    let m = triggered(&id, "visible", &box_id);
    let p = m.initialize();
    wait(100).await;
    m.destroy();
    assert_eq!(code_of(p).await, "DESTROYED");
    scroll_into_view(&box_id);
    wait(QUIET_MS).await;
    assert_eq!(requests(&id).await, 0, "visible: no request after destroy");
    remove_below_the_fold(&box_id).await;
}

#[wasm_bindgen_test]
async fn refresh_token_before_the_trigger_loads_at_once() {
    let id = unique("trigger-refresh");
    let box_id = container_for(&id);
    let tracker = track_listeners();
    let m = triggered(&id, "interaction", &box_id);
    let init = m.initialize();
    wait(100).await;
    nothing_started(&id, &m, &box_id, "before refreshToken()").await;
    let refresh = m.refresh_token();
    assert_eq!(code_of(refresh).await, "ok");
    assert_eq!(code_of(init).await, "ok");
    assert_eq!(m.state(), "ready");
    assert_eq!(requests(&id).await, 1, "one request for both calls");
    assert_eq!(listeners(&tracker), 0, "the wait is over");
    call(&tracker, "stop");
    m.destroy();
    remove_container(&box_id);
}

#[wasm_bindgen_test]
async fn concurrent_initialize_calls_share_one_wait() {
    let id = unique("trigger-shared");
    let box_id = container_for(&id);
    let tracker = track_listeners();
    let a = triggered(&id, "interaction", &box_id);
    let b = triggered(&id, "interaction", &box_id);
    let calls = [a.initialize(), a.initialize(), b.initialize()];
    assert_eq!(listeners(&tracker), 5, "one wait for all three calls");
    wait(100).await;
    nothing_started(&id, &a, &box_id, "shared wait").await;
    dispatch("pointerdown");
    for p in calls {
        assert_eq!(code_of(p).await, "ok");
    }
    assert_eq!(requests(&id).await, 1);
    assert_eq!(tags_with_id(&tag_id(Some(&id))).length(), 1);
    call(&tracker, "stop");
    a.destroy();
    b.destroy();
    remove_container(&box_id);
}
