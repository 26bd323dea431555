//! Reading values out of the page's options object: type checks, unknown
//! keys (with a "did you mean"), selectors, and message helpers.

use crate::prelude::*;
use js_sys::{Array, Object, Reflect};
use wasm_bindgen::{JsCast, JsValue};

use crate::error::LoaderError;
use crate::text::{cat, num};

/// A selector the browser cannot parse is a typo to report now, not later.
pub(super) fn check_selector(key: &str, sel: &str) -> Result<(), LoaderError> {
    let doc = web_sys::window().and_then(|w| w.document());
    match doc.map(|d| d.query_selector(sel)) {
        Some(Err(_)) => Err(LoaderError::invalid(
            key,
            cat(&["is not a valid CSS selector: \"", sel, "\""]),
        )),
        _ if sel.trim_ascii().is_empty() => Err(LoaderError::invalid(key, "must not be empty")),
        _ => Ok(()),
    }
}

/// `obj[key]` when `key` is the object's own property.
pub fn own(obj: &Object, key: &str) -> Option<JsValue> {
    let key = JsValue::from(key);
    Object::has_own(obj, &key)
        .then(|| Reflect::get(obj, &key).ok())
        .flatten()
}

pub(super) struct Reader<'a> {
    pub obj: &'a Object,
    pub prefix: &'a str,
}

impl Reader<'_> {
    pub fn key(&self, key: &str) -> String {
        cat(&[self.prefix, key])
    }

    /// The value, with `undefined` meaning "not given".
    /// Only the object's own keys: a page whose `Object.prototype` was
    /// polluted (`widgetSrc` set there by some other script) must not
    /// configure the loader.
    pub fn get(&self, key: &str) -> Option<JsValue> {
        own(self.obj, key).filter(|v| !v.is_undefined())
    }

    pub fn string(&self, key: &str) -> Result<Option<String>, LoaderError> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => v.as_string().map(Some).ok_or_else(|| {
                LoaderError::invalid(
                    &self.key(key),
                    cat(&["must be a string, got ", &type_name(&v)]),
                )
            }),
        }
    }

    /// The index in `allowed` of the value; 0 (the default, first) when
    /// not given; anything else is `INVALID_OPTIONS` listing `allowed`.
    /// For top-level keys.
    pub fn choice(&self, key: &str, allowed: &[&str]) -> Result<usize, LoaderError> {
        let Some(s) = self.string(key)? else {
            return Ok(0);
        };
        allowed.iter().position(|a| *a == s).ok_or_else(|| {
            let mut why = String::from("must be one of ");
            why.push_str(&list(allowed));
            LoaderError::invalid(key, why)
        })
    }

    pub fn number(&self, key: &str, min: f64) -> Result<Option<f64>, LoaderError> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => match v.as_f64() {
                Some(n) if n.is_finite() && n >= min => Ok(Some(n)),
                Some(_) => Err(LoaderError::invalid(
                    &self.key(key),
                    cat(&[
                        "must be a finite number of milliseconds, at least ",
                        &num(min as u64),
                    ]),
                )),
                None => Err(LoaderError::invalid(
                    &self.key(key),
                    cat(&["must be a number, got ", &type_name(&v)]),
                )),
            },
        }
    }
}

pub(super) fn type_name(v: &JsValue) -> String {
    if v.is_null() {
        "null".into()
    } else if Array::is_array(v) {
        "an array".into()
    } else {
        v.js_typeof().as_string().unwrap_or_default()
    }
}

pub(super) fn plain_object(v: &JsValue, key: &str, what: &str) -> Result<Object, LoaderError> {
    if v.is_object() && !Array::is_array(v) && !v.is_function() {
        Ok(v.clone().unchecked_into())
    } else {
        Err(LoaderError::invalid(
            key,
            cat(&[what, " (got ", &type_name(v), ")"]),
        ))
    }
}

pub(super) fn reject_unknown(
    obj: &Object,
    known: &[&str],
    prefix: &str,
) -> Result<(), LoaderError> {
    for key in Object::keys(obj).iter().filter_map(|k| k.as_string()) {
        if !known.contains(&key.as_str()) {
            let hint = known
                .iter()
                .find(|k| k.eq_ignore_ascii_case(&key))
                .map(|k| cat(&["; did you mean `", prefix, k, "`?"]))
                .unwrap_or_else(|| cat(&["; known options are: ", &list(known)]));
            return Err(LoaderError::invalid(
                &cat(&[prefix, &key]),
                cat(&["is not a known option", &hint]),
            ));
        }
    }
    Ok(())
}

/// `a, b, c` for a message. A loop, not `[&str]::join`: its generic copy
/// routine costs about 1 KB of wasm.
pub fn list(items: &[&str]) -> String {
    let mut out = String::new();
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        out.push_str(item);
    }
    out
}
