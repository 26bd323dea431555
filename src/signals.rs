//! What makes a manager look at its token outside its own timers: the
//! page coming back (visible, online, restored from the back/forward
//! cache), the periodic safety-net check, and the widget reporting
//! `token expired`.
//!
//! The widget reports an expired token through a window `error` event.
//! Only errors raised by a script on the widget's origin count (the host
//! app's own "Session token expired" must not remount the chat), and one
//! raised by another org's widget tag is that org's; an
//! `unhandledrejection` carries no URL, so it counts, under the cool-down.

use crate::prelude::*;
use core::cell::{Cell, RefCell};

use wasm_bindgen::prelude::*;
use web_sys::Document;

use crate::events::State;
use crate::listening::Listening;
use crate::manager::Inner;
use crate::schedule;
use crate::timer::Timer;

/// How long a `token expired` burst is collected before one refresh.
const SIGNAL_DEBOUNCE_MS: u32 = 200;
/// After a signal-driven refresh, further signals are ignored this long.
const SIGNAL_COOLDOWN_MS: f64 = 5_000.0;

#[wasm_bindgen(module = "/js/dom.js")]
extern "C" {
    /// Adds the page listeners (see `js/dom.js`); returns their remover.
    #[wasm_bindgen(js_name = watchPage)]
    fn watch_page(
        doc: &Document,
        win: &web_sys::Window,
        check: &Closure<dyn Fn(bool)>,
        signal: &Closure<dyn Fn(String)>,
        widget_src: &str,
        tag_id: &str,
    ) -> js_sys::Function;
}

/// The page listeners of one manager (`check`, `signal`).
type PageWatch = Listening<(Closure<dyn Fn(bool)>, Closure<dyn Fn(String)>)>;

/// One manager's listeners and signal bookkeeping.
pub struct Signals {
    page: RefCell<Option<PageWatch>>,
    interval: RefCell<Option<Timer>>,
    debounce: RefCell<Option<Timer>>,
    last_ms: Cell<f64>,
}

impl Default for Signals {
    fn default() -> Self {
        Signals {
            page: RefCell::new(None),
            interval: RefCell::new(None),
            debounce: RefCell::new(None),
            last_ms: Cell::new(f64::NEG_INFINITY),
        }
    }
}

impl Signals {
    /// Removes every listener and timer.
    pub fn clear(&self) {
        let page = self.page.borrow_mut().take();
        let interval = self.interval.borrow_mut().take();
        let debounce = self.debounce.borrow_mut().take();
        drop((page, interval, debounce));
    }
}

impl Inner {
    /// Starts listening (once per manager).
    pub(crate) fn install_watchers(&self, doc: &Document) {
        if self.destroyed() || self.signals.page.borrow().is_some() {
            return;
        }
        let Some(window) = web_sys::window() else {
            return;
        };
        let check = {
            let (offline, online) = (
                self.defer(|i| i.check(false)),
                self.defer(|i| i.check(true)),
            );
            Closure::<dyn Fn(bool)>::new(
                move |is_online: bool| {
                    if is_online {
                        online()
                    } else {
                        offline()
                    }
                },
            )
        };
        let signal = {
            let weak = self.weak.clone();
            Closure::<dyn Fn(String)>::new(move |msg: String| {
                if let Some(inner) = weak.upgrade() {
                    inner.on_signal(&msg);
                }
            })
        };
        let remove = watch_page(
            doc,
            &window,
            &check,
            &signal,
            &self.opts.widget_src,
            &self.opts.tag_id(),
        );
        *self.signals.page.borrow_mut() = Some(PageWatch::new(remove, (check, signal)));
        let interval = Timer::interval(
            schedule::clamp_timer_ms(self.opts.check_interval_ms).max(1) as u32,
            self.defer(|inner| inner.check(false)),
        );
        *self.signals.interval.borrow_mut() = Some(interval);
    }

    /// A `token expired` report from the widget: one refresh per burst.
    fn on_signal(&self, message: &str) {
        let s = &self.signals;
        // A byte window compare: no lowercase copy, no substring searcher.
        if !message
            .as_bytes()
            .windows(13)
            .any(|w| w.eq_ignore_ascii_case(b"token expired"))
            || self.state.get() == State::Idle
            || s.debounce.borrow().is_some()
            || js_sys::Date::now() - s.last_ms.get() < SIGNAL_COOLDOWN_MS
        {
            return;
        }
        let fire = self.defer(|inner| {
            let done = inner.signals.debounce.borrow_mut().take();
            drop(done);
            inner.signals.last_ms.set(js_sys::Date::now());
            inner.trigger();
        });
        *s.debounce.borrow_mut() = Some(Timer::timeout(SIGNAL_DEBOUNCE_MS, fire));
    }
}
