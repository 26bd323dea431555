//! The nested option objects: `fetchInit` and `fallback`.

use js_sys::{Array, Object};
use wasm_bindgen::{JsCast, JsValue};

use super::read::{list, plain_object, reject_unknown, Reader};
use super::url::web_url;
use super::{Fallback, FetchInit};
use crate::error::LoaderError;
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
                &format!("fetchInit.{key}"),
                format!("must be one of {}", list(allowed)),
            )),
            other => Ok(other),
        }
    };
    let mut headers = Vec::new();
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
                    &format!("fetchInit.headers.{name}"),
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
                    &format!("fetchInit.headers.{name}"),
                    "is not a valid HTTP header name and value",
                ));
            }
            headers.push((name, value));
        }
    }
    // Only values `fetch` accepts for a readable answer: "no-cors" gives an
    // opaque answer (no status, no body) and "only-if-cached" throws
    // outside same-origin mode, so both are refused here, not at run time.
    Ok(FetchInit {
        credentials: one_of("credentials", &["omit", "same-origin", "include"])?,
        headers,
        mode: one_of("mode", &["cors", "same-origin"])?,
        cache: one_of(
            "cache",
            &["default", "no-store", "reload", "no-cache", "force-cache"],
        )?,
        referrer_policy: one_of(
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
        )?,
    })
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
    let defaults = Fallback::default();
    let email = r.string("email")?;
    if let Some(e) = &email {
        if !validate::is_valid_email(e) {
            return Err(LoaderError::invalid(
                "fallback.email",
                format!("is not an e-mail address: \"{e}\""),
            ));
        }
    }
    let phone = match r.string("phone")? {
        None => None,
        Some(p) => match validate::tel_href(&p) {
            Some(href) => Some((p, href)),
            None => {
                return Err(LoaderError::invalid(
                    "fallback.phone",
                    format!("is not a phone number (digits, spaces, + - ( ) .): \"{p}\""),
                ))
            }
        },
    };
    let url = match r.string("url")? {
        None => None,
        Some(u) => {
            let parsed = web_url("fallback.url", &u, base)?;
            if parsed.protocol() != "https:" {
                return Err(LoaderError::invalid(
                    "fallback.url",
                    "must be an https: URL",
                ));
            }
            Some(parsed.href())
        }
    };
    Ok(Some(Fallback {
        title: r.string("title")?.unwrap_or(defaults.title),
        message: r.string("message")?.unwrap_or(defaults.message),
        email,
        phone,
        url,
        button_text: r.string("buttonText")?.unwrap_or(defaults.button_text),
    }))
}
