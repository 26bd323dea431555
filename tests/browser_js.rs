//! What lives in the loader's JavaScript side (`js/dom.js`) and in its
//! option reading (`src/options/`), checked through the manager: a
//! `Headers` instance in `fetchInit`, and a widget URL that redirects (a
//! CDN's versioned URL), whose errors report the final URL as `filename`.
#![cfg(target_arch = "wasm32")]

mod common;

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
/// versioned path (`/s/<id>/cdn-widget.js` → `http://localhost:<port>/s/<id>/v1.2.3/widget.js`).
fn cdn_widget_src(id: &str) -> String {
    format!("{}/s/{id}/cdn-widget.js", server())
}

#[wasm_bindgen_test]
async fn a_redirected_widget_that_throws_while_it_evaluates_is_widget_load_not_ready() {
    let id = unique("cdn-throw");
    let tag = tag_id(Some(&id));
    set_widget_status(&id, "throw").await;
    let rec = record_rejections();
    let m = manager(opts(&format!(
        r#"{{"tokenUrl": "{}", "widgetSrc": "{}", "org": "{id}", "retryDelayMs": 10, "maxRetries": 0, "fallback": false}}"#,
        token_url(&id),
        cdn_widget_src(&id)
    )));
    let outcome = code_of(m.initialize()).await;
    let state = m.state();
    let evaluated = evaluations_from(&format!("/s/{id}/v1.2.3/widget.js")).length();
    let left = (tags_with_id(&tag).length(), panels(&tag).length());
    m.destroy();
    set_widget_status(&id, "200").await;
    assert!(evaluated >= 1, "the redirected widget evaluated");
    assert_eq!(
        (outcome.as_str(), state.as_str()),
        ("WIDGET_LOAD", "fallback"),
        "a widget whose module (reached through a redirect) threw is a failed load"
    );
    assert_eq!(left, (0, 0), "nothing of the failed widget stays");
    stop_handle(&rec);
}

#[wasm_bindgen_test]
async fn a_token_expired_error_from_a_redirected_widget_refreshes_it() {
    let id = unique("cdn-expired");
    let tag = tag_id(Some(&id));
    let m = manager(opts(&format!(
        r#"{{"tokenUrl": "{}", "widgetSrc": "{}", "org": "{id}", "retryDelayMs": 10}}"#,
        token_url(&id),
        cdn_widget_src(&id)
    )));
    assert_eq!(code_of(m.initialize()).await, "ok");
    let evals = evaluations(&tag);
    assert_eq!(
        evals.length(),
        1,
        "the widget found its tag after the redirect"
    );
    // What the browser reports as `filename` for the widget's errors: its
    // module's URL after the redirect.
    let url = get(&evals.get(0), "url").as_string().unwrap_or_default();
    assert!(url.starts_with("http://localhost:"), "redirected to {url}");
    fire_window_error("Uncaught Error: token expired", &url);
    let refreshed = wait_for_requests(&id, 2, 3_000).await;
    let again = wait_for(
        {
            let tag = tag.clone();
            move || evaluations(&tag).length() == 2
        },
        5_000,
    )
    .await;
    m.destroy();
    assert!(
        refreshed,
        "the widget's own `token expired` (filename {url}) made no refresh"
    );
    assert!(again, "the widget evaluated again with the new token");
}
