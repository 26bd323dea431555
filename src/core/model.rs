//! Model-based tests of the machine (issue 18 §2): random sequences of a
//! page's life run through the simulated page (`sim`), with every
//! invariant checked after every call into the machine, timer ticks
//! included, and the time-bound ones also while time passes.
//!
//! **Sequences.** A [`Scenario`] is options (trigger, in place, fallback,
//! `maxRetries` 0..=20, retry delays, margins, timeouts, check intervals;
//! the defaults two times in three), a start (hidden, container, the
//! page's own tag, the jitter draw, how the endpoint and the widget
//! behave, when the load trigger fires) and up to 47 [`Op`]s: time passing
//! (a millisecond to three hours, the timer on time or late by up to 70 s),
//! answers of every kind ([`Reply`]: fresh tokens living 1 s to 24 h, the
//! same token again, expired ones, a server clock off by seconds, 50 s or
//! hours, with and without `Date` and `iat`; 400, 401, 403, 404, 408, 429,
//! 5xx with and without a short or long `Retry-After`; network errors,
//! malformed answers; answers to requests given up), an endpoint that
//! answers by itself after a latency or hangs, widgets that load, fail or
//! throw (or time out), preloads that fail, `token expired` signals,
//! wall-clock jumps of a minute to three days, hidden and visible,
//! `online`, `pageshow`, explicit calls, destroy, remount (a new machine
//! from the old one's memory, on the same page: clocks, tags the page
//! shipped, the request history), the container coming and going, jitter
//! draws. One test leans on every kind of answer ([`Mix::Any`]); the other
//! on outages with the default options ([`Mix::Outage`]), where the budget
//! is checked. At the end, everything in flight is answered with success
//! and time runs on (the drain).
//!
//! **Truth.** The test keeps its own, independent of the machine's
//! conversions: true time is `T0 + mono`; the server's clock is true time
//! plus a skew; the visitor's wall clock is true time plus the jumps. A
//! token's true expiry is what the server said, in true time; the
//! machine's own deadline for the token it holds is recovered from
//! `expires_at()` and the clocks at its arrival.
//!
//! **Invariants** (each failure names one):
//! - I1 never two widget tags for one org (with the page's own); nothing
//!   (tag, status, box, listener, trigger wait, request, load) after the
//!   last handle is released.
//! - I2 a widget with a valid token is never torn down by a failed refresh
//!   (taken off only while its replacement evaluates); an expired widget is
//!   never left on the page; no widget beside the contact box; no loading
//!   status beside a widget; the page's widget carries the machine's token.
//! - I3 the token on the page is never past its true expiry, beyond what
//!   docs/behaviour.md's clock rules allow (the `Date` header's half second; a
//!   minute plus the `iat`'s age without it; the visitor's clock error
//!   without either).
//! - I4 after 401, 403, another 4xx, a malformed or an expired token, no
//!   request until a page's call that waits for one.
//! - I5 the budget (see [`Page::budget`] for the window).
//! - I6 the next deadline is ahead, within the check interval, and no
//!   later than the first expiry of a token on the page; a quick backoff
//!   at most 10 s, a background wait at most `maxRetryDelayMs`; a retry
//!   follows a transient failure within its cap; the timer never loops;
//!   a wall-clock jump after the last token moves no deadline and no
//!   request (the same scenario is run without the jumps and compared).
//! - I7 every ticket is settled once, eventually; destroy settles the
//!   waiting ones with `DESTROYED` (or the outcome of a deadline already
//!   passed); a call after destroy is settled `DESTROYED` at once.
//! - I8 each state event's `previous` is the last state; `state()` is the
//!   last event's; `ready` only with one loaded tag carrying a valid token
//!   (the newest); `fallback` only with the box (when on and possible);
//!   the page shows what the state says; nothing before the trigger.
//! - From docs/behaviour.md: I9 `Retry-After` is honoured (within the caps); I10
//!   no retry while hidden; I11 shown again, a due retry runs at once; I12
//!   the same token again is not remounted; I13 a refresh whose widget
//!   failed is retried; I14 "Try again" busy only on the box and while its
//!   attempt runs; I15 `refreshToken()` before the trigger is the trigger;
//!   I16 each failed attempt in the fallback is reported.
//!
//! Seeded and reproducible (a fixed ChaCha seed, no persistence file); a
//! failure shrinks to a short sequence and prints it step by step with
//! the page's log. `MODEL_CASES=100000 MODEL_SEED=7 cargo test -p
//! chathub-loader --lib model` runs another draw.

use std::collections::{HashMap, HashSet};
use std::format;

use proptest::prelude::*;
use proptest::test_runner::{Config as Runner, RngAlgorithm, RngSeed, TestCaseError, TestRunner};

use super::sim::{self, config, Sim};
use super::*;

const SECOND: f64 = 1_000.0;
const MINUTE: f64 = 60_000.0;
const HOUR: f64 = 3_600_000.0;
const DAY: f64 = 24.0 * HOUR;
/// True time at monotonic 0 (the sim's wall clock starts on it).
const T0: f64 = 1_796_083_200_000.0;
/// The longest wait between two quick attempts (docs/behaviour.md, the
/// deadlines: quick attempts back off from `retryDelayMs`, capped at 10 s).
const QUICK_CAP_MS: f64 = 10_000.0;
/// Float noise on millisecond values computed around 1.8e12.
const EPS: f64 = 0.01;
/// docs/behaviour.md's budget with the default options.
const BUDGET: [(f64, usize); 2] = [(MINUTE, 8), (10.0 * MINUTE, 13)];

// ---- what a sequence is made of ------------------------------------------

/// How the endpoint answers one request.
#[derive(Clone, Debug)]
enum Reply {
    /// A new token living `ttl` ms, from a server whose clock is `skew`
    /// ms ahead of true time, with or without a readable `Date` header
    /// and a JWT `iat`.
    Fresh {
        ttl: f64,
        skew: f64,
        date: bool,
        iat: bool,
    },
    /// The token the server handed out last, again (its cache).
    Same { skew: f64, date: bool, iat: bool },
    /// A token that expired `age` ms ago.
    Expired {
        age: f64,
        skew: f64,
        date: bool,
        iat: bool,
    },
    /// An HTTP error (`Retry-After` read only on 429 and 5xx, as the
    /// driver does).
    Status {
        status: u16,
        retry_after: Option<f64>,
    },
    /// No answer at all (offline, DNS, CORS).
    Network,
    /// HTML, a missing field, an empty token.
    Malformed,
}

/// How the endpoint behaves until told otherwise.
#[derive(Clone, Debug)]
enum Server {
    /// Requests are answered only by `Op::Answer` (or time out).
    Manual,
    /// Every request gets `reply` after `latency` ms.
    Auto { reply: Reply, latency: f64 },
    /// Requests never end (the machine's timeout ends them; `Op::Answer`
    /// is not heard).
    Hang,
}

/// How a widget evaluation ends.
#[derive(Clone, Copy, Debug)]
enum End {
    Load,
    /// The script failed to load.
    Fail,
    /// It threw while it evaluated.
    Throw,
}

/// How the widget behaves until told otherwise.
#[derive(Clone, Debug)]
enum Widget {
    /// Preloads and mounts end only by `Op::Preload`/`Op::Mount` (or the
    /// machine's load deadline).
    Manual,
    /// They end after `latency` ms.
    Auto {
        preload_ok: bool,
        mount: End,
        latency: f64,
    },
}

/// One step of a page's life.
#[derive(Clone, Debug)]
enum Op {
    /// Time passes; the timer fires `late` ms after each deadline (a busy
    /// page, a throttled background tab).
    Advance { ms: f64, late: f64 },
    /// The request in flight is answered (nothing happens if none is).
    Answer(Reply),
    /// An answer arrives for a request the machine gave up.
    StaleAnswer(Reply),
    /// The preload in flight ends.
    Preload(bool),
    /// The mount in flight ends.
    Mount(End),
    /// From now on the endpoint behaves like this.
    Server(Server),
    /// From now on the widget behaves like this.
    Widget(Widget),
    /// The widget says `token expired`.
    WidgetExpired,
    /// The visitor's wall clock is set forward or back (`env.wall` only).
    WallJump(f64),
    /// The tab goes to the background.
    Hide,
    /// The tab is visible again (`visibilitychange`).
    Show,
    /// `online`.
    Online,
    /// `pageshow` (back/forward cache).
    PageShow,
    /// A page's call on the current manager (destroyed or not).
    Call(Request),
    /// The load trigger fires.
    Trigger,
    /// The last handle is released.
    Destroy,
    /// A new manager for the org on the same page (the current one is
    /// destroyed first if it lives), and its `initialize()`.
    Remount,
    /// The container comes or goes.
    Container(bool),
    /// The next jitter draws.
    Draw(f64),
}

/// A page: options, what it starts with, and what happens.
#[derive(Clone, Debug)]
struct Scenario {
    cfg: Config,
    /// The page ships its own widget tag (adopted by the first mount).
    static_tag: bool,
    hidden: bool,
    container: bool,
    draw: f64,
    /// The load trigger fires this long after it is waited for (never:
    /// only `Op::Trigger` or `refreshToken()` end the wait).
    trigger: Option<f64>,
    server: Server,
    widget: Widget,
    ops: Vec<Op>,
}

// ---- generators ------------------------------------------------------------

fn log_range(lo: f64, hi: f64) -> impl Strategy<Value = f64> {
    (lo.ln()..hi.ln()).prop_map(f64::exp)
}

/// The server's clock against true time: right, a little off, the
/// issue's 50 s, or hours.
fn skew() -> impl Strategy<Value = f64> {
    prop_oneof![
        4 => Just(0.0),
        2 => -2_000.0..2_000.0,
        1 => prop_oneof![Just(-50_000.0), Just(50_000.0)],
        2 => -5.0 * HOUR..5.0 * HOUR,
    ]
}

/// What the endpoint answers, weighted by `mix`.
fn reply(mix: Mix) -> impl Strategy<Value = Reply> {
    let ttl = prop_oneof![2 => log_range(SECOND, 2.0 * MINUTE), 3 => log_range(2.0 * MINUTE, DAY)];
    let retry_after = prop_oneof![
        2 => Just(None),
        1 => (0.0..QUICK_CAP_MS).prop_map(Some),
        1 => log_range(QUICK_CAP_MS, 2.0 * HOUR).prop_map(Some),
    ];
    let transient = prop::sample::select(vec![408u16, 429, 500, 502, 503, 504]);
    let refused = prop::sample::select(vec![400u16, 401, 403, 404]);
    let (ok, down, bad) = match mix {
        Mix::Any => (2, 2, 1),
        Mix::Outage => (1, 6, 0),
    };
    prop_oneof![
        5 * ok => (ttl, skew(), any::<bool>(), any::<bool>())
            .prop_map(|(ttl, skew, date, iat)| Reply::Fresh { ttl, skew, date, iat }),
        2 * ok => (skew(), any::<bool>(), any::<bool>())
            .prop_map(|(skew, date, iat)| Reply::Same { skew, date, iat }),
        bad => (log_range(SECOND, 2.0 * HOUR), skew(), any::<bool>(), any::<bool>())
            .prop_map(|(age, skew, date, iat)| Reply::Expired { age, skew, date, iat }),
        2 * down => (transient, retry_after)
            .prop_map(|(status, retry_after)| Reply::Status { status, retry_after }),
        2 * bad => refused.prop_map(|status| Reply::Status { status, retry_after: None }),
        down => Just(Reply::Network),
        bad => Just(Reply::Malformed),
    ]
}

/// How the sequences lean.
#[derive(Clone, Copy, Debug)]
enum Mix {
    /// Every kind of answer.
    Any,
    /// Mostly transient failures, and the default retry options: the
    /// budget's windows.
    Outage,
}

fn latency() -> impl Strategy<Value = f64> {
    prop_oneof![3 => Just(0.0), 2 => 1.0..2_000.0, 1 => 2_000.0..15_000.0]
}

fn server(mix: Mix) -> impl Strategy<Value = Server> {
    prop_oneof![
        1 => Just(Server::Manual),
        1 => Just(Server::Hang),
        6 => (reply(mix), latency()).prop_map(|(reply, latency)| Server::Auto { reply, latency }),
    ]
}

fn end() -> impl Strategy<Value = End> {
    prop_oneof![4 => Just(End::Load), 1 => Just(End::Fail), 1 => Just(End::Throw)]
}

fn widget() -> impl Strategy<Value = Widget> {
    prop_oneof![
        1 => Just(Widget::Manual),
        4 => (prop::bool::weighted(0.8), end(), latency())
            .prop_map(|(preload_ok, mount, latency)| Widget::Auto { preload_ok, mount, latency }),
    ]
}

fn draw() -> impl Strategy<Value = f64> {
    prop_oneof![Just(0.0), Just(0.999_999), 0.0..1.0]
}

fn op(mix: Mix) -> impl Strategy<Value = Op> {
    let ms = prop_oneof![
        3 => 0.0..SECOND,
        4 => SECOND..MINUTE,
        2 => MINUTE..10.0 * MINUTE,
        1 => 10.0 * MINUTE..3.0 * HOUR,
    ];
    let late = prop_oneof![8 => Just(0.0), 1 => 1.0..SECOND, 1 => SECOND..70.0 * SECOND];
    let jump = (log_range(MINUTE, 3.0 * DAY), any::<bool>())
        .prop_map(|(d, back)| if back { -d } else { d });
    let request = prop_oneof![
        Just(Request::Initialize),
        Just(Request::Refresh),
        Just(Request::TryAgain)
    ];
    prop_oneof![
        10 => (ms, late).prop_map(|(ms, late)| Op::Advance { ms, late }),
        5 => reply(mix).prop_map(Op::Answer),
        1 => reply(mix).prop_map(Op::StaleAnswer),
        2 => any::<bool>().prop_map(Op::Preload),
        3 => end().prop_map(Op::Mount),
        3 => server(mix).prop_map(Op::Server),
        2 => widget().prop_map(Op::Widget),
        2 => Just(Op::WidgetExpired),
        1 => jump.prop_map(Op::WallJump),
        1 => Just(Op::Hide),
        1 => Just(Op::Show),
        2 => Just(Op::Online),
        1 => Just(Op::PageShow),
        3 => request.prop_map(Op::Call),
        1 => Just(Op::Trigger),
        1 => Just(Op::Destroy),
        2 => Just(Op::Remount),
        2 => prop::bool::weighted(0.6).prop_map(Op::Container),
        1 => draw().prop_map(Op::Draw),
    ]
}

fn options(mix: Mix) -> impl Strategy<Value = Config> {
    let other = match mix {
        Mix::Any => 1,
        Mix::Outage => 0,
    };
    let retries = prop_oneof![
        // The defaults, for which the budget is checked.
        2 => Just((3u32, 500.0, 300_000.0)),
        other => (
            0u32..=20,
            prop::sample::select(vec![0.0, 10.0, 100.0, 500.0, 2_000.0, 5_000.0]),
            prop::sample::select(vec![1_000.0, 30_000.0, 300_000.0, HOUR]),
        ),
    ];
    let margin = prop_oneof![
        3 => Just(None),
        1 => prop::sample::select(vec![Some(0.0), Some(5_000.0), Some(10.0 * MINUTE), Some(2.0 * HOUR)]),
    ];
    (
        any::<bool>(),
        any::<bool>(),
        prop::bool::weighted(0.85),
        retries,
        prop::sample::select(vec![
            (10_000.0, 20_000.0),
            (1_000.0, 5_000.0),
            (30_000.0, 60_000.0),
        ]),
        margin,
        prop::sample::select(vec![HOUR, HOUR, 5.0 * MINUTE, MINUTE]),
    )
        .prop_map(
            |(
                trigger,
                in_place,
                fallback,
                (max_retries, retry_delay_ms, max_retry_delay_ms),
                (request_timeout_ms, load_timeout_ms),
                refresh_margin_ms,
                check_interval_ms,
            )| Config {
                trigger,
                in_place,
                fallback,
                max_retries,
                retry_delay_ms,
                max_retry_delay_ms,
                request_timeout_ms,
                load_timeout_ms,
                refresh_margin_ms,
                check_interval_ms,
                ..config()
            },
        )
}

fn scenario(mix: Mix, len: core::ops::Range<usize>) -> impl Strategy<Value = Scenario> {
    (
        options(mix),
        prop::bool::weighted(0.2),
        prop::bool::weighted(0.1),
        prop::bool::weighted(0.95),
        draw(),
        prop_oneof![1 => Just(None), 4 => latency().prop_map(Some)],
        server(mix),
        widget(),
        prop::collection::vec(op(mix), len),
    )
        .prop_map(
            |(cfg, static_tag, hidden, container, draw, trigger, server, widget, ops)| Scenario {
                cfg,
                static_tag,
                hidden,
                container,
                draw,
                trigger,
                server,
                widget,
                ops,
            },
        )
}

// ---- the page, with the test's own truth -------------------------------------

/// What the server said about a token, in true time (monotonic ms).
struct Truth {
    expires: f64,
    /// How much longer than that the documented clock rules let the
    /// machine believe it lives (the `Date` header's half second; a
    /// minute plus the `iat`'s age without it; the visitor's clock error
    /// without either).
    slack: f64,
}

/// A token the server handed out (true epoch ms).
#[derive(Clone)]
struct Issued {
    value: String,
    issue: f64,
    expires: f64,
}

/// How a request ended, for the budget.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Fate {
    Open,
    /// 5xx, 408, 429, a network error, a timeout, aborted by destroy.
    Transient,
    /// A token, or a failure that is not retried.
    Other,
}

#[derive(Debug)]
struct Req {
    at: f64,
    fate: Fate,
}

/// What the page looked like before a call into the machine.
struct Before {
    committed: Option<(String, f64)>,
    working: bool,
    present: bool,
    memory: Memory,
}

struct Page {
    cfg: Config,
    sim: Sim,
    /// The current manager was destroyed (no remount yet).
    dead: bool,
    managers: usize,
    /// Earlier managers' logs.
    logs: Vec<String>,
    /// The steps run so far, with the time.
    steps: Vec<String>,
    step: usize,
    server: Server,
    widget: Widget,
    trigger: Option<f64>,
    /// Since when the load trigger is waited for.
    trigger_since: Option<f64>,
    issued: u32,
    last_issued: Option<Issued>,
    truth: HashMap<String, Truth>,
    /// The last token answer fed: value, mono, wall.
    arrival: Option<(String, f64, f64)>,
    /// The widget's token as the machine holds it, and its monotonic
    /// deadline (recovered from `expires_at()` and the arrival's clocks).
    committed: Option<(String, f64)>,
    expires_at: Option<f64>,
    /// The current manager's tickets, and which are settled.
    tickets: Vec<u32>,
    settled: HashSet<u32>,
    events_seen: usize,
    settled_seen: usize,
    /// The state the page last heard of.
    state: State,
    /// The container was there when `loading` was last dispatched.
    loading_container: bool,
    /// Every request of the page, across managers.
    reqs: Vec<Req>,
    known: usize,
    open: Option<usize>,
    fetch_id: Option<u32>,
    stale: Option<u32>,
    fetch_at: f64,
    preload: Option<(u32, f64)>,
    mount: Option<(u32, f64)>,
    /// `reqs.len()` at each explicit call that the budget does not cover.
    spoilers: Vec<usize>,
    /// Why no request may come until an explicit call.
    blocked: Option<String>,
    /// A retry must come by then, and why.
    expect: Option<(f64, String)>,
    /// How late the timer fires in the current `Op::Advance`.
    late: f64,
    /// No automatic request before then (`Retry-After`).
    not_before: Option<(f64, String)>,
    /// `next_deadline()` after every call (the wall-jump comparison).
    trace: Vec<Option<f64>>,
    /// The step that fed the last token answer.
    last_token_step: Option<usize>,
}

fn check(cond: bool, name: &str, detail: impl FnOnce() -> String) -> Result<(), String> {
    if cond {
        Ok(())
    } else {
        Err(format!("{name}: {}", detail()))
    }
}

fn widget_error(what: &str) -> LoaderError {
    LoaderError::new(ErrorCode::WidgetLoad, what)
}

fn retryable_status(s: u16) -> bool {
    s >= 500 || s == 408 || s == 429
}

impl Page {
    fn new(sc: &Scenario) -> Page {
        let mut sim = Sim::new(sc.cfg.clone());
        sim.env.hidden = sc.hidden;
        sim.env.container = sc.container;
        sim.env.random = sc.draw;
        if sc.static_tag {
            sim.static_tags.push(sim::Tag {
                token: "from-html".into(),
                loaded: true,
            });
        }
        Page {
            cfg: sc.cfg.clone(),
            sim,
            dead: false,
            managers: 1,
            logs: Vec::new(),
            steps: Vec::new(),
            step: 0,
            server: sc.server.clone(),
            widget: sc.widget.clone(),
            trigger: sc.trigger,
            trigger_since: None,
            issued: 0,
            last_issued: None,
            truth: HashMap::new(),
            arrival: None,
            committed: None,
            expires_at: None,
            tickets: Vec::new(),
            settled: HashSet::new(),
            events_seen: 0,
            settled_seen: 0,
            state: State::Idle,
            loading_container: true,
            reqs: Vec::new(),
            known: 0,
            open: None,
            fetch_id: None,
            stale: None,
            fetch_at: 0.0,
            preload: None,
            mount: None,
            spoilers: Vec::new(),
            blocked: None,
            expect: None,
            late: 0.0,
            not_before: None,
            trace: Vec::new(),
            last_token_step: None,
        }
    }

    fn now(&self) -> f64 {
        self.sim.env.mono
    }

    /// The widget on the page works: a loaded tag with the machine's
    /// token, before its deadline.
    fn working(&self) -> bool {
        self.works_by(EPS)
    }

    /// ... with its deadline more than `margin` ms ahead (a negative
    /// margin forgives the float noise of the recovered deadline).
    fn works_by(&self, margin: f64) -> bool {
        let now = self.now();
        matches!(&self.committed, Some((v, d))
            if *d > now + margin && self.sim.tags.iter().any(|t| t.loaded && t.token == *v))
    }

    /// The widget is there: working, or taken off while its replacement
    /// evaluates (put back if that fails).
    fn present(&self) -> bool {
        let s = &self.sim;
        self.working()
            || matches!(&self.committed, Some((v, d))
                if *d > self.now() + EPS
                    && s.mount.is_some()
                    && s.taken.as_ref().is_some_and(|t| t.iter().any(|t| t.token == *v)))
    }

    fn before(&self) -> Before {
        Before {
            committed: self.committed.clone(),
            working: self.working(),
            present: self.present(),
            memory: self.sim.m.memory().clone(),
        }
    }

    // ---- steps ---------------------------------------------------------

    fn run(&mut self, ops: &[Op]) -> Result<(), String> {
        self.call(Request::Initialize, true)?;
        self.driver()?;
        for (i, op) in ops.iter().enumerate() {
            self.step = i + 1;
            self.steps
                .push(format!("{:>3} @{:.0} {op:?}", self.step, self.now()));
            self.op(op)?;
            self.driver()?;
        }
        Ok(())
    }

    fn op(&mut self, op: &Op) -> Result<(), String> {
        match op {
            Op::Advance { ms, late } => self.advance(*ms, *late)?,
            Op::Answer(r) if !matches!(self.server, Server::Hang) => self.answer(r)?,
            Op::Answer(_) => {}
            Op::StaleAnswer(r) => {
                if let Some(id) = self.stale {
                    let (answer, _) = self.server_answer(r, false);
                    self.event(Event::Answered { id, answer }, "stale answer")?;
                }
            }
            Op::Preload(ok) => self.preloaded(*ok)?,
            Op::Mount(end) => self.mounted(*end)?,
            Op::Server(s) => self.server = s.clone(),
            Op::Widget(w) => self.widget = w.clone(),
            Op::WidgetExpired => self.event(Event::WidgetExpired, "token expired")?,
            Op::WallJump(ms) => self.sim.env.wall += ms,
            Op::Hide => {
                self.sim.env.hidden = true;
                self.expect = None;
            }
            Op::Show => {
                let m = self.sim.m.memory().clone();
                let due = !self.dead
                    && !matches!(self.state, State::Idle)
                    && m.retry
                    && m.failures > 0
                    && m.next_at <= self.now()
                    && self.sim.fetch.is_none()
                    && self.sim.preload.is_none()
                    && self.sim.mount.is_none();
                let n = self.reqs.len();
                self.sim.env.hidden = false;
                self.event(Event::PageBack { online: false }, "visible")?;
                check(
                    !due || self.reqs.len() > n,
                    "I11 shown again, a due retry runs at once",
                    || format!("retry due since {} (memory {m:?})", m.next_at),
                )?;
            }
            Op::Online => self.event(Event::PageBack { online: true }, "online")?,
            Op::PageShow => self.event(Event::PageBack { online: false }, "pageshow")?,
            Op::Call(req) => self.call(*req, false)?,
            Op::Trigger => self.fire()?,
            Op::Destroy => self.destroy()?,
            Op::Remount => self.remount()?,
            Op::Container(c) => self.sim.env.container = *c,
            Op::Draw(u) => self.sim.env.random = *u,
        }
        Ok(())
    }

    /// The load trigger fires (its wait is over).
    fn fire(&mut self) -> Result<(), String> {
        self.sim.waiting_trigger = false;
        self.event(Event::TriggerFired, "trigger")
    }

    fn event(&mut self, e: Event, what: &str) -> Result<(), String> {
        let b = self.before();
        self.sim.event(e);
        self.after(what, &b, false)
    }

    /// A page's call. `own`: a new manager's `initialize()` (the budget
    /// covers it; other explicit calls are one attempt at once by design).
    fn call(&mut self, req: Request, own: bool) -> Result<(), String> {
        let b = self.before();
        let was_dead = self.dead;
        // docs/behaviour.md: "`refreshToken()` before the trigger is the trigger".
        let trigger = req == Request::Refresh && self.sim.waiting_trigger && !was_dead;
        let (requests, container) = (self.reqs.len(), self.sim.env.container);
        if !own && !was_dead {
            self.spoilers.push(self.reqs.len());
        }
        let settled = self.sim.settled.len();
        let ticket = self.sim.request(req);
        self.tickets.push(ticket);
        let at_once = self.sim.settled[settled..].iter().any(|s| s.0 == ticket);
        if !at_once {
            // Someone waits: the machine may ask again (one attempt, or
            // joining the next one).
            self.blocked = None;
        }
        if matches!(req, Request::Refresh | Request::TryAgain) {
            self.not_before = None;
        }
        self.after(&format!("{req:?}"), &b, true)?;
        if trigger {
            let quiet = b.memory.failures > 0;
            check(
                !self.sim.waiting_trigger && (self.reqs.len() > requests || !(container || quiet)),
                "I15 refreshToken() before the trigger is the trigger",
                || {
                    format!(
                        "waiting {}, requests {requests} -> {}",
                        self.sim.waiting_trigger,
                        self.reqs.len()
                    )
                },
            )?;
        }
        if was_dead {
            let r = self.sim.settled.iter().find(|s| s.0 == ticket).map(|s| s.1);
            check(
                r == Some(Err(ErrorCode::Destroyed)),
                "I7 a call after destroy settles DESTROYED at once",
                || format!("{req:?} -> {r:?}"),
            )?;
        }
        Ok(())
    }

    fn destroy(&mut self) -> Result<(), String> {
        let waiting: Vec<u32> = self
            .tickets
            .iter()
            .copied()
            .filter(|t| !self.settled.contains(t))
            .collect();
        let b = self.before();
        let settled = self.sim.settled.len();
        // A deadline that passed before the destroy (a late timer) is
        // handled first: its outcome may settle a ticket.
        let overdue = self.sim.m.next_deadline().is_some_and(|d| d <= self.now());
        self.sim.event(Event::Destroy);
        self.dead = true;
        self.expect = None;
        self.after("destroy", &b, false)?;
        for t in waiting {
            let r = self.sim.settled[settled..]
                .iter()
                .find(|s| s.0 == t)
                .map(|s| s.1);
            let failed = matches!(r, Some(Err(_)));
            check(
                r == Some(Err(ErrorCode::Destroyed)) || (overdue && failed),
                "I7 destroy settles the waiting tickets with DESTROYED",
                || format!("ticket {t} -> {r:?}"),
            )?;
        }
        Ok(())
    }

    /// A new manager on the same page, from the org's memory.
    fn remount(&mut self) -> Result<(), String> {
        if !self.dead {
            self.destroy()?;
        }
        let memory = self.sim.m.memory().clone();
        let mut sim = Sim::with_memory(self.cfg.clone(), memory, self.now());
        sim.env = self.sim.env;
        sim.static_tags = core::mem::take(&mut self.sim.static_tags);
        let old = core::mem::replace(&mut self.sim, sim);
        self.logs
            .push(format!("---- manager {} ----", self.managers));
        self.logs.extend(old.log);
        self.managers += 1;
        self.dead = false;
        self.tickets.clear();
        self.settled.clear();
        (self.events_seen, self.settled_seen, self.known) = (0, 0, 0);
        self.state = State::Idle;
        (self.fetch_id, self.stale, self.preload, self.mount) = (None, None, None, None);
        (self.committed, self.expires_at) = (None, None);
        self.call(Request::Initialize, true)
    }

    /// Time passes: the timer fires at each deadline (`late` after it),
    /// and the driver's own work (answers, loads, load timeouts) ends
    /// when due.
    fn advance(&mut self, ms: f64, late: f64) -> Result<(), String> {
        let end = self.now() + ms;
        if let Some((due, _)) = &mut self.expect {
            *due += late;
        }
        self.late = late;
        let mut guard = 0;
        loop {
            self.driver()?;
            let tick = self.sim.m.next_deadline().map(|d| d + late);
            let work = self.driver_due();
            let at = match (tick, work) {
                (Some(a), Some(b)) => a.min(b),
                (a, b) => a.or(b).unwrap_or(f64::INFINITY),
            };
            if at > end {
                break;
            }
            self.sim.move_to(at);
            if work != Some(at) {
                self.event(Event::Tick, "tick")?;
            }
            guard += 1;
            check(guard < 100_000, "I6 the timer fires in a loop", || {
                format!("at {at}")
            })?;
        }
        self.sim.move_to(end);
        self.late = 0.0;
        self.expected()
    }

    /// A retry must come within `cap` (and the timer's lateness).
    fn expect_retry(&mut self, cap: f64, why: &str) {
        if !self.sim.env.hidden && !self.dead {
            let due = self.now() + cap + self.late;
            self.expect = Some((due, format!("{why} (step {})", self.step)));
        }
    }

    /// A retry that was due by now came.
    fn expected(&self) -> Result<(), String> {
        match &self.expect {
            Some((due, why)) => check(self.now() <= *due + EPS, why, || {
                format!("no request by {due} (now {})", self.now())
            }),
            None => Ok(()),
        }
    }

    /// When the driver's next piece of work ends by itself.
    fn driver_due(&self) -> Option<f64> {
        let mut at = f64::INFINITY;
        if self.sim.fetch.is_some() {
            if let Server::Auto { latency, .. } = &self.server {
                at = at.min(self.fetch_at + latency);
            }
        }
        if let (Some(since), Some(after)) = (self.trigger_since, self.trigger) {
            at = at.min(since + after);
        }
        // (A load that never ends is the machine's to give up.)
        if let Widget::Auto { latency, .. } = &self.widget {
            for (_, since) in [self.preload, self.mount].into_iter().flatten() {
                at = at.min(since + latency);
            }
        }
        at.is_finite().then_some(at)
    }

    /// Ends the driver's work that is due now.
    fn driver(&mut self) -> Result<(), String> {
        for _ in 0..1_000 {
            let now = self.now();
            if self.sim.fetch.is_some() {
                if let Server::Auto { reply, latency } = &self.server {
                    if self.fetch_at + latency <= now {
                        let reply = reply.clone();
                        self.answer(&reply)?;
                        continue;
                    }
                }
            }
            if let (Some(since), Some(after)) = (self.trigger_since, self.trigger) {
                if since + after <= now {
                    self.fire()?;
                    continue;
                }
            }
            if let Widget::Auto {
                preload_ok,
                mount,
                latency,
            } = self.widget
            {
                if self
                    .preload
                    .is_some_and(|(_, since)| since + latency <= now)
                {
                    self.preloaded(preload_ok)?;
                    continue;
                }
                if self.mount.is_some_and(|(_, since)| since + latency <= now) {
                    self.mounted(mount)?;
                    continue;
                }
            }
            return Ok(());
        }
        Err("the driver loops".into())
    }

    // ---- the endpoint and the widget -------------------------------------

    /// A token the server hands out (true epoch ms).
    fn issue(&mut self, prefix: char, issue: f64, expires: f64) -> Issued {
        self.issued += 1;
        Issued {
            value: format!("{prefix}{}", self.issued),
            issue,
            expires,
        }
    }

    /// A new token living `ttl`, the one the server hands out again.
    fn fresh(&mut self, t: f64, ttl: f64) -> Issued {
        let token = self.issue('t', t, t + ttl);
        self.last_issued = Some(token.clone());
        token
    }

    /// What the server answers now, and the token's value if it is one.
    fn server_answer(&mut self, reply: &Reply, record: bool) -> (Answer, Option<String>) {
        let t = T0 + self.now();
        let failed = |code, status, retry_after_ms| {
            Answer::Failed(LoaderError {
                status,
                retry_after_ms,
                ..LoaderError::new(code, "failed")
            })
        };
        let (issued, skew, date, iat) = match reply {
            Reply::Fresh {
                ttl,
                skew,
                date,
                iat,
            } => (self.fresh(t, *ttl), *skew, *date, *iat),
            Reply::Same { skew, date, iat } => {
                let token = match self.last_issued.clone() {
                    Some(token) => token,
                    None => self.fresh(t, HOUR),
                };
                (token, *skew, *date, *iat)
            }
            Reply::Expired {
                age,
                skew,
                date,
                iat,
            } => (self.issue('x', t - age - HOUR, t - age), *skew, *date, *iat),
            Reply::Status {
                status,
                retry_after,
            } => {
                let code = match status {
                    401 | 403 => ErrorCode::TokenUnauthorized,
                    _ => ErrorCode::TokenHttp,
                };
                let ra = retry_after.filter(|_| *status == 429 || *status >= 500);
                return (failed(code, Some(*status), ra), None);
            }
            Reply::Network => return (failed(ErrorCode::TokenNetwork, None, None), None),
            Reply::Malformed => return (failed(ErrorCode::TokenMalformed, None, None), None),
        };
        let server_now = t + skew;
        let iat = iat.then_some(issued.issue + skew);
        if record {
            let slack = if date {
                500.0
            } else if let Some(iat) = iat {
                (server_now - iat).max(0.0) + MINUTE
            } else {
                (server_now - self.sim.env.wall).max(0.0)
            };
            let truth = self.truth.entry(issued.value.clone()).or_insert(Truth {
                expires: issued.expires - T0,
                slack,
            });
            truth.slack = truth.slack.max(slack);
        }
        let answer = Answer::Token {
            value: issued.value.clone(),
            expires_at: issued.expires + skew,
            iat,
            server_now: date.then(|| (server_now / 1000.0).floor() * 1000.0),
        };
        (answer, Some(issued.value))
    }

    /// Answers the request in flight.
    fn answer(&mut self, reply: &Reply) -> Result<(), String> {
        if self.sim.fetch.is_none() {
            return Ok(());
        }
        let now = self.now();
        let b = self.before();
        let (answer, token) = self.server_answer(reply, true);
        let (transient, bad) = match reply {
            Reply::Status { status, .. } => (retryable_status(*status), !retryable_status(*status)),
            Reply::Network => (true, false),
            Reply::Malformed => (false, true),
            _ => (false, false),
        };
        let same = matches!(reply, Reply::Same { .. })
            && b.working
            && b.committed.as_ref().map(|c| &c.0) == token.as_ref();
        let (events, aborts) = (self.sim.events.len(), self.sim.aborts);
        let quiet = self.state == State::Fallback;
        self.sim.answer(answer);
        if self.sim.aborts > aborts {
            // The machine's deadline passed first (a late timer): its
            // timeout, not this answer, ended the request.
            return self.after(&format!("answer {reply:?} after the timeout"), &b, false);
        }
        if let Some(i) = self.open.take() {
            self.reqs[i].fate = if transient {
                Fate::Transient
            } else {
                Fate::Other
            };
        }
        self.fetch_id = None;
        if let Some(v) = &token {
            self.arrival = Some((v.clone(), now, self.sim.env.wall));
            self.last_token_step = Some(self.step);
        }
        if bad {
            self.blocked = Some(format!("step {}: {reply:?}", self.step));
            (self.expect, self.not_before) = (None, None);
        } else if transient {
            let cap = self.cfg.max_retry_delay_ms.max(QUICK_CAP_MS);
            self.expect_retry(cap, "I6 a retry follows a transient failure within its cap");
            if let Reply::Status {
                retry_after: Some(ra),
                status,
            } = reply
            {
                if *status == 429 || *status >= 500 {
                    let left = match &b.committed {
                        Some((_, d)) if b.working => d - now,
                        _ => f64::INFINITY,
                    };
                    let wait = ra.min(self.cfg.max_retry_delay_ms).min(left);
                    self.not_before = Some((now + wait, format!("step {}: {reply:?}", self.step)));
                }
            }
        } else {
            (self.expect, self.not_before) = (None, None);
        }
        self.after(&format!("answer {reply:?}"), &b, false)?;
        let rejected = self.sim.events[events..]
            .iter()
            .any(|e| e.2 == Some(ErrorCode::TokenExpired));
        if rejected {
            self.blocked = Some(format!("step {}: {reply:?}", self.step));
        }
        if quiet && (transient || bad) {
            // docs/behaviour.md, the state table (a round fails in
            // `fallback`): each failed attempt still sends a state event
            // with its error; "Try again" reads normally again once its
            // attempt ended.
            let reported = self.sim.events[events..].iter().any(|e| e.2.is_some());
            check(
                reported,
                "I16 each failed attempt in the fallback is reported",
                || format!("{reply:?}"),
            )?;
            check(
                !self.sim.busy || self.sim.fetch.is_some(),
                "I14 \"Try again\" is busy only while its attempt runs",
                || format!("{reply:?}"),
            )?;
        }
        if same && !rejected {
            let s = &self.sim;
            check(
                s.mount.is_none() && s.preload.is_none() && s.taken.is_none() && self.working(),
                "I12 the same token again is not remounted",
                || format!("tags {:?}", s.tags),
            )?;
        }
        Ok(())
    }

    fn preloaded(&mut self, ok: bool) -> Result<(), String> {
        let result = ok
            .then_some(())
            .ok_or_else(|| widget_error("preload failed"));
        self.load_ends(true, result)
    }

    fn mounted(&mut self, end: End) -> Result<(), String> {
        let result = match end {
            End::Load => Ok(()),
            End::Fail => Err(widget_error("did not load")),
            End::Throw => Err(widget_error("threw")),
        };
        self.load_ends(false, result)
    }

    /// The preload (`preload`) or the mount in flight ends.
    fn load_ends(&mut self, preload: bool, result: Result<(), LoaderError>) -> Result<(), String> {
        let in_flight = if preload {
            self.sim.preload
        } else {
            self.sim.mount
        };
        if in_flight.is_none() {
            return Ok(());
        }
        let b = self.before();
        let (what, failed) = (format!("load {result:?}"), result.is_err());
        if preload {
            self.sim.preloaded(result);
        } else {
            self.sim.mounted(result);
        }
        self.after(&what, &b, false)?;
        if failed {
            self.widget_failed(&b);
        }
        Ok(())
    }

    /// A refresh whose widget failed: docs/behaviour.md promises a retry.
    fn widget_failed(&mut self, b: &Before) {
        if b.present && self.working() {
            let cap = self.cfg.max_retry_delay_ms;
            self.expect_retry(cap, "I13 a refresh whose widget failed is retried");
        }
    }

    // ---- the invariants ----------------------------------------------------

    /// Everything checked after each call into the machine.
    fn after(&mut self, what: &str, b: &Before, explicit: bool) -> Result<(), String> {
        let now = self.now();
        self.trace.push(self.sim.m.next_deadline());
        self.requests(b, explicit, what)?;
        let ready = self.state_events(what)?;
        self.commit(ready);
        let widget = self.works_by(-EPS) || self.present();
        for &(t, r) in &self.sim.settled[self.settled_seen..] {
            check(
                self.settled.insert(t),
                "I7 a ticket is settled once",
                || format!("ticket {t} again, at {what}"),
            )?;
            check(
                r.is_err() || widget,
                "I7 a call resolves only with a working widget",
                || format!("ticket {t} at {what}: tags {:?}", self.sim.tags),
            )?;
        }
        self.settled_seen = self.sim.settled.len();
        if self.sim.env.hidden {
            self.expect = None;
        }
        self.expected()?;
        self.page(b, what)?;
        self.deadlines(b, now)
    }

    /// New requests: the budget's record, 401s not retried, `Retry-After`
    /// honoured, no retry while hidden, a promised retry came.
    fn requests(&mut self, b: &Before, explicit: bool, what: &str) -> Result<(), String> {
        let succeeded = self.sim.events[self.events_seen..]
            .iter()
            .any(|e| e.0 == State::Ready && e.2.is_none());
        while self.known < self.sim.requests.len() {
            let at = self.sim.requests[self.known];
            self.known += 1;
            // The one before it ended unanswered (timed out).
            self.close_open();
            check(
                self.blocked.is_none(),
                "I4 401, 403 and bad answers are never retried by the machine itself",
                || format!("a request at {at} ({what}) after {:?}", self.blocked),
            )?;
            if let Some((floor, why)) = self.not_before.take() {
                check(at >= floor - EPS, "I9 Retry-After is honoured", || {
                    format!("a request at {at}, before {floor} ({why})")
                })?;
            }
            // A success in the same call (a mount) clears the memory:
            // a scheduled refresh may follow, hidden or not.
            let m = &b.memory;
            check(
                explicit
                    || succeeded
                    || !self.sim.env.hidden
                    || (m.failures == 0 && m.attempts == 0),
                "I10 no retry while the page is hidden",
                || format!("a request at {at} ({what}), memory before {m:?}"),
            )?;
            self.expect = None;
            self.open = Some(self.reqs.len());
            self.reqs.push(Req {
                at,
                fate: Fate::Open,
            });
            self.fetch_at = at;
        }
        if self.sim.fetch.is_some() {
            self.fetch_id = self.sim.fetch;
        } else {
            self.close_open();
        }
        let now = self.now();
        self.trigger_since = match (self.trigger_since, self.sim.waiting_trigger) {
            (since, true) => Some(since.unwrap_or(now)),
            (_, false) => None,
        };
        for (slot, id) in [
            (&mut self.preload, self.sim.preload),
            (&mut self.mount, self.sim.mount),
        ] {
            *slot = match (*slot, id) {
                (Some((old, since)), Some(id)) if old == id => Some((id, since)),
                (_, Some(id)) => Some((id, now)),
                (_, None) => None,
            };
        }
        Ok(())
    }

    /// The request in flight ended without an answer: aborted (destroy)
    /// or timed out.
    fn close_open(&mut self) {
        if let Some(i) = self.open.take() {
            self.reqs[i].fate = Fate::Transient;
            self.stale = self.fetch_id.take();
            let cap = self.cfg.max_retry_delay_ms.max(QUICK_CAP_MS);
            self.expect_retry(cap, "I6 a retry follows a timeout within its cap");
        }
    }

    /// New state events: each says the state before it; `ready` with a
    /// loaded tag carrying a valid token, `fallback` with the box. Returns
    /// whether a success (`ready` without an error) was dispatched.
    fn state_events(&mut self, what: &str) -> Result<bool, String> {
        let now = self.now();
        let mut ready = false;
        while self.events_seen < self.sim.events.len() {
            let k = self.events_seen;
            self.events_seen += 1;
            let (state, previous, error) = self.sim.events[k];
            let view = &self.sim.at_emit[k];
            check(
                previous == self.state,
                "I8 previous is the last state",
                || {
                    format!(
                        "{state:?} after {:?} says previous {previous:?} ({what})",
                        self.state
                    )
                },
            )?;
            self.state = state;
            match state {
                State::Ready => {
                    let loaded: Vec<_> = view.tags.iter().filter(|t| t.loaded).collect();
                    let valid = loaded.len() == 1
                        && self
                            .truth
                            .get(&loaded[0].token)
                            .is_some_and(|t| t.expires + t.slack > now - EPS);
                    check(
                        valid,
                        "I8 ready only with a loaded tag carrying a valid token",
                        || format!("tags {:?} ({what})", view.tags),
                    )?;
                    if error.is_none() {
                        ready = true;
                        let newest = self.arrival.as_ref().map(|a| &a.0);
                        check(
                            newest == Some(&loaded[0].token),
                            "I8 ready shows the newest token",
                            || format!("tag {:?}, newest {newest:?}", loaded[0]),
                        )?;
                    }
                }
                State::Loading => self.loading_container = view.container,
                State::Fallback => check(
                    view.boxed || !self.cfg.fallback || !view.container,
                    "I8 fallback only with the box shown",
                    || format!("{view:?} ({what})"),
                )?,
                _ => {}
            }
        }
        check(
            self.sim.m.state() == self.state,
            "I8 the state a page reads is the last event's",
            || format!("{:?} vs {:?}", self.sim.m.state(), self.state),
        )?;
        Ok(ready)
    }

    /// Follows the machine's token through `expires_at()`: its monotonic
    /// deadline is `expires_at` minus the wall clock at the arrival, plus
    /// the monotonic clock then.
    fn commit(&mut self, ready: bool) {
        let x = self.sim.m.expires_at();
        if x.is_none() {
            self.committed = None;
        } else if ready || x != self.expires_at {
            if let (Some(x), Some((v, mono, wall))) = (x, &self.arrival) {
                self.committed = Some((v.clone(), x - wall + mono));
            }
        }
        self.expires_at = x;
    }

    /// The page as the driver has it.
    fn page(&self, b: &Before, what: &str) -> Result<(), String> {
        let s = &self.sim;
        let now = self.now();
        let state = self.state;
        check(
            s.tags.len() + s.static_tags.len() <= 1,
            "I1 never two widget tags for one org",
            || format!("{:?} + page's own {:?}", s.tags, s.static_tags),
        )?;
        if self.dead {
            check(
                s.tags.is_empty()
                    && s.taken.is_none()
                    && !s.status
                    && !s.boxed
                    && !s.watching
                    && !s.waiting_trigger
                    && s.fetch.is_none()
                    && s.preload.is_none()
                    && s.mount.is_none(),
                "I1 nothing left after the last handle is released",
                || {
                    format!("tags {:?} taken {:?} status {} box {} watching {} trigger {} fetch {:?} preload {:?} mount {:?}",
                    s.tags, s.taken, s.status, s.boxed, s.watching, s.waiting_trigger, s.fetch, s.preload, s.mount)
                },
            )?;
            return check(state == State::Destroyed, "I8 destroyed", || {
                format!("{state:?}")
            });
        }
        let loaded: Vec<_> = s.tags.iter().filter(|t| t.loaded).collect();
        for t in &loaded {
            let Some((v, d)) = &self.committed else {
                return Err(format!(
                    "I2 the page agrees with the machine: a loaded tag {t:?} but no token ({what})"
                ));
            };
            check(&t.token == v, "I2 the page agrees with the machine", || {
                format!("tag {t:?}, machine's token {v} ({what})")
            })?;
            check(
                *d > now - EPS,
                "I2 an expired widget is never left on the page",
                || format!("{t:?}, deadline {d}, now {now} ({what})"),
            )?;
        }
        for t in &s.tags {
            if let Some(truth) = self.truth.get(&t.token) {
                check(
                    truth.expires + truth.slack > now - EPS,
                    "I3 the token on the page is never past its expiry (true time)",
                    || {
                        format!(
                            "{t:?} expired at {} (+{} allowed), now {now} ({what})",
                            truth.expires, truth.slack
                        )
                    },
                )?;
            }
        }
        check(
            !s.boxed || loaded.is_empty(),
            "I2 no widget beside the contact box",
            || format!("{:?} ({what})", s.tags),
        )?;
        check(
            !s.status || loaded.is_empty(),
            "I2 no loading status beside a widget",
            || format!("{:?} ({what})", s.tags),
        )?;
        let taken_while_mounting = |v: &str| {
            s.mount.is_some()
                && s.taken
                    .as_ref()
                    .is_some_and(|t| t.iter().any(|t| t.token == v))
        };
        if let (true, Some((v, d))) = (b.present, &b.committed) {
            check(
                *d <= now + EPS || !loaded.is_empty() || taken_while_mounting(v),
                "I2 a widget with a valid token is never torn down by a failed refresh",
                || {
                    format!(
                        "{v} (valid until {d}) gone at {now}: tags {:?} taken {:?} ({what})",
                        s.tags, s.taken
                    )
                },
            )?;
        }
        check(
            !s.waiting_trigger || (state == State::Idle && s.fetch.is_none()),
            "I8 nothing is requested or shown before the load trigger",
            || format!("{state:?}, fetch {:?}", s.fetch),
        )?;
        let ui = match state {
            State::Idle => s.tags.is_empty() && !s.status && !s.boxed,
            // The status needs the container.
            State::Loading => (s.status || !self.loading_container) && !s.boxed,
            State::Ready => self.works_by(-EPS) && !s.status && !s.boxed,
            State::Refreshing => {
                !s.status
                    && !s.boxed
                    && (self.works_by(-EPS)
                        || self
                            .committed
                            .as_ref()
                            .is_some_and(|(v, _)| taken_while_mounting(v)))
            }
            State::Fallback => !s.status,
            State::Destroyed => false,
        };
        check(ui, "I8 the page shows what the state says", || {
            format!(
                "{state:?}: tags {:?} taken {:?} status {} box {} ({what})",
                s.tags, s.taken, s.status, s.boxed
            )
        })?;
        check(
            !s.busy || s.boxed,
            "I14 a busy button only on the box",
            String::new,
        )
    }

    /// The next deadline is ahead and within the check interval; waits
    /// within their caps.
    fn deadlines(&self, b: &Before, now: f64) -> Result<(), String> {
        let next = self.sim.m.next_deadline();
        if self.dead {
            return check(next.is_none(), "I6 no deadline after destroy", || {
                format!("{next:?}")
            });
        }
        if let Some(d) = next {
            check(d > now, "I6 the next deadline is never in the past", || {
                format!("{d} at {now}")
            })?;
            // Between two calls only the timer can take an expired widget
            // off: it must be armed for the first expiry on the page.
            let loaded = self.sim.tags.iter().filter(|t| t.loaded);
            let by_machine = loaded.filter_map(|t| match &self.committed {
                Some((v, at)) if *v == t.token => Some(*at),
                _ => None,
            });
            let by_server = self
                .sim
                .tags
                .iter()
                .filter_map(|t| self.truth.get(&t.token).map(|t| t.expires + t.slack));
            if let Some(first) = by_machine.chain(by_server).reduce(f64::min) {
                check(
                    d <= first + EPS,
                    "I6 the timer is armed for the first expiry of a token on the page",
                    || format!("next deadline {d}, a token expires at {first}"),
                )?;
            }
            check(
                d <= now + self.cfg.check_interval_ms + EPS,
                "I6 the next deadline is within the check interval",
                || format!("{d} at {now}"),
            )?;
        }
        let m = self.sim.m.memory();
        if m.attempts > b.memory.attempts {
            check(
                m.next_at - now <= QUICK_CAP_MS + EPS,
                "I6 a quick backoff is at most 10 s",
                || format!("{} ms", m.next_at - now),
            )?;
        }
        if m.failures > b.memory.failures {
            check(
                m.next_at - now <= self.cfg.max_retry_delay_ms + EPS,
                "I6 a background wait is at most maxRetryDelayMs",
                || format!("{} ms", m.next_at - now),
            )?;
        }
        Ok(())
    }

    // ---- the end ---------------------------------------------------------

    /// Answers what is in flight with success, shows the page, fires the
    /// trigger and lets time pass, until every ticket is settled.
    fn drain(&mut self) -> Result<(), String> {
        self.steps.push(format!("    @{:.0} drain", self.now()));
        self.server = Server::Auto {
            reply: Reply::Fresh {
                ttl: HOUR,
                skew: 0.0,
                date: true,
                iat: true,
            },
            latency: 0.0,
        };
        self.widget = Widget::Auto {
            preload_ok: true,
            mount: End::Load,
            latency: 0.0,
        };
        self.sim.env.container = true;
        if self.sim.env.hidden {
            self.sim.env.hidden = false;
            self.event(Event::PageBack { online: false }, "visible")?;
        }
        if self.sim.waiting_trigger {
            self.fire()?;
        }
        self.driver()?;
        let wait = self.cfg.max_retry_delay_ms
            + 2.0 * self.cfg.load_timeout_ms
            + self.cfg.request_timeout_ms;
        self.advance(wait, 0.0)?;
        for t in &self.tickets {
            check(
                self.settled.contains(t),
                "I7 every ticket is settled, eventually",
                || format!("ticket {t} of {:?}", self.tickets),
            )?;
        }
        Ok(())
    }

    /// The budget: an outage is a run of requests each of which ended in
    /// a transient failure (5xx, 408, 429, a network error, a timeout) or
    /// was aborted by destroy, on the page across managers. Its window
    /// opens at its first request: at most 8 of its requests in the
    /// window's first minute and 13 in ten, with the default options,
    /// unless a page's explicit call (other than a new manager's own
    /// `initialize()`) made its first request or came before the last one
    /// counted.
    fn budget(&self) -> Result<(), String> {
        let c = &self.cfg;
        if !(c.retry_delay_ms == 500.0 && c.max_retries == 3 && c.max_retry_delay_ms == 300_000.0) {
            return Ok(());
        }
        let mut start = 0;
        while start < self.reqs.len() {
            if self.reqs[start].fate == Fate::Other {
                start += 1;
                continue;
            }
            let t0 = self.reqs[start].at;
            let end = (start..self.reqs.len())
                .find(|&j| self.reqs[j].fate == Fate::Other)
                .unwrap_or(self.reqs.len());
            for (window, most) in BUDGET {
                let last = (start..end)
                    .take_while(|&j| self.reqs[j].at < t0 + window)
                    .last()
                    .unwrap_or(start);
                let count = last + 1 - start;
                // A call just before the first request (made it) counts:
                // a refreshToken() makes quick attempts by design.
                let clean = !self.spoilers.iter().any(|&k| k >= start && k <= last);
                check(
                    !clean || count <= most,
                    &format!(
                        "I5 at most {most} requests in the first {} min of an outage",
                        window / MINUTE
                    ),
                    || {
                        let times: Vec<String> = self.reqs[start..=last]
                            .iter()
                            .map(|r| format!("{:.0}", r.at - t0))
                            .collect();
                        format!("{count} requests from {t0}: +[{}] ms", times.join(", "))
                    },
                )?;
            }
            start = end;
        }
        Ok(())
    }

    /// The failure report: what failed, the steps, the page's log.
    fn report(&self, failure: &str) -> String {
        let mut log = self.logs.clone();
        log.push(format!("---- manager {} ----", self.managers));
        log.extend(self.sim.log.iter().cloned());
        format!(
            "{failure}\n\n{cfg:?}\n\nsteps:\n{}\n\nlog:\n{}\n",
            self.steps.join("\n"),
            log.join("\n"),
            cfg = self.cfg,
        )
    }
}

/// Runs one scenario with every check; then, when the wall clock jumps
/// after the last token arrived, the same scenario without those jumps:
/// the deadlines and the requests must not move.
fn run(sc: &Scenario) -> Result<(), String> {
    let mut page = Page::new(sc);
    page.run(&sc.ops).map_err(|e| page.report(&e))?;
    let (trace, requests) = (page.trace.clone(), page.reqs.len());
    let cut = page.last_token_step.unwrap_or(0);
    page.drain()
        .and_then(|()| page.budget())
        .map_err(|e| page.report(&e))?;
    let ops: Vec<Op> = sc
        .ops
        .iter()
        .enumerate()
        .filter(|(i, op)| *i < cut || !matches!(op, Op::WallJump(_)))
        .map(|(_, op)| op.clone())
        .collect();
    if ops.len() == sc.ops.len() {
        return Ok(());
    }
    let mut twin = Page::new(sc);
    twin.run(&ops)
        .map_err(|e| twin.report(&format!("(without the wall jumps) {e}")))?;
    let at = |p: &Page| p.reqs.iter().map(|r| r.at).collect::<Vec<_>>();
    if twin.trace != trace || at(&twin)[..] != at(&page)[..requests] {
        let first = trace.iter().zip(&twin.trace).position(|(a, b)| a != b);
        return Err(page.report(&format!(
            "I6 no deadline moves when only the wall clock jumps: after call {first:?}, {:?} with the jumps, {:?} without; requests {:?} vs {:?}",
            first.map(|i| trace[i]),
            first.and_then(|i| twin.trace.get(i)),
            &at(&page)[..requests],
            at(&twin),
        )));
    }
    Ok(())
}

fn cases(default: u32) -> u32 {
    std::env::var("MODEL_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn seed(default: u64) -> u64 {
    std::env::var("MODEL_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .map_or(default, |s: u64| s.wrapping_add(default))
}

/// Runs `cases` scenarios of `len` steps from a fixed seed.
fn explore(seed: u64, cases: u32, mix: Mix, len: core::ops::Range<usize>) {
    let mut runner = TestRunner::new(Runner {
        cases,
        rng_algorithm: RngAlgorithm::ChaCha,
        rng_seed: RngSeed::Fixed(seed),
        failure_persistence: None,
        max_shrink_iters: 20_000,
        ..Runner::default()
    });
    if let Err(e) = runner.run(&scenario(mix, len), |sc| {
        run(&sc).map_err(TestCaseError::fail)
    }) {
        panic!("{e}");
    }
}

// Two tests of 5,000 cases each (10,000 in all), which the test harness
// runs on two cores.
#[test]
fn model_every_invariant_holds_over_random_page_lives() {
    explore(seed(0x18_0001), cases(5_000), Mix::Any, 1..48);
}

#[test]
fn model_every_invariant_holds_through_outages_with_the_default_options() {
    explore(seed(0x18_0002), cases(5_000), Mix::Outage, 1..48);
}
