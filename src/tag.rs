//! The widget's `<script type="module">` tag: finding, adopting, inserting
//! and replacing it, and remembering which UI each evaluation created.
//!
//! Browsers evaluate a module once per URL per document. So that a new
//! token really reaches the widget, every mount after the first of a URL
//! uses a new URL (`chathub_v=<n>` in the query; never the token), and the
//! elements the previous evaluation added to `<body>` are removed first.

use std::cell::RefCell;
use std::rc::Rc;

use gloo_events::EventListener;
use gloo_timers::callback::Timeout;
use js_sys::{Array, Promise};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    Document, Element, EventTarget, HtmlLinkElement, HtmlScriptElement, MutationObserver,
    MutationObserverInit, MutationRecord, Node,
};

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
    pub ui: Vec<Node>,
}

/// Every `<script>` in the document whose id is `id`.
pub fn find(doc: &Document, id: &str) -> Vec<HtmlScriptElement> {
    let Ok(scripts) = doc.query_selector_all("script[id]") else {
        return Vec::new();
    };
    (0..scripts.length())
        .filter_map(|i| scripts.item(i))
        .filter_map(|n| n.dyn_into::<HtmlScriptElement>().ok())
        .filter(|el| el.id() == id)
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
        ui: Vec::new(),
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
    if let Some(m) = mounted {
        for node in m.ui {
            if let Some(el) = node.dyn_ref::<Element>() {
                el.remove();
            }
        }
        m.script.remove();
    }
    // Copies someone else added with our id must not survive either.
    for extra in find(doc, &opts.tag_id()) {
        extra.remove();
    }
    if let Some(sel) = &opts.widget_selector {
        if let Ok(list) = doc.query_selector_all(sel) {
            for i in 0..list.length() {
                if let Some(el) = list.item(i).and_then(|n| n.dyn_into::<Element>().ok()) {
                    el.remove();
                }
            }
        }
    }
}

fn widget_error(what: &str) -> LoaderError {
    LoaderError::new(ErrorCode::WidgetLoad, format!("chathub-loader: {what}"))
}

/// Sets the attributes that must match between a preload and the tag.
fn set_attrs(el: &Element, attrs: &[(&str, Option<&str>)]) {
    for (name, value) in attrs {
        if let Some(value) = value {
            let _ = el.set_attribute(name, value);
        }
    }
}

fn fetch_attrs(opts: &Options) -> [(&'static str, Option<&str>); 3] {
    [
        ("nonce", opts.nonce.as_deref()),
        ("integrity", opts.integrity.as_deref()),
        ("crossorigin", opts.cross_origin.as_deref()),
    ]
}

fn append_to_head(doc: &Document, el: &Element) -> Result<(), LoaderError> {
    let parent: Node = match doc.head() {
        Some(h) => h.into(),
        None => doc
            .document_element()
            .map(Node::from)
            .ok_or_else(|| widget_error("the document has no root element"))?,
    };
    parent
        .append_child(el)
        .map(|_| ())
        .map_err(|_| widget_error("could not insert an element into the document"))
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
    let link: HtmlLinkElement = doc
        .create_element("link")
        .map_err(|_| widget_error("could not create a link element"))?
        .unchecked_into();
    if !link.rel_list().supports("modulepreload").unwrap_or(false) {
        return Ok(());
    }
    link.set_rel("modulepreload");
    set_attrs(&link, &fetch_attrs(opts));
    link.set_href(src);
    append_to_head(doc, &link)?;
    let outcome = wait_load(&link, load_timeout_ms(opts)).await;
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
    let script: HtmlScriptElement = doc
        .create_element("script")
        .map_err(|_| widget_error("could not create a script element"))?
        .unchecked_into();
    script.set_type("module");
    script.set_id(&opts.tag_id());
    let _ = script.set_attribute("token", token);
    set_attrs(&script, &fetch_attrs(opts));
    script.set_src(src);

    let watcher = UiWatcher::start(doc);
    append_to_head(doc, &script)?;
    let outcome = wait_load(&script, load_timeout_ms(opts)).await;
    let ui = watcher.finish();
    match outcome.as_str() {
        "load" => Ok(Mounted { script, ui }),
        other => {
            script.remove();
            Err(load_failed(src, other))
        }
    }
}

/// Resolves with "load", "error" or "timeout".
async fn wait_load(target: &EventTarget, timeout_ms: f64) -> String {
    let mut resolve: Option<js_sys::Function> = None;
    let promise = Promise::new(&mut |res, _rej| resolve = Some(res));
    let Some(resolve) = resolve else {
        return "error".into();
    };
    let on = |what: &'static str| {
        let resolve = resolve.clone();
        move || {
            let _ = resolve.call1(&JsValue::NULL, &what.into());
        }
    };
    let (load, error, timeout) = (on("load"), on("error"), on("timeout"));
    let _l = EventListener::once(target, "load", move |_| load());
    let _e = EventListener::once(target, "error", move |_| error());
    let _t = Timeout::new(schedule::clamp_timer_ms(timeout_ms) as u32, timeout);
    JsFuture::from(promise)
        .await
        .ok()
        .and_then(|v| v.as_string())
        .unwrap_or_else(|| "error".into())
}

/// Records the direct children of `<body>` added while the module
/// evaluates. Mutation records are delivered at the microtask checkpoint
/// right after the module's top-level code and before its `load` event, so
/// the last batch before `load` is what the evaluation created.
struct UiWatcher {
    observer: Option<MutationObserver>,
    last_batch: Rc<RefCell<Vec<Node>>>,
    _callback: Option<Closure<dyn FnMut(Array)>>,
}

impl UiWatcher {
    fn start(doc: &Document) -> UiWatcher {
        let last_batch = Rc::new(RefCell::new(Vec::new()));
        let sink = last_batch.clone();
        let callback = Closure::<dyn FnMut(Array)>::new(move |records: Array| {
            *sink.borrow_mut() = added_elements(&records);
        });
        let observer = doc.body().and_then(|body| {
            let obs = MutationObserver::new(callback.as_ref().unchecked_ref()).ok()?;
            let init = MutationObserverInit::new();
            init.set_child_list(true);
            obs.observe_with_options(&body, &init).ok()?;
            Some(obs)
        });
        UiWatcher {
            observer,
            last_batch,
            _callback: Some(callback),
        }
    }

    fn finish(self) -> Vec<Node> {
        let Some(obs) = &self.observer else {
            return Vec::new();
        };
        let pending = added_elements(&obs.take_records());
        obs.disconnect();
        let mut nodes = std::mem::take(&mut *self.last_batch.borrow_mut());
        nodes.extend(pending);
        nodes.retain(|n| n.is_connected());
        nodes
    }
}

fn added_elements(records: &Array) -> Vec<Node> {
    let mut out = Vec::new();
    for rec in records.iter() {
        let rec: MutationRecord = rec.unchecked_into();
        let added = rec.added_nodes();
        for i in 0..added.length() {
            let Some(node) = added.item(i) else { continue };
            let ours = node.dyn_ref::<Element>().map(|el| {
                el.class_name().starts_with(OWN_CLASS_PREFIX) || el.tag_name() == "SCRIPT"
            });
            if ours == Some(false) {
                out.push(node);
            }
        }
    }
    out
}
