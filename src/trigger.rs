//! Load triggers (option `trigger`): the first `initialize()` of a manager
//! whose trigger is not `eager` waits for it before the first round, with
//! the state still `idle` and nothing on the page yet. The machine decides
//! when to wait and when to stop (`refreshToken()` is itself the trigger;
//! `destroy()` ends the wait); this module only waits: `waitTrigger` in
//! `js/dom.js`, whose listeners, observer and timers go when the wait is
//! dropped.

use js_sys::Promise;
use wasm_bindgen::prelude::*;

use crate::options::{Container, Options};

#[wasm_bindgen(module = "/js/dom.js")]
extern "C" {
    /// A `Promise` that resolves when the trigger fires, with `end()`.
    #[wasm_bindgen(extends = Promise)]
    type TriggerWait;
    #[wasm_bindgen(js_name = waitTrigger)]
    fn wait_trigger(kind: u32, target: &JsValue) -> TriggerWait;
    #[wasm_bindgen(method)]
    fn end(this: &TriggerWait);
}

/// A trigger being waited for. Dropping it ends the wait: its listeners,
/// observer and timers are removed and its promise resolves.
pub struct Waiting(TriggerWait);

impl Drop for Waiting {
    fn drop(&mut self) {
        self.0.end();
    }
}

/// Starts waiting for `opts`' trigger: the wait, and a promise that
/// resolves when it fires (or when the wait is dropped).
pub fn wait(opts: &Options) -> (Waiting, Promise) {
    let target = match &opts.container {
        Container::Element(e) => e.into(),
        Container::Selector(s) => s.into(),
        Container::Body => JsValue::NULL,
    };
    let wait = wait_trigger(opts.trigger as u32, &target);
    let fired = Promise::from(JsValue::from(&wait));
    (Waiting(wait), fired)
}
