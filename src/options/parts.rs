//! The nested option objects: `fetchInit` and `fallback`. The contact
//! box's options are checked by `js/dom.js`, the one definition the
//! no-WebAssembly box (`js/fallback.js`) uses too.

use crate::prelude::*;
use js_sys::{Array, Object};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use super::read::{list, plain_object, reject_unknown, Reader};
use super::{Fallback, FetchInit};
use crate::error::{ErrorCode, LoaderError};
use crate::text::cat;

#[wasm_bindgen(module = "/js/dom.js")]
extern "C" {
    /// `fallback` checked and normalised: its fields (title, message,
    /// email, phone, tel, url, buttonText), null for `false`, or the
    /// INVALID_OPTIONS message (see `fallbackFields`).
    #[wasm_bindgen(js_name = fallbackFields)]
    fn fallback_fields(value: &JsValue, base: &str) -> JsValue;
    /// `fetchInit.headers` as names to values (see `headerRecord`);
    /// throws for an iterable that is not of `[name, value]` pairs.
    #[wasm_bindgen(catch, js_name = headerRecord)]
    fn header_record(value: &JsValue) -> Result<JsValue, JsValue>;
}

const FETCH_INIT_KEYS: &[&str] = &["credentials", "headers", "mode", "cache", "referrerPolicy"];

pub(super) fn fetch_init(v: Option<JsValue>) -> Result<FetchInit, LoaderError> {
    let Some(v) = v else {
        return Ok(FetchInit::default());
    };
    let obj = plain_object(
        &v,
        "fetchInit",
        "must be an object such as { credentials: \"include\" }",
    )?;
    reject_unknown(&obj, FETCH_INIT_KEYS, "fetchInit.")?;
    let r = Reader {
        obj: &obj,
        prefix: "fetchInit.",
    };
    let one_of = |key: &str, allowed: &[&str]| -> Result<Option<String>, LoaderError> {
        match r.string(key)? {
            Some(s) if !allowed.contains(&s.as_str()) => Err(LoaderError::invalid(
                &cat(&["fetchInit.", key]),
                cat(&["must be one of ", &list(allowed)]),
            )),
            other => Ok(other),
        }
    };
    // Filled in place: an early `?` drops one value (see `Options::parse`).
    let mut fi = FetchInit::default();
    if let Some(h) = r.get("headers") {
        // A `Headers`, an array, a `Map` or any iterable of `[name, value]`
        // pairs (what `fetch` takes too) are read as the object of their
        // entries, a plain object as itself (js/dom.js `headerRecord`, which
        // js/prefetch.js reads them with too).
        let h = header_record(&h).map_err(|_| {
            LoaderError::invalid(
                "fetchInit.headers",
                "must be an object of header names to string values, a Headers, or [name, value] pairs",
            )
        })?;
        let h = plain_object(
            &h,
            "fetchInit.headers",
            "must be an object of header names to string values, a Headers, or [name, value] pairs",
        )?;
        for entry in Object::entries(&h).iter() {
            let pair: Array = entry.unchecked_into();
            let (name, value) = (pair.get(0).as_string().unwrap_or_default(), pair.get(1));
            let Some(value) = value.as_string() else {
                return Err(LoaderError::invalid(
                    &cat(&["fetchInit.headers.", &name]),
                    "must be a string",
                ));
            };
            // A name or value `Headers` refuses would make every request
            // throw: refuse it now, naming it.
            if web_sys::Headers::new()
                .and_then(|h| h.set(&name, &value))
                .is_err()
            {
                return Err(LoaderError::invalid(
                    &cat(&["fetchInit.headers.", &name]),
                    "is not a valid HTTP header name and value",
                ));
            }
            fi.headers.push((name, value));
        }
    }
    // Only values `fetch` accepts for a readable answer: "no-cors" gives an
    // opaque answer (no status, no body) and "only-if-cached" throws
    // outside same-origin mode, so both are refused here, not at run time.
    fi.credentials = one_of("credentials", &["omit", "same-origin", "include"])?;
    fi.mode = one_of("mode", &["cors", "same-origin"])?;
    fi.cache = one_of(
        "cache",
        &["default", "no-store", "reload", "no-cache", "force-cache"],
    )?;
    fi.referrer_policy = one_of(
        "referrerPolicy",
        &[
            "",
            "no-referrer",
            "no-referrer-when-downgrade",
            "same-origin",
            "origin",
            "strict-origin",
            "origin-when-cross-origin",
            "strict-origin-when-cross-origin",
            "unsafe-url",
        ],
    )?;
    Ok(fi)
}

pub(super) fn fallback(v: Option<JsValue>, base: &str) -> Result<Option<Fallback>, LoaderError> {
    let fields = fallback_fields(&v.unwrap_or(JsValue::UNDEFINED), base);
    if let Some(why) = fields.as_string() {
        return Err(LoaderError::new(ErrorCode::InvalidOptions, why));
    }
    if fields.is_null() {
        return Ok(None);
    }
    let fields: Array = fields.unchecked_into();
    let field = |i| fields.get(i).as_string();
    let text = |i| field(i).unwrap_or_default();
    Ok(Some(Fallback {
        title: text(0),
        message: text(1),
        email: field(2),
        phone: field(3).zip(field(4)),
        url: field(5),
        button_text: text(6),
    }))
}
