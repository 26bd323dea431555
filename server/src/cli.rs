//! The command line. Every setting is a flag and an environment variable,
//! parsed by a typed value parser from [`crate::config`]; [`parse`] turns a
//! refused value into one line naming the setting (`CHATHUB_TOKEN_TTL
//! (--token-ttl) has an invalid duration `soon`; write ...`) from the
//! flag's own definition, so no setting's name is written twice. Settings
//! that depend on each other are checked by the builders here and by
//! [`Config::validate`]. Environment values are never shown by `--help`.

use std::net::SocketAddr;
#[cfg(feature = "dev")]
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::http::HeaderName;
use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};
use secrecy::{ExposeSecret, SecretString};

use crate::auth::{AllowAll, Authorizer, BearerSecret, ProxyHeader};
use crate::config::{self, Cap, Config, ConfigError, OrgSelector, Rate, RenewalPolicy, ValueError};
use crate::limits::{HttpOptions, Limits, RateLimit};
use crate::server::{head_buffer, ServeOptions};
use crate::shutdown::Shutdown;

/// Hands pages a short-lived ChatHub operator token; company credentials
/// never leave the server.
#[derive(Parser, Debug)]
#[command(
    name = "chathub-token-server",
    version,
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    /// What to run (default: serve).
    #[command(subcommand)]
    pub command: Option<Command>,
    /// The settings of `serve`, also accepted without the subcommand.
    #[command(flatten)]
    pub serve: ServeArgs,
    /// Log format: text, or json (one JSON object per line).
    #[arg(
        long,
        global = true,
        env = "CHATHUB_LOG_FORMAT",
        default_value = "text"
    )]
    pub log_format: LogFormat,
}

/// The log format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// The subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the token service against ChatHub (the default).
    Serve(Box<ServeArgs>),
    /// Run offline on one port: fake ChatHub API, token endpoint, stand-in
    /// widget and the demo page. Not for production.
    #[cfg(feature = "dev")]
    Dev(DevArgs),
}

/// Who may get a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AuthMode {
    /// A trusted reverse proxy names the user in a header.
    ProxyHeader,
    /// The caller sends `Authorization: Bearer <shared secret>`.
    Bearer,
    /// Everyone (needs --allow-unauthenticated).
    None,
}

/// Parses `--www`: a directory that exists (its absolute path), so a
/// site that was not built yet, or a path given from another directory,
/// stops the start with the path it was looked for at, not with a 404 for
/// every page.
pub fn site_dir(value: &str) -> Result<PathBuf, ValueError> {
    let given = PathBuf::from(value.trim());
    let absolute = std::path::absolute(&given).unwrap_or_else(|_| given.clone());
    match std::fs::metadata(&absolute) {
        Ok(m) if m.is_dir() => Ok(std::fs::canonicalize(&absolute).unwrap_or(absolute)),
        Ok(_) => Err(ValueError::new(
            format!("names a file, not a folder: `{}`", absolute.display()),
            "give the folder your site was built into (for example dist/)",
        )),
        Err(_) => Err(ValueError::new(
            format!("names a folder that does not exist: `{}`", absolute.display()),
            "build the site first (npm run build writes dist/), or give its path from the directory you run this command in",
        )),
    }
}

/// Where `/metrics` is served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricsBind {
    /// On the token listener.
    Same,
    /// Nowhere.
    Off,
    /// On a listener of its own.
    At(SocketAddr),
}

/// Parses `same`, `off` or `IP:PORT`.
pub fn metrics_bind(value: &str) -> Result<MetricsBind, ValueError> {
    match value.trim() {
        v if v.eq_ignore_ascii_case("same") => Ok(MetricsBind::Same),
        v if v.eq_ignore_ascii_case("off") => Ok(MetricsBind::Off),
        v => config::socket_addr(v).map(MetricsBind::At).map_err(|_| {
            ValueError::new(
                format!("is not same, off or an address `{value}`"),
                "use same (the token listener), off, or IP:PORT such as 127.0.0.1:9090",
            )
        }),
    }
}

/// The settings of `serve`.
#[derive(Args, Debug)]
pub struct ServeArgs {
    /// ChatHub API base URL (https, or http on loopback unless --allow-http-api-url).
    #[arg(long, env = "CHATHUB_API_URL", default_value = config::DEFAULT_API_URL, value_parser = config::api_url)]
    pub api_url: String,
    /// Allow an http:// (unencrypted) ChatHub API URL on another host: the company password would travel in clear.
    #[arg(long, env = "CHATHUB_ALLOW_HTTP_API_URL")]
    pub allow_http_api_url: bool,
    /// Company login.
    #[arg(long, env = "CHATHUB_LOGIN")]
    pub login: Option<String>,
    /// File holding the company password (else the CHATHUB_PASSWORD variable).
    #[arg(long, env = "CHATHUB_PASSWORD_FILE")]
    pub password_file: Option<PathBuf>,
    /// Organisations pages may ask for: KEY=id:ID or KEY=name:NAME (repeat, or comma-separate).
    #[arg(long = "org", env = "CHATHUB_ORGS", value_delimiter = ',', value_parser = config::org_entry)]
    pub orgs: Vec<(String, OrgSelector)>,
    /// Operator per organisation: KEY=OPERATOR_ID (default: the first active one).
    #[arg(long = "operator", env = "CHATHUB_OPERATORS", value_delimiter = ',', value_parser = config::operator_entry)]
    pub operators: Vec<(String, String)>,
    /// Organisation used without ?org= (default: the first --org).
    #[arg(long, env = "CHATHUB_DEFAULT_ORG")]
    pub default_org: Option<String>,
    /// Operator token lifetime (60s to 24h).
    #[arg(long, env = "CHATHUB_TOKEN_TTL", default_value = "1h", value_parser = config::duration)]
    pub token_ttl: Duration,
    /// Stop handing out a cached token this long (or a quarter of its lifetime, if more) before it expires.
    #[arg(long, env = "CHATHUB_REFRESH_MARGIN", default_value = "5m", value_parser = config::duration)]
    pub refresh_margin: Duration,
    /// Time limit for each ChatHub call.
    #[arg(long, env = "CHATHUB_UPSTREAM_TIMEOUT", default_value = "10s", value_parser = config::timeout)]
    pub upstream_timeout: Duration,
    /// Renew cached tokens in the background once this share (50% to 70%) of their lifetime has passed.
    #[arg(long, env = "CHATHUB_REFRESH_AHEAD", default_value = "70%", value_parser = config::share)]
    pub refresh_ahead: f64,
    /// While ChatHub fails, keep serving a cached token while this long (or 10% of its lifetime, if shorter) is left.
    #[arg(long, env = "CHATHUB_MIN_TOKEN_LEFT", default_value = "60s", value_parser = config::duration)]
    pub min_token_left: Duration,
    /// After a ChatHub failure, wait this long before the next attempt (doubling per failure).
    #[arg(long, env = "CHATHUB_BACKOFF_INITIAL", default_value = "1s", value_parser = config::timeout)]
    pub backoff_initial: Duration,
    /// The longest wait between attempts while ChatHub keeps failing.
    #[arg(long, env = "CHATHUB_BACKOFF_MAX", default_value = "60s", value_parser = config::timeout)]
    pub backoff_max: Duration,
    /// Token requests allowed per client: 10/s, 600/m, 1000/h, or off.
    #[arg(long, env = "CHATHUB_RATE_LIMIT", default_value = "10/s", value_parser = config::rate)]
    pub rate_limit: Rate,
    /// Requests a client may make at once before the rate applies.
    #[arg(long, env = "CHATHUB_RATE_LIMIT_BURST", default_value = "50", value_parser = config::count)]
    pub rate_limit_burst: u32,
    /// Header the trusted reverse proxy sets to the client's address (x-real-ip, x-forwarded-for); default: the peer address.
    #[arg(long, env = "CHATHUB_CLIENT_IP_HEADER", value_parser = config::client_ip_header)]
    pub client_ip_header: Option<HeaderName>,
    /// Longest request URI, in bytes, 256 to 65536 (then 414).
    #[arg(long, env = "CHATHUB_MAX_URI_BYTES", default_value = "2048", value_parser = config::uri_bytes)]
    pub max_uri_bytes: u32,
    /// Largest request header section, in bytes, 1024 to 1048576 (then 431).
    #[arg(long, env = "CHATHUB_MAX_HEADER_BYTES", default_value = "16384", value_parser = config::header_bytes)]
    pub max_header_bytes: u32,
    /// Most request headers, 16 to 1000 (then 431).
    #[arg(long, env = "CHATHUB_MAX_HEADERS", default_value = "100", value_parser = config::header_count)]
    pub max_headers: u32,
    /// Longest time to answer a request (then 504).
    #[arg(long, env = "CHATHUB_REQUEST_TIMEOUT", default_value = "10s", value_parser = config::timeout)]
    pub request_timeout: Duration,
    /// Longest time to receive a request head, from its first byte (on a new connection: from the accept).
    #[arg(long, env = "CHATHUB_HEADER_READ_TIMEOUT", default_value = "10s", value_parser = config::timeout)]
    pub header_read_timeout: Duration,
    /// Close a connection kept alive with no request, or on which no byte moves while the server waits on the client, after this long.
    #[arg(long, env = "CHATHUB_IDLE_TIMEOUT", default_value = "60s", value_parser = config::timeout)]
    pub idle_timeout: Duration,
    /// Open connections at most, up to 1000000 (more wait to be accepted).
    #[arg(long, env = "CHATHUB_MAX_CONNECTIONS", default_value = "2048", value_parser = config::connections)]
    pub max_connections: u32,
    /// Open connections per client address at most, or off (default: 64, or off with --client-ip-header, where the peer is the proxy).
    #[arg(long, env = "CHATHUB_MAX_CONNECTIONS_PER_CLIENT", value_parser = config::cap)]
    pub max_connections_per_client: Option<Cap>,
    /// After SIGTERM, keep accepting connections this long (with /readyz answering 503).
    #[arg(long, env = "CHATHUB_SHUTDOWN_DELAY", default_value = "0s", value_parser = config::delay)]
    pub shutdown_delay: Duration,
    /// After SIGTERM, drop the connections still open after this long (at least the request timeout).
    #[arg(long, env = "CHATHUB_SHUTDOWN_TIMEOUT", default_value = "15s", value_parser = config::timeout)]
    pub shutdown_timeout: Duration,
    /// Address to listen on.
    #[arg(long, env = "CHATHUB_BIND", default_value = "127.0.0.1:8080", value_parser = config::socket_addr)]
    pub bind: SocketAddr,
    /// Where /metrics is served: same (the token listener), off, or IP:PORT of its own.
    #[arg(long, env = "CHATHUB_METRICS_BIND", default_value = "same", value_parser = metrics_bind)]
    pub metrics_bind: MetricsBind,
    /// Origins allowed to call the token endpoint cross-origin (repeat, or comma-separate).
    #[arg(long = "allowed-origin", env = "CHATHUB_ALLOWED_ORIGINS", value_delimiter = ',', value_parser = config::origin)]
    pub allowed_origins: Vec<String>,
    /// Who may get a token: proxy-header, bearer or none.
    #[arg(long, env = "CHATHUB_AUTH")]
    pub auth: Option<AuthMode>,
    /// proxy-header mode: the header the trusted proxy sets.
    #[arg(long, env = "CHATHUB_AUTH_HEADER", default_value = "x-forwarded-user", value_parser = config::header_name)]
    pub auth_header: HeaderName,
    /// bearer mode: file holding the shared secret (else the CHATHUB_AUTH_BEARER_SECRET variable).
    #[arg(long, env = "CHATHUB_AUTH_BEARER_SECRET_FILE")]
    pub auth_bearer_secret_file: Option<PathBuf>,
    /// Allow --auth none outside dev mode (anyone who reaches the service gets a token).
    #[arg(long, env = "CHATHUB_ALLOW_UNAUTHENTICATED")]
    pub allow_unauthenticated: bool,
}

/// The settings of `dev`.
#[cfg(feature = "dev")]
#[derive(Args, Debug)]
pub struct DevArgs {
    /// Port to listen on.
    #[arg(long, env = "PORT", default_value_t = 8080)]
    pub port: u16,
    /// Address to listen on (loopback unless --allow-non-loopback).
    #[arg(long, default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    pub host: IpAddr,
    /// Allow listening on a non-loopback address (the fake API and admin knobs become reachable).
    #[arg(long)]
    pub allow_non_loopback: bool,
    /// The site to serve (default: the demo page, www/); a directory's index.html at DIR/ (DIR redirects to DIR/).
    #[arg(long, value_parser = site_dir)]
    pub www: Option<PathBuf>,
    /// The built loader package directory.
    #[arg(long)]
    pub pkg: Option<PathBuf>,
    /// Operator token lifetime the token endpoint asks for.
    #[arg(long, default_value = "1h", value_parser = config::duration)]
    pub token_ttl: Duration,
    /// Time limit for each call to the fake API.
    #[arg(long, default_value = "5s", value_parser = config::positive_duration)]
    pub upstream_timeout: Duration,
    /// Token requests allowed per client (10/s, 600/m, ...); off by default in dev mode.
    #[arg(long, default_value = "off", value_parser = config::rate)]
    pub rate_limit: Rate,
    /// Requests a client may make at once before the rate applies.
    #[arg(long, default_value = "50", value_parser = config::count)]
    pub rate_limit_burst: u32,
}

/// The command with every environment value hidden from `--help`.
pub fn command() -> clap::Command {
    Cli::command()
        .mut_args(|a| a.hide_env_values(true))
        .mut_subcommands(|c| c.mut_args(|a| a.hide_env_values(true)))
}

/// Why the command line could not be used.
#[derive(Debug)]
pub enum ParseError {
    /// A setting's value was refused: one line naming it.
    Setting(ConfigError),
    /// Anything else clap has to say (help, version, an unknown flag).
    Clap(clap::Error),
}

/// Parses the process's arguments and environment.
pub fn parse() -> Result<Cli, ParseError> {
    parse_from(std::env::args_os())
}

/// Parses `args` (the first is the program name) and the environment.
pub fn parse_from<I, T>(args: I) -> Result<Cli, ParseError>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let command = command();
    let matches = command.clone().try_get_matches_from(args).map_err(|e| {
        match setting_error(&command, &e) {
            Some(setting) => ParseError::Setting(setting),
            None => ParseError::Clap(e),
        }
    })?;
    Cli::from_arg_matches(&matches).map_err(ParseError::Clap)
}

/// A refused value as one line about its setting, named by its
/// environment variable and flag as defined on `command`.
fn setting_error(command: &clap::Command, error: &clap::Error) -> Option<ConfigError> {
    if !matches!(
        error.kind(),
        ErrorKind::ValueValidation | ErrorKind::InvalidValue
    ) {
        return None;
    }
    let text = |kind| match error.get(kind) {
        Some(ContextValue::String(s)) => Some(s.clone()),
        _ => None,
    };
    let shown = text(ContextKind::InvalidArg)?;
    let long = shown.split_whitespace().next()?.trim_start_matches('-');
    let arg = std::iter::once(command)
        .chain(command.get_subcommands())
        .flat_map(|c| c.get_arguments())
        .find(|a| a.get_long() == Some(long))?;
    let setting = match arg.get_env() {
        Some(env) => format!("{} (--{long})", env.to_string_lossy()),
        None => format!("--{long}"),
    };
    let value = text(ContextKind::InvalidValue).unwrap_or_default();
    let refused = std::error::Error::source(error)
        .and_then(|source| source.downcast_ref::<ValueError>())
        .cloned()
        .unwrap_or_else(|| {
            let valid = match error.get(ContextKind::ValidValue) {
                Some(ContextValue::Strings(values)) => values.join(", "),
                _ => String::new(),
            };
            ValueError::new(
                format!("has the unknown value `{value}`"),
                format!("use one of: {valid}"),
            )
        });
    Some(refused.setting(setting))
}

/// The shortest bearer secret accepted, in bytes.
pub const MIN_BEARER_SECRET: usize = 16;

/// `CHATHUB_MAX_CONNECTIONS_PER_CLIENT` when neither it nor
/// `CHATHUB_CLIENT_IP_HEADER` is set.
pub const DEFAULT_MAX_CONNECTIONS_PER_CLIENT: usize = 64;

/// Everything `serve` needs, checked.
pub struct Serve {
    /// The upstream flow and cache settings.
    pub config: Config,
    /// Who may get a token.
    pub authorizer: Arc<dyn Authorizer>,
    /// The HTTP surface.
    pub http: HttpOptions,
    /// The connection layer.
    pub serve: ServeOptions,
    /// The token listener's address.
    pub bind: SocketAddr,
    /// Where `/metrics` is served.
    pub metrics: MetricsBind,
}

impl std::fmt::Debug for Serve {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Serve")
            .field("authorizer", &self.authorizer.name())
            .field("bind", &self.bind)
            .finish_non_exhaustive()
    }
}

impl ServeArgs {
    /// Checks the settings against each other and builds what `serve`
    /// needs; `shutdown` is what `/readyz` will report.
    pub fn build(&self, shutdown: &Shutdown) -> Result<Serve, ConfigError> {
        let config = self.config()?;
        let authorizer = self.authorizer()?;
        let limits = Limits {
            max_uri_bytes: self.max_uri_bytes as usize,
            max_header_bytes: self.max_header_bytes as usize,
            max_headers: self.max_headers as usize,
            request_timeout: self.request_timeout,
        };
        let rate_limit = rate_limit(
            self.rate_limit,
            self.rate_limit_burst,
            self.client_ip_header.clone(),
        );
        let serve = ServeOptions {
            header_read_timeout: self.header_read_timeout,
            idle_timeout: self.idle_timeout,
            max_connections: self.max_connections as usize,
            max_connections_per_client: match self.max_connections_per_client {
                Some(Cap::Off) => None,
                Some(Cap::At(n)) => Some(n as usize),
                // Behind a proxy every connection is the proxy's: cap
                // per visitor there (nginx `limit_conn`).
                None if self.client_ip_header.is_some() => None,
                None => Some(DEFAULT_MAX_CONNECTIONS_PER_CLIENT),
            },
            shutdown_delay: self.shutdown_delay,
            shutdown_timeout: self.shutdown_timeout,
            peer_address: rate_limit.is_some(),
            max_head_bytes: head_buffer(&limits),
            ..ServeOptions::new(&limits)
        };
        check_timeouts(&serve, &limits)?;
        if let MetricsBind::At(addr) = self.metrics_bind {
            if addr == self.bind {
                return Err(ConfigError::new(
                    "CHATHUB_METRICS_BIND (--metrics-bind)",
                    format!("is the token listener's address {addr}"),
                    "use same to serve /metrics there, or another port",
                ));
            }
        }
        let http = HttpOptions {
            allowed_origins: self.allowed_origins.clone(),
            rate_limit,
            limits,
            metrics_route: self.metrics_bind == MetricsBind::Same,
            trace_requests: true,
            shutdown: shutdown.clone(),
        };
        Ok(Serve {
            config,
            authorizer,
            http,
            serve,
            bind: self.bind,
            metrics: self.metrics_bind,
        })
    }

    /// The upstream flow and cache settings.
    pub fn config(&self) -> Result<Config, ConfigError> {
        let login = self
            .login
            .clone()
            .filter(|l| !l.trim().is_empty())
            .ok_or_else(|| {
                ConfigError::new(
                    "CHATHUB_LOGIN (--login)",
                    "is missing",
                    "set it to the ChatHub company login",
                )
            })?;
        let password = read_secret(
            "CHATHUB_PASSWORD",
            self.password_file.as_ref(),
            "CHATHUB_PASSWORD (or CHATHUB_PASSWORD_FILE)",
            "set CHATHUB_PASSWORD, or CHATHUB_PASSWORD_FILE to a file holding the company password",
        )?;
        let mut orgs = config::orgs_from(self.orgs.clone())?;
        config::set_operators(&mut orgs, self.operators.clone())?;
        let default_org = match &self.default_org {
            Some(d) => d.trim().to_owned(),
            None => self
                .orgs
                .first()
                .map(|(k, _)| k.clone())
                .unwrap_or_default(),
        };
        let plain_http = self
            .api_url
            .get(..7)
            .is_some_and(|scheme| scheme.eq_ignore_ascii_case("http://"));
        if plain_http && !config::is_loopback_url(&self.api_url) {
            if !self.allow_http_api_url {
                return Err(ConfigError::new(
                    "CHATHUB_API_URL (--api-url)",
                    "is http:// on another host: the company password and operator tokens would travel unencrypted",
                    "use https://, or add CHATHUB_ALLOW_HTTP_API_URL=true (--allow-http-api-url) if the network between is trusted",
                ));
            }
            tracing::warn!("CHATHUB_API_URL is http:// on another host (CHATHUB_ALLOW_HTTP_API_URL): the company password and operator tokens travel unencrypted");
        }
        let config = Config {
            api_url: self.api_url.clone(),
            login,
            password,
            orgs,
            default_org,
            token_ttl: self.token_ttl,
            refresh_margin: self.refresh_margin,
            upstream_timeout: self.upstream_timeout,
            renewal: RenewalPolicy {
                refresh_ahead: self.refresh_ahead,
                min_left: self.min_token_left,
                backoff_initial: self.backoff_initial,
                backoff_max: self.backoff_max,
            },
        };
        config.validate()?;
        Ok(config)
    }

    /// Who may get a token.
    pub fn authorizer(&self) -> Result<Arc<dyn Authorizer>, ConfigError> {
        match self.auth {
            Some(AuthMode::ProxyHeader) => Ok(Arc::new(ProxyHeader::new(self.auth_header.clone()))),
            Some(AuthMode::Bearer) => {
                let setting = "CHATHUB_AUTH_BEARER_SECRET (or CHATHUB_AUTH_BEARER_SECRET_FILE)";
                let secret = read_secret(
                    "CHATHUB_AUTH_BEARER_SECRET",
                    self.auth_bearer_secret_file.as_ref(),
                    setting,
                    "set the shared secret clients send as `Authorization: Bearer <secret>`",
                )?;
                // Trimmed as the value a client sends is.
                let secret = secret.expose_secret().trim();
                if secret.len() < MIN_BEARER_SECRET {
                    return Err(ConfigError::new(
                        setting,
                        format!("is shorter than {MIN_BEARER_SECRET} bytes (without surrounding whitespace)"),
                        "use a long random secret, e.g. the output of `openssl rand -hex 32`",
                    ));
                }
                Ok(Arc::new(BearerSecret::new(SecretString::from(
                    secret.to_owned(),
                ))))
            }
            Some(AuthMode::None) if self.allow_unauthenticated => {
                tracing::warn!("!!! CHATHUB_AUTH=none: ANYONE who can reach this service gets an operator token. Use only behind another gate. !!!");
                Ok(Arc::new(AllowAll))
            }
            Some(AuthMode::None) => Err(ConfigError::new(
                "CHATHUB_AUTH (--auth)",
                "is none, which hands operator tokens to anyone",
                "choose proxy-header or bearer, or add CHATHUB_ALLOW_UNAUTHENTICATED=true (--allow-unauthenticated) if another gate protects the service",
            )),
            None => Err(ConfigError::new(
                "CHATHUB_AUTH (--auth)",
                "is missing",
                "set CHATHUB_AUTH to proxy-header, bearer, or none (none also needs CHATHUB_ALLOW_UNAUTHENTICATED=true)",
            )),
        }
    }
}

/// The rate limit, or `None` when it is off.
pub fn rate_limit(
    rate: Rate,
    burst: u32,
    client_ip_header: Option<HeaderName>,
) -> Option<RateLimit> {
    match rate {
        Rate::Off => None,
        Rate::Every(period) => Some(RateLimit {
            period,
            burst,
            client_ip_header,
        }),
    }
}

/// The timeouts must nest: a request under way at SIGTERM can finish
/// before the shutdown deadline, and a connection waiting on ChatHub is
/// not closed as idle.
pub fn check_timeouts(serve: &ServeOptions, limits: &Limits) -> Result<(), ConfigError> {
    if serve.shutdown_timeout < limits.request_timeout {
        return Err(ConfigError::new(
            "CHATHUB_SHUTDOWN_TIMEOUT (--shutdown-timeout)",
            format!(
                "is {:?}, shorter than CHATHUB_REQUEST_TIMEOUT ({:?}): a request under way at SIGTERM could be cut off",
                serve.shutdown_timeout, limits.request_timeout
            ),
            "use at least the request timeout, e.g. the request timeout plus 5s",
        ));
    }
    if serve.shutdown_delay >= serve.shutdown_timeout {
        return Err(ConfigError::new(
            "CHATHUB_SHUTDOWN_DELAY (--shutdown-delay)",
            "is not shorter than CHATHUB_SHUTDOWN_TIMEOUT",
            "keep the delay (still accepting connections) well inside the shutdown deadline",
        ));
    }
    if serve.idle_timeout <= limits.request_timeout {
        return Err(ConfigError::new(
            "CHATHUB_IDLE_TIMEOUT (--idle-timeout)",
            format!(
                "is {:?}, not longer than CHATHUB_REQUEST_TIMEOUT ({:?})",
                serve.idle_timeout, limits.request_timeout
            ),
            "use more than the request timeout, e.g. 60s",
        ));
    }
    Ok(())
}

/// A secret from `{var}_FILE` (which wins) or the variable `var`, never
/// from a flag.
pub fn read_secret(
    var: &str,
    file: Option<&PathBuf>,
    setting: &str,
    fix: &str,
) -> Result<SecretString, ConfigError> {
    if let Some(path) = file {
        let text = std::fs::read_to_string(path).map_err(|e| {
            ConfigError::new(
                format!("{var}_FILE"),
                format!("cannot be read ({}: {})", path.display(), e.kind()),
                "point it at a readable file holding only the secret",
            )
        })?;
        let text = text.trim_end_matches(['\r', '\n']);
        if text.is_empty() {
            return Err(ConfigError::new(
                format!("{var}_FILE"),
                "names an empty file",
                fix,
            ));
        }
        return Ok(SecretString::from(text.to_owned()));
    }
    match std::env::var(var) {
        Ok(v) if !v.is_empty() => Ok(SecretString::from(v)),
        _ => Err(ConfigError::new(setting, "is missing", fix)),
    }
}
