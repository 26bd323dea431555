//! Options checking, loading state, fallback box and state events
//! (issue point 7 and the typed-error contract).
#![cfg(target_arch = "wasm32")]

mod common;

use common::*;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_test::*;
use web_sys::Element;

wasm_bindgen_test_configure!(run_in_browser);

fn doc() -> web_sys::Document {
    web_sys::window().unwrap().document().unwrap()
}

fn within(container: &str, selector: &str) -> Vec<Element> {
    let list = doc()
        .query_selector_all(&format!("#{container} {selector}"))
        .unwrap();
    (0..list.length())
        .filter_map(|i| list.item(i))
        .map(|n| n.unchecked_into())
        .collect()
}

#[wasm_bindgen_test]
fn bad_options_throw_invalid_options_naming_the_key() {
    let cases = [
        (r#"{"tokenURL": "/t"}"#, "tokenUrl"),
        (r#"{}"#, "tokenUrl"),
        (r#"{"tokenUrl": ""}"#, "tokenUrl"),
        (r#"{"tokenUrl": 5}"#, "tokenUrl"),
        (
            r#"{"tokenUrl": "/t", "checkIntervalMs": "1h"}"#,
            "checkIntervalMs",
        ),
        (
            r#"{"tokenUrl": "/t", "requestTimeoutMs": -1}"#,
            "requestTimeoutMs",
        ),
        (
            r#"{"tokenUrl": "/t", "widgetSrc": "javascript:alert(1)"}"#,
            "widgetSrc",
        ),
        (
            r#"{"tokenUrl": "/t", "fallback": {"email": "x@y.com?bcc=z@evil.com"}}"#,
            "fallback.email",
        ),
        (
            r#"{"tokenUrl": "/t", "fallback": {"url": "javascript:alert(1)"}}"#,
            "fallback.url",
        ),
        (
            r#"{"tokenUrl": "/t", "fallback": {"phone": "call me"}}"#,
            "fallback.phone",
        ),
        (
            r#"{"tokenUrl": "/t", "fallback": {"colour": "red"}}"#,
            "fallback.colour",
        ),
        (
            r#"{"tokenUrl": "/t", "fetchInit": {"method": "POST"}}"#,
            "fetchInit.method",
        ),
        (
            r#"{"tokenUrl": "/t", "fetchInit": {"credentials": "always"}}"#,
            "fetchInit.credentials",
        ),
        (r#"{"tokenUrl": "/t", "org": ""}"#, "org"),
        (r###"{"tokenUrl": "/t", "container": "##"}"###, "container"),
        (r#"{"tokenUrl": "/t", "reload": "page"}"#, "reload"),
        // Values that would make every fetch throw or answer opaquely.
        (
            r#"{"tokenUrl": "/t", "fetchInit": {"referrerPolicy": "sometimes"}}"#,
            "fetchInit.referrerPolicy",
        ),
        (
            r#"{"tokenUrl": "/t", "fetchInit": {"mode": "no-cors"}}"#,
            "fetchInit.mode",
        ),
        (
            r#"{"tokenUrl": "/t", "fetchInit": {"cache": "only-if-cached"}}"#,
            "fetchInit.cache",
        ),
        (
            r#"{"tokenUrl": "https://api.example.com/t", "fetchInit": {"mode": "same-origin"}}"#,
            "fetchInit.mode",
        ),
        (
            r#"{"tokenUrl": "/t", "fetchInit": {"headers": {"X Bad Name": "1"}}}"#,
            "fetchInit.headers.X Bad Name",
        ),
        // fetch refuses it, and the password would be quoted in errors.
        (
            r#"{"tokenUrl": "https://user:secret@example.com/t"}"#,
            "tokenUrl",
        ),
        (
            r#"{"tokenUrl": "/t", "widgetSrc": "https://user@example.com/w.js"}"#,
            "widgetSrc",
        ),
    ];
    for (json, key) in cases {
        let (code, message) = constructor_error(opts(json));
        assert_eq!(code, "INVALID_OPTIONS", "{json}");
        assert!(!message.contains("secret"), "no password in messages");
        assert!(
            message.contains(&format!("`{key}`")),
            "{json}: message names {key}: {message}"
        );
    }
    for v in [
        JsValue::NULL,
        JsValue::from("tokenUrl"),
        js_sys::Array::new().into(),
    ] {
        assert_eq!(constructor_error(v).0, "INVALID_OPTIONS");
    }
    let (_, message) = constructor_error(opts(r#"{"tokenURL": "/t"}"#));
    assert!(message.contains("did you mean `tokenUrl`"), "{message}");
    // undefined means "use the default".
    let undefined_ok = opts(r#"{"tokenUrl": "/t", "org": "undef-ok"}"#);
    js_sys::Reflect::set(
        &undefined_ok,
        &"refreshMarginMs".into(),
        &JsValue::UNDEFINED,
    )
    .unwrap();
    assert_eq!(constructor_error(undefined_ok).0, "none");
}

#[wasm_bindgen_test]
async fn an_accessible_status_shows_while_loading_and_goes_when_ready() {
    let id = unique("loading");
    let box_id = format!("{id}-box");
    make_container(&box_id);
    script(&id, r#"[{"delay": 300}]"#).await;
    let m = std::rc::Rc::new(manager(test_opts(
        &id,
        &format!(r##""org": "{id}", "container": "#{box_id}""##),
    )));
    let p = m.initialize();
    assert!(wait_for_state(&m, "loading", 5000).await);
    let status = within(&box_id, ".chathub-loader-status");
    assert_eq!(status.len(), 1);
    assert_eq!(status[0].get_attribute("role").as_deref(), Some("status"));
    assert_eq!(
        status[0].get_attribute("aria-live").as_deref(),
        Some("polite")
    );
    assert!(!status[0].text_content().unwrap_or_default().is_empty());
    assert_eq!(code_of(p).await, "ok");
    assert_eq!(within(&box_id, ".chathub-loader-status").len(), 0);
    m.destroy();
}

#[wasm_bindgen_test]
async fn the_fallback_is_one_safe_contact_box_and_try_again_recovers() {
    let id = unique("fallback");
    let box_id = format!("{id}-box");
    let container = make_container(&box_id);
    script(&id, r#"[{"status": 401}]"#).await;
    let o = opts(&format!(
        r#"{{"tokenUrl": "{}", "widgetSrc": "{}", "org": "{id}",
            "fallback": {{"title": "<b>Chat</b> offline", "message": "Write to us", "email": "help@example.com",
                          "phone": "+39 02 1234-567", "url": "https://example.com/contact"}}}}"#,
        token_url(&id),
        widget_src(&id)
    ));
    js_sys::Reflect::set(&o, &"container".into(), &container).unwrap();
    let m = manager(o);
    let log = start_state_log();
    assert_eq!(code_of(m.initialize()).await, "TOKEN_UNAUTHORIZED");
    assert_eq!(code_of(m.initialize()).await, "TOKEN_UNAUTHORIZED");
    assert_eq!(
        within(&box_id, ".chathub-loader-fallback").len(),
        1,
        "never two boxes"
    );
    let heading = within(&box_id, ".chathub-loader-fallback h2");
    assert_eq!(
        heading[0].text_content().as_deref(),
        Some("<b>Chat</b> offline")
    );
    assert_eq!(
        within(&box_id, ".chathub-loader-fallback b").len(),
        0,
        "text, not markup"
    );
    let hrefs: Vec<String> = within(&box_id, ".chathub-loader-fallback a")
        .iter()
        .filter_map(|a| a.get_attribute("href"))
        .collect();
    assert_eq!(
        hrefs,
        [
            "mailto:help@example.com",
            "tel:+39021234567",
            "https://example.com/contact"
        ]
    );
    let entries = js_sys::Array::from(&get(&log, "log"));
    let last = entries.get(entries.length() - 1);
    assert_eq!(get(&last, "state").as_string().as_deref(), Some("fallback"));
    assert_eq!(get(&last, "org").as_string().as_deref(), Some(id.as_str()));
    assert_eq!(
        get(&get(&last, "error"), "code").as_string().as_deref(),
        Some("TOKEN_UNAUTHORIZED")
    );

    script(&id, "[{}]").await;
    let button: web_sys::HtmlElement = within(&box_id, ".chathub-loader-fallback button")[0]
        .clone()
        .unchecked_into();
    assert_eq!(button.text_content().as_deref(), Some("Try again"));
    button.click();
    let bid = box_id.clone();
    let gone = wait_for(
        move || within(&bid, ".chathub-loader-fallback").is_empty(),
        3000,
    )
    .await;
    assert!(gone, "a later success removes the box");
    assert_eq!(m.state(), "ready");
    assert_eq!(tags_with_id(&tag_id(Some(&id))).length(), 1);
    get(&log, "stop")
        .dyn_into::<js_sys::Function>()
        .unwrap()
        .call0(&JsValue::NULL)
        .unwrap();
    m.destroy();
}

#[wasm_bindgen_test]
async fn fallback_false_shows_no_box_but_reports_the_state() {
    let id = unique("nofb");
    let box_id = format!("{id}-box");
    make_container(&box_id);
    script(&id, r#"[{"status": 403}]"#).await;
    let m = manager(test_opts(
        &id,
        &format!(r##""org": "{id}", "fallback": false, "container": "#{box_id}""##),
    ));
    assert_eq!(code_of(m.initialize()).await, "TOKEN_UNAUTHORIZED");
    assert_eq!(m.state(), "fallback");
    assert_eq!(within(&box_id, "*").len(), 0);
    m.destroy();
}

#[wasm_bindgen_test]
async fn a_container_that_is_not_there_is_reported_at_initialize() {
    let id = unique("nobox");
    let m = manager(test_opts(
        &id,
        &format!(r##""org": "{id}", "container": "#does-not-exist""##),
    ));
    let err = outcome(m.initialize()).await.expect("rejects");
    assert_eq!(
        get(&err, "code").as_string().as_deref(),
        Some("INVALID_OPTIONS")
    );
    assert!(get(&err, "message")
        .as_string()
        .unwrap()
        .contains("#does-not-exist"));
    m.destroy();
}

#[wasm_bindgen_test]
async fn state_events_follow_the_life_cycle() {
    let id = unique("events");
    let m = manager(test_opts(&id, &format!(r#""org": "{id}""#)));
    let log = start_state_log();
    assert_eq!(code_of(m.initialize()).await, "ok");
    assert_eq!(code_of(m.refresh_token()).await, "ok");
    m.destroy();
    let entries = js_sys::Array::from(&get(&log, "log"));
    let seq: Vec<String> = entries
        .iter()
        .filter(|e| get(e, "org").as_string().as_deref() == Some(id.as_str()))
        .map(|e| {
            format!(
                "{}>{}",
                get(&e, "previous").as_string().unwrap(),
                get(&e, "state").as_string().unwrap()
            )
        })
        .collect();
    assert_eq!(
        seq,
        [
            "idle>loading",
            "loading>ready",
            "ready>refreshing",
            "refreshing>ready",
            "ready>destroyed"
        ]
    );
    get(&log, "stop")
        .dyn_into::<js_sys::Function>()
        .unwrap()
        .call0(&JsValue::NULL)
        .unwrap();
}

#[wasm_bindgen_test]
async fn a_page_listener_that_destroys_on_focusout_does_not_break_the_loader() {
    // Removing the contact box while its button has focus fires focusout
    // synchronously; the page's listener destroys the manager right then.
    let id = unique("focusout");
    let box_id = format!("{id}-box");
    make_container(&box_id);
    script(&id, r#"[{"status": 401}]"#).await;
    let o = format!(r##""org": "{id}", "container": "#{box_id}""##);
    let m = manager(test_opts(&id, &o));
    assert_eq!(code_of(m.initialize()).await, "TOKEN_UNAUTHORIZED");
    let button: web_sys::HtmlElement = within(&box_id, ".chathub-loader-fallback button")[0]
        .clone()
        .unchecked_into();
    button.focus().unwrap();
    script(&id, "[{}]").await;
    let log = start_state_log();
    destroy_on_focus_out(&button, JsValue::from(m));
    button.click();
    let destroyed = {
        let log = log.clone();
        wait_for(
            move || {
                js_sys::Array::from(&get(&log, "log"))
                    .iter()
                    .any(|e| get(&e, "state").as_string().as_deref() == Some("destroyed"))
            },
            5000,
        )
        .await
    };
    assert!(destroyed, "the page's destroy() ran");
    assert_eq!(
        within(&box_id, "*").len(),
        0,
        "nothing left in the container"
    );
    assert_eq!(tags_with_id(&tag_id(Some(&id))).length(), 0);
    // The loader still works: the org's slot is free for a new manager.
    let again = manager(test_opts(&id, &o));
    assert_eq!(code_of(again.initialize()).await, "ok");
    assert_eq!(tags_with_id(&tag_id(Some(&id))).length(), 1);
    again.destroy();
    get(&log, "stop")
        .dyn_into::<js_sys::Function>()
        .unwrap()
        .call0(&JsValue::NULL)
        .unwrap();
}
