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

// Page-life and fault-injection probes for browser_faults.rs and
// browser_hostile.rs (inline, so tests/js/helpers.js stays as it is).
#[wasm_bindgen(inline_js = r#"
export function recordRejections() {
  const list = [];
  const f = (e) => {
    const r = e.reason;
    list.push(r && typeof r === "object" ? String(r.code || "") + " " + String(r.message) : String(r));
  };
  window.addEventListener("unhandledrejection", f);
  return { list, stop: () => window.removeEventListener("unhandledrejection", f) };
}
export function watchAdded(selector) {
  const state = { count: 0 };
  const seen = (n) => {
    if (!(n instanceof Element)) return;
    if (n.matches(selector)) state.count += 1;
    state.count += n.querySelectorAll(selector).length;
  };
  const obs = new MutationObserver((records) => { for (const r of records) for (const n of r.addedNodes) seen(n); });
  obs.observe(document, { childList: true, subtree: true });
  state.stop = () => { for (const r of obs.takeRecords()) for (const n of r.addedNodes) seen(n); obs.disconnect(); return state.count; };
  return state;
}
export function setHidden(hidden) {
  if (hidden) {
    Object.defineProperty(document, "hidden", { configurable: true, get: () => true });
    Object.defineProperty(document, "visibilityState", { configurable: true, get: () => "hidden" });
  } else {
    delete document.hidden;
    delete document.visibilityState;
  }
}
const realNow = Date.now;
export function shiftClock(ms) {
  Date.now = ms === 0 ? realNow : () => realNow.call(Date) + ms;
}
const realPerf = performance.now;
export function passTime(ms) {
  shiftClock(ms);
  performance.now = ms === 0 ? realPerf : () => realPerf.call(performance) + ms;
}
export function recordConsole() {
  const names = ["log", "info", "warn", "error", "debug", "trace"];
  const saved = names.map((n) => console[n]);
  const messages = [];
  names.forEach((n, i) => {
    console[n] = (...args) => {
      for (const a of args) {
        try { messages.push(typeof a === "string" ? a : a instanceof Error ? a.message + " " + a.stack : JSON.stringify(a)); }
        catch { messages.push(String(a)); }
      }
      return saved[i].apply(console, args);
    };
  });
  return { messages, stop: () => names.forEach((n, i) => (console[n] = saved[i])) };
}
export function pageTraces() {
  const out = [];
  for (const s of [localStorage, sessionStorage])
    for (let i = 0; i < s.length; i++) out.push(s.key(i), s.getItem(s.key(i)));
  out.push(document.cookie, location.href, document.referrer, document.title);
  for (const e of performance.getEntries()) out.push(e.name);
  return out.join("\n");
}
export function historyLength() { return history.length; }
export function outerHtml() { return document.documentElement.outerHTML; }
export function pwned() { return window.__pwned; }
export function prototypeKeys() { return Object.getOwnPropertyNames(Object.prototype).join(","); }
export function polluted() { return ({}).polluted; }
export function stop(handle) { return handle.stop(); }
export function resetResourceTimings() {
  performance.clearResourceTimings();
  performance.setResourceTimingBufferSize(10000);
}
// Load-trigger probes for browser_triggers.rs (here, not in an inline_js
// of its own: one more snippet module made the test runner's page load
// stall now and then).
const INTERACTIONS = ["pointerdown", "keydown", "touchstart", "scroll", "wheel"];
export function dispatch(type) {
  let e;
  if (type == "keydown") e = new KeyboardEvent(type, { bubbles: true, key: "a" });
  else if (type == "pointerdown") e = new PointerEvent(type, { bubbles: true });
  else e = new Event(type, { bubbles: true });
  (type == "scroll" ? document : document.body).dispatchEvent(e);
}
// The window listeners for the interaction events that are attached now
// (an add and the matching remove, same function and capture, cancel out).
export function trackListeners() {
  const live = [];
  const capture = (o) => (typeof o == "object" && o !== null ? !!o.capture : !!o);
  window.addEventListener = function (type, f, o) {
    if (INTERACTIONS.includes(type)) live.push([type, f, capture(o)]);
    return EventTarget.prototype.addEventListener.call(this, type, f, o);
  };
  window.removeEventListener = function (type, f, o) {
    const i = live.findIndex(([t, g, c]) => t == type && g == f && c == capture(o));
    if (i >= 0) live.splice(i, 1);
    return EventTarget.prototype.removeEventListener.call(this, type, f, o);
  };
  return {
    count: () => live.length,
    stop: () => {
      delete window.addEventListener;
      delete window.removeEventListener;
    },
  };
}
// requestIdleCallback under the test's control: it records the call and
// runs the callback when told.
export function stubIdle() {
  const saved = [window.requestIdleCallback, window.cancelIdleCallback];
  const s = { calls: 0, cancels: 0, timeout: null, cb: null };
  window.requestIdleCallback = (cb, o) => {
    s.calls++;
    s.cb = cb;
    s.timeout = o && o.timeout;
    return 42;
  };
  window.cancelIdleCallback = (id) => {
    if (id === 42) s.cancels++;
  };
  s.run = () => s.cb && s.cb({ didTimeout: false, timeRemaining: () => 50 });
  s.restore = () => {
    [window.requestIdleCallback, window.cancelIdleCallback] = saved;
  };
  return s;
}
// Safari: no requestIdleCallback at all.
export function withoutIdle() {
  const saved = window.requestIdleCallback;
  window.requestIdleCallback = undefined;
  return () => (window.requestIdleCallback = saved);
}
// A container far below the fold (after a spacer three viewports tall).
export function belowTheFold(id) {
  const spacer = document.createElement("div");
  spacer.style.height = 3 * innerHeight + "px";
  spacer.id = id + "-spacer";
  const box = document.createElement("div");
  box.id = id;
  box.style.minHeight = "20px";
  document.body.append(spacer, box);
  return box;
}
export function scrollIntoView(id) {
  document.getElementById(id).scrollIntoView();
}
// Removes what belowTheFold added and scrolls back to the top; resolves
// once the scroll event that causes has been dispatched (it comes a frame
// later, and would fire the next test's "interaction" trigger).
export function removeBelowTheFold(id) {
  document.getElementById(id + "-spacer")?.remove();
  document.getElementById(id)?.remove();
  return new Promise((done) => {
    const frames = () => requestAnimationFrame(() => requestAnimationFrame(() => setTimeout(done, 50)));
    if (scrollY == 0) return frames();
    addEventListener("scroll", frames, { once: true });
    scrollTo(0, 0);
  });
}
export function call(obj, name) {
  return obj[name]();
}
"#)]
extern "C" {
    #[wasm_bindgen(js_name = recordRejections)]
    pub fn record_rejections() -> JsValue;
    #[wasm_bindgen(js_name = watchAdded)]
    pub fn watch_added(selector: &str) -> JsValue;
    #[wasm_bindgen(js_name = setHidden)]
    pub fn set_hidden(hidden: bool);
    /// Makes `Date.now()` run `ms` ahead (negative: behind); 0 restores it:
    /// the visitor's wall clock set forward or back.
    #[wasm_bindgen(js_name = shiftClock)]
    pub fn shift_clock(ms: f64);
    /// Makes both clocks, `Date.now()` and `performance.now()`, run `ms`
    /// ahead; 0 restores them: `ms` passed without a timer firing (a
    /// laptop asleep, a frozen tab).
    #[wasm_bindgen(js_name = passTime)]
    pub fn pass_time(ms: f64);
    #[wasm_bindgen(js_name = recordConsole)]
    pub fn record_console() -> JsValue;
    /// Storage, cookies, the URL and every performance entry's name.
    #[wasm_bindgen(js_name = pageTraces)]
    pub fn page_traces() -> String;
    #[wasm_bindgen(js_name = historyLength)]
    pub fn history_length() -> u32;
    #[wasm_bindgen(js_name = outerHtml)]
    pub fn outer_html() -> String;
    pub fn pwned() -> JsValue;
    #[wasm_bindgen(js_name = prototypeKeys)]
    pub fn prototype_keys() -> String;
    pub fn polluted() -> JsValue;
    /// Calls `handle.stop()` (a recorder or watcher) and returns its result.
    #[wasm_bindgen(js_name = stop)]
    pub fn stop_handle(handle: &JsValue) -> JsValue;
    /// Empties the resource timing buffer (and makes room for many entries).
    #[wasm_bindgen(js_name = resetResourceTimings)]
    pub fn reset_resource_timings();
    // Load-trigger probes (browser_triggers.rs).
    pub fn dispatch(event_type: &str);
    #[wasm_bindgen(js_name = trackListeners)]
    pub fn track_listeners() -> JsValue;
    #[wasm_bindgen(js_name = stubIdle)]
    pub fn stub_idle() -> JsValue;
    #[wasm_bindgen(js_name = withoutIdle)]
    pub fn without_idle() -> js_sys::Function;
    #[wasm_bindgen(js_name = belowTheFold)]
    pub fn below_the_fold(id: &str) -> web_sys::Element;
    #[wasm_bindgen(js_name = scrollIntoView)]
    pub fn scroll_into_view(id: &str);
    #[wasm_bindgen(js_name = removeBelowTheFold)]
    pub fn remove_below_the_fold_js(id: &str) -> js_sys::Promise;
    pub fn call(obj: &JsValue, name: &str) -> JsValue;
}

/// What a recorder (`record_rejections`, `record_console`, `start_state_log`)
/// collected so far under `key`.
pub fn recorded(handle: &JsValue, key: &str) -> Vec<JsValue> {
    js_sys::Array::from(&get(handle, key)).iter().collect()
}

/// The stats' `times` of scenario `id` (server `Date.now()` per request).
pub async fn request_times(id: &str) -> Vec<f64> {
    js_sys::Array::from(&get(&stats(id).await, "times"))
        .iter()
        .filter_map(|t| t.as_f64())
        .collect()
}

/// A container of its own for scenario `id`; returns its element id.
pub fn container_for(id: &str) -> String {
    let box_id = format!("{id}-box");
    make_container(&box_id);
    box_id
}

/// Removes what `container_for` added.
pub fn remove_container(box_id: &str) {
    if let Some(el) = find(&format!("#{box_id}")) {
        el.remove();
    }
}

/// The first element matching `selector`.
pub fn find(selector: &str) -> Option<web_sys::Element> {
    web_sys::window()?
        .document()?
        .query_selector(selector)
        .ok()
        .flatten()
}

/// Contact boxes inside the container `box_id`.
pub fn boxes_in(box_id: &str) -> u32 {
    count(&format!("#{box_id} .chathub-loader-fallback"))
}

/// Loading statuses inside the container `box_id`.
pub fn statuses_in(box_id: &str) -> u32 {
    count(&format!("#{box_id} .chathub-loader-status"))
}

/// The button of the contact box in `box_id` (the box's last child).
pub fn box_button(box_id: &str) -> web_sys::HtmlButtonElement {
    find(&format!("#{box_id} .chathub-loader-fallback"))
        .and_then(|b| b.last_element_child())
        .expect("the contact box has a button")
        .unchecked_into()
}

/// Stops a `record_rejections` recorder; panics if a promise rejection
/// went unhandled meanwhile.
pub fn assert_no_rejections(rec: &JsValue, what: &str) {
    let list: Vec<String> = recorded(rec, "list")
        .iter()
        .filter_map(|v| v.as_string())
        .collect();
    stop_handle(rec);
    assert!(list.is_empty(), "{what}: unhandled rejections {list:?}");
}

/// `(state, error code)` of the entries of a `start_state_log` for `org`.
pub fn states_of(log: &JsValue, org: &str) -> Vec<(String, Option<String>)> {
    recorded(log, "log")
        .iter()
        .filter(|e| get(e, "org").as_string().as_deref() == Some(org))
        .map(|e| {
            (
                get(e, "state").as_string().unwrap_or_default(),
                get(&get(e, "error"), "code").as_string(),
            )
        })
        .collect()
}
