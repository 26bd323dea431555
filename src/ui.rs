//! The loader's own UI: an accessible loading status and one contact box.
//! Built with `createElement` + `textContent` only; styles are scoped to
//! prefixed classes and read CSS custom properties the page may override.

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{Document, Element};

use crate::error::{ErrorCode, LoaderError};
use crate::listening::Listening;
use crate::options::{Container, Options};
use crate::text::cat;

// The elements themselves (and the style sheet) are built in a small JS
// module: the same DOM calls cost fewer bytes there than as wasm imports.
#[wasm_bindgen(module = "/js/dom.js")]
extern "C" {
    #[wasm_bindgen(js_name = ensureStyle)]
    fn ensure_style_js(doc: &Document, nonce: Option<&str>);
    /// (The `u32` keeps the import from being bound directly: see
    /// `mono_now_js` in `driver.rs`.)
    #[wasm_bindgen(js_name = dropStyle)]
    fn drop_style_js(doc: &Document, _: u32);
    #[wasm_bindgen(js_name = statusBox, catch)]
    fn status_box(doc: &Document, text: &str) -> Result<Element, JsValue>;
    #[allow(clippy::too_many_arguments)]
    #[wasm_bindgen(js_name = fallbackBox, catch)]
    fn fallback_box(
        doc: &Document,
        title: &str,
        message: &str,
        email: Option<&str>,
        phone: Option<&str>,
        tel: Option<&str>,
        url: Option<&str>,
        button_text: &str,
    ) -> Result<Element, JsValue>;
    #[wasm_bindgen(js_name = setBusy)]
    fn set_busy_js(button: &Element, busy: bool, text: &str);
    /// Calls `f()` on each `type` event of `target`; returns the remover.
    fn listen(target: &Element, r#type: &str, f: &Closure<dyn Fn()>) -> js_sys::Function;
}

/// The click listener on the contact box's button.
type OnClick = Listening<Closure<dyn Fn()>>;

/// One element the loader shows, with the listener it needs.
pub struct Shown {
    el: Element,
    button: Option<Element>,
    _click: Option<OnClick>,
}

impl Shown {
    /// The contact box's button.
    pub fn button(&self) -> Option<Element> {
        self.button.clone()
    }

    /// Takes it off the page. Removing an element that holds focus fires
    /// `focusout` at once, so page code may run here: call it with no
    /// borrow of the manager held.
    pub fn remove(self) {
        self.el.remove();
    }
}

/// Shows the loading status in the container.
pub fn show_status(doc: &Document, opts: &Options) -> Result<Shown, LoaderError> {
    let parent = container_or_error(doc, opts)?;
    ensure_style(doc, opts);
    let status = status_box(doc, &opts.loading_text).map_err(|_| cannot_create())?;
    let _ = parent.append_child(&status);
    Ok(Shown {
        el: status,
        button: None,
        _click: None,
    })
}

/// Shows the contact box in the container (`None` with `fallback: false`).
pub fn show_fallback(
    doc: &Document,
    opts: &Options,
    on_retry: impl Fn() + 'static,
) -> Result<Option<Shown>, LoaderError> {
    let Some(fb) = &opts.fallback else {
        return Ok(None);
    };
    let parent = container_or_error(doc, opts)?;
    ensure_style(doc, opts);
    let phone = fb.phone.as_ref();
    let bx = fallback_box(
        doc,
        &fb.title,
        &fb.message,
        fb.email.as_deref(),
        phone.map(|(label, _)| label.as_str()),
        phone.map(|(_, href)| href.as_str()),
        fb.url.as_deref(),
        &fb.button_text,
    )
    .map_err(|_| cannot_create())?;
    let button = bx.last_element_child().ok_or_else(cannot_create)?;
    let callback = Closure::<dyn Fn()>::new(on_retry);
    let listener = Listening::new(listen(&button, "click", &callback), callback);
    let _ = parent.append_child(&bx);
    Ok(Some(Shown {
        el: bx,
        button: Some(button),
        _click: Some(listener),
    }))
}

/// The contact box's button while an attempt it started runs: disabled,
/// saying `loadingText`; back to `buttonText` after. May move focus (page
/// code runs): call it with no borrow held.
pub fn set_busy(button: &Element, busy: bool, opts: &Options) {
    let text = match (&opts.fallback, busy) {
        (Some(fb), false) => fb.button_text.as_str(),
        _ => opts.loading_text.as_str(),
    };
    set_busy_js(button, busy, text);
}

fn cannot_create() -> LoaderError {
    LoaderError::new(
        ErrorCode::InvalidOptions,
        "chathub-loader: cannot create elements",
    )
}

/// The element the loader renders into, resolved now (SPAs render late).
pub fn container(doc: &Document, opts: &Options) -> Option<Element> {
    match &opts.container {
        Container::Element(e) => Some(e.clone()),
        Container::Body => doc.body().map(|b| b.unchecked_into()),
        Container::Selector(s) => doc.query_selector(s).ok().flatten(),
    }
}

/// What is reported when [`container`] finds nothing.
pub fn missing_container(opts: &Options) -> LoaderError {
    let which = match &opts.container {
        Container::Selector(s) => cat(&["\"", s, "\" matches no element"]),
        _ => "is not available (no document.body yet?)".into(),
    };
    LoaderError::invalid(
        "container",
        cat(&[&which, "; render the container before initialize()"]),
    )
}

fn container_or_error(doc: &Document, opts: &Options) -> Result<Element, LoaderError> {
    container(doc, opts).ok_or_else(|| missing_container(opts))
}

/// Removes the loader's style sheet when nothing of the loader's UI is
/// left on the page (the last manager went; `fallback.js` boxes use it too).
pub fn drop_style(doc: &Document) {
    drop_style_js(doc, 0);
}

fn ensure_style(doc: &Document, opts: &Options) {
    ensure_style_js(doc, opts.nonce.as_deref());
}
