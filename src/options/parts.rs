//! The nested option objects: `fetchInit` and `fallback`.

use crate::prelude::*;
use js_sys::{Array, Object};
use wasm_bindgen::{JsCast, JsValue};

use super::read::{list, plain_object, reject_unknown, Reader};
use super::url::web_url;
use super::{Fallback, FetchInit};
use crate::error::LoaderError;
use crate::text::cat;
use crate::validate;

const FETCH_INIT_KEYS: &[&str] = &["credentials", "headers", "mode", "cache", "referrerPolicy"];
const FALLBACK_KEYS: &[&str] = &["title", "message", "email", "phone", "url", "buttonText"];

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
        let h = plain_object(
            &h,
            "fetchInit.headers",
            "must be an object of header names to string values",
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
    let Some(v) = v else {
        return Ok(Some(Fallback::default()));
    };
    if v.as_bool() == Some(false) {
        return Ok(None);
    }
    let obj = plain_object(
        &v,
        "fallback",
        "must be an object { title, message, email, phone, url } or false",
    )?;
    reject_unknown(&obj, FALLBACK_KEYS, "fallback.")?;
    let r = Reader {
        obj: &obj,
        prefix: "fallback.",
    };
    // Filled in place: an early `?` drops one value (see `Options::parse`).
    let mut f = Fallback {
        email: r.string("email")?,
        ..Fallback::default()
    };
    if let Some(e) = &f.email {
        if !validate::is_valid_email(e) {
            return Err(LoaderError::invalid(
                "fallback.email",
                cat(&["is not an e-mail address: \"", e, "\""]),
            ));
        }
    }
    if let Some(p) = r.string("phone")? {
        let Some(href) = validate::tel_href(&p) else {
            return Err(LoaderError::invalid(
                "fallback.phone",
                cat(&[
                    "is not a phone number (digits, spaces, + - ( ) .): \"",
                    &p,
                    "\"",
                ]),
            ));
        };
        f.phone = Some((p, href));
    }
    if let Some(u) = r.string("url")? {
        let parsed = web_url("fallback.url", &u, base)?;
        if parsed.protocol() != "https:" {
            return Err(LoaderError::invalid(
                "fallback.url",
                "must be an https: URL",
            ));
        }
        f.url = Some(parsed.href());
    }
    if let Some(t) = r.string("title")? {
        f.title = t;
    }
    if let Some(m) = r.string("message")? {
        f.message = m;
    }
    if let Some(b) = r.string("buttonText")? {
        f.button_text = b;
    }
    Ok(Some(f))
}
