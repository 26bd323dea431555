//! The widget's `<script type="module">` tag: finding, adopting, inserting
//! and replacing it, and remembering which UI each evaluation created.
//!
//! Browsers evaluate a module once per URL per document. So that a new
//! token really reaches the widget, every mount after the first of a URL
//! uses a new URL (`chathub_v=<n>` in the query; never the token), and the
//! elements the previous evaluation added to `<body>` are removed first.

use std::cell::RefCell;

use js_sys::{Array, Promise};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{Document, Element, EventTarget, HtmlScriptElement};

use crate::error::{ErrorCode, LoaderError};
use crate::options::Options;
use crate::schedule;
use crate::ui::OWN_CLASS_PREFIX;

thread_local! {
    /// Module URLs already evaluated in this document (module map mirror).
    static EVALUATED: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
    static NEXT_VERSION: std::cell::Cell<u32> = const { std::cell::Cell::new(1) };
}

/// A tag the manager owns, with the UI its evaluation created.
pub struct Mounted {
    /// The script element.
    pub script: HtmlScriptElement,
    /// Elements that appeared in `<body>` while the module evaluated.
    pub ui: Array,
}

/// Every `<script>` in the document whose id is `id`.
pub fn find(doc: &Document, id: &str) -> Vec<HtmlScriptElement> {
    find_tags(doc, id)
        .iter()
        .map(JsCast::unchecked_into)
        .collect()
}

/// Takes over tags with our id already in the page (static HTML): the
/// first is kept as the current one, extra copies are removed.
pub fn adopt(doc: &Document, id: &str) -> Option<Mounted> {
    let mut tags = find(doc, id).into_iter();
    let first = tags.next()?;
    for extra in tags {
        extra.remove();
    }
    remember(first.src());
    Some(Mounted {
        script: first,
        ui: Array::new(),
    })
}

fn remember(url: String) {
    EVALUATED.with(|e| {
        let mut e = e.borrow_mut();
        if !e.contains(&url) {
            e.push(url);
        }
    });
}

/// The URL to insert next: the plain one the first time, a fresh
/// `chathub_v` after that, so the browser evaluates the module again.
fn next_module_url(src: &str) -> String {
    let fresh = EVALUATED.with(|e| !e.borrow().iter().any(|u| u == src));
    if fresh {
        // Versioned URLs are unique by construction; only plain ones are
        // remembered, so the list stays as short as the page's widget URLs.
        remember(src.to_string());
        return src.to_string();
    }
    let v = NEXT_VERSION.with(|n| {
        let v = n.get();
        n.set(v + 1);
        v
    });
    match web_sys::Url::new(src) {
        Ok(u) => {
            u.search_params().set("chathub_v", &v.to_string());
            u.href()
        }
        Err(_) => src.to_string(),
    }
}

/// Removes a mounted tag and the UI its evaluation created, plus anything
/// matching the page's `widgetSelector`.
pub fn unmount(doc: &Document, mounted: Option<Mounted>, opts: &Options) {
    let (ui, script) = match mounted {
        Some(m) => (m.ui, Some(m.script)),
        None => (Array::new(), None),
    };
    remove_widget(
        doc,
        &ui,
        script.as_ref(),
        &opts.tag_id(),
        opts.widget_selector.as_deref(),
    );
}

fn widget_error(what: &str) -> LoaderError {
    LoaderError::new(ErrorCode::WidgetLoad, format!("chathub-loader: {what}"))
}

fn append_to_head(doc: &Document, el: &Element) -> Result<(), LoaderError> {
    match append_to_head_js(doc, el) {
        Some(what) => Err(widget_error(&what)),
        None => Ok(()),
    }
}

fn load_failed(src: &str, outcome: &str) -> LoaderError {
    let why = if outcome == "timeout" {
        "did not load in time"
    } else {
        "failed to load"
    };
    widget_error(&format!(
        "the widget script {src} {why} (wrong widgetSrc, offline, or blocked by CSP/SRI?)"
    ))
}

fn load_timeout_ms(opts: &Options) -> f64 {
    opts.request_timeout_ms.max(10_000.0) * 2.0
}

/// The next module URL for this widget (see the module docs).
pub fn next_src(opts: &Options) -> String {
    next_module_url(&opts.widget_src)
}

/// Fetches and parses the module at `src` without running it
/// (`modulepreload`), so a refresh only swaps out a working widget once
/// its replacement is known to load. Browsers without `modulepreload`
/// skip the check.
pub async fn preload(doc: &Document, opts: &Options, src: &str) -> Result<(), LoaderError> {
    let link = preload_tag(
        doc,
        src,
        opts.nonce.as_deref(),
        opts.integrity.as_deref(),
        opts.cross_origin.as_deref(),
    )
    .map_err(|_| widget_error("could not create a link element"))?;
    let Some(link) = link else {
        return Ok(());
    };
    append_to_head(doc, &link)?;
    let outcome = Box::pin(wait_load(&link, load_timeout_ms(opts))).await;
    link.remove();
    match outcome.as_str() {
        "load" => Ok(()),
        other => Err(load_failed(src, other)),
    }
}

/// Inserts a new tag for `src` carrying `token` and waits for `load`.
pub async fn mount(
    doc: &Document,
    opts: &Options,
    src: &str,
    token: &str,
) -> Result<Mounted, LoaderError> {
    let script = script_tag(
        doc,
        &opts.tag_id(),
        token,
        src,
        opts.nonce.as_deref(),
        opts.integrity.as_deref(),
        opts.cross_origin.as_deref(),
    )
    .map_err(|_| widget_error("could not create a script element"))?;

    let watcher = UiWatcher::start(doc);
    append_to_head(doc, &script)?;
    let outcome = Box::pin(wait_load(&script, load_timeout_ms(opts))).await;
    let ui = watcher.finish();
    match outcome.as_str() {
        "load" => Ok(Mounted { script, ui }),
        other => {
            script.remove();
            Err(load_failed(src, other))
        }
    }
}

#[wasm_bindgen(module = "/js/dom.js")]
extern "C" {
    /// A `Promise` of `"load"`, `"error"` or `"timeout"` with a `cancel()`.
    #[wasm_bindgen(extends = Promise)]
    type LoadWait;
    #[wasm_bindgen(js_name = waitLoad)]
    fn wait_load_js(target: &EventTarget, ms: u32) -> LoadWait;
    #[wasm_bindgen(method)]
    fn cancel(this: &LoadWait);
    #[wasm_bindgen(js_name = findTags)]
    fn find_tags(doc: &Document, id: &str) -> Array;
    #[wasm_bindgen(js_name = removeWidget)]
    fn remove_widget(
        doc: &Document,
        ui: &Array,
        script: Option<&HtmlScriptElement>,
        id: &str,
        selector: Option<&str>,
    );
    #[wasm_bindgen(js_name = scriptTag, catch)]
    fn script_tag(
        doc: &Document,
        id: &str,
        token: &str,
        src: &str,
        nonce: Option<&str>,
        integrity: Option<&str>,
        crossorigin: Option<&str>,
    ) -> Result<HtmlScriptElement, JsValue>;
    #[wasm_bindgen(js_name = preloadTag, catch)]
    fn preload_tag(
        doc: &Document,
        href: &str,
        nonce: Option<&str>,
        integrity: Option<&str>,
        crossorigin: Option<&str>,
    ) -> Result<Option<Element>, JsValue>;
    #[wasm_bindgen(js_name = appendToHead)]
    fn append_to_head_js(doc: &Document, el: &Element) -> Option<String>;
    #[wasm_bindgen(js_name = watchUi)]
    fn watch_ui(doc: &Document, prefix: &str) -> js_sys::Function;
}

/// Cancels the JS side of a wait (listeners, timer) when the wait is dropped.
struct CancelOnDrop(LoadWait);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.cancel();
    }
}

/// Resolves with "load", "error" or "timeout".
async fn wait_load(target: &EventTarget, timeout_ms: f64) -> String {
    let wait = CancelOnDrop(wait_load_js(
        target,
        schedule::clamp_timer_ms(timeout_ms) as u32,
    ));
    let promise: &Promise = &wait.0;
    JsFuture::from(promise.clone())
        .await
        .ok()
        .and_then(|v| v.as_string())
        .unwrap_or_else(|| "error".into())
}

/// The widget's own UI elements added to `<body>` while its script ran
/// (observed in JS; see `watchUi` in `js/dom.js`). Stops watching on drop.
struct UiWatcher(js_sys::Function);

impl UiWatcher {
    fn start(doc: &Document) -> UiWatcher {
        UiWatcher(watch_ui(doc, OWN_CLASS_PREFIX))
    }

    fn finish(self) -> Array {
        self.0
            .call0(&JsValue::NULL)
            .unwrap_or_else(|_| Array::new().into())
            .unchecked_into()
    }
}

impl Drop for UiWatcher {
    fn drop(&mut self) {
        let _ = self.0.call0(&JsValue::NULL);
    }
}
