//! `setTimeout` as an RAII handle (in place of
//! `gloo-timers`, which needs `std`): dropping a [`Timer`] clears it, then
//! frees its callback. Nothing is `Closure::forget`-ed.

use wasm_bindgen::prelude::*;

use crate::listening::Listening;

#[wasm_bindgen(module = "/js/dom.js")]
extern "C" {
    /// Calls `f()` after `ms`; returns the canceller.
    fn timer(f: &Closure<dyn Fn()>, ms: u32) -> js_sys::Function;
}

/// A pending timeout; cleared when dropped.
pub struct Timer {
    _handle: Listening<Closure<dyn Fn()>>,
}

impl Timer {
    /// Calls `f` once, `ms` milliseconds from now.
    pub fn timeout(ms: u32, f: impl Fn() + 'static) -> Self {
        let f = Closure::<dyn Fn()>::new(f);
        Timer {
            _handle: Listening::new(timer(&f, ms), f),
        }
    }
}
