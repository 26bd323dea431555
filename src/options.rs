//! Reading the page's options object into a checked Rust struct, once.
//! Every mistake becomes `INVALID_OPTIONS` naming the key and the fix.

use js_sys::{Array, Object, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use web_sys::Element;

use crate::error::LoaderError;
use crate::validate;

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
    "fetchInit",
    "fallback",
    "nonce",
    "integrity",
    "crossOrigin",
    "reload",
    "widgetSelector",
    "loadingText",
];
const FETCH_INIT_KEYS: &[&str] = &["credentials", "headers", "mode", "cache", "referrerPolicy"];
const FALLBACK_KEYS: &[&str] = &["title", "message", "email", "phone", "url", "buttonText"];

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

/// The contact box shown when the chat cannot load.
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
    /// Shown as a web link (validated `https:`/`http:` URL).
    pub url: Option<String>,
    /// Label of the retry button.
    pub button_text: String,
}

impl Default for Fallback {
    fn default() -> Self {
        Fallback {
            title: "Chat is unavailable".into(),
            message:
                "We could not load the chat right now. Please try again, or contact us directly."
                    .into(),
            email: None,
            phone: None,
            url: None,
            button_text: "Try again".into(),
        }
    }
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
    /// First backoff step.
    pub retry_delay_ms: f64,
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
}

impl Options {
    /// The id of this org's widget tag.
    pub fn tag_id(&self) -> String {
        match &self.org {
            Some(org) => format!("operator-chat-panel-script-{org}"),
            None => "operator-chat-panel-script".into(),
        }
    }

    /// The option names whose values differ between two option sets.
    pub fn differing_keys(&self, other: &Options) -> Vec<&'static str> {
        let pairs: [(&'static str, bool); 17] = [
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
        ];
        pairs
            .into_iter()
            .filter(|(_, d)| *d)
            .map(|(k, _)| k)
            .collect()
    }

    /// Reads and checks the page's options. `base` is `location.href`.
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

        let org = r.string("org")?;
        if let Some(org) = &org {
            if !validate::is_valid_org(org) {
                return Err(LoaderError::invalid(
                    "org",
                    "must be a non-empty id of at most 128 characters without spaces",
                ));
            }
        }
        let token_url = match r.string("tokenUrl")? {
            Some(u) if !u.trim().is_empty() => u,
            _ => {
                return Err(LoaderError::invalid(
                    "tokenUrl",
                    "is required: the URL of your backend's token endpoint, e.g. \"/api/chathub/token\"",
                ))
            }
        };
        let token_url = web_url("tokenUrl", &token_url, base)?;
        if let Some(org) = &org {
            token_url.search_params().set("org", org);
        }
        let fetch_init = fetch_init(r.get("fetchInit"))?;
        if fetch_init.mode.as_deref() == Some("same-origin")
            && web_sys::Url::new(base).map(|b| b.origin()).ok() != Some(token_url.origin())
        {
            return Err(LoaderError::invalid(
                "fetchInit.mode",
                "is \"same-origin\" but tokenUrl is on another origin; use \"cors\" (the default)",
            ));
        }
        let widget_src = r
            .string("widgetSrc")?
            .unwrap_or_else(|| DEFAULT_WIDGET_SRC.into());
        let widget_src = web_url("widgetSrc", &widget_src, base)?.href();

        let container = match r.get("container") {
            None => Container::Body,
            Some(v) => {
                if let Some(s) = v.as_string() {
                    if s.trim().is_empty() {
                        return Err(LoaderError::invalid("container", "must not be empty"));
                    }
                    Container::Selector(s)
                } else if let Some(el) = v.dyn_ref::<Element>() {
                    Container::Element(el.clone())
                } else {
                    return Err(LoaderError::invalid(
                        "container",
                        "must be a CSS selector string or an Element",
                    ));
                }
            }
        };

        let max_retries = r.number("maxRetries", 0.0)?.unwrap_or(3.0);
        if max_retries.fract() != 0.0 || max_retries > 20.0 {
            return Err(LoaderError::invalid(
                "maxRetries",
                "must be a whole number from 0 to 20",
            ));
        }

        let reload = match r.string("reload")?.as_deref() {
            None | Some("module") => Reload::Module,
            Some("attribute") => Reload::Attribute,
            Some(other) => {
                return Err(LoaderError::invalid(
                    "reload",
                    format!("must be \"module\" or \"attribute\", not \"{other}\""),
                ))
            }
        };
        let cross_origin = r.string("crossOrigin")?;
        if let Some(c) = &cross_origin {
            if c != "anonymous" && c != "use-credentials" {
                return Err(LoaderError::invalid(
                    "crossOrigin",
                    "must be \"anonymous\" or \"use-credentials\"",
                ));
            }
        }

        let widget_selector = r.string("widgetSelector")?;
        for (key, sel) in [
            (
                "container",
                match &container {
                    Container::Selector(s) => Some(s),
                    _ => None,
                },
            ),
            ("widgetSelector", widget_selector.as_ref()),
        ] {
            if let Some(sel) = sel {
                check_selector(key, sel)?;
            }
        }

        Ok(Options {
            token_url: token_url.href(),
            org,
            widget_src,
            container,
            check_interval_ms: r.number("checkIntervalMs", 1.0)?.unwrap_or(3_600_000.0),
            refresh_margin_ms: r.number("refreshMarginMs", 0.0)?,
            request_timeout_ms: r.number("requestTimeoutMs", 1.0)?.unwrap_or(10_000.0),
            max_retries: max_retries as u32,
            retry_delay_ms: r.number("retryDelayMs", 0.0)?.unwrap_or(500.0),
            fetch_init,
            fallback: fallback(r.get("fallback"), base)?,
            nonce: r.string("nonce")?,
            integrity: r.string("integrity")?,
            cross_origin,
            reload,
            widget_selector,
            loading_text: r
                .string("loadingText")?
                .unwrap_or_else(|| "Loading chat…".into()),
        })
    }
}

/// A selector the browser cannot parse is a typo to report now, not later.
fn check_selector(key: &str, sel: &str) -> Result<(), LoaderError> {
    let doc = web_sys::window().and_then(|w| w.document());
    match doc.map(|d| d.query_selector(sel)) {
        Some(Err(_)) => Err(LoaderError::invalid(
            key,
            format!("is not a valid CSS selector: \"{sel}\""),
        )),
        _ if sel.trim().is_empty() => Err(LoaderError::invalid(key, "must not be empty")),
        _ => Ok(()),
    }
}

struct Reader<'a> {
    obj: &'a Object,
    prefix: &'a str,
}

impl Reader<'_> {
    fn key(&self, key: &str) -> String {
        format!("{}{}", self.prefix, key)
    }

    /// The value, with `undefined` meaning "not given".
    fn get(&self, key: &str) -> Option<JsValue> {
        Reflect::get(self.obj, &key.into())
            .ok()
            .filter(|v| !v.is_undefined())
    }

    fn string(&self, key: &str) -> Result<Option<String>, LoaderError> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => v.as_string().map(Some).ok_or_else(|| {
                LoaderError::invalid(
                    &self.key(key),
                    format!("must be a string, got {}", type_name(&v)),
                )
            }),
        }
    }

    fn number(&self, key: &str, min: f64) -> Result<Option<f64>, LoaderError> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => match v.as_f64() {
                Some(n) if n.is_finite() && n >= min => Ok(Some(n)),
                Some(_) => Err(LoaderError::invalid(
                    &self.key(key),
                    format!(
                        "must be a finite number of milliseconds, at least {}",
                        min as u32
                    ),
                )),
                None => Err(LoaderError::invalid(
                    &self.key(key),
                    format!("must be a number, got {}", type_name(&v)),
                )),
            },
        }
    }
}

fn type_name(v: &JsValue) -> String {
    if v.is_null() {
        "null".into()
    } else if Array::is_array(v) {
        "an array".into()
    } else {
        v.js_typeof().as_string().unwrap_or_default()
    }
}

fn plain_object(v: &JsValue, key: &str, what: &str) -> Result<Object, LoaderError> {
    if v.is_object() && !Array::is_array(v) && !v.is_function() {
        Ok(v.clone().unchecked_into())
    } else {
        Err(LoaderError::invalid(
            key,
            format!("{what} (got {})", type_name(v)),
        ))
    }
}

fn reject_unknown(obj: &Object, known: &[&str], prefix: &str) -> Result<(), LoaderError> {
    for key in Object::keys(obj).iter().filter_map(|k| k.as_string()) {
        if !known.contains(&key.as_str()) {
            let hint = known
                .iter()
                .find(|k| k.eq_ignore_ascii_case(&key))
                .map(|k| format!("; did you mean `{prefix}{k}`?"))
                .unwrap_or_else(|| format!("; known options are: {}", list(known)));
            return Err(LoaderError::invalid(
                &format!("{prefix}{key}"),
                format!("is not a known option{hint}"),
            ));
        }
    }
    Ok(())
}

/// `a, b, c` for a message. A loop, not `[&str]::join`: its generic copy
/// routine costs about 1 KB of wasm.
pub fn list(items: &[&str]) -> String {
    let mut out = String::new();
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        out.push_str(item);
    }
    out
}

/// Parses `raw` against `base` and insists on `http:`/`https:`.
fn web_url(key: &str, raw: &str, base: &str) -> Result<web_sys::Url, LoaderError> {
    let url = web_sys::Url::new_with_base(raw, base)
        .map_err(|_| LoaderError::invalid(key, format!("is not a valid URL: \"{raw}\"")))?;
    if !validate::is_web_protocol(&url.protocol()) {
        return Err(LoaderError::invalid(
            key,
            format!("must be an http(s) URL, not \"{}\"", url.protocol()),
        ));
    }
    // `fetch` refuses such URLs, and error messages quote the URL: a
    // password there would reach logs and state events.
    if !url.username().is_empty() || !url.password().is_empty() {
        return Err(LoaderError::invalid(
            key,
            "must not contain a user name or password; send credentials as cookies (fetchInit.credentials) or a header (fetchInit.headers)",
        ));
    }
    Ok(url)
}

fn fetch_init(v: Option<JsValue>) -> Result<FetchInit, LoaderError> {
    let Some(v) = v else {
        return Ok(FetchInit::default());
    };
    let obj = plain_object(
        &v,
        "fetchInit",
        "must be an object such as { credentials: \"include\" }",
    )?;
    reject_unknown(&obj, FETCH_INIT_KEYS, "fetchInit.")?;
    let r = Reader {
        obj: &obj,
        prefix: "fetchInit.",
    };
    let one_of = |key: &str, allowed: &[&str]| -> Result<Option<String>, LoaderError> {
        match r.string(key)? {
            Some(s) if !allowed.contains(&s.as_str()) => Err(LoaderError::invalid(
                &format!("fetchInit.{key}"),
                format!("must be one of {}", list(allowed)),
            )),
            other => Ok(other),
        }
    };
    let mut headers = Vec::new();
    if let Some(h) = r.get("headers") {
        let h = plain_object(
            &h,
            "fetchInit.headers",
            "must be an object of header names to string values",
        )?;
        for entry in Object::entries(&h).iter() {
            let pair: Array = entry.unchecked_into();
            let (name, value) = (pair.get(0).as_string().unwrap_or_default(), pair.get(1));
            let Some(value) = value.as_string() else {
                return Err(LoaderError::invalid(
                    &format!("fetchInit.headers.{name}"),
                    "must be a string",
                ));
            };
            // A name or value `Headers` refuses would make every request
            // throw: refuse it now, naming it.
            if web_sys::Headers::new()
                .and_then(|h| h.set(&name, &value))
                .is_err()
            {
                return Err(LoaderError::invalid(
                    &format!("fetchInit.headers.{name}"),
                    "is not a valid HTTP header name and value",
                ));
            }
            headers.push((name, value));
        }
    }
    // Only values `fetch` accepts for a readable answer: "no-cors" gives an
    // opaque answer (no status, no body) and "only-if-cached" throws
    // outside same-origin mode, so both are refused here, not at run time.
    Ok(FetchInit {
        credentials: one_of("credentials", &["omit", "same-origin", "include"])?,
        headers,
        mode: one_of("mode", &["cors", "same-origin"])?,
        cache: one_of(
            "cache",
            &["default", "no-store", "reload", "no-cache", "force-cache"],
        )?,
        referrer_policy: one_of(
            "referrerPolicy",
            &[
                "",
                "no-referrer",
                "no-referrer-when-downgrade",
                "same-origin",
                "origin",
                "strict-origin",
                "origin-when-cross-origin",
                "strict-origin-when-cross-origin",
                "unsafe-url",
            ],
        )?,
    })
}

fn fallback(v: Option<JsValue>, base: &str) -> Result<Option<Fallback>, LoaderError> {
    let Some(v) = v else {
        return Ok(Some(Fallback::default()));
    };
    if v.as_bool() == Some(false) {
        return Ok(None);
    }
    let obj = plain_object(
        &v,
        "fallback",
        "must be an object { title, message, email, phone, url } or false",
    )?;
    reject_unknown(&obj, FALLBACK_KEYS, "fallback.")?;
    let r = Reader {
        obj: &obj,
        prefix: "fallback.",
    };
    let defaults = Fallback::default();
    let email = r.string("email")?;
    if let Some(e) = &email {
        if !validate::is_valid_email(e) {
            return Err(LoaderError::invalid(
                "fallback.email",
                format!("is not an e-mail address: \"{e}\""),
            ));
        }
    }
    let phone = match r.string("phone")? {
        None => None,
        Some(p) => match validate::tel_href(&p) {
            Some(href) => Some((p, href)),
            None => {
                return Err(LoaderError::invalid(
                    "fallback.phone",
                    format!("is not a phone number (digits, spaces, + - ( ) .): \"{p}\""),
                ))
            }
        },
    };
    let url = match r.string("url")? {
        None => None,
        Some(u) => {
            let parsed = web_url("fallback.url", &u, base)?;
            if parsed.protocol() != "https:" {
                return Err(LoaderError::invalid(
                    "fallback.url",
                    "must be an https: URL",
                ));
            }
            Some(parsed.href())
        }
    };
    Ok(Some(Fallback {
        title: r.string("title")?.unwrap_or(defaults.title),
        message: r.string("message")?.unwrap_or(defaults.message),
        email,
        phone,
        url,
        button_text: r.string("buttonText")?.unwrap_or(defaults.button_text),
    }))
}
