//! [`Machine`]: one org's loader, every decision in one place.
//!
//! A round is the work to put a token on the page: wait for the load
//! trigger (the first one), wait until a failure's backoff is over, ask
//! for a token (one attempt, or quick attempts when someone waits for it
//! and nothing failed lately), check it, then set it in place, or preload
//! and mount the widget with it. Requests join the round in flight. The
//! widget on the page, the loading status and the contact box are tracked
//! here as the driver will have them once it has carried out the actions
//! asked so far, so a page listener that re-enters the driver in the
//! middle (a state event that destroys the manager) gets actions that fit.

use alloc::collections::VecDeque;

use super::schedule;
use super::{Action, Answer, Config, Env, ErrorCode, Event, LoaderError, Memory, Request, State};
use crate::prelude::*;
use crate::text::{cat, num};

/// The longest wait between the quick attempts of one round.
const QUICK_BACKOFF_CAP_MS: f64 = 10_000.0;
/// How long a `token expired` burst is collected before one refresh.
const SIGNAL_DEBOUNCE_MS: f64 = 200.0;
/// After a signal-driven refresh, further signals are ignored this long;
/// doubled each time signals keep coming (the host app's own rejection
/// that says "token expired" must not reload a working chat every 5 s)...
const SIGNAL_COOLDOWN_MS: f64 = 5_000.0;
/// ... up to this.
const SIGNAL_COOLDOWN_MAX_MS: f64 = 600_000.0;

/// A token on the page (or on its way there), in monotonic time.
struct Token {
    value: String,
    /// When it stops working.
    expires: f64,
    /// When the round that last brought it ended.
    received: f64,
    /// How long it had left when it first arrived (for the margin).
    lifetime: f64,
    /// The last round brought back this same token.
    repeated: bool,
    /// `expires` in the visitor's wall clock when it arrived (for the
    /// `expiresAt` getter only; nothing is scheduled by it).
    expires_wall: f64,
}

/// Where the round in flight is.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Step {
    /// Waiting for the load trigger.
    Trigger,
    /// Waiting until the backoff of an earlier failure is over
    /// (`Memory::next_at`) and the page is visible.
    Due,
    /// Token request `id` is out until `deadline`.
    Fetching { id: u32, deadline: f64 },
    /// Between two quick attempts.
    Backoff { until: f64 },
    /// The token is being set in place.
    InPlace,
    /// The next module URL is being preloaded, until `deadline`.
    Preloading { id: u32, deadline: f64 },
    /// The widget is being mounted, until `deadline`.
    Mounting { id: u32, deadline: f64 },
}

struct Round {
    ticket: u32,
    /// Someone waits for it and nothing failed lately: quick attempts.
    quick: bool,
    step: Step,
    /// The token being put on the page.
    pending: Option<Token>,
    /// Why the last quick attempt failed.
    error: Option<LoaderError>,
}

/// One org's loader (see the module docs of `crate::core`).
pub struct Machine {
    cfg: Config,
    state: State,
    memory: Memory,
    round: Option<Round>,
    /// The token of the widget on the page, or taken off it.
    token: Option<Token>,
    /// A widget tag of ours is on the page.
    on_page: bool,
    /// A widget was taken off the page and awaits `Restore` or `Discard`.
    taken: bool,
    status: bool,
    boxed: bool,
    watching: bool,
    /// When collected `token expired` signals refresh (INFINITY: none).
    debounce_at: f64,
    /// When the last signal-driven refresh started.
    signal_at: f64,
    /// The cool-down after it.
    cooldown: f64,
    next_id: u32,
    env: Env,
    out: VecDeque<Action>,
}

impl Machine {
    /// A machine for one org, starting from what earlier managers of the
    /// org learnt.
    pub fn new(cfg: Config, memory: Memory) -> Machine {
        Machine {
            cfg,
            state: State::Idle,
            memory,
            round: None,
            token: None,
            on_page: false,
            taken: false,
            status: false,
            boxed: false,
            watching: false,
            debounce_at: f64::INFINITY,
            signal_at: f64::NEG_INFINITY,
            cooldown: SIGNAL_COOLDOWN_MS,
            next_id: 0,
            env: Env {
                mono: 0.0,
                wall: 0.0,
                hidden: false,
                container: true,
                random: 0.5,
            },
            out: VecDeque::new(),
        }
    }

    /// The state a page sees.
    pub fn state(&self) -> State {
        self.state
    }

    /// When the widget's token stops working, in the visitor's wall clock
    /// as it read when the token arrived.
    pub fn expires_at(&self) -> Option<f64> {
        self.token.as_ref().map(|t| t.expires_wall)
    }

    /// What the org's failures taught so far (kept when the machine goes).
    pub fn memory(&self) -> &Memory {
        &self.memory
    }

    /// The next thing to do, oldest first.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.out.pop_front()
    }

    /// A page's call; returns the ticket its [`Action::Settle`] carries.
    pub fn request(&mut self, req: Request, env: Env) -> u32 {
        self.env = env;
        self.poll();
        let ticket = if self.state == State::Destroyed {
            self.settle_now(Err(LoaderError::destroyed()))
        } else {
            match req {
                Request::Initialize => match self.state {
                    State::Ready | State::Refreshing => self.settle_now(Ok(())),
                    _ => self.join_or_start(true, false),
                },
                Request::Refresh => self.join_or_start(true, true),
                Request::TryAgain => {
                    if self.boxed {
                        self.out.push_back(Action::BoxBusy(true));
                    }
                    self.join_or_start(false, true)
                }
            }
        };
        self.poll();
        ticket
    }

    /// Something happened.
    pub fn handle(&mut self, event: Event, env: Env) {
        self.env = env;
        self.poll();
        if self.state == State::Destroyed {
            return;
        }
        let step = self.round.as_ref().map(|r| r.step);
        match event {
            Event::TriggerFired => {
                if step == Some(Step::Trigger) {
                    self.begin(false);
                }
            }
            Event::Answered { id, answer } => {
                if !matches!(step, Some(Step::Fetching { id: i, .. }) if i == id) {
                    return;
                }
                let outcome = match answer {
                    Answer::Failed(e) => Err(e),
                    Answer::Token {
                        value,
                        expires_at,
                        iat,
                        server_now,
                    } => self.arrive(value, expires_at, iat, server_now),
                };
                match outcome {
                    Ok(token) => self.apply(token),
                    Err(e) => self.attempt_failed(e),
                }
            }
            Event::SetInPlace(done) => {
                if step == Some(Step::InPlace) {
                    if done {
                        self.mounted();
                    } else {
                        self.place();
                    }
                }
            }
            Event::Preloaded { id, result } => {
                if matches!(step, Some(Step::Preloading { id: i, .. }) if i == id) {
                    match result {
                        Ok(()) => self.mount(),
                        Err(e) => self.fail(e),
                    }
                }
            }
            Event::Mounted { id, result } => {
                if matches!(step, Some(Step::Mounting { id: i, .. }) if i == id) {
                    match result {
                        Ok(()) => self.mounted(),
                        Err(e) => self.mount_failed(e),
                    }
                }
            }
            Event::WidgetExpired => {
                let now = self.env.mono;
                // One refresh per burst, none while one is out or while an
                // earlier failure's backoff runs (the signal must not jump
                // the queue), none for a widget that is not there.
                if self.on_page
                    && self.round.is_none()
                    && self.memory.failures == 0
                    && self.debounce_at == f64::INFINITY
                    && now - self.signal_at >= self.cooldown
                {
                    self.debounce_at = now + SIGNAL_DEBOUNCE_MS;
                }
            }
            Event::PageBack { online } => {
                // The network is back after a network failure: due now,
                // once the jitter floor (a third of the backoff step) has
                // passed, so a flapping connection still costs
                // backed-off requests, within the budget.
                let m = &mut self.memory;
                if online && self.env.mono >= m.online_at {
                    m.next_at = m.next_at.min(self.env.mono);
                }
            }
            Event::Tick => {}
            Event::Destroy => self.destroy(),
        }
        self.poll();
    }

    /// When the driver's timer should next fire (monotonic ms), if ever.
    pub fn next_deadline(&self) -> Option<f64> {
        if matches!(self.state, State::Idle | State::Destroyed) && self.round.is_none() {
            return None;
        }
        let hidden = self.env.hidden;
        let m = &self.memory;
        let mut at = self.env.mono + self.cfg.check_interval_ms;
        let mut consider = |t: f64| at = at.min(t);
        match self.round.as_ref().map(|r| r.step) {
            Some(
                Step::Fetching { deadline, .. }
                | Step::Preloading { deadline, .. }
                | Step::Mounting { deadline, .. },
            ) => consider(deadline),
            Some(Step::Backoff { until }) => consider(until),
            Some(Step::Due) if !hidden => consider(m.next_at),
            Some(_) => {}
            None if m.failures > 0 => {
                if m.retry && !hidden {
                    consider(m.next_at);
                }
            }
            None => {
                if let Some(at) = self.refresh_at() {
                    consider(at);
                }
            }
        }
        consider(self.debounce_at);
        let pending = self.round.as_ref().and_then(|r| r.pending.as_ref());
        for t in self.token.iter().chain(pending) {
            consider(t.expires);
        }
        Some(at)
    }

    // ---- the deadlines -------------------------------------------------

    /// Does what is due at `env.mono`, in the order things happen.
    fn poll(&mut self) {
        if self.state == State::Destroyed {
            return;
        }
        let now = self.env.mono;
        match self.step() {
            Some(Step::Fetching { deadline, .. }) if now >= deadline => {
                self.out.push_back(Action::Abort);
                let e = LoaderError::new(
                    ErrorCode::TokenTimeout,
                    cat(&[
                        "chathub-loader: the token endpoint ",
                        &self.cfg.token_url,
                        " did not answer within ",
                        &num(self.cfg.request_timeout_ms as u64),
                        " ms; check the backend or raise requestTimeoutMs",
                    ]),
                );
                self.attempt_failed(e);
            }
            Some(Step::Preloading { deadline, .. }) if now >= deadline => {
                self.out.push_back(Action::CancelPreload);
                self.fail(self.too_slow());
            }
            Some(Step::Mounting { deadline, .. }) if now >= deadline => {
                self.out.push_back(Action::CancelMount);
                self.mount_failed(self.too_slow());
            }
            _ => {}
        }
        let pending = self.round.as_ref().and_then(|r| r.pending.as_ref());
        if pending.is_some_and(|t| t.expires <= now) {
            self.pending_expired();
        }
        if self.token.as_ref().is_some_and(|t| t.expires <= now) {
            self.expire();
        }
        match self.step() {
            Some(Step::Backoff { until }) if now >= until => {
                if self.env.hidden {
                    // Hidden while it waited: the background retry takes over.
                    let e = self.round.as_mut().and_then(|r| r.error.take());
                    self.fail(e.unwrap_or_else(LoaderError::destroyed));
                } else {
                    self.attempt();
                }
            }
            Some(Step::Due) if now >= self.memory.next_at && !self.env.hidden => self.attempt(),
            _ => {}
        }
        if now >= self.debounce_at {
            self.debounce_at = f64::INFINITY;
            // A failure since the signal (a 401 to a page's refresh) has
            // its own say: the signal does not retry it.
            if self.round.is_none() && self.on_page && self.memory.failures == 0 {
                // Signals again within twice the cool-down: they come from
                // something a new token does not cure; back off.
                self.cooldown = if now - self.signal_at < 2.0 * self.cooldown {
                    (self.cooldown * 2.0).min(SIGNAL_COOLDOWN_MAX_MS)
                } else {
                    SIGNAL_COOLDOWN_MS
                };
                self.signal_at = now;
                self.join_or_start(false, false);
            }
        }
        if self.round.is_some() || matches!(self.state, State::Idle) {
            return;
        }
        let m = &self.memory;
        let due = if m.failures > 0 {
            m.retry && now >= m.next_at && !self.env.hidden
        } else {
            // A scheduled refresh runs in a hidden tab too: a chat in a
            // background tab keeps its token.
            self.refresh_at().is_some_and(|at| now >= at)
        };
        if due {
            self.join_or_start(false, false);
        }
    }

    /// When the widget's token is due for a refresh.
    fn refresh_at(&self) -> Option<f64> {
        let t = self.token.as_ref().filter(|_| self.on_page)?;
        let margin = schedule::margin_ms(self.cfg.refresh_margin_ms, t.lifetime);
        Some(schedule::refresh_at_ms(
            t.received, t.expires, margin, t.repeated,
        ))
    }

    /// The widget's token expired: it leaves the page, whatever else runs.
    fn expire(&mut self) {
        if self.taken {
            self.taken = false;
            self.out.push_back(Action::Discard);
        } else if self.on_page {
            self.out.push_back(Action::Unmount);
        }
        self.on_page = false;
        self.token = None;
        if self.memory.failures > 0 {
            // A failure is why: the contact box, quietly (a retry that is
            // due goes on, or is already out).
            if self.state != State::Fallback {
                self.show_fallback(self.memory.error.clone());
            }
        } else if self.round.is_some() {
            // A refresh is out (a frozen tab woke up late): loading, with
            // the status if there is a container. The round goes on
            // either way: failing it here would leave its request, preload
            // or mount running unanswered.
            if self.env.container {
                self.loading();
            } else {
                self.set_state(State::Loading, None);
            }
        } else {
            self.join_or_start(false, false);
        }
    }

    // ---- rounds --------------------------------------------------------

    fn step(&self) -> Option<Step> {
        self.round.as_ref().map(|r| r.step)
    }

    fn set_step(&mut self, step: Step) {
        if let Some(r) = self.round.as_mut() {
            r.step = step;
        }
    }

    fn next_id(&mut self) -> u32 {
        self.next_id = self.next_id.wrapping_add(1);
        self.next_id
    }

    fn settle_now(&mut self, result: Result<(), LoaderError>) -> u32 {
        let ticket = self.next_id();
        self.out.push_back(Action::Settle(ticket, result));
        ticket
    }

    /// Joins the round in flight or starts one. `waited`: someone waits
    /// for it (quick attempts, unless a failure is being backed off);
    /// `explicit`: a page's call for a token now (attempts at once, and
    /// is the load trigger).
    fn join_or_start(&mut self, waited: bool, explicit: bool) -> u32 {
        let quick = waited && self.memory.failures == 0;
        if let Some(r) = self.round.as_mut() {
            r.quick |= quick;
            let (ticket, step) = (r.ticket, r.step);
            if explicit {
                match step {
                    Step::Trigger => {
                        self.out.push_back(Action::EndTrigger);
                        self.begin(true);
                    }
                    Step::Due | Step::Backoff { .. } => self.attempt(),
                    _ => {}
                }
            }
            return ticket;
        }
        let ticket = self.next_id();
        self.round = Some(Round {
            ticket,
            quick,
            step: Step::Due,
            pending: None,
            error: None,
        });
        if !explicit && self.state == State::Idle && self.cfg.trigger {
            self.set_step(Step::Trigger);
            self.out.push_back(Action::WaitTrigger);
        } else {
            self.begin(explicit);
        }
        ticket
    }

    /// The round starts: says so, then attempts now or when due.
    fn begin(&mut self, explicit: bool) {
        if self.works() {
            self.set_state(State::Refreshing, None);
        } else if self.state == State::Fallback || self.memory.failures > 0 {
            // Quiet: the contact box stays (or is shown at once for a
            // manager of an org that is failing), no loading status.
            if self.state != State::Fallback {
                self.show_fallback(self.memory.error.clone());
            }
        } else if !self.loading() {
            return;
        }
        if !self.watching {
            self.watching = true;
            self.out.push_back(Action::Watch);
        }
        let due = self.env.mono >= self.memory.next_at && !self.env.hidden;
        if explicit || due || self.memory.attempts + self.memory.failures == 0 {
            self.attempt();
        } else {
            self.set_step(Step::Due);
        }
    }

    /// `loading` with its status; false (and the round failed) when the
    /// container is missing.
    fn loading(&mut self) -> bool {
        if !self.env.container {
            self.fail(self.cfg.no_container.clone());
            return false;
        }
        self.set_state(State::Loading, None);
        if !self.status {
            self.status = true;
            self.out.push_back(Action::ShowStatus);
        }
        true
    }

    fn attempt(&mut self) {
        let id = self.next_id();
        let deadline = self.env.mono + self.cfg.request_timeout_ms;
        self.set_step(Step::Fetching { id, deadline });
        self.out.push_back(Action::Fetch(id));
    }

    /// One attempt failed: the next quick one after a backoff, or the
    /// round fails. Only transient failures are retried, never while the
    /// page is hidden, nor when the endpoint asks for a longer wait.
    fn attempt_failed(&mut self, e: LoaderError) {
        let quick = self.round.as_ref().is_some_and(|r| r.quick);
        let m = &mut self.memory;
        if !(quick && e.is_retryable() && m.attempts < self.cfg.max_retries && !self.env.hidden) {
            return self.fail(e);
        }
        let backoff = schedule::backoff_ms(
            m.attempts,
            self.cfg.retry_delay_ms,
            QUICK_BACKOFF_CAP_MS,
            self.env.random,
        );
        if e.retry_after_ms.is_some_and(|ra| ra > QUICK_BACKOFF_CAP_MS) {
            return self.fail(e);
        }
        let until = self.env.mono
            + schedule::retry_wait_ms(backoff, e.retry_after_ms, QUICK_BACKOFF_CAP_MS);
        m.attempts += 1;
        m.next_at = until;
        if let Some(r) = self.round.as_mut() {
            r.step = Step::Backoff { until };
            r.error = Some(e);
        }
    }

    /// The round failed: keep a working widget (and retry before its token
    /// expires), or show the contact box; transient failures are retried
    /// in the background, backed off.
    fn fail(&mut self, e: LoaderError) {
        let round = self.round.take();
        let now = self.env.mono;
        let works = self.works();
        let cap = self.cfg.max_retry_delay_ms;
        let limit = match &self.token {
            Some(t) if works => cap.min(t.expires - now),
            _ => cap,
        };
        let m = &mut self.memory;
        m.failures += 1;
        m.attempts = 0;
        let base = schedule::background_base_ms(self.cfg.retry_delay_ms, cap);
        let backoff = schedule::retry_delay_ms(m.failures, base, cap, self.env.random);
        let wait = schedule::retry_wait_ms(backoff, e.retry_after_ms, limit);
        // Never sooner than a wait already asked for (a round that failed
        // without a request, for a missing container, or an explicit
        // attempt does not cut short the endpoint's `Retry-After` or the
        // backoff), nor past the limit.
        m.next_at = m.next_at.min(now + limit).max(now + wait);
        // A working widget whose refresh would not load (a CDN hiccup) is
        // retried too, before its token expires: "a retry follows".
        m.retry = e.is_retryable() || (works && e.code == ErrorCode::WidgetLoad);
        m.online_at = if matches!(e.code, ErrorCode::TokenNetwork | ErrorCode::TokenTimeout) {
            // Not before the least wait the jitter could have drawn (a
            // third of the step): the budget holds whatever `online` does.
            now + wait.min(schedule::retry_delay_ms(m.failures, base, cap, 0.0))
        } else {
            f64::INFINITY
        };
        m.error = Some(e.clone());
        if self.status {
            self.status = false;
            self.out.push_back(Action::HideStatus);
        }
        if works {
            self.set_state(State::Ready, Some(e.clone()));
        } else {
            if self.boxed {
                self.out.push_back(Action::BoxBusy(false));
            }
            self.show_fallback(Some(e.clone()));
        }
        if let Some(r) = round {
            self.out.push_back(Action::Settle(r.ticket, Err(e)));
        }
    }

    /// The contact box (once) and the state `fallback`, reporting `error`
    /// (or why the box cannot be shown).
    fn show_fallback(&mut self, error: Option<LoaderError>) {
        let mut reported = error;
        if self.cfg.fallback && !self.boxed {
            if self.env.container {
                self.boxed = true;
                self.out.push_back(Action::ShowBox);
            } else {
                reported = Some(self.cfg.no_container.clone());
            }
        }
        self.set_state(State::Fallback, reported);
    }

    // ---- a token arrives -----------------------------------------------

    /// Turns a checked answer into a token on the monotonic clock: the one
    /// place the wall clock is read, with the server's offset.
    fn arrive(
        &self,
        value: String,
        expires_at: f64,
        iat: Option<f64>,
        server_now: Option<f64>,
    ) -> Result<Token, LoaderError> {
        let Env { mono, wall, .. } = self.env;
        let offset =
            schedule::clock_offset_ms(wall, server_now.unwrap_or(f64::NAN), iat, expires_at);
        let left = expires_at - (wall + offset);
        // `!(left > 0)`: NaN is expired too.
        if left.is_nan() || left <= 0.0 {
            return Err(LoaderError::new(
                ErrorCode::TokenExpired,
                cat(&[
                    "chathub-loader: the token endpoint ",
                    &self.cfg.token_url,
                    " handed out a token that had already expired (by the server's clock, ",
                    &num((-left / 1000.0) as u64),
                    " s ago); check the backend's clock and token lifetime",
                ]),
            ));
        }
        Ok(Token {
            value,
            expires: mono + left,
            received: mono,
            lifetime: left,
            repeated: false,
            expires_wall: wall + left,
        })
    }

    /// Gives the widget the new token.
    fn apply(&mut self, token: Token) {
        if self.works() {
            if let Some(cur) = self.token.as_mut().filter(|c| c.value == token.value) {
                // The backend handed out the token the widget already has
                // (it serves a cached token until its own renewal point):
                // nothing to remount; the schedule backs off instead.
                cur.expires = token.expires;
                cur.received = token.received;
                cur.expires_wall = token.expires_wall;
                cur.repeated = true;
                return self.succeed();
            }
        }
        let value = token.value.clone();
        if let Some(r) = self.round.as_mut() {
            r.pending = Some(token);
        }
        if self.cfg.in_place {
            self.set_step(Step::InPlace);
            self.out.push_back(Action::SetToken(value));
        } else {
            self.place();
        }
    }

    /// A new module evaluation: preloaded first when a working widget
    /// would be replaced (it stays unless its replacement can load).
    fn place(&mut self) {
        if self.works() {
            let id = self.next_id();
            let deadline = self.env.mono + self.cfg.load_timeout_ms;
            self.set_step(Step::Preloading { id, deadline });
            self.out.push_back(Action::Preload(id));
        } else {
            self.mount();
        }
    }

    /// `WIDGET_LOAD` for a module that took longer than its deadline.
    fn too_slow(&self) -> LoaderError {
        LoaderError::widget_load(&self.cfg.widget_src, "did not load in time")
    }

    /// The new widget did not load: nothing of it stays, and the page gets
    /// back the widget that works, if one does.
    fn mount_failed(&mut self, e: LoaderError) {
        if self.taken {
            self.taken = false;
            if self.token_valid() {
                self.out.push_back(Action::Restore);
                self.on_page = true;
            } else {
                self.out.push_back(Action::Discard);
                self.token = None;
            }
        }
        self.fail(e);
    }

    fn mount(&mut self) {
        let id = self.next_id();
        let value = match self.round.as_ref().and_then(|r| r.pending.as_ref()) {
            Some(t) => t.value.clone(),
            None => return,
        };
        // Off the page while the new one evaluates: it must find a clean
        // page and only its own tag.
        if self.taken {
            self.out.push_back(Action::Discard);
        }
        self.taken = true;
        self.on_page = false;
        self.out.push_back(Action::TakeOff);
        let deadline = self.env.mono + self.cfg.load_timeout_ms;
        self.set_step(Step::Mounting { id, deadline });
        self.out.push_back(Action::Mount(id, value));
    }

    /// The token being put on the page expired before its widget loaded
    /// (a load slower than the token's life): a tag never keeps an
    /// expired token, so the widget goes and the round fails as a load.
    fn pending_expired(&mut self) {
        let e = LoaderError::widget_load(
            &self.cfg.widget_src,
            "did not load before its token expired",
        );
        match self.step() {
            Some(Step::Preloading { .. }) => {
                self.out.push_back(Action::CancelPreload);
                self.fail(e);
            }
            Some(Step::Mounting { .. }) => {
                // The mount may have ended in the driver already (its
                // `Mounted` is what woke the machine): `Unmount` removes
                // the tag then, `CancelMount` while it still loads.
                self.out.push_back(Action::CancelMount);
                self.out.push_back(Action::Unmount);
                self.mount_failed(e);
            }
            _ => {}
        }
    }

    /// The pending token is on the page.
    fn mounted(&mut self) {
        if self.taken {
            self.taken = false;
            self.out.push_back(Action::Discard);
        }
        self.token = self.round.as_mut().and_then(|r| r.pending.take());
        self.on_page = true;
        self.succeed();
    }

    fn succeed(&mut self) {
        let round = self.round.take();
        self.memory = Memory::default();
        if self.status {
            self.status = false;
            self.out.push_back(Action::HideStatus);
        }
        if self.boxed {
            self.boxed = false;
            self.out.push_back(Action::HideBox);
        }
        self.set_state(State::Ready, None);
        if let Some(r) = round {
            self.out.push_back(Action::Settle(r.ticket, Ok(())));
        }
    }

    // ---- helpers ---------------------------------------------------------

    fn token_valid(&self) -> bool {
        self.token
            .as_ref()
            .is_some_and(|t| t.expires > self.env.mono)
    }

    /// The widget is on the page with a token that has not expired.
    fn works(&self) -> bool {
        self.on_page && self.token_valid()
    }

    fn set_state(&mut self, next: State, error: Option<LoaderError>) {
        let previous = core::mem::replace(&mut self.state, next);
        if previous != next || error.is_some() {
            self.out.push_back(Action::Emit {
                state: next,
                previous,
                error,
            });
        }
    }

    /// The last handle went: everything off the page, the request
    /// aborted, waiting promises rejected; the memory stays.
    fn destroy(&mut self) {
        let cancel = match self.step() {
            Some(Step::Trigger) => Some(Action::EndTrigger),
            Some(Step::Fetching { .. }) => {
                self.aborted();
                Some(Action::Abort)
            }
            Some(Step::Preloading { .. }) => Some(Action::CancelPreload),
            Some(Step::Mounting { .. }) => Some(Action::CancelMount),
            _ => None,
        };
        self.out.extend(cancel);
        if self.taken {
            self.out.push_back(Action::Discard);
        }
        if self.on_page {
            self.out.push_back(Action::Unmount);
        }
        for (shown, hide) in [
            (self.status, Action::HideStatus),
            (self.boxed, Action::HideBox),
            (self.watching, Action::Unwatch),
        ] {
            if shown {
                self.out.push_back(hide);
            }
        }
        (
            self.taken,
            self.on_page,
            self.status,
            self.boxed,
            self.watching,
        ) = (false, false, false, false, false);
        self.token = None;
        self.debounce_at = f64::INFINITY;
        self.set_state(State::Destroyed, None);
        if let Some(r) = self.round.take() {
            self.out
                .push_back(Action::Settle(r.ticket, Err(LoaderError::destroyed())));
        }
    }

    /// A request given up unanswered counts as a failed attempt for the
    /// org's backoff: a manager created and destroyed in a loop while the
    /// endpoint hangs spends the same budget as one manager.
    fn aborted(&mut self) {
        let (now, unit) = (self.env.mono, self.env.random);
        let cfg = &self.cfg;
        let m = &mut self.memory;
        if m.failures == 0 && m.attempts < cfg.max_retries {
            let backoff =
                schedule::backoff_ms(m.attempts, cfg.retry_delay_ms, QUICK_BACKOFF_CAP_MS, unit);
            m.attempts += 1;
            m.next_at = now + backoff;
        } else {
            m.failures += 1;
            m.attempts = 0;
            let base = schedule::background_base_ms(cfg.retry_delay_ms, cfg.max_retry_delay_ms);
            m.next_at =
                now + schedule::retry_delay_ms(m.failures, base, cfg.max_retry_delay_ms, unit);
            m.retry = true;
            // `online` does not cut this wait short: it is the floor.
            m.online_at = m.online_at.max(m.next_at);
        }
    }
}
