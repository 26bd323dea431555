//! Load triggers (option `trigger`): the first `initialize()` of a manager
//! whose trigger is not `eager` waits for it before the first round, with
//! the state still `idle` and nothing on the page yet. The wait is part of
//! the round in flight, so concurrent `initialize()` calls (and other
//! handles for the same org) share it; `refreshToken()` fires it (an
//! explicit call is itself the trigger); `destroy()` removes its
//! listeners, observer and timers at once and the round ends `DESTROYED`
//! without a request. The waiting itself is `waitTrigger` in `js/dom.js`.

use js_sys::Promise;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

use crate::events::State;
use crate::manager::Inner;
use crate::options::{Container, Trigger};

#[wasm_bindgen(module = "/js/dom.js")]
extern "C" {
    /// A `Promise` that resolves when the trigger fires, with `end()`.
    #[wasm_bindgen(extends = Promise)]
    type TriggerWait;
    #[wasm_bindgen(js_name = waitTrigger)]
    fn wait_trigger(kind: u32, target: &JsValue) -> TriggerWait;
    #[wasm_bindgen(method)]
    fn end(this: &TriggerWait);
    /// The same kind of promise, resolved after `ms` (a timer). `u32`,
    /// not `f64`: an import that needs no conversion is bound directly,
    /// and wasm-bindgen then imports all of `dom.js` as a namespace, whose
    /// every export name esbuild keeps (+250 bytes of glue).
    #[wasm_bindgen(js_name = sleep)]
    fn sleep_js(ms: u32) -> TriggerWait;
}

/// Waits `ms`. Dropping the future (`destroy()`) clears the timer. A
/// promise from `js/dom.js` rather than gloo's `TimeoutFuture`: the
/// channel that one brings costs more than the wait itself.
pub(crate) async fn sleep(ms: u32) {
    let wait = Waiting(sleep_js(ms));
    let _ = JsFuture::from(Promise::from(JsValue::from(&wait.0))).await;
}

/// A trigger being waited for. Dropping it ends the wait: its listeners,
/// observer and timers are removed and its promise resolves.
pub struct Waiting(TriggerWait);

impl Drop for Waiting {
    fn drop(&mut self) {
        self.0.end();
    }
}

impl Inner {
    /// Whether a round starting now waits for the load trigger first: the
    /// trigger is not `eager` and nothing has started yet.
    pub(crate) fn must_wait(&self) -> bool {
        self.opts.trigger != Trigger::Eager && self.state.get() == State::Idle
    }

    /// Starts waiting for the trigger; the promise resolves when it fires,
    /// or when the wait the manager keeps is dropped: by `refreshToken()`
    /// (the load starts at once) or `destroy()` (the lifetime guard then
    /// ends the round before it starts).
    pub(crate) fn wait_for_trigger(&self) -> Promise {
        let target = match &self.opts.container {
            Container::Element(e) => e.into(),
            Container::Selector(s) => s.into(),
            Container::Body => JsValue::NULL,
        };
        let wait = wait_trigger(self.opts.trigger as u32, &target);
        let fired = Promise::from(JsValue::from(&wait));
        let old = self.waiting.replace(Some(Waiting(wait)));
        drop(old);
        fired
    }
}
