//! The browser driver: carries out what the org's [`Machine`] asks and
//! feeds it what happens. It decides nothing (see `crate::core`).
//!
//! Actions run one at a time from the machine's queue, with no borrow of
//! the driver held while one runs: an action may run page code (a
//! `chathub:statechange` listener, a `focusout` when an element that holds
//! focus is removed) that calls back in (`destroy()`, `refreshToken()`).
//! Such a call only adds to the machine's queue, which the running pump
//! then drains in order, so the page sees the actions in the order the
//! machine decided them. Async work (the token request, the preload, the
//! mount, the load trigger) runs as futures that end with an event; each
//! can be cancelled through its own [`Lifetime`], which drops the future
//! and with it the request, the preload link or the half-mounted tag.

use crate::prelude::*;
use alloc::rc::{Rc, Weak};
use core::cell::{Cell, RefCell};
use core::future::Future;
use core::pin::Pin;

use js_sys::{Function, Promise};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::spawn_local;
use web_sys::Document;

use crate::core::{Action, Config, Env, Event, Machine, Memory, Request, State};
use crate::error::{ErrorCode, LoaderError};
use crate::events;
use crate::lifetime::{self, Lifetime};
use crate::options::{Options, Reload, Trigger};
use crate::registry;
use crate::signals::PageWatch;
use crate::tag::{self, Mounted, Taken};
use crate::timer::Timer;
use crate::token;
use crate::trigger::Waiting;
use crate::ui::{self, Shown};

#[wasm_bindgen(module = "/js/dom.js")]
extern "C" {
    /// `performance.now()`: the machine's monotonic clock. The unused
    /// `u32` is on purpose: an import that needs no conversion at all is
    /// bound directly, and wasm-bindgen then imports `dom.js` as a
    /// namespace, which esbuild builds with a `for (name in exports)` that
    /// a polluted `Object.prototype` breaks (and +250 bytes of glue).
    #[wasm_bindgen(js_name = monoNow)]
    fn mono_now_js(_: u32) -> f64;
}

/// A promise waiting for the round it joined (`Action::Settle`).
struct Waiter {
    ticket: u32,
    resolve: Function,
    reject: Function,
}

/// One org's manager: its machine and what carries out its actions.
pub struct Inner {
    /// The checked options (compared when a second handle is requested).
    pub opts: Options,
    weak: Weak<Inner>,
    machine: RefCell<Machine>,
    pumping: Cell<bool>,
    waiters: RefCell<Vec<Waiter>>,
    timer: RefCell<Option<Timer>>,
    /// The deadline the timer is armed for (NaN: none).
    armed: Cell<f64>,
    /// The token request, preload and mount in flight (cancel to drop).
    fetch: RefCell<Option<Rc<Lifetime>>>,
    preload: RefCell<Option<Rc<Lifetime>>>,
    mount: RefCell<Option<Rc<Lifetime>>>,
    /// The module URL preloaded for the mount that follows.
    next_src: RefCell<Option<String>>,
    trigger: RefCell<Option<Waiting>>,
    mounted: RefCell<Option<Mounted>>,
    taken: RefCell<Option<Taken>>,
    status: RefCell<Option<Shown>>,
    fallback: RefCell<Option<Shown>>,
    watch: RefCell<Option<PageWatch>>,
    /// Handles not yet released by their `destroy()`.
    pub(crate) handles: Cell<u32>,
}

pub(crate) fn document() -> Result<Document, LoaderError> {
    web_sys::window()
        .and_then(|w| w.document())
        .ok_or_else(no_window)
}

pub(crate) fn no_window() -> LoaderError {
    LoaderError::new(
        ErrorCode::UnsupportedEnvironment,
        "chathub-loader: there is no window/document here (server-side rendering or a worker?); create the WidgetTokenManager in the browser, e.g. in useEffect/onMounted",
    )
}

fn mono_now() -> f64 {
    mono_now_js(0)
}

impl Inner {
    /// A manager for `opts`, starting from what earlier managers of its org
    /// learnt (`memory`).
    pub(crate) fn new(opts: Options, memory: Memory) -> Rc<Inner> {
        let cfg = Config {
            trigger: opts.trigger != Trigger::Eager,
            in_place: opts.reload == Reload::Attribute,
            fallback: opts.fallback.is_some(),
            max_retries: opts.max_retries,
            retry_delay_ms: opts.retry_delay_ms,
            max_retry_delay_ms: opts.max_retry_delay_ms,
            request_timeout_ms: opts.request_timeout_ms,
            // The widget's download and first evaluation: twice the token
            // request's allowance, at least 20 s.
            load_timeout_ms: opts.request_timeout_ms.max(10_000.0) * 2.0,
            refresh_margin_ms: opts.refresh_margin_ms,
            check_interval_ms: opts.check_interval_ms,
            token_url: opts.token_url.clone(),
            widget_src: opts.widget_src.clone(),
            no_container: ui::missing_container(&opts),
        };
        Rc::new_cyclic(|weak| Inner {
            opts,
            weak: weak.clone(),
            machine: RefCell::new(Machine::new(cfg, memory)),
            pumping: Cell::new(false),
            waiters: RefCell::new(Vec::new()),
            timer: RefCell::new(None),
            armed: Cell::new(f64::NAN),
            fetch: RefCell::new(None),
            preload: RefCell::new(None),
            mount: RefCell::new(None),
            next_src: RefCell::new(None),
            trigger: RefCell::new(None),
            mounted: RefCell::new(None),
            taken: RefCell::new(None),
            status: RefCell::new(None),
            fallback: RefCell::new(None),
            watch: RefCell::new(None),
            handles: Cell::new(0),
        })
    }

    /// The state a page sees.
    pub(crate) fn state(&self) -> State {
        self.machine.borrow().state()
    }

    /// When the token stops working (visitor's clock), if there is one.
    pub(crate) fn expires_at(&self) -> Option<f64> {
        self.machine.borrow().expires_at()
    }

    /// What the driver reads for every event.
    fn env(&self) -> Env {
        let doc = document().ok();
        Env {
            mono: mono_now(),
            wall: js_sys::Date::now(),
            hidden: doc.as_ref().is_some_and(|d| d.hidden()),
            container: doc.is_some_and(|d| ui::container(&d, &self.opts).is_some()),
            random: js_sys::Math::random(),
        }
    }

    /// A page's call, as a promise of its round's outcome.
    pub(crate) fn request(self: &Rc<Self>, req: Request) -> Promise {
        let env = self.env();
        let ticket = self.machine.borrow_mut().request(req, env);
        // Registered before the pump runs the actions that may settle it.
        let promise = Promise::new(&mut |resolve, reject| {
            self.waiters.borrow_mut().push(Waiter {
                ticket,
                resolve,
                reject,
            });
        });
        self.pump();
        promise
    }

    /// The contact box's button: its outcome is the state's, no promise
    /// (nobody would handle its rejection).
    fn try_again(self: &Rc<Self>) {
        let env = self.env();
        self.machine.borrow_mut().request(Request::TryAgain, env);
        self.pump();
    }

    /// Something happened.
    pub(crate) fn feed(self: &Rc<Self>, event: Event) {
        let env = self.env();
        self.machine.borrow_mut().handle(event, env);
        self.pump();
    }

    /// The last handle was released.
    pub(crate) fn destroy(self: &Rc<Self>) {
        // First: a page that creates a new manager from a callback fired
        // below gets a new one (with this one's memory), not this one
        // half torn down.
        registry::unregister(self);
        let env = self.env();
        let memory = {
            let mut m = self.machine.borrow_mut();
            m.handle(Event::Destroy, env);
            m.memory().clone()
        };
        registry::remember(&self.opts.tag_id(), memory);
        self.pump();
    }

    /// Carries out the machine's actions in order, then arms the timer.
    fn pump(self: &Rc<Self>) {
        if self.pumping.replace(true) {
            return;
        }
        loop {
            let action = self.machine.borrow_mut().poll_action();
            match action {
                Some(a) => self.execute(a),
                None => break,
            }
        }
        self.pumping.set(false);
        self.arm();
        // After the last action: a destroy() from a listener inside a pump
        // only queues its actions, and the style must outlive the box and
        // the status they remove.
        if self.state() == State::Destroyed && registry::is_empty() {
            if let Ok(doc) = document() {
                ui::drop_style(&doc);
            }
        }
    }

    /// One timer for every deadline: the machine's next.
    fn arm(self: &Rc<Self>) {
        let at = self.machine.borrow().next_deadline().unwrap_or(f64::NAN);
        if at == self.armed.get() || (at.is_nan() && self.armed.get().is_nan()) {
            return;
        }
        self.armed.set(at);
        let timer = (!at.is_nan()).then(|| {
            // Rounded up: the timer must not wake the machine before its
            // deadline (it would only re-arm, but for nothing).
            let ms = crate::core::schedule::clamp_timer_ms((at - mono_now()).max(0.0) + 1.0);
            let weak = self.weak.clone();
            Timer::timeout(ms as u32, move || {
                if let Some(inner) = weak.upgrade() {
                    inner.armed.set(f64::NAN);
                    inner.feed(Event::Tick);
                }
            })
        });
        drop(self.timer.replace(timer));
    }

    /// Runs `fut` under a lifetime kept in `slot` and feeds the event it
    /// ends with; cancelling the lifetime (or a new one replacing it)
    /// drops the future first. One boxed future type: one copy of this in
    /// the `.wasm`, not one per effect.
    fn spawn(
        self: &Rc<Self>,
        slot: fn(&Inner) -> &RefCell<Option<Rc<Lifetime>>>,
        fut: Pin<Box<dyn Future<Output = Event>>>,
    ) {
        let life = Rc::new(Lifetime::default());
        if let Some(old) = slot(self).replace(Some(life.clone())) {
            old.cancel();
        }
        let weak = self.weak.clone();
        spawn_local(async move {
            let out = lifetime::guard(life, async move { Ok(fut.await) }).await;
            if let (Ok(event), Some(inner)) = (out, weak.upgrade()) {
                inner.feed(event);
            }
        });
    }

    fn cancel(slot: &RefCell<Option<Rc<Lifetime>>>) {
        let life = slot.borrow_mut().take();
        if let Some(life) = life {
            life.cancel();
        }
    }

    fn execute(self: &Rc<Self>, action: Action) {
        let Ok(doc) = document() else {
            return;
        };
        let opts = &self.opts;
        match action {
            Action::WaitTrigger => {
                let (wait, fired) = crate::trigger::wait(opts);
                drop(self.trigger.replace(Some(wait)));
                let weak = self.weak.clone();
                spawn_local(async move {
                    let _ = wasm_bindgen_futures::JsFuture::from(fired).await;
                    if let Some(inner) = weak.upgrade() {
                        inner.feed(Event::TriggerFired);
                    }
                });
            }
            Action::EndTrigger => {
                drop(self.trigger.take());
            }
            Action::Watch => {
                let watch = crate::signals::watch(&doc, self);
                drop(self.watch.replace(watch));
            }
            Action::Unwatch => {
                drop(self.watch.take());
            }
            Action::Fetch(id) => {
                let inner = self.clone();
                let fut = async move {
                    let answer = token::fetch(&inner.opts).await;
                    Event::Answered { id, answer }
                };
                self.spawn(|i| &i.fetch, Box::pin(fut));
            }
            Action::Abort => Self::cancel(&self.fetch),
            Action::SetToken(value) => {
                let current = self.mounted.borrow_mut().take();
                let current = current.or_else(|| tag::adopt(&doc, &opts.tag_id()));
                let done = current.as_ref().is_some_and(|m| {
                    m.script.is_connected() && m.script.set_attribute("token", &value).is_ok()
                });
                *self.mounted.borrow_mut() = current;
                self.feed(Event::SetInPlace(done));
            }
            Action::Preload(id) => {
                let src = tag::next_src(opts);
                *self.next_src.borrow_mut() = Some(src.clone());
                let inner = self.clone();
                let fut = async move {
                    let result = tag::preload(&doc, &inner.opts, &src).await;
                    Event::Preloaded { id, result }
                };
                self.spawn(|i| &i.preload, Box::pin(fut));
            }
            Action::CancelPreload => Self::cancel(&self.preload),
            Action::TakeOff => {
                let old = self.mounted.borrow_mut().take();
                // The page's own tags are adopted here, before the next
                // module URL is chosen: a tag the page shipped has been
                // evaluated, so its URL is not fresh.
                let old = old.or_else(|| tag::adopt(&doc, &opts.tag_id()));
                let taken = tag::take(&doc, old, opts);
                drop(self.taken.replace(Some(taken)));
            }
            Action::Mount(id, value) => {
                let src = self
                    .next_src
                    .borrow_mut()
                    .take()
                    .unwrap_or_else(|| tag::next_src(opts));
                let inner = self.clone();
                let fut = async move {
                    let result = tag::mount(&doc, &inner.opts, &src, &value).await;
                    let result = result.map(|m| {
                        drop(inner.mounted.replace(Some(m)));
                    });
                    Event::Mounted { id, result }
                };
                self.spawn(|i| &i.mount, Box::pin(fut));
            }
            Action::CancelMount => Self::cancel(&self.mount),
            Action::Restore => {
                let taken = self.taken.borrow_mut().take();
                if let Some(back) = taken.and_then(Taken::restore) {
                    drop(self.mounted.replace(Some(back)));
                }
            }
            Action::Discard => {
                drop(self.taken.take());
            }
            Action::Unmount => {
                let mounted = self.mounted.borrow_mut().take();
                tag::unmount(&doc, mounted, opts);
            }
            Action::ShowStatus => {
                if let Ok(status) = ui::show_status(&doc, opts) {
                    Self::keep(&self.status, status);
                }
            }
            Action::HideStatus => Self::hide(&self.status),
            Action::ShowBox => {
                let weak = self.weak.clone();
                let on_retry = move || {
                    if let Some(inner) = weak.upgrade() {
                        inner.try_again();
                    }
                };
                if let Ok(Some(bx)) = ui::show_fallback(&doc, opts, on_retry) {
                    Self::keep(&self.fallback, bx);
                }
            }
            Action::BoxBusy(busy) => {
                // Out of the borrow: disabling a focused button may run
                // page code.
                let button = self.fallback.borrow().as_ref().and_then(Shown::button);
                if let Some(button) = button {
                    ui::set_busy(&button, busy, opts);
                }
            }
            Action::HideBox => Self::hide(&self.fallback),
            Action::Emit {
                state,
                previous,
                error,
            } => events::emit(opts.org.as_deref(), state, previous, error.as_ref()),
            Action::Settle(ticket, result) => {
                let settled: Vec<Waiter> = {
                    let mut waiters = self.waiters.borrow_mut();
                    let (mine, rest) = waiters.drain(..).partition(|w| w.ticket == ticket);
                    *waiters = rest;
                    mine
                };
                let value = match &result {
                    Ok(()) => JsValue::UNDEFINED,
                    Err(e) => e.to_js(),
                };
                for w in settled {
                    let f = if result.is_ok() {
                        &w.resolve
                    } else {
                        &w.reject
                    };
                    let _ = f.call1(&JsValue::UNDEFINED, &value);
                }
            }
        }
    }

    /// Stores a shown element; what the slot held before is removed after
    /// the borrow ends (removing an element may run page code).
    fn keep(slot: &RefCell<Option<Shown>>, shown: Shown) {
        let old = slot.borrow_mut().replace(shown);
        if let Some(old) = old {
            old.remove();
        }
    }

    fn hide(slot: &RefCell<Option<Shown>>) {
        let shown = slot.borrow_mut().take();
        if let Some(shown) = shown {
            shown.remove();
        }
    }
}
