//! The widget's `<script type="module">` tag: finding, adopting, inserting
//! and replacing it, and remembering which UI each evaluation created.
//!
//! Browsers evaluate a module once per URL per document. So that a new
//! token really reaches the widget, every mount after the first of a URL
//! uses a new URL (`chathub_v=<n>` in the query; never the token), and the
//! elements the previous evaluation added to `<body>` are removed first.
//!
//! Two more browser facts shape it: a module that throws while it
//! evaluates still fires `load` (the exception goes to window `error` with
//! the module's URL as `filename`), so `load` alone is not success; and a
//! module script removed while it is still fetching evaluates anyway, so a
//! mount given up (destroy, timeout) keeps watching and removes what the
//! late evaluation adds (see `waitLoad` in `js/dom.js`).

use core::cell::{Cell, RefCell};

use js_sys::{Array, Promise};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{Document, Element, EventTarget, HtmlScriptElement};

use crate::error::{ErrorCode, LoaderError};
use crate::options::Options;
use crate::prelude::*;
use crate::single::single_thread_static;
use crate::text::{cat, num};

single_thread_static! {
    /// Module URLs already evaluated in this document (module map mirror).
    static EVALUATED: RefCell<Vec<String>> = RefCell::new(Vec::new());
}
single_thread_static! {
    /// The next `chathub_v` of a URL evaluated before.
    static NEXT_VERSION: Cell<u32> = Cell::new(1);
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
            u.search_params().set("chathub_v", &num(v.into()));
            u.href()
        }
        Err(_) => src.to_string(),
    }
}

/// Removes a mounted tag and the UI its evaluation created, plus anything
/// matching the page's `widgetSelector`.
pub fn unmount(doc: &Document, mounted: Option<Mounted>, opts: &Options) {
    drop(take(doc, mounted, opts));
}

/// A widget taken off the page, kept so that it can be put back.
pub struct Taken {
    restore: js_sys::Function,
    mounted: Option<Mounted>,
}

impl Taken {
    /// Puts every node back where it was; the widget's code, still
    /// running, finds its UI again. Returns the tag it had.
    pub fn restore(self) -> Option<Mounted> {
        let _ = self.restore.call0(&JsValue::NULL);
        self.mounted
    }
}

/// Takes a widget off the page like [`unmount`], keeping it for
/// [`Taken::restore`] (see `takeWidget` in `js/dom.js`).
pub fn take(doc: &Document, mounted: Option<Mounted>, opts: &Options) -> Taken {
    let (ui, script) = match &mounted {
        Some(m) => (m.ui.clone(), Some(&m.script)),
        None => (Array::new(), None),
    };
    let restore = take_widget(
        doc,
        &ui,
        script,
        &opts.tag_id(),
        opts.widget_selector.as_deref(),
    );
    Taken { restore, mounted }
}

fn widget_error(what: &str) -> LoaderError {
    LoaderError::new(ErrorCode::WidgetLoad, cat(&["chathub-loader: ", what]))
}

fn append_to_head(doc: &Document, el: &Element) -> Result<(), LoaderError> {
    match append_to_head_js(doc, el) {
        Some(what) => Err(widget_error(&what)),
        None => Ok(()),
    }
}

fn outcome_error(src: &str, outcome: &str) -> LoaderError {
    LoaderError::widget_load(
        src,
        if outcome == "throw" {
            "threw while it evaluated (see the console)"
        } else {
            "failed to load"
        },
    )
}

/// The next module URL for this widget (see the module docs).
pub fn next_src(opts: &Options) -> String {
    next_module_url(&opts.widget_src)
}

/// Removes an element when dropped, unless kept: a preload link must not
/// outlive the refresh that added it, nor a widget tag (it carries the
/// token) the mount that inserted it, even when `destroy()` lands during
/// the wait and the future is dropped.
struct RemoveOnDrop(Option<Element>);

impl RemoveOnDrop {
    fn new(el: &Element) -> Self {
        RemoveOnDrop(Some(el.clone()))
    }

    /// The mount succeeded: the element stays.
    fn keep(mut self) {
        self.0 = None;
    }
}

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        if let Some(el) = self.0.take() {
            el.remove();
        }
    }
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
    let _remove = RemoveOnDrop::new(&link);
    append_to_head(doc, &link)?;
    let wait = Wait::start(doc, &link, None);
    match wait.outcome().await.as_str() {
        "load" => Ok(()),
        other => Err(outcome_error(src, other)),
    }
}

/// Inserts a new tag for `src` carrying `token` and waits for `load`
/// without an evaluation error. On failure nothing of it stays.
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
    .map_err(|why| {
        widget_error(
            &why.as_string()
                .unwrap_or_else(|| "could not create a script element".into()),
        )
    })?;

    // Started before the insertion: the evaluation may follow at once.
    let wait = Wait::start(doc, &script, Some(src));
    let inserted = RemoveOnDrop::new(&script);
    append_to_head(doc, &script)?;
    let outcome = wait.outcome().await;
    inserted.keep();
    let mounted = Mounted {
        script,
        ui: wait.take_ui(),
    };
    if outcome == "load" {
        return Ok(mounted);
    }
    unmount(doc, Some(mounted), opts);
    Err(outcome_error(src, &outcome))
}

#[wasm_bindgen(module = "/js/dom.js")]
extern "C" {
    /// A `Promise` of `"load"`, `"error"` or `"throw"`, with
    /// `ui()` (what the evaluation added) and `cancel()`.
    #[wasm_bindgen(extends = Promise)]
    type LoadWait;
    #[wasm_bindgen(js_name = waitLoad)]
    fn wait_load_js(doc: &Document, target: &EventTarget, url: Option<&str>) -> LoadWait;
    #[wasm_bindgen(method)]
    fn cancel(this: &LoadWait);
    #[wasm_bindgen(method)]
    fn ui(this: &LoadWait) -> Array;
    #[wasm_bindgen(js_name = findTags)]
    fn find_tags(doc: &Document, id: &str) -> Array;
    #[wasm_bindgen(js_name = takeWidget)]
    fn take_widget(
        doc: &Document,
        ui: &Array,
        script: Option<&HtmlScriptElement>,
        id: &str,
        selector: Option<&str>,
    ) -> js_sys::Function;
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
}

/// One wait for `load` (see `waitLoad` in `js/dom.js`). Dropped before its
/// outcome was taken (the mount was given up), it hands the clean-up of a
/// late evaluation to the JS side.
struct Wait(LoadWait);

impl Wait {
    /// Starts waiting; with `url` (a module script), evaluation errors of
    /// that URL count as failure and the UI the evaluation adds is tracked.
    /// No deadline of its own: the machine's gives up the mount.
    fn start(doc: &Document, target: &Element, url: Option<&str>) -> Wait {
        Wait(wait_load_js(doc, target, url))
    }

    /// "load", "error" or "throw".
    async fn outcome(&self) -> String {
        let promise: &Promise = &self.0;
        JsFuture::from(promise.clone())
            .await
            .ok()
            .and_then(|v| v.as_string())
            .unwrap_or_else(|| "error".into())
    }

    /// The elements the evaluation added to `<body>`, now the caller's.
    fn take_ui(&self) -> Array {
        self.0.ui()
    }
}

impl Drop for Wait {
    fn drop(&mut self) {
        self.0.cancel();
    }
}
