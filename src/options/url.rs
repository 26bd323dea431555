//! URL options: parsed against the page, web protocols only, and none of
//! the spellings that make a URL mean something else than it reads. Those
//! spellings are `urlTrick` in `js/dom.js`: one definition for
//! tokenUrl, widgetSrc and the contact box's link (`fallback.url`, checked
//! there too, also without WebAssembly).

use wasm_bindgen::prelude::*;

use crate::error::LoaderError;
use crate::prelude::*;
use crate::text::cat;
use crate::validate;

#[wasm_bindgen(module = "/js/dom.js")]
extern "C" {
    /// Why `raw` must be refused before it is parsed, if it must.
    #[wasm_bindgen(js_name = urlTrick)]
    fn url_trick(raw: &str) -> Option<String>;
}

/// Parses `raw` against `base` and insists on `http:`/`https:`.
pub(super) fn web_url(key: &str, raw: &str, base: &str) -> Result<web_sys::Url, LoaderError> {
    // Whitespace around a URL (a newline from an environment variable) is
    // dropped, as the URL parser would; inside it, it is refused.
    let raw = raw.trim_ascii();
    if let Some(why) = url_trick(raw) {
        return Err(LoaderError::invalid(
            key,
            cat(&[
                &why,
                "; write the full https:// URL (or a path such as \"/api/chathub/token\")",
            ]),
        ));
    }
    let url = web_sys::Url::new_with_base(raw, base)
        .map_err(|_| LoaderError::invalid(key, cat(&["is not a valid URL: \"", raw, "\""])))?;
    if !validate::is_web_protocol(&url.protocol()) {
        return Err(LoaderError::invalid(
            key,
            cat(&["must be an http(s) URL, not \"", &url.protocol(), "\""]),
        ));
    }
    // `fetch` refuses such URLs, and error messages quote the URL: a
    // password there would reach logs and state events.
    if !url.username().is_empty() || !url.password().is_empty() {
        return Err(LoaderError::invalid(
            key,
            "must not contain a user name or password; send credentials as cookies (fetchInit.credentials) or a header (fetchInit.headers)",
        ));
    }
    Ok(url)
}

/// The widget module receives the token: `https:` only, except on the
/// visitor's own machine (development).
pub(super) fn widget_url(raw: &str, base: &str) -> Result<String, LoaderError> {
    let url = web_url("widgetSrc", raw, base)?;
    if url.protocol() == "http:" && !validate::is_loopback_host(&url.hostname()) {
        return Err(LoaderError::invalid(
            "widgetSrc",
            cat(&[
                "must be an https: URL (the widget receives the token; plain http: only for localhost): \"",
                &url.href(),
                "\"",
            ]),
        ));
    }
    Ok(url.href())
}
