//! Loader errors as they cross into JavaScript: `Error` objects with a
//! stable `code` (and `status` for HTTP failures). The errors themselves
//! are plain data in `crate::core::error`.

use wasm_bindgen::JsValue;

pub use crate::core::error::{ErrorCode, LoaderError};

impl LoaderError {
    /// The JavaScript `Error` with `code` (and `status`) properties.
    pub fn to_js(&self) -> JsValue {
        let err = js_sys::Error::new(&self.message);
        let obj: &js_sys::Object = err.as_ref();
        let _ = js_sys::Reflect::set(obj, &"code".into(), &self.code.as_str().into());
        if let Some(status) = self.status {
            let _ = js_sys::Reflect::set(obj, &"status".into(), &JsValue::from(status));
        }
        err.into()
    }
}

impl From<LoaderError> for JsValue {
    fn from(err: LoaderError) -> JsValue {
        err.to_js()
    }
}
