//! Hostile input (issue 10): markup and script in options and in the
//! server's answers, org ids full of URL and HTML syntax, prototype
//! pollution keys, URL spellings that mean something else than they read,
//! and token hygiene (the token goes into the widget tag and nowhere else).
#![cfg(target_arch = "wasm32")]

mod common;

use std::rc::Rc;

use chathub_loader::WidgetTokenManager;
use common::*;
use js_sys::{Object, Reflect, JSON};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn set(obj: &JsValue, key: &str, value: &JsValue) {
    Reflect::set(obj, &key.into(), value).unwrap();
}

fn managed(options: JsValue) -> Rc<WidgetTokenManager> {
    Rc::new(manager(options))
}

fn text_of(selector: &str) -> Option<String> {
    find(selector).and_then(|e| e.text_content())
}

/// `needle`'s occurrences in `hay`.
fn occurrences(hay: &str, needle: &str) -> usize {
    hay.matches(needle).count()
}

/// A JSON string literal for `s`.
fn json_string(s: &str) -> String {
    JSON::stringify(&JsValue::from_str(s))
        .unwrap()
        .as_string()
        .unwrap()
}

fn not_pwned(what: &str) {
    assert!(pwned().is_undefined(), "{what}: injected script ran");
}

#[wasm_bindgen_test]
async fn markup_in_options_and_answers_is_shown_as_text_and_never_runs() {
    let id = unique("markup");
    let box_id = container_for(&id);
    let rec = record_rejections();
    let title = r#"<img src=x onerror="window.__pwned=1">"#;
    let message = r#""><script>window.__pwned=1</script>"#;
    let button_text = r#"</button><img src=x onerror=window.__pwned=1>"#;
    let loading = r#"<img src=x onerror=window.__pwned=1>Loading"#;
    let o = test_opts(
        &id,
        &format!(r##""org": "{id}", "container": "#{box_id}", "maxRetries": 0"##),
    );
    let fallback = Object::new();
    set(&fallback, "title", &title.into());
    set(&fallback, "message", &message.into());
    set(&fallback, "buttonText", &button_text.into());
    set(&o, "fallback", &fallback);
    set(&o, "loadingText", &loading.into());
    // An error page full of markup, slow enough to see the loading status.
    script(
        &id,
        r#"[{"status": 401, "delay": 400, "body": "<img src=x onerror=window.__pwned=1><script>window.__pwned=1</script>"}]"#,
    )
    .await;
    let m = managed(o);
    let p = m.initialize();
    assert!(wait_for_state(&m, "loading", 5000).await);
    let status = format!("#{box_id} .chathub-loader-status");
    assert_eq!(text_of(&status).as_deref(), Some(loading));
    assert_eq!(count(&format!("#{box_id} img, #{box_id} script")), 0);
    assert_eq!(code_of(p).await, "TOKEN_UNAUTHORIZED");
    let bx = format!("#{box_id} .chathub-loader-fallback");
    assert_eq!(boxes_in(&box_id), 1);
    assert_eq!(text_of(&format!("{bx} h2")).as_deref(), Some(title));
    assert_eq!(text_of(&format!("{bx} p")).as_deref(), Some(message));
    assert_eq!(
        box_button(&box_id).text_content().as_deref(),
        Some(button_text)
    );
    assert_eq!(
        find(&bx)
            .and_then(|b| b.get_attribute("aria-label"))
            .as_deref(),
        Some(title)
    );
    assert_eq!(
        count(&format!("#{box_id} img, #{box_id} script")),
        0,
        "nothing rendered as HTML"
    );
    // The busy button says loadingText, as text too.
    script(&id, r#"[{"status": 401, "delay": 400}]"#).await;
    let b = box_button(&box_id);
    b.click();
    assert_eq!(b.text_content().as_deref(), Some(loading));
    assert_eq!(count(&format!("#{box_id} img, #{box_id} script")), 0);
    let b2 = b.clone();
    assert!(wait_for(move || !b2.disabled(), 5000).await);
    // A token full of markup goes into the attribute as it is.
    let token = r#""><img src=x onerror=window.__pwned=1><script>window.__pwned=1</script>"#;
    script(
        &id,
        &format!(
            r#"[{{"body": {{"token": {}, "expiresAt": "2099-01-01T00:00:00Z"}}}}]"#,
            json_string(token)
        ),
    )
    .await;
    b.click();
    assert!(wait_for_state(&m, "ready", 5000).await);
    assert_eq!(only_tag_token(&tag_id(Some(&id))), token);
    // Give an <img onerror> (a task after insertion) time to fire.
    wait(300).await;
    let imgs = count(r#"img[src="x"]"#);
    m.destroy();
    not_pwned("markup");
    assert_eq!(
        imgs, 0,
        "no element from the server's or the page's strings"
    );
    assert_no_rejections(&rec, "markup");
    remove_container(&box_id);
}

#[wasm_bindgen_test]
async fn hostile_org_ids_are_encoded_in_the_request_and_escaped_in_the_tag_id() {
    let n = (js_sys::Math::random() * 1e6) as u32;
    for base in [
        r#"a/b?c#d"e'f"#,
        "Zürich-组织-😀",
        r#"x"><img/src=x/onerror=window.__pwned=1>"#,
        "a&org=evil",
        "%41%2F..%2f",
        "_5f-",
    ] {
        let org = format!("{base}-{n}");
        let id = unique("hostileorg");
        let rec = record_rejections();
        let o = test_opts(&id, "");
        set(&o, "org", &org.as_str().into());
        let m = managed(o);
        assert_eq!(code_of(m.initialize()).await, "ok", "{org}");
        let orgs = js_sys::Array::from(&get(&stats(&id).await, "orgs"));
        assert_eq!(
            orgs.get(0).as_string().as_deref(),
            Some(org.as_str()),
            "{org}: the endpoint got the org intact (URL-encoded in the query)"
        );
        let tid = tag_id(Some(&org));
        assert!(
            tid.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
            "{tid}"
        );
        assert_eq!(tags_with_id(&tid).length(), 1, "{org}: one tag, id {tid}");
        let first = tokens(&id).await.first().cloned();
        let by_selector = find(&format!("script#{tid}"));
        assert!(
            by_selector.is_some_and(|s| s.get_attribute("token") == first),
            "{org}: the id works in a selector without escaping"
        );
        assert_eq!(evaluations(&tid).length(), 1, "{org}");
        assert_eq!(m.org().as_deref(), Some(org.as_str()));
        m.destroy();
        assert_eq!(tags_with_id(&tid).length(), 0, "{org}");
        not_pwned(&org);
        assert_no_rejections(&rec, &org);
    }
    // Two orgs that differ only where escaping happens get two ids.
    assert_ne!(tag_id(Some("a_2f")), tag_id(Some("a/")));
}

#[wasm_bindgen_test]
fn prototype_pollution_keys_in_options_are_refused_and_change_nothing() {
    let before = prototype_keys();
    // JSON.parse makes `__proto__` an own key, as a page's JSON config would.
    let cases = [
        (
            r#"{"tokenUrl": "/t", "__proto__": {"polluted": "yes", "widgetSrc": "https://evil.example/w.js"}}"#,
            "__proto__",
        ),
        (
            r#"{"tokenUrl": "/t", "constructor": {"prototype": {"polluted": "yes"}}}"#,
            "constructor",
        ),
        (
            r#"{"tokenUrl": "/t", "fallback": {"__proto__": {"polluted": "yes"}}}"#,
            "fallback.__proto__",
        ),
        (
            r#"{"tokenUrl": "/t", "fallback": {"constructor": {"prototype": {"polluted": "yes"}}}}"#,
            "fallback.constructor",
        ),
        (
            r#"{"tokenUrl": "/t", "fetchInit": {"__proto__": {"polluted": "yes"}}}"#,
            "fetchInit.__proto__",
        ),
        (
            r#"{"tokenUrl": "/t", "fetchInit": {"headers": {"__proto__": {"polluted": "yes"}}}}"#,
            "fetchInit.headers.__proto__",
        ),
    ];
    for (json, key) in cases {
        let o = opts(json);
        let (code, message) = constructor_error(o);
        assert_eq!(code, "INVALID_OPTIONS", "{json}");
        assert!(
            message.contains(&format!("`{key}`")),
            "{json}: names {key}: {message}"
        );
        assert!(
            polluted().is_undefined(),
            "{json}: Object.prototype polluted"
        );
        assert_eq!(prototype_keys(), before, "{json}: Object.prototype changed");
    }
}

#[wasm_bindgen_test]
async fn a_token_answer_with_prototype_keys_is_used_without_polluting() {
    let id = unique("protoanswer");
    let rec = record_rejections();
    let before = prototype_keys();
    let token = format!("opaque-token-{id}");
    let body = format!(
        r#"{{"__proto__": {{"polluted": "yes", "token": "inherited"}}, "constructor": {{"prototype": {{"polluted": "yes"}}}}, "token": "{token}", "expiresAt": "2099-01-01T00:00:00.000Z"}}"#
    );
    script(&id, &format!(r#"[{{"body": {}}}]"#, json_string(&body))).await;
    let m = managed(test_opts(&id, &format!(r#""org": "{id}""#)));
    assert_eq!(code_of(m.initialize()).await, "ok");
    assert_eq!(m.state(), "ready");
    assert_eq!(only_tag_token(&tag_id(Some(&id))), token);
    assert!(polluted().is_undefined(), "({{}}).polluted");
    assert_eq!(prototype_keys(), before);
    m.destroy();
    assert_no_rejections(&rec, "__proto__ answer");
}

#[wasm_bindgen_test]
async fn options_inherited_from_a_polluted_object_prototype_are_not_used() {
    // Another script on the page polluted Object.prototype (a known bug
    // class). The page's own options object has no such keys: inherited
    // values must not become options (an inherited widgetSrc would be
    // handed the token).
    let id = unique("inherited");
    let box_id = container_for(&id);
    let marker = format!("polluted-{id}");
    let proto = Object::get_prototype_of(&Object::new().into());
    let polluted_src = format!("{}&{marker}", widget_src(&id));
    let o = opts(&format!(
        r##"{{"tokenUrl": "{}", "org": "{id}", "container": "#{box_id}"}}"##,
        token_url(&id)
    ));
    script(&id, r#"[{"delay": 500}]"#).await;
    let added = watch_added(&format!(r#"script[src*="{marker}"]"#));
    set(&proto, "widgetSrc", &polluted_src.as_str().into());
    set(&proto, "loadingText", &marker.as_str().into());
    let made = WidgetTokenManager::new(o.unchecked_into());
    Reflect::delete_property(&proto, &"widgetSrc".into()).unwrap();
    Reflect::delete_property(&proto, &"loadingText".into()).unwrap();
    let m = match made {
        Ok(m) => Rc::new(m),
        Err(e) => {
            // Refusing such a page is fine too.
            assert_eq!(
                get(&e, "code").as_string().as_deref(),
                Some("INVALID_OPTIONS")
            );
            stop_handle(&added);
            remove_container(&box_id);
            return;
        }
    };
    let p = m.initialize();
    assert!(wait_for_state(&m, "loading", 5000).await);
    let status = text_of(&format!("#{box_id} .chathub-loader-status"));
    let _ = code_of(p).await;
    let tag_src = tags_with_id(&tag_id(Some(&id)))
        .get(0)
        .dyn_into::<web_sys::Element>()
        .ok()
        .and_then(|t| t.get_attribute("src"));
    m.destroy();
    let with_marker = stop_handle(&added).as_f64();
    remove_container(&box_id);
    let used_src = with_marker != Some(0.0);
    let used_text = status.as_deref() == Some(marker.as_str());
    assert!(
        !used_src && !used_text,
        "inherited Object.prototype keys became options: widgetSrc {used_src} (the widget tag, carrying the token, had src {tag_src:?}), loadingText {used_text} (status {status:?})"
    );
}

#[wasm_bindgen_test]
fn url_options_that_mean_something_else_are_refused_at_construction() {
    let tricks = [
        "javascript:alert(1)",
        "JavaScript:alert(1)",
        "data:text/javascript,alert(1)",
        "blob:https://example.com/0b6e2c9a",
        "//evil.example/w.js",
        r"\\evil.example\w.js",
        r"/\evil.example/w.js",
        r"https:\\evil.example\w.js",
        "https:evil.example/w.js",
        "https:/evil.example/w.js",
    ];
    let org = unique("urls");
    for key in ["tokenUrl", "widgetSrc", "fallback.url"] {
        for raw in tricks {
            let o = opts(&format!(r#"{{"tokenUrl": "/t", "org": "{org}"}}"#));
            match key {
                "fallback.url" => {
                    let fb = Object::new();
                    set(&fb, "url", &raw.into());
                    set(&o, "fallback", &fb);
                }
                k => set(&o, k, &raw.into()),
            }
            let (code, message) = constructor_error(o);
            assert_eq!(code, "INVALID_OPTIONS", "{key}: {raw}");
            assert!(
                message.contains(&format!("`{key}`")),
                "{key}: {raw}: names the key: {message}"
            );
        }
    }
    // The widget receives the token: https, or http on the visitor's machine.
    for (src, ok) in [
        ("http://evil.example/w.js", false),
        ("http://192.168.1.10/w.js", false),
        ("http://localhost.evil.example/w.js", false),
        ("https://cdn.example.com/w.js", true),
        ("http://localhost:8080/w.js", true),
        ("http://127.0.0.1:9/w.js", true),
        ("http://[::1]:9/w.js", true),
    ] {
        let o = opts(&format!(r#"{{"tokenUrl": "/t", "org": "{org}"}}"#));
        set(&o, "widgetSrc", &src.into());
        let (code, message) = constructor_error(o);
        if ok {
            assert_eq!(code, "none", "{src}: {message}");
        } else {
            assert_eq!(code, "INVALID_OPTIONS", "{src}");
            assert!(message.contains("`widgetSrc`"), "{src}: {message}");
        }
    }
}

#[wasm_bindgen_test]
async fn tokens_go_into_the_widget_tag_and_nowhere_else() {
    let id = unique("hygiene");
    let tag = tag_id(Some(&id));
    reset_resource_timings();
    let history_before = history_length();
    let href_before = page_url();
    let console = record_console();
    js_sys::eval("console.debug('console-recorder-check')").unwrap();
    let rec = record_rejections();
    let log = start_state_log();
    let m = managed(test_opts(&id, &format!(r#""org": "{id}""#)));
    let mut errors = Vec::new();
    assert_eq!(code_of(m.initialize()).await, "ok");
    assert_eq!(code_of(m.refresh_token()).await, "ok");
    assert_eq!(code_of(m.refresh_token()).await, "ok");
    // A failed refresh while the widget works (and its background retries).
    script(&id, r#"[{"status": 500}]"#).await;
    let err = outcome(m.refresh_token()).await.expect("the refresh fails");
    assert_eq!(get(&err, "code").as_string().as_deref(), Some("TOKEN_HTTP"));
    errors.push(get(&err, "message").as_string().unwrap_or_default());
    errors.push(
        JSON::stringify(&err)
            .unwrap()
            .as_string()
            .unwrap_or_default(),
    );
    assert_eq!(m.state(), "ready");
    let tokens = tokens(&id).await;
    assert_eq!(tokens.len(), 3);
    let current = tokens[2].clone();
    let html = outer_html();
    let traces = page_traces();
    let details: Vec<String> = recorded(&log, "log")
        .iter()
        .map(|d| JSON::stringify(d).unwrap().as_string().unwrap_or_default())
        .collect();
    stop_handle(&log);
    let messages: Vec<String> = recorded(&console, "messages")
        .iter()
        .filter_map(|v| v.as_string())
        .collect();
    stop_handle(&console);
    assert!(
        messages.iter().any(|m| m == "console-recorder-check"),
        "the console recorder works"
    );
    let tag_token = only_tag_token(&tag);
    let history_after = history_length();
    let href_after = page_url();
    m.destroy();
    let html_after = outer_html();

    assert_eq!(
        tag_token, current,
        "the widget tag carries the current token"
    );
    assert_eq!(
        occurrences(&html, &current),
        1,
        "the current token is in the DOM once: the tag's token attribute"
    );
    for (i, t) in tokens.iter().enumerate() {
        if i < 2 {
            assert_eq!(occurrences(&html, t), 0, "old token {i} left the DOM");
        }
        assert!(
            !traces.contains(t.as_str()),
            "token {i} in storage, cookies, URL or resource names"
        );
        assert!(
            !messages.iter().any(|m| m.contains(t.as_str())),
            "token {i} in the console"
        );
        assert!(
            !errors.iter().any(|e| e.contains(t.as_str())),
            "token {i} in an error"
        );
        assert!(
            !details.iter().any(|d| d.contains(t.as_str())),
            "token {i} in a chathub:statechange detail"
        );
        assert!(
            !html_after.contains(t.as_str()),
            "token {i} stays after destroy()"
        );
    }
    assert!(
        details.len() >= 7,
        "the session reported its states: {details:?}"
    );
    assert!(
        traces.contains(&format!("/s/{id}/token")),
        "resource names were read"
    );
    assert_eq!(history_after, history_before, "no history entries");
    assert_eq!(href_after, href_before, "the URL is unchanged");
    assert_no_rejections(&rec, "hygiene");
}
