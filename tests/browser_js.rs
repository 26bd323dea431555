//! What lives in the loader's JavaScript side (`js/dom.js`) and in its
//! option reading (`src/options/`), checked through the manager: a
//! `Headers` instance in `fetchInit`, and a widget URL that redirects (a
//! CDN's versioned URL), whose errors report the final URL as `filename`.
#![cfg(target_arch = "wasm32")]

mod common;

use chathub_loader::WidgetTokenManager;
use common::*;
use js_sys::Array;
use wasm_bindgen::prelude::*;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen(module = "/tests/js/helpers.js")]
extern "C" {
    #[wasm_bindgen(js_name = withHeadersInstance)]
    fn with_headers_instance(options: JsValue, name: &str, value: &str) -> JsValue;
}

/// The `name` header (lower case) of each token request scenario `id` saw.
async fn request_header(id: &str, name: &str) -> Vec<Option<String>> {
    Array::from(&get(&stats(id).await, "headers"))
        .iter()
        .map(|h| get(&h, name).as_string())
        .collect()
}

#[wasm_bindgen_test]
async fn a_headers_instance_in_fetch_init_reaches_the_endpoint() {
    let id = unique("headers-instance");
    let o = with_headers_instance(
        test_opts(&id, &format!(r#""org": "{id}""#)),
        "Authorization",
        "Bearer page-session",
    );
    let m = manager(o);
    let outcome = code_of(m.initialize()).await;
    m.destroy();
    assert_eq!(outcome, "ok");
    assert_eq!(
        request_header(&id, "authorization").await,
        [Some("Bearer page-session".to_string())],
        "the Authorization header of fetchInit.headers (a Headers instance) went with the token request"
    );
}

#[wasm_bindgen_test]
async fn header_pairs_in_fetch_init_reach_the_endpoint_and_bad_ones_are_refused() {
    let id = unique("headers-pairs");
    let o = test_opts(
        &id,
        &format!(r#""org": "{id}", "fetchInit": {{"headers": [["X-Page", "pairs"]]}}"#),
    );
    let m = manager(o);
    let outcome = code_of(m.initialize()).await;
    m.destroy();
    assert_eq!(outcome, "ok");
    assert_eq!(
        request_header(&id, "x-page").await,
        [Some("pairs".to_string())]
    );
    for (headers, key) in [
        (r#"[["X-Page"]]"#, "fetchInit.headers.X-Page"),
        (r#"["X-Page: x"]"#, "fetchInit.headers"),
        (r#"[["Bad Name", "x"]]"#, "fetchInit.headers.Bad Name"),
        (r#"{"X-Page": 5}"#, "fetchInit.headers.X-Page"),
    ] {
        let (code, message) = constructor_error(opts(&format!(
            r#"{{"tokenUrl": "/t", "fetchInit": {{"headers": {headers}}}}}"#
        )));
        assert_eq!(code, "INVALID_OPTIONS", "{headers}");
        assert!(
            message.contains(&format!("`{key}`")),
            "{headers}: {message}"
        );
    }
}

/// The stand-in widget behind a redirect to another origin and a
/// versioned path (`/s/<id>/cdn/<file>` → `http://localhost:<port>/s/<id>/v1.2.3/widget.js`):
/// `file` is `widget.js` (the same file name) or `renamed.js`.
fn cdn_widget_src(id: &str, file: &str) -> String {
    format!("{}/s/{id}/cdn/{file}", server())
}

#[wasm_bindgen(inline_js = r#"
export function expireWidget() { window.__cdnWidgetExpire(); }
export function throwOnWidgetPanels() {
  const obs = new MutationObserver((records) => {
    for (const r of records)
      for (const n of r.addedNodes)
        if (n.classList && n.classList.contains("test-widget-panel")) throw new Error("the page's own observer is broken");
  });
  obs.observe(document.body, { childList: true });
  return () => obs.disconnect();
}
export function recordErrors() {
  const seen = [];
  addEventListener("error", (e) => seen.push(e.message + " @ " + e.filename));
  return seen;
}"#)]
extern "C" {
    /// A MutationObserver of the page that throws when a widget panel is
    /// added (in the task the widget evaluates in); returns its remover.
    #[wasm_bindgen(js_name = throwOnWidgetPanels)]
    fn throw_on_widget_panels() -> js_sys::Function;
    /// The window errors from now on, as "message @ filename".
    #[wasm_bindgen(js_name = recordErrors)]
    fn record_errors() -> Array;
    /// Makes the redirected stand-in widget throw `token expired` from its
    /// own code (a timer of its module), as the vendor's widget reports an
    /// expired token: the engine reports the error with the filename it
    /// gives that module.
    #[wasm_bindgen(js_name = expireWidget)]
    fn expire_widget();
}

#[wasm_bindgen_test]
async fn a_redirected_widget_that_throws_while_it_evaluates_is_widget_load_not_ready() {
    // Chromium and WebKit report the module's final URL as the error's
    // filename, not the tag's src; the file name may change too.
    for file in ["widget.js", "renamed.js"] {
        let id = unique("cdn-throw");
        let tag = tag_id(Some(&id));
        set_widget_status(&id, "throw").await;
        let m = manager(opts(&format!(
            r#"{{"tokenUrl": "{}", "widgetSrc": "{}", "org": "{id}", "retryDelayMs": 10, "maxRetries": 0, "fallback": false}}"#,
            token_url(&id),
            cdn_widget_src(&id, file)
        )));
        let outcome = code_of(m.initialize()).await;
        let state = m.state();
        let evaluated = evaluations_from(&format!("/s/{id}/v1.2.3/widget.js")).length();
        let left = (tags_with_id(&tag).length(), panels(&tag).length());
        m.destroy();
        set_widget_status(&id, "200").await;
        assert!(evaluated >= 1, "{file}: the redirected widget evaluated");
        assert_eq!(
            (outcome.as_str(), state.as_str()),
            ("WIDGET_LOAD", "fallback"),
            "{file}: a widget whose module (reached through a redirect) threw is a failed load"
        );
        assert_eq!(left, (0, 0), "{file}: nothing of the failed widget stays");
    }
}

/// A manager whose widget comes through the same-named redirect, ready.
async fn redirected_widget(id: &str) -> (WidgetTokenManager, String) {
    let m = manager(opts(&format!(
        r#"{{"tokenUrl": "{}", "widgetSrc": "{}", "org": "{id}", "retryDelayMs": 10}}"#,
        token_url(id),
        cdn_widget_src(id, "widget.js")
    )));
    assert_eq!(code_of(m.initialize()).await, "ok");
    let evals = evaluations(&tag_id(Some(id)));
    assert_eq!(
        evals.length(),
        1,
        "the widget found its tag after the redirect"
    );
    let url = get(&evals.get(0), "url").as_string().unwrap_or_default();
    assert!(url.starts_with("http://localhost:"), "redirected to {url}");
    (m, url)
}

/// Waits for the refresh a `token expired` signal asks for: a second token
/// request and a second evaluation of the widget.
async fn refreshed(id: &str) -> bool {
    let tag = tag_id(Some(id));
    wait_for_requests(id, 2, 3_000).await
        && wait_for(move || evaluations(&tag).length() == 2, 5_000).await
}

#[wasm_bindgen_test]
async fn a_token_expired_error_reported_with_a_redirected_widgets_final_url_refreshes_it() {
    // What Chromium reports for the widget's own error: the module's URL
    // after the redirect, on an origin and in a folder the loader was not
    // told (Firefox reports the tag's URL, which matched before).
    let id = unique("cdn-expired");
    let (m, url) = redirected_widget(&id).await;
    fire_window_error("Uncaught Error: token expired", &url);
    let ok = refreshed(&id).await;
    m.destroy();
    assert!(ok, "a `token expired` error from {url}, the widget's module after its redirect, made no refresh");
}

#[wasm_bindgen_test]
async fn the_redirected_widgets_own_token_expired_error_refreshes_it() {
    // The widget throws from its own code (a timer of its module), as the
    // vendor's reports an expired token; the engine names the file.
    let id = unique("cdn-thrown");
    let (m, url) = redirected_widget(&id).await;
    let errors = record_errors();
    expire_widget();
    let ok = refreshed(&id).await;
    m.destroy();
    let errors: Vec<String> = errors.iter().filter_map(|e| e.as_string()).collect();
    if errors.iter().all(|e| e.starts_with("Script error.")) {
        // WebKit mutes the errors of a cross-origin module's code ("Script
        // error.", no filename), redirected or not, even with crossorigin:
        // no loader can read a cross-origin widget's `token expired` there.
        return;
    }
    assert!(
        ok,
        "the widget's own `token expired` error (its module redirected to {url}) made no refresh; window errors: {errors:?}"
    );
}

#[wasm_bindgen_test]
async fn a_widget_whose_import_throws_while_it_evaluates_is_widget_load_not_ready() {
    // The error comes from the module the widget imports (its own URL, or
    // none), in the task that fires the widget tag's `load`.
    let id = unique("import-throws");
    let tag = tag_id(Some(&id));
    set_widget_status(&id, "throw-in-import").await;
    let m = manager(scenario_opts(
        &id,
        &format!(r#""org": "{id}", "maxRetries": 0, "fallback": false"#),
    ));
    let outcome = code_of(m.initialize()).await;
    let state = m.state();
    let left = tags_with_id(&tag).length();
    m.destroy();
    set_widget_status(&id, "200").await;
    assert_eq!(
        (outcome.as_str(), state.as_str()),
        ("WIDGET_LOAD", "fallback"),
        "a widget whose import threw while the widget evaluated is a failed load"
    );
    assert_eq!(left, 0, "no widget tag stays");
}

#[wasm_bindgen_test]
async fn the_pages_own_error_in_the_widgets_evaluation_task_is_not_the_widgets() {
    // A page's MutationObserver throws when the widget adds its panel: the
    // error comes in the task that fires the widget tag's `load`, from the
    // page's own script (its origin, outside the widget's folder). The
    // widget itself worked: ready.
    let id = unique("page-observer");
    let tag = tag_id(Some(&id));
    let stop = throw_on_widget_panels();
    let m = manager(test_opts(
        &id,
        &format!(r#""org": "{id}", "maxRetries": 0"#),
    ));
    let outcome = code_of(m.initialize()).await;
    let _ = stop.call0(&JsValue::NULL);
    let (state, tags) = (m.state(), tags_with_id(&tag).length());
    m.destroy();
    assert_eq!(
        (outcome.as_str(), state.as_str(), tags),
        ("ok", "ready", 1),
        "the page's own error in the widget's task made a working widget a failed load"
    );
}
