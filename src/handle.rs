//! `WidgetTokenManager`: the handle a page holds. Handles for the same org
//! and options share one manager (one widget per org per page); each
//! handle's `destroy()` releases that handle only, and the manager is torn
//! down when the last handle is released. Two components using the same
//! options can mount and unmount in any order without taking the chat away
//! from each other.

use crate::prelude::*;
use alloc::rc::Rc;
use core::cell::Cell;

use js_sys::Promise;
use wasm_bindgen::prelude::*;

use crate::core::{Request, State};
use crate::driver::{no_window, Inner};
use crate::error::LoaderError;
use crate::options::Options;
use crate::registry;

/// Loads the ChatHub widget with a fresh operator token and keeps it alive.
///
/// ```js
/// import init, { WidgetTokenManager } from "chathub-loader";
/// await init();
/// const manager = new WidgetTokenManager({ tokenUrl: "/api/chathub/token" });
/// await manager.initialize();
/// ```
#[wasm_bindgen]
pub struct WidgetTokenManager {
    inner: Rc<Inner>,
    released: Cell<bool>,
}

#[wasm_bindgen]
extern "C" {
    /// The options object (typed in the generated `.d.ts`).
    #[wasm_bindgen(typescript_type = "WidgetTokenManagerOptions")]
    pub type WidgetTokenManagerOptions;
}

impl WidgetTokenManager {
    /// The shared manager, unless this handle was released.
    fn live(&self) -> Option<&Rc<Inner>> {
        (!self.released.get()).then_some(&self.inner)
    }

    fn call(&self, req: Request) -> Promise {
        match self.live() {
            Some(inner) => inner.request(req),
            None => Promise::reject(&LoaderError::destroyed().to_js()),
        }
    }
}

#[wasm_bindgen]
impl WidgetTokenManager {
    /// Checks the options and returns a handle to the page's manager for
    /// this org: a new one, or the live one when the options are the same.
    /// Throws `INVALID_OPTIONS`, `CONFLICTING_INSTANCE` or
    /// `UNSUPPORTED_ENVIRONMENT` (no `window`).
    #[wasm_bindgen(constructor)]
    pub fn new(options: WidgetTokenManagerOptions) -> Result<WidgetTokenManager, JsValue> {
        let window = web_sys::window().ok_or_else(no_window)?;
        let base = window.location().href().map_err(|_| no_window())?;
        let opts = Options::parse(&options, &base)?;
        let inner = match registry::existing(&opts)? {
            Some(inner) => inner,
            None => registry::create(opts),
        };
        inner.handles.set(inner.handles.get() + 1);
        Ok(WidgetTokenManager {
            inner,
            released: Cell::new(false),
        })
    }

    /// Resolves once the widget tag carrying a validated token is in the
    /// document and its script has loaded. Idempotent: concurrent calls
    /// share one request. After a failure (fallback) it joins the next
    /// attempt, made once the failure's backoff is over.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn initialize(&self) -> Promise {
        self.call(Request::Initialize)
    }

    /// Gets a new token now and gives it to the widget. Concurrent calls
    /// (and a call during `initialize()`) share one request. Called while
    /// `initialize()` waits for its load trigger, it is the trigger: the
    /// load starts at once.
    #[wasm_bindgen(js_name = refreshToken, unchecked_return_type = "Promise<void>")]
    pub fn refresh_token(&self) -> Promise {
        self.call(Request::Refresh)
    }

    /// Releases this handle. When it was the last one for its org, removes
    /// the tag, the loading state and the fallback, stops timers and
    /// listeners, aborts a request in flight and frees the org's slot.
    /// Idempotent.
    pub fn destroy(&self) {
        if self.released.replace(true) {
            return;
        }
        let left = self.inner.handles.get().saturating_sub(1);
        self.inner.handles.set(left);
        if left == 0 {
            self.inner.destroy();
        }
    }

    /// `"idle" | "loading" | "ready" | "refreshing" | "fallback" | "destroyed"`
    /// (`"destroyed"` for a released handle).
    #[wasm_bindgen(getter, unchecked_return_type = "WidgetTokenManagerState")]
    pub fn state(&self) -> String {
        self.live()
            .map_or(State::Destroyed, |i| i.state())
            .as_str()
            .into()
    }

    /// When the current token stops working, in the visitor's clock
    /// (corrected when it is off), or `undefined`.
    #[wasm_bindgen(getter, js_name = expiresAt)]
    pub fn expires_at(&self) -> Option<js_sys::Date> {
        let at = self.live()?.expires_at()?;
        Some(js_sys::Date::new(&JsValue::from(at)))
    }

    /// The org this manager serves, or `undefined`.
    #[wasm_bindgen(getter)]
    pub fn org(&self) -> Option<String> {
        self.inner.opts.org.clone()
    }
}
