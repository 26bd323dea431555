//! The token service's settings, checked once at start-up.
//!
//! Every problem becomes a [`ConfigError`]: one line naming the setting
//! (flag and environment variable) and how to fix it. Secrets are held as
//! [`SecretString`] so they cannot reach a log or an error by accident.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use secrecy::SecretString;

/// The vendor's API base URL.
pub const DEFAULT_API_URL: &str = "https://chatapi.smsbat.com";
/// ChatHub refuses operator tokens that live longer than this.
pub const MAX_TOKEN_TTL: Duration = Duration::from_secs(24 * 60 * 60);

/// A setting that is missing or invalid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("configuration error: {setting} {problem}; {fix}")]
pub struct ConfigError {
    /// The setting, as the operator knows it (flag and environment variable).
    pub setting: String,
    /// What is wrong with it.
    pub problem: String,
    /// How to fix it.
    pub fix: String,
}

impl ConfigError {
    /// A new error about `setting`.
    pub fn new(
        setting: impl Into<String>,
        problem: impl Into<String>,
        fix: impl Into<String>,
    ) -> Self {
        ConfigError {
            setting: setting.into(),
            problem: problem.into(),
            fix: fix.into(),
        }
    }
}

/// How an organisation is found in ChatHub's `GET /api/company/organization` list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrgSelector {
    /// By its ChatHub id (compared as text).
    Id(String),
    /// By its exact name.
    Name(String),
}

impl fmt::Display for OrgSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OrgSelector::Id(id) => write!(f, "id:{id}"),
            OrgSelector::Name(name) => write!(f, "name:{name}"),
        }
    }
}

/// One organisation the page may ask for with `?org=KEY`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgConfig {
    /// How to find it upstream.
    pub selector: OrgSelector,
    /// The operator whose token is issued; `None` picks the first active one.
    pub operator_id: Option<String>,
}

/// Everything the upstream flow and the token cache need.
#[derive(Debug, Clone)]
pub struct Config {
    /// ChatHub API base URL, without a trailing slash.
    pub api_url: String,
    /// Company login.
    pub login: String,
    /// Company password.
    pub password: SecretString,
    /// The organisations pages may ask for, by public key.
    pub orgs: BTreeMap<String, OrgConfig>,
    /// The key used when a request names no organisation.
    pub default_org: String,
    /// Lifetime requested for each operator token (at most 24 h).
    pub token_ttl: Duration,
    /// A cached token is renewed once it has less than this (or a quarter
    /// of its lifetime, if more) left; never more than half its lifetime.
    pub refresh_margin: Duration,
    /// Time limit for each upstream call.
    pub upstream_timeout: Duration,
    /// Refresh-ahead, serve-while-valid and backoff settings.
    pub renewal: RenewalPolicy,
}

/// How cached tokens are renewed ahead of time, how long a token is still
/// served while renewal fails, and how the server backs off from a failing
/// ChatHub.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RenewalPolicy {
    /// Share of a token's lifetime after which it is renewed in the
    /// background (0.5 to 0.7; see [`crate::schedule`] for why not later).
    pub refresh_ahead: f64,
    /// While renewal fails, a cached token is still served while it has at
    /// least this long left, or 10 % of its lifetime when that is shorter.
    pub min_left: Duration,
    /// The first backoff window after an upstream failure; it doubles with
    /// each failure in a row.
    pub backoff_initial: Duration,
    /// The longest backoff window.
    pub backoff_max: Duration,
}

impl Default for RenewalPolicy {
    /// Renew at 70 %, serve while 60 s (or 10 %) are left, back off 1 s doubling to 60 s.
    fn default() -> Self {
        RenewalPolicy {
            refresh_ahead: 0.70,
            min_left: Duration::from_secs(60),
            backoff_initial: Duration::from_secs(1),
            backoff_max: Duration::from_secs(60),
        }
    }
}

/// The earliest accepted `refresh_ahead`.
pub const MIN_REFRESH_AHEAD: f64 = 0.5;
/// The latest accepted `refresh_ahead`: a token stops being handed out with
/// a quarter of its lifetime left (the loader refreshes 20 % before expiry
/// and must then get a new one), and its renewal starts early enough to be
/// done by then (a lead of up to 5 % of the lifetime). A later share would
/// never take effect.
pub const MAX_REFRESH_AHEAD: f64 = 0.7;

fn percent(share: f64) -> String {
    format!("{}%", (share * 1000.0).round() / 10.0)
}

impl RenewalPolicy {
    /// Checks the values against each other.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !(MIN_REFRESH_AHEAD..=MAX_REFRESH_AHEAD).contains(&self.refresh_ahead) {
            return Err(ConfigError::new(
                "CHATHUB_REFRESH_AHEAD (--refresh-ahead)",
                format!(
                    "is {}, out of range (a token stops being handed out once three quarters of its lifetime have passed, and its renewal must be done before that)",
                    percent(self.refresh_ahead)
                ),
                "use a share of the token lifetime between 50% and 70%, e.g. 70%",
            ));
        }
        if self.backoff_initial.is_zero() {
            return Err(ConfigError::new(
                "CHATHUB_BACKOFF_INITIAL (--backoff-initial)",
                "is zero",
                "use a duration such as 1s",
            ));
        }
        if self.backoff_initial > MAX_TIMEOUT || self.backoff_max > MAX_TIMEOUT {
            return Err(ConfigError::new(
                if self.backoff_initial > MAX_TIMEOUT {
                    "CHATHUB_BACKOFF_INITIAL (--backoff-initial)"
                } else {
                    "CHATHUB_BACKOFF_MAX (--backoff-max)"
                },
                "is longer than a day",
                "use a duration such as 60s",
            ));
        }
        if self.backoff_max < self.backoff_initial {
            return Err(ConfigError::new(
                "CHATHUB_BACKOFF_MAX (--backoff-max)",
                "is shorter than the first backoff window",
                "use a maximum of at least the first window, e.g. 60s",
            ));
        }
        Ok(())
    }
}

impl Config {
    /// Checks the values that depend on each other. Call after building by hand.
    pub fn validate(&self) -> Result<(), ConfigError> {
        validate_api_url(&self.api_url)?;
        if self.login.trim().is_empty() {
            return Err(ConfigError::new(
                "CHATHUB_LOGIN (--login)",
                "is empty",
                "set it to the ChatHub company login",
            ));
        }
        if self.orgs.is_empty() {
            return Err(missing_orgs());
        }
        if !self.orgs.contains_key(&self.default_org) {
            return Err(ConfigError::new(
                "CHATHUB_DEFAULT_ORG (--default-org)",
                format!("names `{}`, which is not in the org map", self.default_org),
                format!(
                    "use one of: {}",
                    self.orgs.keys().cloned().collect::<Vec<_>>().join(", ")
                ),
            ));
        }
        if self.token_ttl < Duration::from_secs(60) || self.token_ttl > MAX_TOKEN_TTL {
            return Err(ConfigError::new(
                "CHATHUB_TOKEN_TTL (--token-ttl)",
                "is out of range",
                "use a lifetime between 60s and 24h, e.g. 1h",
            ));
        }
        self.renewal.validate()?;
        if self.upstream_timeout.is_zero() {
            return Err(ConfigError::new(
                "CHATHUB_UPSTREAM_TIMEOUT (--upstream-timeout)",
                "is zero",
                "use a duration such as 10s",
            ));
        }
        Ok(())
    }

    /// The org entry for `key`, if configured.
    pub fn org(&self, key: &str) -> Option<&OrgConfig> {
        self.orgs.get(key)
    }
}

fn missing_orgs() -> ConfigError {
    ConfigError::new(
        "CHATHUB_ORGS (--org)",
        "is missing",
        "name at least one organisation, e.g. CHATHUB_ORGS=\"sales=name:Sales,support=id:42\"",
    )
}

/// Why a single value was refused: what is wrong with it and how to fix
/// it. The value parsers below return it; whoever knows which setting the
/// value belongs to turns it into a [`ConfigError`] ([`ValueError::setting`]),
/// so a parser does not repeat its setting's name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{problem}; {fix}")]
pub struct ValueError {
    /// What is wrong, naming the value (`has an invalid duration `soon``).
    pub problem: String,
    /// How to fix it.
    pub fix: String,
}

impl ValueError {
    /// A new refusal.
    pub fn new(problem: impl Into<String>, fix: impl Into<String>) -> Self {
        ValueError {
            problem: problem.into(),
            fix: fix.into(),
        }
    }

    /// The same refusal as a [`ConfigError`] about `setting`.
    pub fn setting(self, setting: impl Into<String>) -> ConfigError {
        ConfigError::new(setting, self.problem, self.fix)
    }
}

/// Checks that `url` is an absolute http(s) URL.
pub fn validate_api_url(url: &str) -> Result<(), ConfigError> {
    api_url(url)
        .map(drop)
        .map_err(|e| e.setting("CHATHUB_API_URL (--api-url)"))
}

/// An absolute http(s) URL without credentials in it (the ChatHub API base).
pub fn api_url(value: &str) -> Result<String, ValueError> {
    match reqwest::Url::parse(value.trim()) {
        Ok(u)
            if (u.scheme() == "https" || u.scheme() == "http")
                && u.host().is_some()
                && u.username().is_empty()
                && u.password().is_none() =>
        {
            Ok(value.trim().trim_end_matches('/').to_owned())
        }
        _ => Err(ValueError::new(
            "is not an absolute http(s) URL without user or password",
            format!("use the ChatHub API base, e.g. {DEFAULT_API_URL}"),
        )),
    }
}

/// A `KEY=VALUE` entry, split; refusals say how to write one (`fix`).
fn entry<'a>(
    entry: &'a str,
    fix: &'static str,
) -> Result<(&'a str, &'a str, impl Fn(&str) -> ValueError + 'a), ValueError> {
    let entry = entry.trim();
    let invalid = move |problem: &str| {
        ValueError::new(format!("has an invalid entry `{entry}` ({problem})"), fix)
    };
    let (key, value) = entry.split_once('=').ok_or_else(|| invalid("no `=`"))?;
    Ok((key.trim(), value, invalid))
}

/// One org entry: `sales=name:Sales` or `support=id:42`.
pub fn org_entry(text: &str) -> Result<(String, OrgSelector), ValueError> {
    let (key, selector, invalid) = entry(
        text,
        "write entries as KEY=id:ID or KEY=name:NAME, e.g. sales=name:Sales",
    )?;
    if !is_valid_key(key) {
        return Err(invalid("the key must be 1-64 letters, digits, `-` or `_`"));
    }
    let selector = if let Some(id) = selector.strip_prefix("id:") {
        OrgSelector::Id(id.trim().to_owned())
    } else if let Some(name) = selector.strip_prefix("name:") {
        OrgSelector::Name(name.trim().to_owned())
    } else {
        return Err(invalid("the value must start with `id:` or `name:`"));
    };
    if matches!(&selector, OrgSelector::Id(v) | OrgSelector::Name(v) if v.is_empty()) {
        return Err(invalid("empty id or name"));
    }
    Ok((key.to_owned(), selector))
}

/// Each non-empty entry through `parse`; a refusal names `setting`.
fn parse_all<T>(
    entries: &[String],
    parse: fn(&str) -> Result<T, ValueError>,
    setting: &str,
) -> Result<Vec<T>, ConfigError> {
    entries
        .iter()
        .filter(|e| !e.trim().is_empty())
        .map(|e| parse(e).map_err(|e| e.setting(setting)))
        .collect()
}

/// Parses org entries such as `sales=name:Sales` or `support=id:42`.
pub fn parse_orgs(entries: &[String]) -> Result<BTreeMap<String, OrgConfig>, ConfigError> {
    orgs_from(parse_all(entries, org_entry, "CHATHUB_ORGS (--org)")?)
}

/// The org map from parsed entries: each key once, at least one.
pub fn orgs_from(
    entries: Vec<(String, OrgSelector)>,
) -> Result<BTreeMap<String, OrgConfig>, ConfigError> {
    let mut orgs = BTreeMap::new();
    for (key, selector) in entries {
        let org = OrgConfig {
            selector,
            operator_id: None,
        };
        if orgs.insert(key.clone(), org).is_some() {
            return Err(ConfigError::new(
                "CHATHUB_ORGS (--org)",
                format!("names the key `{key}` twice"),
                "give each organisation its own key",
            ));
        }
    }
    if orgs.is_empty() {
        return Err(missing_orgs());
    }
    Ok(orgs)
}

/// One operator entry: `sales=17`.
pub fn operator_entry(text: &str) -> Result<(String, String), ValueError> {
    let (key, id, invalid) = entry(text, "write entries as ORG_KEY=OPERATOR_ID, e.g. sales=17")?;
    let id = id.trim();
    if id.is_empty() {
        return Err(invalid("empty operator id"));
    }
    Ok((key.to_owned(), id.to_owned()))
}

/// Applies operator entries such as `sales=17` to parsed orgs.
pub fn apply_operators(
    orgs: &mut BTreeMap<String, OrgConfig>,
    entries: &[String],
) -> Result<(), ConfigError> {
    let parsed = parse_all(entries, operator_entry, "CHATHUB_OPERATORS (--operator)")?;
    set_operators(orgs, parsed)
}

/// Sets each org's operator from parsed `(org key, operator id)` entries.
pub fn set_operators(
    orgs: &mut BTreeMap<String, OrgConfig>,
    entries: Vec<(String, String)>,
) -> Result<(), ConfigError> {
    for (key, id) in entries {
        let org = orgs.get_mut(&key).ok_or_else(|| {
            ConfigError::new(
                "CHATHUB_OPERATORS (--operator)",
                format!("names `{key}`, which is not in CHATHUB_ORGS"),
                "write entries as ORG_KEY=OPERATOR_ID for configured orgs, e.g. sales=17",
            )
        })?;
        org.operator_id = Some(id);
    }
    Ok(())
}

/// Whether `key` may name an organisation in `?org=`.
pub fn is_valid_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= 64
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Parses `90`, `90s`, `250ms`, `15m`, `1h` or `1d` into a duration.
pub fn duration(value: &str) -> Result<Duration, ValueError> {
    let v = value.trim();
    let (digits, unit) = match v.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => v.split_at(i),
        None => (v, "s"),
    };
    let factor = match unit {
        "ms" => Some(0),
        "s" => Some(1),
        "m" => Some(60),
        "h" => Some(3600),
        "d" => Some(86_400),
        _ => None,
    };
    let parsed = match (digits.parse::<u64>().ok(), factor) {
        (Some(n), Some(0)) => Some(Duration::from_millis(n)),
        (Some(n), Some(f)) => n.checked_mul(f).map(Duration::from_secs),
        _ => None,
    };
    parsed.ok_or_else(|| {
        ValueError::new(
            format!("has an invalid duration `{value}`"),
            "write a number with an optional unit: ms, s, m, h or d (e.g. 90s, 15m, 1h)",
        )
    })
}

/// A duration that is not zero.
pub fn positive_duration(value: &str) -> Result<Duration, ValueError> {
    match duration(value)? {
        d if d.is_zero() => Err(ValueError::new("is zero", "use a duration such as 10s")),
        d => Ok(d),
    }
}

/// The longest connection or request timeout accepted (a day).
pub const MAX_TIMEOUT: Duration = Duration::from_secs(24 * 60 * 60);

/// A timeout: more than zero, at most [`MAX_TIMEOUT`].
pub fn timeout(value: &str) -> Result<Duration, ValueError> {
    at_most_a_day(positive_duration(value)?, value)
}

/// `d` (parsed from `value`) if it is at most [`MAX_TIMEOUT`].
fn at_most_a_day(d: Duration, value: &str) -> Result<Duration, ValueError> {
    if d > MAX_TIMEOUT {
        return Err(ValueError::new(
            format!("is longer than a day `{value}`"),
            "use a duration such as 10s",
        ));
    }
    Ok(d)
}

/// A delay: zero or more, at most [`MAX_TIMEOUT`].
pub fn delay(value: &str) -> Result<Duration, ValueError> {
    at_most_a_day(duration(value)?, value)
}

/// Parses `90s`-style durations for a named setting (see [`duration`]).
pub fn parse_duration(setting: &str, value: &str) -> Result<Duration, ConfigError> {
    duration(value).map_err(|e| e.setting(setting))
}

/// A share of a lifetime: `70%` or `0.7`.
pub fn share(value: &str) -> Result<f64, ValueError> {
    let v = value.trim();
    let parsed = match v.strip_suffix('%') {
        Some(pct) => pct.trim().parse::<f64>().ok().map(|p| p / 100.0),
        None => v.parse::<f64>().ok(),
    };
    parsed.filter(|x| x.is_finite()).ok_or_else(|| {
        ValueError::new(
            format!("has an invalid share `{value}`"),
            "write a percentage or a fraction, e.g. 70% or 0.7",
        )
    })
}

/// A positive whole number.
pub fn count(value: &str) -> Result<u32, ValueError> {
    value
        .trim()
        .parse::<u32>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| {
            ValueError::new(
                format!("is not a positive whole number `{value}`"),
                "write a number such as 50",
            )
        })
}

/// A whole number from `min` to `max`, `what` naming its unit in the fix.
fn count_between(value: &str, min: u32, max: u32, what: &str) -> Result<u32, ValueError> {
    let n = value.trim().parse::<u64>().ok();
    match n {
        Some(n) if (u64::from(min)..=u64::from(max)).contains(&n) => Ok(n as u32),
        _ => Err(ValueError::new(
            format!("is not a whole number from {min} to {max} `{value}`"),
            format!("use {what} in that range"),
        )),
    }
}

/// Longest request URI, in bytes: 256 (room for `/healthz` and a query)
/// to 64 KiB (past about that, the HTTP parser refuses a URI by itself).
pub fn uri_bytes(value: &str) -> Result<u32, ValueError> {
    count_between(value, 256, 64 * 1024, "a URI length such as 2048")
}

/// Largest request header section, in bytes: 1 KiB to 1 MiB (the
/// connection layer buffers four times this per connection).
pub fn header_bytes(value: &str) -> Result<u32, ValueError> {
    count_between(value, 1024, 1024 * 1024, "a size such as 16384")
}

/// Most request headers: 16 (what a browser sends to `/healthz`) to 1000.
pub fn header_count(value: &str) -> Result<u32, ValueError> {
    count_between(value, 16, 1000, "a count such as 100")
}

/// Open connections at most: 1 to 1,000,000.
pub fn connections(value: &str) -> Result<u32, ValueError> {
    count_between(value, 1, 1_000_000, "a count such as 2048")
}

/// A cap that can be turned off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cap {
    /// No cap.
    Off,
    /// At most this many.
    At(u32),
}

/// Parses a positive whole number, or `off`.
pub fn cap(value: &str) -> Result<Cap, ValueError> {
    if value.trim().eq_ignore_ascii_case("off") {
        return Ok(Cap::Off);
    }
    count(value).map(Cap::At).map_err(|_| {
        ValueError::new(
            format!("is not a positive whole number or off `{value}`"),
            "write a number such as 64, or off",
        )
    })
}

/// A per-client request rate, or none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rate {
    /// No limit.
    Off,
    /// One more request is allowed per this period (100 ms is 10/s).
    Every(Duration),
}

/// Parses a request rate such as `10/s`, `600/m`, `1000/h` or `off`.
pub fn rate(value: &str) -> Result<Rate, ValueError> {
    let v = value.trim();
    if v.eq_ignore_ascii_case("off") {
        return Ok(Rate::Off);
    }
    let bad = || {
        ValueError::new(
            format!("has an invalid rate `{value}`"),
            "write requests per second, minute or hour (10/s, 600/m, 1000/h), or off",
        )
    };
    let (n, unit) = v.split_once('/').ok_or_else(bad)?;
    let n: u32 = n.trim().parse().ok().filter(|n| *n > 0).ok_or_else(bad)?;
    let per = match unit.trim() {
        "s" => Duration::from_secs(1),
        "m" => Duration::from_secs(60),
        "h" => Duration::from_secs(3600),
        _ => return Err(bad()),
    };
    match per / n {
        period if period.is_zero() => Err(bad()),
        period => Ok(Rate::Every(period)),
    }
}

/// A header name (`x-forwarded-for`).
pub fn header_name(value: &str) -> Result<axum::http::HeaderName, ValueError> {
    axum::http::HeaderName::try_from(value.trim()).map_err(|_| {
        ValueError::new(
            format!("is not a valid header name `{value}`"),
            "use a header name such as x-forwarded-for",
        )
    })
}

/// The header a trusted proxy sets to the client's address: any but
/// `Forwarded` (RFC 7239), whose `for=` parameter is not parsed.
pub fn client_ip_header(value: &str) -> Result<axum::http::HeaderName, ValueError> {
    let name = header_name(value)?;
    if name == axum::http::header::FORWARDED {
        return Err(ValueError::new(
            "is Forwarded (RFC 7239), which is not supported",
            "have the proxy set X-Forwarded-For or X-Real-IP and name that header",
        ));
    }
    Ok(name)
}

/// Whether `url`'s host is this machine (`localhost` or a loopback address).
pub fn is_loopback_url(url: &str) -> bool {
    let Some(host) = reqwest::Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_ascii_lowercase))
    else {
        return false;
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    match host.parse::<std::net::IpAddr>() {
        Ok(ip) => ip.is_loopback(),
        Err(_) => {
            let name = host.trim_end_matches('.');
            name == "localhost" || name.ends_with(".localhost")
        }
    }
}

/// An `IP:PORT` socket address.
pub fn socket_addr(value: &str) -> Result<std::net::SocketAddr, ValueError> {
    value.trim().parse().map_err(|_| {
        ValueError::new(
            format!("is not an address `{value}`"),
            "use IP:PORT, e.g. 127.0.0.1:8080",
        )
    })
}

/// One allowed CORS origin, normalised to what a browser sends in
/// `Origin`: lower-case scheme and host (IDN hosts in punycode), no default
/// port, no trailing slash. `https://Shop.example.com:443/` becomes
/// `https://shop.example.com`; a browser never sends the first form, so
/// stored verbatim it would never match.
pub fn origin(value: &str) -> Result<String, ValueError> {
    let entry = value.trim();
    let refuse = |why: &str| {
        ValueError::new(
            format!("has an invalid origin `{entry}` ({why})"),
            "write origins as scheme://host[:port], e.g. https://shop.example.com",
        )
    };
    if entry == "*" {
        return Err(refuse(
            "a wildcard cannot be combined with credentials; list each origin",
        ));
    }
    let url = reqwest::Url::parse(entry).map_err(|_| refuse("not a URL"))?;
    if url.scheme() != "https" && url.scheme() != "http" {
        return Err(refuse("the scheme must be http or https"));
    }
    if url.host().is_none() || !url.username().is_empty() || url.password().is_some() {
        return Err(refuse("it needs a host and no user or password"));
    }
    if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
        return Err(refuse("an origin has no path, query or fragment"));
    }
    Ok(url.origin().ascii_serialization())
}

/// Parses a list of allowed CORS origins (see [`origin`]); duplicates
/// after normalisation are dropped.
pub fn parse_origins(entries: &[String]) -> Result<Vec<String>, ConfigError> {
    let mut out: Vec<String> = Vec::new();
    for entry in entries.iter().filter(|e| !e.trim().is_empty()) {
        let origin =
            origin(entry).map_err(|e| e.setting("CHATHUB_ALLOWED_ORIGINS (--allowed-origin)"))?;
        if !out.contains(&origin) {
            out.push(origin);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_org_entries() {
        let orgs = parse_orgs(&["sales=name:Sales Team".into(), "support=id:42".into()]).unwrap();
        assert_eq!(
            orgs["sales"].selector,
            OrgSelector::Name("Sales Team".into())
        );
        assert_eq!(orgs["support"].selector, OrgSelector::Id("42".into()));
        assert!(parse_orgs(&["sales".into()]).is_err());
        assert!(parse_orgs(&["sa les=id:1".into()]).is_err());
        assert!(parse_orgs(&["a=id:1".into(), "a=id:2".into()]).is_err());
    }

    #[test]
    fn parses_durations() {
        let s = Duration::from_secs;
        assert_eq!(duration("90").unwrap(), s(90));
        assert_eq!(duration("15m").unwrap(), s(900));
        assert_eq!(duration("1h").unwrap(), s(3600));
        assert_eq!(duration("250ms").unwrap(), Duration::from_millis(250));
        for bad in ["1y", "h", "", "-1s", "99999999999999999999d"] {
            assert!(duration(bad).is_err(), "{bad}");
        }
        assert!(positive_duration("0s").is_err());
    }

    #[test]
    fn parses_shares_and_rates() {
        assert_eq!(share("75%").unwrap(), 0.75);
        assert_eq!(share("0.8").unwrap(), 0.8);
        assert!(share("most").is_err());
        assert_eq!(
            rate("10/s").unwrap(),
            Rate::Every(Duration::from_millis(100))
        );
        assert_eq!(
            rate("600/m").unwrap(),
            Rate::Every(Duration::from_millis(100))
        );
        assert_eq!(rate("off").unwrap(), Rate::Off);
        for bad in ["10", "0/s", "x/s", "10/d", "-1/s"] {
            assert!(rate(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_default_renewal_policy_is_valid_and_bad_ones_are_named() {
        assert!(RenewalPolicy::default().validate().is_ok());
        let share = RenewalPolicy {
            refresh_ahead: 0.99,
            ..RenewalPolicy::default()
        };
        assert!(share
            .validate()
            .unwrap_err()
            .setting
            .contains("REFRESH_AHEAD"));
        let backoff = RenewalPolicy {
            backoff_max: Duration::from_millis(10),
            ..RenewalPolicy::default()
        };
        assert!(backoff.validate().unwrap_err().setting.contains("BACKOFF"));
    }

    #[test]
    fn loopback_urls_are_told_from_others() {
        for url in [
            "http://127.0.0.1:9",
            "http://127.1.2.3",
            "http://[::1]:8080",
            "http://localhost:1",
            "http://LocalHost.",
            "http://api.localhost",
        ] {
            assert!(is_loopback_url(url), "{url}");
        }
        for url in [
            "http://chatapi.example.com",
            "http://10.0.0.1",
            "http://[2001:db8::1]",
            "http://localhost.example.com",
            "nonsense",
        ] {
            assert!(!is_loopback_url(url), "{url}");
        }
    }

    #[test]
    fn size_and_count_limits_have_sane_bounds() {
        assert_eq!(uri_bytes("2048"), Ok(2048));
        assert!(uri_bytes("255").is_err() && uri_bytes("70000").is_err());
        assert_eq!(header_bytes("1048576"), Ok(1_048_576));
        assert!(header_bytes("1048577").is_err() && header_bytes("1023").is_err());
        assert!(header_count("15").is_err() && header_count("1001").is_err());
        assert!(connections("0").is_err() && connections("1000001").is_err());
        assert!(client_ip_header("forwarded").is_err());
        assert!(client_ip_header("X-Forwarded-For").is_ok());
        let long = RenewalPolicy {
            backoff_max: MAX_TIMEOUT + Duration::from_secs(1),
            ..RenewalPolicy::default()
        };
        assert!(long.validate().unwrap_err().setting.contains("BACKOFF_MAX"));
    }

    #[test]
    fn origins_are_normalised_to_what_a_browser_sends() {
        for (given, stored) in [
            ("https://shop.example.com", "https://shop.example.com"),
            ("https://Shop.Example.COM", "https://shop.example.com"),
            ("HTTPS://shop.example.com:443", "https://shop.example.com"),
            ("http://shop.example.com:80/", "http://shop.example.com"),
            (
                "https://shop.example.com:8443",
                "https://shop.example.com:8443",
            ),
            ("https://bücher.example", "https://xn--bcher-kva.example"),
            ("http://[::1]:8080", "http://[::1]:8080"),
        ] {
            assert_eq!(origin(given).as_deref(), Ok(stored), "{given}");
        }
        for bad in [
            "https://a.example/x",
            "https://a.example?x=1",
            "https://a.example/#x",
            "a.example",
            "ftp://a.example",
            "https://user@a.example",
            "*",
            "null",
        ] {
            assert!(origin(bad).is_err(), "{bad}");
        }
        assert_eq!(
            parse_origins(&["https://A.example".into(), "https://a.example:443".into()]).unwrap(),
            ["https://a.example"]
        );
    }
}
