//! Reading the page's options object into a checked Rust struct, once.
//! Every mistake becomes `INVALID_OPTIONS` naming the key and the fix.
//! `read` has the readers, `url` the URL rules, `parts` the nested objects.

mod parts;
mod read;
mod url;

use crate::prelude::*;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::Element;

use crate::error::LoaderError;
use crate::text::cat;
use crate::validate;
use read::{check_selector, plain_object, reject_unknown, Reader};
pub use read::{list, own};

/// Where the vendor serves the widget.
pub const DEFAULT_WIDGET_SRC: &str =
    "https://widget.smsbat.com/operator-chat-panel/widget-script.js";

const KEYS: &[&str] = &[
    "tokenUrl",
    "org",
    "widgetSrc",
    "container",
    "checkIntervalMs",
    "refreshMarginMs",
    "requestTimeoutMs",
    "maxRetries",
    "retryDelayMs",
    "maxRetryDelayMs",
    "fetchInit",
    "fallback",
    "nonce",
    "integrity",
    "crossOrigin",
    "reload",
    "widgetSelector",
    "loadingText",
    "trigger",
];

/// Where the loading state and the fallback render.
#[derive(Clone, Debug, PartialEq)]
pub enum Container {
    /// `document.body` (the default).
    Body,
    /// A CSS selector resolved when something is rendered.
    Selector(String),
    /// An element the page passed in.
    Element(Element),
}

/// How a refreshed token reaches the running widget.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reload {
    /// Replace the tag with one whose `src` carries a new `chathub_v`
    /// query, so the browser evaluates the widget module again.
    Module,
    /// Update the `token` attribute in place (for widgets that observe it).
    Attribute,
}

/// When `initialize()` starts loading (see `crate::trigger`). The numbers
/// are what `waitTrigger` in `js/dom.js` receives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trigger {
    /// At once (the default).
    Eager = 0,
    /// When the browser is idle (`requestIdleCallback`, a timer without it).
    Idle = 1,
    /// When the container scrolls into view.
    Visible = 2,
    /// At the visitor's first `pointerdown`, `keydown`, `touchstart`,
    /// `scroll` or `wheel` on the page.
    Interaction = 3,
}

/// `fetchInit`: the parts of `RequestInit` a page may set.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FetchInit {
    /// `credentials` (`omit`, `same-origin`, `include`).
    pub credentials: Option<String>,
    /// Extra request headers.
    pub headers: Vec<(String, String)>,
    /// `mode` (`cors`, `same-origin`, `no-cors`).
    pub mode: Option<String>,
    /// `cache` (`default`, `no-store`, ...).
    pub cache: Option<String>,
    /// `referrerPolicy`.
    pub referrer_policy: Option<String>,
}

/// The contact box shown when the chat cannot load, as `js/dom.js`
/// checked it (its defaults are there too).
#[derive(Clone, Debug, PartialEq)]
pub struct Fallback {
    /// Heading.
    pub title: String,
    /// Body text.
    pub message: String,
    /// Shown as a `mailto:` link.
    pub email: Option<String>,
    /// Shown as a `tel:` link (the validated href).
    pub phone: Option<(String, String)>,
    /// Shown as a web link (a validated `https:` URL).
    pub url: Option<String>,
    /// Label of the retry button.
    pub button_text: String,
}

/// The checked options.
#[derive(Clone, Debug, PartialEq)]
pub struct Options {
    /// Absolute token endpoint URL, `org` already in its query.
    pub token_url: String,
    /// The organisation, if any.
    pub org: Option<String>,
    /// Absolute widget module URL.
    pub widget_src: String,
    /// Where the loading state and fallback go.
    pub container: Container,
    /// The safety-net check period.
    pub check_interval_ms: f64,
    /// Refresh this long before expiry (`None`: derived from the lifetime).
    pub refresh_margin_ms: Option<f64>,
    /// Per-request timeout.
    pub request_timeout_ms: f64,
    /// Retries after the first attempt before giving up a round.
    pub max_retries: u32,
    /// First backoff step of the quick attempts (background retries start
    /// at twenty times this).
    pub retry_delay_ms: f64,
    /// The longest wait between background retries.
    pub max_retry_delay_ms: f64,
    /// Request settings.
    pub fetch_init: FetchInit,
    /// The contact box, or `None` when disabled.
    pub fallback: Option<Fallback>,
    /// CSP nonce for the tag and the injected style.
    pub nonce: Option<String>,
    /// SRI hash for the widget tag.
    pub integrity: Option<String>,
    /// `crossorigin` for the widget tag.
    pub cross_origin: Option<String>,
    /// How a new token reaches the widget.
    pub reload: Reload,
    /// Extra selector for the widget's own UI, removed before it is evaluated again.
    pub widget_selector: Option<String>,
    /// Text of the loading status.
    pub loading_text: String,
    /// When `initialize()` starts loading.
    pub trigger: Trigger,
}

impl Options {
    /// The id of this org's widget tag.
    pub fn tag_id(&self) -> String {
        match &self.org {
            Some(org) => cat(&["operator-chat-panel-script-", &validate::id_suffix(org)]),
            None => "operator-chat-panel-script".into(),
        }
    }

    /// The option names whose values differ between two option sets.
    pub fn differing_keys(&self, other: &Options) -> Vec<&'static str> {
        let pairs: [(&'static str, bool); 19] = [
            ("tokenUrl", self.token_url != other.token_url),
            ("org", self.org != other.org),
            ("widgetSrc", self.widget_src != other.widget_src),
            ("container", self.container != other.container),
            (
                "checkIntervalMs",
                self.check_interval_ms != other.check_interval_ms,
            ),
            (
                "refreshMarginMs",
                self.refresh_margin_ms != other.refresh_margin_ms,
            ),
            (
                "requestTimeoutMs",
                self.request_timeout_ms != other.request_timeout_ms,
            ),
            ("maxRetries", self.max_retries != other.max_retries),
            ("retryDelayMs", self.retry_delay_ms != other.retry_delay_ms),
            (
                "maxRetryDelayMs",
                self.max_retry_delay_ms != other.max_retry_delay_ms,
            ),
            ("fetchInit", self.fetch_init != other.fetch_init),
            ("fallback", self.fallback != other.fallback),
            ("nonce", self.nonce != other.nonce),
            ("integrity", self.integrity != other.integrity),
            ("crossOrigin", self.cross_origin != other.cross_origin),
            ("reload", self.reload != other.reload),
            (
                "widgetSelector",
                self.widget_selector != other.widget_selector,
            ),
            ("loadingText", self.loading_text != other.loading_text),
            ("trigger", self.trigger != other.trigger),
        ];
        pairs
            .into_iter()
            .filter(|(_, d)| *d)
            .map(|(k, _)| k)
            .collect()
    }

    /// Reads and checks the page's options. `base` is `location.href`.
    ///
    /// The checked values go straight into one `Options` (its defaults
    /// first): an early `?` then drops one value, not each local so far,
    /// which keeps the many error exits small in the wasm.
    pub fn parse(value: &JsValue, base: &str) -> Result<Options, LoaderError> {
        let obj = plain_object(
            value,
            "options",
            "must be an object such as { tokenUrl: \"/api/chathub/token\" }",
        )?;
        reject_unknown(&obj, KEYS, "")?;
        let r = Reader {
            obj: &obj,
            prefix: "",
        };
        let mut o = Options {
            token_url: String::new(),
            org: None,
            widget_src: String::new(),
            container: Container::Body,
            check_interval_ms: 3_600_000.0,
            refresh_margin_ms: None,
            request_timeout_ms: 10_000.0,
            max_retries: 3,
            retry_delay_ms: 500.0,
            max_retry_delay_ms: 300_000.0,
            fetch_init: FetchInit::default(),
            fallback: None,
            nonce: None,
            integrity: None,
            cross_origin: None,
            reload: Reload::Module,
            widget_selector: None,
            loading_text: String::new(),
            trigger: Trigger::Eager,
        };

        o.org = r.string("org")?;
        if let Some(org) = &o.org {
            if !validate::is_valid_org(org) {
                return Err(LoaderError::invalid(
                    "org",
                    "must be a non-empty id of at most 128 characters without spaces",
                ));
            }
        }
        let token_url = match r.string("tokenUrl")? {
            Some(u) if !u.trim_ascii().is_empty() => u,
            _ => {
                return Err(LoaderError::invalid(
                    "tokenUrl",
                    "is required: the URL of your backend's token endpoint, e.g. \"/api/chathub/token\"",
                ))
            }
        };
        let token_url = url::web_url("tokenUrl", &token_url, base)?;
        if let Some(org) = &o.org {
            token_url.search_params().set("org", org);
        }
        o.token_url = token_url.href();
        o.fetch_init = parts::fetch_init(r.get("fetchInit"))?;
        if o.fetch_init.mode.as_deref() == Some("same-origin")
            && web_sys::Url::new(base).map(|b| b.origin()).ok() != Some(token_url.origin())
        {
            return Err(LoaderError::invalid(
                "fetchInit.mode",
                "is \"same-origin\" but tokenUrl is on another origin; use \"cors\" (the default)",
            ));
        }
        let widget_src = r.string("widgetSrc")?;
        o.widget_src = url::widget_url(widget_src.as_deref().unwrap_or(DEFAULT_WIDGET_SRC), base)?;

        if let Some(v) = r.get("container") {
            o.container = if let Some(s) = v.as_string() {
                if s.trim_ascii().is_empty() {
                    return Err(LoaderError::invalid("container", "must not be empty"));
                }
                check_selector("container", &s)?;
                Container::Selector(s)
            } else if let Some(el) = v.dyn_ref::<Element>() {
                Container::Element(el.clone())
            } else {
                return Err(LoaderError::invalid(
                    "container",
                    "must be a CSS selector string or an Element",
                ));
            };
        }

        let max_retries = r.number("maxRetries", 0.0)?.unwrap_or(3.0);
        // Whole: `f64::fract` needs `std`.
        if f64::from(max_retries as u32) != max_retries || max_retries > 20.0 {
            return Err(LoaderError::invalid(
                "maxRetries",
                "must be a whole number from 0 to 20",
            ));
        }
        o.max_retries = max_retries as u32;

        if r.choice("reload", &["module", "attribute"])? == 1 {
            o.reload = Reload::Attribute;
        }
        o.trigger = match r.choice("trigger", &["eager", "idle", "visible", "interaction"])? {
            0 => Trigger::Eager,
            1 => Trigger::Idle,
            2 => Trigger::Visible,
            _ => Trigger::Interaction,
        };
        o.cross_origin = r.string("crossOrigin")?;
        if let Some(c) = &o.cross_origin {
            if c != "anonymous" && c != "use-credentials" {
                return Err(LoaderError::invalid(
                    "crossOrigin",
                    "must be \"anonymous\" or \"use-credentials\"",
                ));
            }
        }
        o.widget_selector = r.string("widgetSelector")?;
        if let Some(sel) = &o.widget_selector {
            check_selector("widgetSelector", sel)?;
        }
        if let Some(n) = r.number("checkIntervalMs", 1.0)? {
            o.check_interval_ms = n;
        }
        o.refresh_margin_ms = r.number("refreshMarginMs", 0.0)?;
        if let Some(n) = r.number("requestTimeoutMs", 1.0)? {
            o.request_timeout_ms = n;
        }
        if let Some(n) = r.number("retryDelayMs", 0.0)? {
            o.retry_delay_ms = n;
        }
        // At least 10 s: background retries are at least a third of it
        // apart once backed off.
        if let Some(n) = r.number("maxRetryDelayMs", 10_000.0)? {
            o.max_retry_delay_ms = n;
        }
        o.fallback = parts::fallback(r.get("fallback"), base)?;
        o.nonce = r.string("nonce")?;
        o.integrity = r.string("integrity")?;
        o.loading_text = r
            .string("loadingText")?
            .unwrap_or_else(|| "Loading chat…".into());
        Ok(o)
    }
}
