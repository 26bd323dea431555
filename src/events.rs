//! `chathub:statechange` on `window`: how a page follows the manager.

use js_sys::{Object, Reflect};
use wasm_bindgen::JsValue;
use web_sys::{CustomEvent, CustomEventInit};

use crate::error::LoaderError;

/// The event's name.
pub const STATE_EVENT: &str = "chathub:statechange";

/// The manager's life cycle, as `manager.state` reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// Constructed, not initialised.
    Idle,
    /// Getting the first token (or recovering from the fallback).
    Loading,
    /// The widget runs with a valid token.
    Ready,
    /// The widget runs; a new token is on its way.
    Refreshing,
    /// The chat could not load; the contact box is shown.
    Fallback,
    /// `destroy()` was called.
    Destroyed,
}

impl State {
    /// The string JavaScript sees.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Idle => "idle",
            State::Loading => "loading",
            State::Ready => "ready",
            State::Refreshing => "refreshing",
            State::Fallback => "fallback",
            State::Destroyed => "destroyed",
        }
    }
}

/// Dispatches `{ org, state, previous, error }` on `window`.
pub fn emit(org: Option<&str>, state: State, previous: State, error: Option<&LoaderError>) {
    let Some(window) = web_sys::window() else {
        return;
    };
    let detail = Object::new();
    let org = org.map(JsValue::from).unwrap_or(JsValue::NULL);
    let error = error.map(LoaderError::to_detail).unwrap_or(JsValue::NULL);
    for (k, v) in [
        ("org", org),
        ("state", state.as_str().into()),
        ("previous", previous.as_str().into()),
        ("error", error),
    ] {
        let _ = Reflect::set(&detail, &k.into(), &v);
    }
    let init = CustomEventInit::new();
    init.set_detail(&detail);
    if let Ok(ev) = CustomEvent::new_with_event_init_dict(STATE_EVENT, &init) {
        let _ = window.dispatch_event(&ev);
    }
}
