//! Listeners added by `js/dom.js`, as RAII handles: the JS side returns a
//! function that removes them; dropping the handle calls it, then frees the
//! Rust callbacks it kept alive. Nothing is `Closure::forget`-ed.

use wasm_bindgen::JsValue;

/// Keeps `callbacks` alive while the listeners that call them are attached.
pub struct Listening<T> {
    remove: js_sys::Function,
    _callbacks: T,
}

impl<T> Listening<T> {
    /// Owns `callbacks` until dropped, then calls `remove`.
    pub fn new(remove: js_sys::Function, callbacks: T) -> Self {
        Listening {
            remove,
            _callbacks: callbacks,
        }
    }
}

impl<T> Drop for Listening<T> {
    fn drop(&mut self) {
        // Removed before the callbacks are freed: no call into a freed closure.
        let _ = self.remove.call0(&JsValue::NULL);
    }
}
