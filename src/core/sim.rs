//! A simulated page for the machine's host tests: a driver that carries
//! out every action at once against a model of the page (the org's widget
//! tags, the loading status, the contact box, the request in flight),
//! simulated time on both clocks, and a log of what a page would see.
//! Answers, widget outcomes and page events are the test's to give.

use super::*;
use crate::prelude::*;
use std::format;

/// A widget tag in the model page, with the token it carries.
#[derive(Clone, Debug, PartialEq)]
pub struct Tag {
    /// The token attribute.
    pub token: String,
    /// Its evaluation ended (`Mounted(Ok)`), or it is the page's own.
    pub loaded: bool,
}

/// What the page showed when a state event was dispatched (a listener
/// reads the page as it is then, not after the rest of the actions).
#[derive(Clone, Debug, PartialEq)]
pub struct View {
    /// The org's widget tags.
    pub tags: Vec<Tag>,
    /// The contact box was shown.
    pub boxed: bool,
    /// The loading status was shown.
    pub status: bool,
    /// The container existed.
    pub container: bool,
}

/// The simulated page and driver around one machine.
pub struct Sim {
    /// The machine under test.
    pub m: Machine,
    /// What the next event is fed with (the test moves time with
    /// [`Sim::advance`], jumps the wall clock, hides the page...).
    pub env: Env,
    /// Widget tags of this org on the page (never more than one, or the
    /// invariant is broken).
    pub tags: Vec<Tag>,
    /// The widget taken off the page, kept for `Restore`.
    pub taken: Option<Vec<Tag>>,
    /// Tags the page itself shipped (adopted by the next `TakeOff`).
    pub static_tags: Vec<Tag>,
    /// The loading status is shown.
    pub status: bool,
    /// The contact box is shown.
    pub boxed: bool,
    /// Its button is busy.
    pub busy: bool,
    /// Page listeners are on.
    pub watching: bool,
    /// A load trigger is being waited for.
    pub waiting_trigger: bool,
    /// The request in flight (its id).
    pub fetch: Option<u32>,
    /// The preload in flight.
    pub preload: Option<u32>,
    /// The mount in flight.
    pub mount: Option<u32>,
    /// When each request was made (monotonic ms).
    pub requests: Vec<f64>,
    /// How many requests the machine aborted (timed out, or destroyed).
    pub aborts: usize,
    /// Every state event: (state, previous, error code).
    pub events: Vec<(State, State, Option<ErrorCode>)>,
    /// The page as each state event found it (one per `events` entry).
    pub at_emit: Vec<View>,
    /// Every settled ticket.
    pub settled: Vec<(u32, Result<(), ErrorCode>)>,
    /// Every action, in order (for failure reports).
    pub log: Vec<String>,
    /// A tag is in place for `SetToken` to update (reload: attribute).
    pub in_place_tag: bool,
}

/// The configuration a page gets with the defaults.
pub fn config() -> Config {
    Config {
        trigger: false,
        in_place: false,
        fallback: true,
        max_retries: 3,
        retry_delay_ms: 500.0,
        max_retry_delay_ms: 300_000.0,
        request_timeout_ms: 10_000.0,
        load_timeout_ms: 20_000.0,
        refresh_margin_ms: None,
        check_interval_ms: 3_600_000.0,
        token_url: "https://shop.example/api/chathub/token".into(),
        widget_src: "https://widget.example/widget.js".into(),
        no_container: LoaderError::new(ErrorCode::InvalidOptions, "no container"),
    }
}

/// A `TOKEN_HTTP` answer with `status`.
pub fn http(status: u16) -> Answer {
    let code = if status == 401 || status == 403 {
        ErrorCode::TokenUnauthorized
    } else {
        ErrorCode::TokenHttp
    };
    Answer::Failed(LoaderError {
        status: Some(status),
        ..LoaderError::new(code, "http")
    })
}

/// A failure with `code` and no status.
#[allow(dead_code)]
pub fn failed(code: ErrorCode) -> Answer {
    Answer::Failed(LoaderError::new(code, "failed"))
}

impl Sim {
    /// A fresh page at monotonic 1000 ms, wall clock 2026-12-01.
    pub fn new(cfg: Config) -> Sim {
        Sim::with_memory(cfg, Memory::default(), 1_000.0)
    }

    /// A page whose org's earlier managers left `memory`, at `mono`.
    pub fn with_memory(cfg: Config, memory: Memory, mono: f64) -> Sim {
        Sim {
            m: Machine::new(cfg, memory),
            env: Env {
                mono,
                wall: 1_796_083_200_000.0 + mono,
                hidden: false,
                container: true,
                random: 0.5,
            },
            tags: Vec::new(),
            taken: None,
            static_tags: Vec::new(),
            status: false,
            boxed: false,
            busy: false,
            watching: false,
            waiting_trigger: false,
            fetch: None,
            preload: None,
            mount: None,
            requests: Vec::new(),
            aborts: 0,
            events: Vec::new(),
            at_emit: Vec::new(),
            settled: Vec::new(),
            log: Vec::new(),
            in_place_tag: false,
        }
    }

    /// A page's call.
    pub fn request(&mut self, req: Request) -> u32 {
        self.log.push(format!("@{} request {req:?}", self.env.mono));
        let t = self.m.request(req, self.env);
        self.run();
        t
    }

    /// Something happened.
    pub fn event(&mut self, e: Event) {
        self.log.push(format!("@{} event {e:?}", self.env.mono));
        self.m.handle(e, self.env);
        self.run();
    }

    /// Moves both clocks `ms` on, firing the timer at each deadline on the
    /// way, as a browser would (`late_ms` later than asked, for a busy or
    /// throttled page).
    pub fn advance_late(&mut self, ms: f64, late_ms: f64) {
        let end = self.env.mono + ms;
        let mut guard = 0;
        while let Some(at) = self.m.next_deadline() {
            let at = at + late_ms;
            if at > end {
                break;
            }
            assert!(
                at > self.env.mono - 1e-9 || late_ms > 0.0,
                "a deadline in the past ({at} at {}): {:#?}",
                self.env.mono,
                self.log
            );
            self.set_time(at.max(self.env.mono));
            self.event(Event::Tick);
            guard += 1;
            assert!(guard < 100_000, "the timer fires in a loop");
        }
        self.set_time(end);
    }

    /// Moves both clocks `ms` on, firing the timer on time.
    pub fn advance(&mut self, ms: f64) {
        self.advance_late(ms, 0.0);
    }

    /// Moves both clocks to `mono` (never back) without waking the
    /// machine: time a timer sleeps through, or the moment a driver-side
    /// event (an answer, a load) is due.
    pub fn move_to(&mut self, mono: f64) {
        self.set_time(mono.max(self.env.mono));
    }

    fn set_time(&mut self, mono: f64) {
        self.env.wall += mono - self.env.mono;
        self.env.mono = mono;
    }

    /// Answers the request in flight (panics when there is none).
    pub fn answer(&mut self, answer: Answer) {
        let id = self.fetch.take().expect("a request in flight");
        self.event(Event::Answered { id, answer });
    }

    /// A token answer living `ttl_ms`, with a readable `Date` header.
    pub fn token(&self, value: &str, ttl_ms: f64) -> Answer {
        Answer::Token {
            value: value.into(),
            expires_at: self.env.wall + ttl_ms,
            iat: Some(self.env.wall),
            server_now: Some(self.env.wall),
        }
    }

    /// Ends the preload in flight.
    pub fn preloaded(&mut self, result: Result<(), LoaderError>) {
        let id = self.preload.take().expect("a preload in flight");
        self.event(Event::Preloaded { id, result });
    }

    /// Ends the mount in flight.
    pub fn mounted(&mut self, result: Result<(), LoaderError>) {
        let id = self.mount.take().expect("a mount in flight");
        match result {
            Ok(()) => self.tags.iter_mut().for_each(|t| t.loaded = true),
            // The driver's mount leaves nothing of a failed tag.
            Err(_) => self.tags.clear(),
        }
        self.event(Event::Mounted { id, result });
    }

    /// Answers with a fresh token and lets the widget load.
    pub fn serve(&mut self, value: &str, ttl_ms: f64) {
        self.answer(self.token(value, ttl_ms));
        if self.preload.is_some() {
            self.preloaded(Ok(()));
        }
        if self.mount.is_some() {
            self.mounted(Ok(()));
        }
    }

    /// The token on the page, if a tag carries one.
    pub fn page_token(&self) -> Option<&str> {
        self.tags.first().map(|t| t.token.as_str())
    }

    /// Milliseconds until the widget's token expires, by the machine.
    pub fn left(&self) -> f64 {
        self.m
            .expires_at()
            .map_or(f64::NAN, |at| at - self.env.wall)
    }

    /// The last state event's error code.
    pub fn last_error(&self) -> Option<ErrorCode> {
        self.events.last().and_then(|e| e.2)
    }

    /// Carries out the machine's actions against the model page.
    fn run(&mut self) {
        while let Some(a) = self.m.poll_action() {
            self.log.push(format!("@{}   {a:?}", self.env.mono));
            match a {
                Action::WaitTrigger => self.waiting_trigger = true,
                Action::EndTrigger => self.waiting_trigger = false,
                Action::Watch => self.watching = true,
                Action::Unwatch => self.watching = false,
                Action::Fetch(id) => {
                    assert!(self.fetch.is_none(), "two requests at once");
                    self.fetch = Some(id);
                    self.requests.push(self.env.mono);
                }
                Action::Abort => {
                    self.fetch = None;
                    self.aborts += 1;
                }
                Action::SetToken(token) => {
                    let done = if let Some(t) = self.tags.first_mut() {
                        t.token = token;
                        true
                    } else if self.in_place_tag || !self.static_tags.is_empty() {
                        let mut t = core::mem::take(&mut self.static_tags);
                        t.truncate(1);
                        if t.is_empty() {
                            t.push(Tag {
                                token: String::new(),
                                loaded: true,
                            });
                        }
                        t[0].token = token;
                        self.tags = t;
                        true
                    } else {
                        false
                    };
                    self.m.handle(Event::SetInPlace(done), self.env);
                }
                Action::Preload(id) => self.preload = Some(id),
                Action::CancelPreload => self.preload = None,
                Action::TakeOff => {
                    assert!(self.taken.is_none(), "a widget taken off twice");
                    let mut off = core::mem::take(&mut self.tags);
                    off.append(&mut self.static_tags);
                    self.taken = Some(off);
                }
                Action::Mount(id, token) => {
                    assert!(self.mount.is_none(), "two mounts at once");
                    self.tags.push(Tag {
                        token,
                        loaded: false,
                    });
                    self.mount = Some(id);
                }
                Action::CancelMount => {
                    self.mount = None;
                    self.tags.clear();
                }
                Action::Restore => {
                    let back = self.taken.take().expect("something to restore");
                    self.tags.extend(back);
                }
                Action::Discard => {
                    self.taken.take().expect("something to discard");
                }
                Action::Unmount => self.tags.clear(),
                Action::ShowStatus => {
                    assert!(!self.status, "the status shown twice");
                    self.status = true;
                }
                Action::HideStatus => self.status = false,
                Action::ShowBox => {
                    assert!(!self.boxed, "the contact box shown twice");
                    self.boxed = true;
                }
                Action::HideBox => {
                    self.boxed = false;
                    self.busy = false;
                }
                Action::BoxBusy(b) => self.busy = b,
                Action::Emit {
                    state,
                    previous,
                    error,
                } => {
                    self.at_emit.push(View {
                        tags: self.tags.clone(),
                        boxed: self.boxed,
                        status: self.status,
                        container: self.env.container,
                    });
                    self.events.push((state, previous, error.map(|e| e.code)));
                }
                Action::Settle(t, r) => self.settled.push((t, r.map_err(|e| e.code))),
            }
        }
    }
}
