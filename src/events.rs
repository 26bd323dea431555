//! `chathub:statechange` on `window`: how a page follows the manager.

use wasm_bindgen::prelude::*;

pub use crate::core::State;
use crate::error::LoaderError;

#[wasm_bindgen(module = "/js/dom.js")]
extern "C" {
    /// Builds and dispatches the event (see `js/dom.js`).
    #[wasm_bindgen(js_name = emitState)]
    fn emit_state(
        r#type: &str,
        org: Option<&str>,
        state: &str,
        previous: &str,
        code: Option<&str>,
        message: Option<&str>,
        status: Option<u16>,
    );
}

/// The event's name.
pub const STATE_EVENT: &str = "chathub:statechange";

/// Dispatches `{ org, state, previous, error }` on `window`.
pub fn emit(org: Option<&str>, state: State, previous: State, error: Option<&LoaderError>) {
    emit_state(
        STATE_EVENT,
        org,
        state.as_str(),
        previous.as_str(),
        error.map(|e| e.code.as_str()),
        error.map(|e| e.message.as_str()),
        error.and_then(|e| e.status),
    );
}
