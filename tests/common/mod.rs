//! Shared by the browser test files: the test server's address, scripting
//! its answers, and small DOM probes (tests/js/helpers.js).
#![allow(dead_code)]

use chathub_loader::WidgetTokenManager;
use js_sys::{Promise, Reflect, JSON};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

#[wasm_bindgen(module = "/tests/js/helpers.js")]
extern "C" {
    #[wasm_bindgen(js_name = scriptEndpoint)]
    fn script_endpoint(base: &str, id: &str, steps: JsValue) -> Promise;
    #[wasm_bindgen(js_name = endpointStats)]
    fn endpoint_stats(base: &str, id: &str) -> Promise;
    fn sleep(ms: u32) -> Promise;
    #[wasm_bindgen(js_name = tagsWithId)]
    pub fn tags_with_id(id: &str) -> js_sys::Array;
    pub fn evaluations(tag_id: &str) -> js_sys::Array;
    pub fn panels(tag_id: &str) -> js_sys::Array;
    #[wasm_bindgen(js_name = evaluationsFrom)]
    pub fn evaluations_from(url_part: &str) -> js_sys::Array;
    #[wasm_bindgen(js_name = panelsFrom)]
    pub fn panels_from(url_part: &str) -> js_sys::Array;
    #[wasm_bindgen(js_name = startStateLog)]
    pub fn start_state_log() -> JsValue;
    #[wasm_bindgen(js_name = watchTagCount)]
    pub fn watch_tag_count(id: &str) -> JsValue;
    #[wasm_bindgen(js_name = errorOf)]
    fn error_of(p: &Promise) -> Promise;
    #[wasm_bindgen(js_name = waitForRequests)]
    fn wait_for_requests_js(base: &str, id: &str, n: u32, timeout_ms: u32) -> Promise;
    #[wasm_bindgen(js_name = waitUntil)]
    fn wait_until(pred: &js_sys::Function, timeout_ms: u32) -> Promise;
    #[wasm_bindgen(js_name = fireWindowError)]
    pub fn fire_window_error(message: &str, filename: &str);
    #[wasm_bindgen(js_name = destroyOnFocusOut)]
    pub fn destroy_on_focus_out(el: &web_sys::Element, manager: JsValue);
    #[wasm_bindgen(js_name = destroyOnState)]
    pub fn destroy_on_state(manager: &JsValue, state: &str);
    #[wasm_bindgen(js_name = refreshVia)]
    pub fn refresh_via(manager: &JsValue) -> Promise;
    #[wasm_bindgen(js_name = focusOn)]
    pub fn focus_on(el: &web_sys::Element) -> bool;
    #[wasm_bindgen(js_name = fireRejection)]
    pub fn fire_rejection(message: &str);
    pub fn fire(target: &str, kind: &str);
    #[wasm_bindgen(js_name = addStaticTag)]
    pub fn add_static_tag(id: &str, src: &str, token: &str) -> web_sys::Element;
    #[wasm_bindgen(js_name = setWidgetStatus)]
    fn set_widget_status_js(base: &str, id: &str, status: &str) -> Promise;
    #[wasm_bindgen(js_name = setWidgetDelay)]
    fn set_widget_delay_js(base: &str, id: &str, ms: u32) -> Promise;
    #[wasm_bindgen(js_name = makeContainer)]
    pub fn make_container(id: &str) -> web_sys::Element;
}

/// The test server (started by `make browser-test`).
pub fn server() -> &'static str {
    option_env!("CHATHUB_TEST_SERVER").unwrap_or("http://127.0.0.1:8787")
}

/// A scenario id unique to this test run.
pub fn unique(name: &str) -> String {
    format!("{name}-{}", (js_sys::Math::random() * 1e9) as u64)
}

/// The token endpoint of scenario `id`.
pub fn token_url(id: &str) -> String {
    format!("{}/s/{id}/token", server())
}

/// The stand-in widget module, at a URL unique to `id`.
pub fn widget_src(id: &str) -> String {
    format!("{}/widget.js?for={id}", server())
}

/// Scripts the answers of scenario `id` (JSON array of steps).
pub async fn script(id: &str, steps: &str) {
    let steps = JSON::parse(steps).expect("steps are JSON");
    JsFuture::from(script_endpoint(server(), id, steps))
        .await
        .expect("test server reachable");
}

/// How many token requests scenario `id` has seen.
pub async fn requests(id: &str) -> u32 {
    get(&stats(id).await, "requests").as_f64().unwrap_or(-1.0) as u32
}

/// `{ requests, orgs, tokens }` of scenario `id`.
pub async fn stats(id: &str) -> JsValue {
    JsFuture::from(endpoint_stats(server(), id))
        .await
        .expect("stats")
}

/// The tokens scenario `id` has handed out, oldest first.
pub async fn tokens(id: &str) -> Vec<String> {
    js_sys::Array::from(&get(&stats(id).await, "tokens"))
        .iter()
        .filter_map(|t| t.as_string())
        .collect()
}

/// Waits `ms` milliseconds.
pub async fn wait(ms: u32) {
    let _ = JsFuture::from(sleep(ms)).await;
}

/// Polls `pred` every 20 ms for up to `timeout_ms`; true when it held.
pub async fn wait_for(pred: impl Fn() -> bool + 'static, timeout_ms: u32) -> bool {
    let f = Closure::<dyn Fn() -> bool>::new(pred);
    let ok = JsFuture::from(wait_until(f.as_ref().unchecked_ref(), timeout_ms)).await;
    ok.ok().and_then(|v| v.as_bool()).unwrap_or(false)
}

/// Waits until scenario `id` has seen `n` token requests; true when it did.
pub async fn wait_for_requests(id: &str, n: u32, timeout_ms: u32) -> bool {
    let ok = JsFuture::from(wait_for_requests_js(server(), id, n, timeout_ms)).await;
    ok.ok().and_then(|v| v.as_bool()).unwrap_or(false)
}

/// Waits until the manager behind `m` reports `state`; true when it did.
pub async fn wait_for_state(
    m: &std::rc::Rc<WidgetTokenManager>,
    state: &'static str,
    timeout_ms: u32,
) -> bool {
    let m = m.clone();
    wait_for(move || m.state() == state, timeout_ms).await
}

/// `obj[key]`.
pub fn get(obj: &JsValue, key: &str) -> JsValue {
    Reflect::get(obj, &key.into()).unwrap_or(JsValue::UNDEFINED)
}

/// Options from JSON text.
pub fn opts(json: &str) -> JsValue {
    JSON::parse(json).expect("options JSON")
}

/// Options for scenario `id` with the stand-in widget and quick retries;
/// `extra` is more JSON members, e.g. `"org": "x"` (may be empty).
pub fn test_opts(id: &str, extra: &str) -> JsValue {
    opts_with_widget(id, &widget_src(id), extra)
}

fn opts_with_widget(id: &str, widget: &str, extra: &str) -> JsValue {
    let sep = if extra.is_empty() { "" } else { "," };
    opts(&format!(
        r#"{{"tokenUrl": "{}", "widgetSrc": "{widget}", "retryDelayMs": 10, "requestTimeoutMs": 2000{sep}{extra}}}"#,
        token_url(id),
    ))
}

/// A manager from options (panics with the error's message on failure).
pub fn manager(options: JsValue) -> WidgetTokenManager {
    match WidgetTokenManager::new(options.unchecked_into()) {
        Ok(m) => m,
        Err(e) => panic!("constructor threw: {:?}", get(&e, "message")),
    }
}

/// The `code` of what the constructor threw, or "none".
pub fn constructor_error(options: JsValue) -> (String, String) {
    match WidgetTokenManager::new(options.unchecked_into()) {
        Ok(m) => {
            m.destroy();
            ("none".into(), String::new())
        }
        Err(e) => (
            get(&e, "code").as_string().unwrap_or_default(),
            get(&e, "message").as_string().unwrap_or_default(),
        ),
    }
}

/// Awaits `p`; the rejection's `{code, message, status}` or `None`.
pub async fn outcome(p: Promise) -> Option<JsValue> {
    let e = JsFuture::from(error_of(&p))
        .await
        .expect("errorOf never rejects");
    if e.is_null() {
        None
    } else {
        Some(e)
    }
}

/// The rejection code of `p`, or "ok".
pub async fn code_of(p: Promise) -> String {
    match outcome(p).await {
        None => "ok".into(),
        Some(e) => get(&e, "code")
            .as_string()
            .unwrap_or_else(|| "(no code)".into()),
    }
}

/// The tag id for `org` (or the default): letters, digits and `-` stay,
/// every other byte of the org is `_` and two hex digits.
pub fn tag_id(org: Option<&str>) -> String {
    match org {
        Some(o) => {
            let mut id = String::from("operator-chat-panel-script-");
            for b in o.bytes() {
                if b.is_ascii_alphanumeric() || b == b'-' {
                    id.push(b as char);
                } else {
                    id.push_str(&format!("_{b:02x}"));
                }
            }
            id
        }
        None => "operator-chat-panel-script".into(),
    }
}

/// The `token` attribute of the only tag with `id`; panics when not exactly one.
pub fn only_tag_token(id: &str) -> String {
    let tags = tags_with_id(id);
    assert_eq!(tags.length(), 1, "exactly one tag with id {id}");
    let el: web_sys::Element = tags.get(0).unchecked_into();
    el.get_attribute("token").unwrap_or_default()
}

/// Elements matching `selector` in the document.
pub fn count(selector: &str) -> u32 {
    web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.query_selector_all(selector).ok())
        .map(|l| l.length())
        .unwrap_or(0)
}

/// Makes scenario `id`'s widget module (`scenario_widget_src`) answer an
/// HTTP status ("404"; "200" restores), or "throw" while it evaluates
/// (after it added its panel), as a broken widget build would.
pub async fn set_widget_status(id: &str, status: &str) {
    let _ = JsFuture::from(set_widget_status_js(server(), id, status)).await;
}

/// Delays scenario `id`'s widget module by `ms` (0 restores).
pub async fn set_widget_delay(id: &str, ms: u32) {
    let _ = JsFuture::from(set_widget_delay_js(server(), id, ms)).await;
}

/// Options for scenario `id` whose widget is the scriptable one
/// (`scenario_widget_src`); `extra` as in `test_opts`.
pub fn scenario_opts(id: &str, extra: &str) -> JsValue {
    opts_with_widget(id, &scenario_widget_src(id), extra)
}

/// The page's own URL (a host-app script's `filename`).
pub fn page_url() -> String {
    web_sys::window()
        .and_then(|w| w.location().href().ok())
        .unwrap_or_default()
}

/// The stand-in widget served under scenario `id` (its status is scriptable).
pub fn scenario_widget_src(id: &str) -> String {
    format!("{}/s/{id}/widget.js", server())
}
