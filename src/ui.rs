//! The loader's own UI: an accessible loading status and one contact box.
//! Built with `createElement` + `textContent` only; styles are scoped to
//! prefixed classes and read CSS custom properties the page may override.

use gloo_events::EventListener;
use wasm_bindgen::JsCast;
use web_sys::{Document, Element};

use crate::error::{ErrorCode, LoaderError};
use crate::options::{Container, Fallback, Options};

/// Every element the loader creates has a class starting with this.
pub const OWN_CLASS_PREFIX: &str = "chathub-loader";
const STYLE_ID: &str = "chathub-loader-style";
const CSS: &str = "\
.chathub-loader-status{font:inherit;color:var(--chathub-loader-muted,#555);padding:.75em 0}\
.chathub-loader-fallback{box-sizing:border-box;max-width:28rem;margin:1em 0;padding:1em 1.25em;\
border:1px solid var(--chathub-loader-border,#d0d4da);border-radius:var(--chathub-loader-radius,8px);\
background:var(--chathub-loader-bg,#fff);color:var(--chathub-loader-fg,#1c1e21);font:inherit}\
.chathub-loader-fallback h2{font-size:1.1em;margin:0 0 .5em}\
.chathub-loader-fallback p{margin:0 0 .75em}\
.chathub-loader-fallback ul{list-style:none;margin:0 0 .75em;padding:0}\
.chathub-loader-fallback li{margin:.25em 0}\
.chathub-loader-fallback a{color:var(--chathub-loader-accent,#0a58ca)}\
.chathub-loader-fallback button{font:inherit;cursor:pointer;padding:.4em 1em;border:0;\
border-radius:var(--chathub-loader-radius,8px);background:var(--chathub-loader-accent,#0a58ca);\
color:var(--chathub-loader-accent-fg,#fff)}";

/// The loading status and the contact box currently shown, if any.
#[derive(Default)]
pub struct Ui {
    status: Option<Element>,
    fallback: Option<(Element, EventListener)>,
}

impl Ui {
    /// Shows the loading status (once).
    pub fn show_status(&mut self, doc: &Document, opts: &Options) -> Result<(), LoaderError> {
        if self.status.as_ref().is_some_and(|s| s.is_connected()) {
            return Ok(());
        }
        let parent = container(doc, opts)?;
        ensure_style(doc, opts);
        let status = el(doc, "div", "chathub-loader-status")?;
        let _ = status.set_attribute("role", "status");
        let _ = status.set_attribute("aria-live", "polite");
        status.set_text_content(Some(&opts.loading_text));
        let _ = parent.append_child(&status);
        self.status = Some(status);
        Ok(())
    }

    /// Removes the loading status.
    pub fn hide_status(&mut self) {
        if let Some(s) = self.status.take() {
            s.remove();
        }
    }

    /// Shows the contact box, replacing any previous one (never two).
    pub fn show_fallback(
        &mut self,
        doc: &Document,
        opts: &Options,
        on_retry: impl FnMut(&web_sys::Event) + 'static,
    ) -> Result<(), LoaderError> {
        self.hide_fallback();
        let Some(fb) = &opts.fallback else {
            return Ok(());
        };
        let parent = container(doc, opts)?;
        ensure_style(doc, opts);
        let (bx, button) = build_fallback(doc, fb)?;
        let listener = EventListener::new(&button, "click", on_retry);
        let _ = parent.append_child(&bx);
        self.fallback = Some((bx, listener));
        Ok(())
    }

    /// Removes the contact box.
    pub fn hide_fallback(&mut self) {
        if let Some((bx, _listener)) = self.fallback.take() {
            bx.remove();
        }
    }
}

fn el(doc: &Document, tag: &str, class: &str) -> Result<Element, LoaderError> {
    let e = doc.create_element(tag).map_err(|_| {
        LoaderError::new(
            ErrorCode::InvalidOptions,
            "chathub-loader: cannot create elements",
        )
    })?;
    if !class.is_empty() {
        e.set_class_name(class);
    }
    Ok(e)
}

fn text(doc: &Document, tag: &str, content: &str) -> Result<Element, LoaderError> {
    let e = el(doc, tag, "")?;
    e.set_text_content(Some(content));
    Ok(e)
}

fn build_fallback(doc: &Document, fb: &Fallback) -> Result<(Element, Element), LoaderError> {
    let bx = el(doc, "section", "chathub-loader-fallback")?;
    let _ = bx.set_attribute("role", "region");
    let _ = bx.set_attribute("aria-label", &fb.title);
    for (tag, content) in [("h2", &fb.title), ("p", &fb.message)] {
        let child = text(doc, tag, content)?;
        let _ = bx.append_child(&child);
    }
    let links: Vec<(String, &str)> = [
        fb.email
            .as_ref()
            .map(|e| (format!("mailto:{e}"), e.as_str())),
        fb.phone
            .as_ref()
            .map(|(label, href)| (href.clone(), label.as_str())),
        fb.url.as_ref().map(|u| (u.clone(), u.as_str())),
    ]
    .into_iter()
    .flatten()
    .collect();
    if !links.is_empty() {
        let list = el(doc, "ul", "")?;
        for (href, label) in links {
            let a = text(doc, "a", label)?;
            let _ = a.set_attribute("href", &href);
            if href.starts_with("http") {
                let _ = a.set_attribute("rel", "noopener noreferrer");
                let _ = a.set_attribute("target", "_blank");
            }
            let li = el(doc, "li", "")?;
            let _ = li.append_child(&a);
            let _ = list.append_child(&li);
        }
        let _ = bx.append_child(&list);
    }
    let button = text(doc, "button", &fb.button_text)?;
    let _ = button.set_attribute("type", "button");
    let _ = bx.append_child(&button);
    Ok((bx, button))
}

/// The element the loader renders into, resolved now (SPAs render late).
fn container(doc: &Document, opts: &Options) -> Result<Element, LoaderError> {
    let found = match &opts.container {
        Container::Element(e) => Some(e.clone()),
        Container::Body => doc.body().map(|b| b.unchecked_into()),
        Container::Selector(s) => doc.query_selector(s).ok().flatten(),
    };
    found.ok_or_else(|| {
        let which = match &opts.container {
            Container::Selector(s) => format!("\"{s}\" matches no element"),
            _ => "is not available (no document.body yet?)".into(),
        };
        LoaderError::invalid(
            "container",
            format!("{which}; render the container before initialize()"),
        )
    })
}

fn ensure_style(doc: &Document, opts: &Options) {
    if doc.get_element_by_id(STYLE_ID).is_some() {
        return;
    }
    let Ok(style) = doc.create_element("style") else {
        return;
    };
    style.set_id(STYLE_ID);
    if let Some(n) = &opts.nonce {
        let _ = style.set_attribute("nonce", n);
    }
    style.set_text_content(Some(CSS));
    if let Some(head) = doc.head() {
        // First in <head>, so the page's own rules win without !important.
        let _ = head.insert_before(&style, head.first_child().as_ref());
    }
}
