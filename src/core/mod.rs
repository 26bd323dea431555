//! The loader's decisions as a pure state machine, in the sans-IO style of
//! rustls and quinn-proto: no `web-sys`, `js-sys` or `wasm-bindgen` in
//! here, so every decision is compiled and tested on the host, over
//! simulated time and any interleaving a test can generate.
//!
//! One [`Machine`] per org. The browser driver (`crate::driver`) feeds it
//! what happens ([`Event`]s and [`Request`]s, each with the [`Env`] it read:
//! the time on both clocks, whether the page is hidden, whether the
//! container is there, one random draw), takes the [`Action`]s it asks for
//! one at a time ([`Machine::poll_action`]) and carries them out, then arms
//! its one timer for [`Machine::next_deadline`]. The driver decides
//! nothing.
//!
//! Time: every deadline is on one monotonic clock (`performance.now()` in
//! the browser, [`Env::mono`]). The wall clock ([`Env::wall`]) is read once
//! per token, to turn its `expiresAt` (with the server's clock offset) into
//! a monotonic deadline: a clock set back or forward afterwards moves
//! nothing.
//!
//! Retry memory ([`Memory`]) is what the org's failures and aborted
//! attempts taught: it outlives the machine (the driver keeps it in the
//! page's registry when the last handle goes), so a component that mounts
//! and unmounts during an outage continues the backoff instead of starting
//! a new quick round each time.

pub mod error;
mod machine;
#[cfg(all(test, not(target_arch = "wasm32")))]
mod model;
pub mod schedule;
#[cfg(all(test, not(target_arch = "wasm32")))]
mod sim;
#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests;

pub use error::{ErrorCode, LoaderError};
pub use machine::Machine;

use crate::prelude::*;

/// The manager's life cycle, as `manager.state` reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// Constructed, not initialised (or waiting for its load trigger).
    Idle,
    /// Getting the first token (or a widget whose token expired, again).
    Loading,
    /// The widget runs with a valid token.
    Ready,
    /// The widget runs; a new token is on its way.
    Refreshing,
    /// The chat could not load; the contact box is shown.
    Fallback,
    /// The last handle was released.
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

/// What the driver read when it fed an event.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Env {
    /// The monotonic clock, in ms (`performance.now()`).
    pub mono: f64,
    /// The wall clock, in ms since the epoch (`Date.now()`).
    pub wall: f64,
    /// The page is in a background tab (or minimised).
    pub hidden: bool,
    /// The container for the loading status and the contact box exists.
    pub container: bool,
    /// A uniform draw in `[0, 1)` for the backoff jitter.
    pub random: f64,
}

/// The options the machine decides with (checked by the driver).
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// The first round waits for a load trigger (`trigger` not `eager`).
    pub trigger: bool,
    /// A new token goes into the tag's `token` attribute in place
    /// (`reload: "attribute"`) when there is a tag to update.
    pub in_place: bool,
    /// A contact box is shown when the chat cannot load (`fallback` not
    /// `false`).
    pub fallback: bool,
    /// Quick retries in a round someone waits for (`maxRetries`).
    pub max_retries: u32,
    /// The first step of the quick retries (`retryDelayMs`).
    pub retry_delay_ms: f64,
    /// The longest wait between background retries (`maxRetryDelayMs`).
    pub max_retry_delay_ms: f64,
    /// One request's deadline (`requestTimeoutMs`).
    pub request_timeout_ms: f64,
    /// How long the widget module may take to load and evaluate.
    pub load_timeout_ms: f64,
    /// Refresh this long before expiry (`refreshMarginMs`; `None`: derived).
    pub refresh_margin_ms: Option<f64>,
    /// The longest the machine sleeps without a look (`checkIntervalMs`).
    pub check_interval_ms: f64,
    /// The token endpoint, named in the messages the machine writes.
    pub token_url: String,
    /// The widget module, named in them too.
    pub widget_src: String,
    /// What to report when the container is missing.
    pub no_container: LoaderError,
}

/// A page's explicit call: someone waits for its outcome, through the
/// ticket [`Machine::request`] returns and an [`Action::Settle`] with it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Request {
    /// `initialize()`: the first load (after the trigger), or joining the
    /// next attempt once a failure's backoff is over.
    Initialize,
    /// `refreshToken()`: a new token now (one attempt at once after a
    /// failure; quick attempts otherwise). Before the trigger, it is the
    /// trigger.
    Refresh,
    /// The contact box's "Try again": one attempt at once.
    TryAgain,
}

/// The outcome of one token request, as the driver read it.
#[derive(Clone, Debug, PartialEq)]
pub enum Answer {
    /// A well-formed answer (status 2xx, `{token, expiresAt}` checked).
    Token {
        /// The JWT.
        value: String,
        /// Its expiry in the server's clock (ms since the epoch): the
        /// earlier of `expiresAt` and the JWT's `exp`.
        expires_at: f64,
        /// The JWT's `iat` (ms since the epoch), if it has one.
        iat: Option<f64>,
        /// The answer's `Date` header (ms since the epoch), where readable
        /// and not an HTTP cache's copy.
        server_now: Option<f64>,
    },
    /// Anything else: an HTTP status (with `Retry-After`), a network
    /// failure, a malformed answer.
    Failed(LoaderError),
}

/// Something that happened.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    /// The load trigger fired.
    TriggerFired,
    /// The token request `id` ended.
    Answered {
        /// The [`Action::Fetch`] it answers.
        id: u32,
        /// What came back.
        answer: Answer,
    },
    /// The token was set in place ([`Action::SetToken`]): `true`, or there
    /// was no connected tag to update (`false`: mount one instead).
    SetInPlace(bool),
    /// The module preload `id` ended.
    Preloaded {
        /// The [`Action::Preload`] it answers.
        id: u32,
        /// `Err` with `WIDGET_LOAD` when the module would not load.
        result: Result<(), LoaderError>,
    },
    /// The widget mount `id` ended.
    Mounted {
        /// The [`Action::Mount`] it answers.
        id: u32,
        /// `Err` with `WIDGET_LOAD`: it failed, threw or timed out.
        result: Result<(), LoaderError>,
    },
    /// The widget reported `token expired` (a window error from its code).
    WidgetExpired,
    /// The page became visible, came back online or was restored from the
    /// back/forward cache: deadlines are looked at again.
    PageBack {
        /// It was `online` (the network is back).
        online: bool,
    },
    /// The timer armed for [`Machine::next_deadline`] fired.
    Tick,
    /// The last handle was released.
    Destroy,
}

/// What the driver does next.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// Start waiting for the load trigger.
    WaitTrigger,
    /// Stop waiting for it (`refreshToken()` came first, or destroy).
    EndTrigger,
    /// Start the page listeners (visibility, online, pageshow, widget errors).
    Watch,
    /// Remove them.
    Unwatch,
    /// Start token request `id`; its end is [`Event::Answered`].
    Fetch(u32),
    /// Abort the request in flight (its answer is ignored).
    Abort,
    /// Put this token into the widget tag's `token` attribute in place;
    /// answer with [`Event::SetInPlace`] at once.
    SetToken(String),
    /// Fetch and parse the next widget module URL without running it;
    /// answer with [`Event::Preloaded`].
    Preload(u32),
    /// Give up the preload in flight (its end is ignored).
    CancelPreload,
    /// Take the current widget off the page, kept for [`Action::Restore`]:
    /// the tag the loader mounted, or tags with the org's id the page
    /// shipped (adopted), with the UI their evaluation added.
    TakeOff,
    /// Insert a new widget tag with this token at the next module URL
    /// (computed after [`Action::TakeOff`]); answer with [`Event::Mounted`].
    Mount(u32, String),
    /// Give up the mount in flight: its tag goes, and whatever a late
    /// evaluation adds.
    CancelMount,
    /// Put the widget taken off back, as it was (its replacement failed).
    Restore,
    /// Forget the widget taken off (its replacement is mounted, or its
    /// token expired).
    Discard,
    /// Remove the mounted widget for good.
    Unmount,
    /// Show the loading status in the container.
    ShowStatus,
    /// Remove it.
    HideStatus,
    /// Show the contact box in the container.
    ShowBox,
    /// The box's button while an attempt it asked for runs (`true`), or
    /// after (`false`).
    BoxBusy(bool),
    /// Remove the contact box.
    HideBox,
    /// Dispatch `chathub:statechange`.
    Emit {
        /// The new state.
        state: State,
        /// The one before.
        previous: State,
        /// What failed, if something did.
        error: Option<LoaderError>,
    },
    /// Settle every promise waiting on `ticket`.
    Settle(u32, Result<(), LoaderError>),
}

/// What an org's failures taught, kept across managers (see the module
/// docs). `Default` is a clean slate.
#[derive(Clone, Debug, PartialEq)]
pub struct Memory {
    /// Rounds that failed since the last success.
    pub failures: u32,
    /// Attempts of the quick round in progress that failed or were
    /// aborted (a manager destroyed while its request was out).
    pub attempts: u32,
    /// When the next attempt may be made (monotonic ms).
    pub next_at: f64,
    /// That attempt comes by itself (a transient failure); otherwise only
    /// a page's call makes it.
    pub retry: bool,
    /// From when `online` makes the retry due at once (after a network
    /// failure, the jitter floor: a third of its backoff step);
    /// `INFINITY` otherwise.
    pub online_at: f64,
    /// The last failure, reported while the contact box is shown.
    pub error: Option<LoaderError>,
}

impl Default for Memory {
    fn default() -> Self {
        Memory {
            failures: 0,
            attempts: 0,
            next_at: f64::NEG_INFINITY,
            retry: false,
            online_at: f64::INFINITY,
            error: None,
        }
    }
}
