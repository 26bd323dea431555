//! The `chathub-token-server` binary: `serve` (the default) runs the token
//! service against ChatHub; `dev` runs everything offline on one port.

use std::io::IsTerminal;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use axum::http::HeaderName;
use axum::Router;
use clap::{Args, Parser, Subcommand};
use secrecy::SecretString;

use chathub_token_server::auth::{AllowAll, Authorizer, BearerSecret, ProxyHeader};
use chathub_token_server::config::{
    apply_operators, parse_duration, parse_orgs, parse_origins, parse_rate, parse_share,
    validate_api_url, DEFAULT_API_URL,
};
use chathub_token_server::dev::{dev_app, DevOptions};
use chathub_token_server::limits::{HttpOptions, Limits, RateLimit};
use chathub_token_server::routes::{router, TokenService};
use chathub_token_server::{shutdown, Config, ConfigError, Issuer, RenewalPolicy, TokenCache};

/// Hands pages a short-lived ChatHub operator token; company credentials
/// never leave the server.
#[derive(Parser, Debug)]
#[command(version, args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    serve: ServeArgs,
    /// Log format: text, or json (one JSON object per line).
    #[arg(
        long,
        global = true,
        env = "CHATHUB_LOG_FORMAT",
        hide_env_values = true,
        default_value = "text"
    )]
    log_format: String,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the token service against ChatHub (the default).
    Serve(Box<ServeArgs>),
    /// Run offline on one port: fake ChatHub API, token endpoint, stand-in
    /// widget and the demo page. Not for production.
    Dev(DevArgs),
}

#[derive(Args, Debug)]
struct ServeArgs {
    /// ChatHub API base URL.
    #[arg(long, env = "CHATHUB_API_URL", hide_env_values = true, default_value = DEFAULT_API_URL)]
    api_url: String,
    /// Company login.
    #[arg(long, env = "CHATHUB_LOGIN", hide_env_values = true)]
    login: Option<String>,
    /// File holding the company password (else the CHATHUB_PASSWORD variable).
    #[arg(long, env = "CHATHUB_PASSWORD_FILE", hide_env_values = true)]
    password_file: Option<PathBuf>,
    /// Organisations pages may ask for: KEY=id:ID or KEY=name:NAME (repeat, or comma-separate).
    #[arg(
        long = "org",
        env = "CHATHUB_ORGS",
        hide_env_values = true,
        value_delimiter = ','
    )]
    orgs: Vec<String>,
    /// Operator per organisation: KEY=OPERATOR_ID (default: the first active one).
    #[arg(
        long = "operator",
        env = "CHATHUB_OPERATORS",
        hide_env_values = true,
        value_delimiter = ','
    )]
    operators: Vec<String>,
    /// Organisation used without ?org= (default: the first --org).
    #[arg(long, env = "CHATHUB_DEFAULT_ORG", hide_env_values = true)]
    default_org: Option<String>,
    /// Operator token lifetime (at most 24h).
    #[arg(
        long,
        env = "CHATHUB_TOKEN_TTL",
        hide_env_values = true,
        default_value = "1h"
    )]
    token_ttl: String,
    /// Renew cached tokens this long before they expire.
    #[arg(
        long,
        env = "CHATHUB_REFRESH_MARGIN",
        hide_env_values = true,
        default_value = "5m"
    )]
    refresh_margin: String,
    /// Time limit for each ChatHub call.
    #[arg(
        long,
        env = "CHATHUB_UPSTREAM_TIMEOUT",
        hide_env_values = true,
        default_value = "10s"
    )]
    upstream_timeout: String,
    /// Renew cached tokens in the background once this share of their lifetime has passed.
    #[arg(
        long,
        env = "CHATHUB_REFRESH_AHEAD",
        hide_env_values = true,
        default_value = "70%"
    )]
    refresh_ahead: String,
    /// While ChatHub fails, keep serving a cached token while this long (or 10% of its lifetime, if shorter) is left.
    #[arg(
        long,
        env = "CHATHUB_MIN_TOKEN_LEFT",
        hide_env_values = true,
        default_value = "60s"
    )]
    min_token_left: String,
    /// After a ChatHub failure, wait this long before the next attempt (doubling per failure).
    #[arg(
        long,
        env = "CHATHUB_BACKOFF_INITIAL",
        hide_env_values = true,
        default_value = "1s"
    )]
    backoff_initial: String,
    /// The longest wait between attempts while ChatHub keeps failing.
    #[arg(
        long,
        env = "CHATHUB_BACKOFF_MAX",
        hide_env_values = true,
        default_value = "60s"
    )]
    backoff_max: String,
    /// Token requests allowed per client: 10/s, 600/m, 1000/h, or off.
    #[arg(
        long,
        env = "CHATHUB_RATE_LIMIT",
        hide_env_values = true,
        default_value = "10/s"
    )]
    rate_limit: String,
    /// Requests a client may make at once before the rate applies.
    #[arg(
        long,
        env = "CHATHUB_RATE_LIMIT_BURST",
        hide_env_values = true,
        default_value = "50"
    )]
    rate_limit_burst: String,
    /// Header the trusted reverse proxy sets to the client's address (x-real-ip, x-forwarded-for); default: the peer address.
    #[arg(long, env = "CHATHUB_CLIENT_IP_HEADER", hide_env_values = true)]
    client_ip_header: Option<String>,
    /// Longest request URI, in bytes (then 414).
    #[arg(
        long,
        env = "CHATHUB_MAX_URI_BYTES",
        hide_env_values = true,
        default_value = "2048"
    )]
    max_uri_bytes: String,
    /// Largest request header section, in bytes (then 431).
    #[arg(
        long,
        env = "CHATHUB_MAX_HEADER_BYTES",
        hide_env_values = true,
        default_value = "16384"
    )]
    max_header_bytes: String,
    /// Longest time to answer a request (then 504).
    #[arg(
        long,
        env = "CHATHUB_REQUEST_TIMEOUT",
        hide_env_values = true,
        default_value = "30s"
    )]
    request_timeout: String,
    /// Address to listen on.
    #[arg(
        long,
        env = "CHATHUB_BIND",
        hide_env_values = true,
        default_value = "127.0.0.1:8080"
    )]
    bind: String,
    /// Origins allowed to call the token endpoint cross-origin (repeat, or comma-separate).
    #[arg(
        long = "allowed-origin",
        env = "CHATHUB_ALLOWED_ORIGINS",
        value_delimiter = ','
    )]
    allowed_origins: Vec<String>,
    /// Who may get a token: proxy-header, bearer or none.
    #[arg(long, env = "CHATHUB_AUTH", hide_env_values = true)]
    auth: Option<String>,
    /// proxy-header mode: the header the trusted proxy sets.
    #[arg(
        long,
        env = "CHATHUB_AUTH_HEADER",
        hide_env_values = true,
        default_value = "x-forwarded-user"
    )]
    auth_header: String,
    /// bearer mode: file holding the shared secret (else the CHATHUB_AUTH_BEARER_SECRET variable).
    #[arg(long, env = "CHATHUB_AUTH_BEARER_SECRET_FILE", hide_env_values = true)]
    auth_bearer_secret_file: Option<PathBuf>,
    /// Allow --auth none outside dev mode (anyone who reaches the service gets a token).
    #[arg(long, env = "CHATHUB_ALLOW_UNAUTHENTICATED", hide_env_values = true)]
    allow_unauthenticated: bool,
}

#[derive(Args, Debug)]
struct DevArgs {
    /// Port to listen on.
    #[arg(long, env = "PORT", hide_env_values = true, default_value_t = 8080)]
    port: u16,
    /// Address to listen on (loopback unless --allow-non-loopback).
    #[arg(long, default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    host: IpAddr,
    /// Allow listening on a non-loopback address (the fake API and admin knobs become reachable).
    #[arg(long)]
    allow_non_loopback: bool,
    /// The demo page directory.
    #[arg(long)]
    www: Option<PathBuf>,
    /// The built loader package directory.
    #[arg(long)]
    pkg: Option<PathBuf>,
    /// Operator token lifetime the token endpoint asks for.
    #[arg(long, default_value = "1h")]
    token_ttl: String,
    /// Time limit for each call to the fake API.
    #[arg(long, default_value = "5s")]
    upstream_timeout: String,
    /// Token requests allowed per client (10/s, 600/m, ...); off by default in dev mode.
    #[arg(long, default_value = "off")]
    rate_limit: String,
    /// Requests a client may make at once before the rate applies.
    #[arg(long, default_value = "50")]
    rate_limit_burst: String,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "info,tower_http=info".into());
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match cli.log_format.trim() {
        "text" => logs
            .with_ansi(std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none())
            .init(),
        "json" => logs.json().with_current_span(false).init(),
        other => {
            eprintln!(
                "{}",
                ConfigError::new(
                    "CHATHUB_LOG_FORMAT (--log-format)",
                    format!("has the unknown format `{other}`"),
                    "use text or json",
                )
            );
            return ExitCode::from(2);
        }
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Some(Command::Dev(args)) => run_dev(args).await,
            Some(Command::Serve(args)) => run_serve(*args).await,
            None => run_serve(cli.serve).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(2)
        }
    }
}

/// A start-up failure: one line for the operator.
#[derive(Debug, thiserror::Error)]
enum StartError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("error: cannot listen on {addr}: {source}; choose a free port or address")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
    #[error("error: the server stopped: {0}")]
    Serve(std::io::Error),
}

fn read_secret(
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

fn build_config(args: &ServeArgs) -> Result<Config, ConfigError> {
    validate_api_url(&args.api_url)?;
    let login = args
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
        args.password_file.as_ref(),
        "CHATHUB_PASSWORD (or CHATHUB_PASSWORD_FILE)",
        "set CHATHUB_PASSWORD, or CHATHUB_PASSWORD_FILE to a file holding the company password",
    )?;
    let mut orgs = parse_orgs(&args.orgs)?;
    apply_operators(&mut orgs, &args.operators)?;
    let default_org = match &args.default_org {
        Some(d) => d.clone(),
        None => args
            .orgs
            .first()
            .and_then(|e| e.split_once('='))
            .map(|(k, _)| k.trim().to_owned())
            .unwrap_or_default(),
    };
    let config = Config {
        api_url: args.api_url.clone(),
        login,
        password,
        orgs,
        default_org,
        token_ttl: parse_duration("CHATHUB_TOKEN_TTL (--token-ttl)", &args.token_ttl)?,
        refresh_margin: parse_duration(
            "CHATHUB_REFRESH_MARGIN (--refresh-margin)",
            &args.refresh_margin,
        )?,
        upstream_timeout: parse_duration(
            "CHATHUB_UPSTREAM_TIMEOUT (--upstream-timeout)",
            &args.upstream_timeout,
        )?,
        renewal: RenewalPolicy {
            refresh_ahead: parse_share(
                "CHATHUB_REFRESH_AHEAD (--refresh-ahead)",
                &args.refresh_ahead,
            )?,
            min_left: parse_duration(
                "CHATHUB_MIN_TOKEN_LEFT (--min-token-left)",
                &args.min_token_left,
            )?,
            backoff_initial: parse_duration(
                "CHATHUB_BACKOFF_INITIAL (--backoff-initial)",
                &args.backoff_initial,
            )?,
            backoff_max: parse_duration("CHATHUB_BACKOFF_MAX (--backoff-max)", &args.backoff_max)?,
        },
    };
    config.validate()?;
    Ok(config)
}

/// A positive whole number.
fn parse_count(setting: &str, value: &str) -> Result<u32, ConfigError> {
    value
        .trim()
        .parse::<u32>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| {
            ConfigError::new(
                setting,
                format!("is not a positive whole number `{value}`"),
                "write a number such as 50",
            )
        })
}

/// The rate limit, or `None` when it is `off`.
fn build_rate_limit(
    rate: &str,
    burst: &str,
    client_ip_header: Option<&str>,
    names: (&str, &str),
) -> Result<Option<RateLimit>, ConfigError> {
    let Some(period) = parse_rate(names.0, rate)? else {
        return Ok(None);
    };
    let client_ip_header = client_ip_header
        .map(str::trim)
        .filter(|h| !h.is_empty())
        .map(|h| {
            HeaderName::try_from(h).map_err(|_| {
                ConfigError::new(
                    "CHATHUB_CLIENT_IP_HEADER (--client-ip-header)",
                    "is not a valid header name",
                    "use the header your proxy sets, e.g. x-real-ip or x-forwarded-for",
                )
            })
        })
        .transpose()?;
    Ok(Some(RateLimit {
        period,
        burst: parse_count(names.1, burst)?,
        client_ip_header,
    }))
}

fn build_http_options(args: &ServeArgs) -> Result<HttpOptions, ConfigError> {
    let bytes = |setting: &str, value: &str| parse_count(setting, value).map(|n| n as usize);
    Ok(HttpOptions {
        allowed_origins: parse_origins(&args.allowed_origins)?,
        rate_limit: build_rate_limit(
            &args.rate_limit,
            &args.rate_limit_burst,
            args.client_ip_header.as_deref(),
            (
                "CHATHUB_RATE_LIMIT (--rate-limit)",
                "CHATHUB_RATE_LIMIT_BURST (--rate-limit-burst)",
            ),
        )?,
        limits: Limits {
            max_uri_bytes: bytes(
                "CHATHUB_MAX_URI_BYTES (--max-uri-bytes)",
                &args.max_uri_bytes,
            )?,
            max_header_bytes: bytes(
                "CHATHUB_MAX_HEADER_BYTES (--max-header-bytes)",
                &args.max_header_bytes,
            )?,
            request_timeout: parse_duration(
                "CHATHUB_REQUEST_TIMEOUT (--request-timeout)",
                &args.request_timeout,
            )
            .and_then(|d| {
                if d.is_zero() {
                    Err(ConfigError::new(
                        "CHATHUB_REQUEST_TIMEOUT (--request-timeout)",
                        "is zero",
                        "use a duration such as 30s",
                    ))
                } else {
                    Ok(d)
                }
            })?,
        },
    })
}

/// Serves `app`, with each request's peer address when the rate limit
/// needs it (`peer_address`; attaching it costs every request a map
/// insertion, and nothing else reads it).
async fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    peer_address: bool,
) -> Result<(), StartError> {
    if peer_address {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown::signal())
        .await
    } else {
        axum::serve(listener, app)
            .with_graceful_shutdown(shutdown::signal())
            .await
    }
    .map_err(StartError::Serve)
}

fn build_authorizer(args: &ServeArgs) -> Result<Arc<dyn Authorizer>, ConfigError> {
    let fix = "set CHATHUB_AUTH to proxy-header, bearer, or none (none also needs CHATHUB_ALLOW_UNAUTHENTICATED=true)";
    match args.auth.as_deref().map(str::trim) {
        Some("proxy-header") => {
            let header = HeaderName::try_from(args.auth_header.trim()).map_err(|_| {
                ConfigError::new(
                    "CHATHUB_AUTH_HEADER (--auth-header)",
                    "is not a valid header name",
                    "use a header such as x-forwarded-user",
                )
            })?;
            Ok(Arc::new(ProxyHeader::new(header)))
        }
        Some("bearer") => {
            let secret = read_secret(
                "CHATHUB_AUTH_BEARER_SECRET",
                args.auth_bearer_secret_file.as_ref(),
                "CHATHUB_AUTH_BEARER_SECRET (or CHATHUB_AUTH_BEARER_SECRET_FILE)",
                "set the shared secret clients send as `Authorization: Bearer <secret>`",
            )?;
            Ok(Arc::new(BearerSecret::new(secret)))
        }
        Some("none") if args.allow_unauthenticated => {
            tracing::warn!("!!! CHATHUB_AUTH=none: ANYONE who can reach this service gets an operator token. Use only behind another gate. !!!");
            Ok(Arc::new(AllowAll))
        }
        Some("none") => Err(ConfigError::new(
            "CHATHUB_AUTH (--auth)",
            "is none, which hands operator tokens to anyone",
            "choose proxy-header or bearer, or add CHATHUB_ALLOW_UNAUTHENTICATED=true (--allow-unauthenticated) if another gate protects the service",
        )),
        Some(other) => Err(ConfigError::new(
            "CHATHUB_AUTH (--auth)",
            format!("has the unknown mode `{other}`"),
            fix,
        )),
        None => Err(ConfigError::new("CHATHUB_AUTH (--auth)", "is missing", fix)),
    }
}

async fn run_serve(args: ServeArgs) -> Result<(), StartError> {
    let config = build_config(&args)?;
    let authorizer = build_authorizer(&args)?;
    let http = build_http_options(&args)?;
    let addr: SocketAddr = args.bind.trim().parse().map_err(|_| {
        ConfigError::new(
            "CHATHUB_BIND (--bind)",
            format!("is not an address `{}`", args.bind),
            "use IP:PORT, e.g. 127.0.0.1:8080",
        )
    })?;
    let auth_name = authorizer.name();
    let orgs: Vec<String> = config.orgs.keys().cloned().collect();
    let cache = TokenCache::new(Issuer::new(Arc::new(config))?);
    let app = router(TokenService { cache, authorizer }, &http)
        .layer(tower_http::trace::TraceLayer::new_for_http());
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| StartError::Bind {
            addr: addr.to_string(),
            source,
        })?;
    let addr = listener.local_addr().map_err(StartError::Serve)?;
    tracing::info!(%addr, auth = auth_name, orgs = ?orgs, origins = ?http.allowed_origins, "chathub-token-server listening");
    match &http.rate_limit {
        None => tracing::warn!("no rate limit on the token endpoint (CHATHUB_RATE_LIMIT=off)"),
        Some(limit) => {
            tracing::info!(
                every_ms = u64::try_from(limit.period.as_millis()).unwrap_or(u64::MAX),
                burst = limit.burst,
                client_ip_header = limit.client_ip_header.as_ref().map(|h| h.as_str()),
                "rate limit per client on the token endpoint"
            );
            if limit.client_ip_header.is_none() {
                tracing::warn!("the rate limit keys on the peer address: behind a reverse proxy every visitor shares one budget; set CHATHUB_CLIENT_IP_HEADER to the header the proxy sets");
            }
        }
    }
    let peer_address = http.rate_limit.is_some();
    serve(listener, app, peer_address).await
}

async fn run_dev(args: DevArgs) -> Result<(), StartError> {
    if !args.host.is_loopback() && !args.allow_non_loopback {
        return Err(ConfigError::new(
            "--host",
            format!("is {}, not a loopback address, and dev mode has no authentication", args.host),
            "use 127.0.0.1, or add --allow-non-loopback if you really want the fake API reachable from other machines",
        )
        .into());
    }
    let defaults = DevOptions::default();
    let opts = DevOptions {
        www_dir: args.www.unwrap_or(defaults.www_dir),
        pkg_dir: args.pkg.unwrap_or(defaults.pkg_dir),
        token_ttl: parse_duration("--token-ttl", &args.token_ttl)?,
        upstream_timeout: parse_duration("--upstream-timeout", &args.upstream_timeout)?,
        refresh_margin: Duration::from_secs(5 * 60),
        rate_limit: build_rate_limit(
            &args.rate_limit,
            &args.rate_limit_burst,
            None,
            ("--rate-limit", "--rate-limit-burst"),
        )?,
        allow_ip_hosts: args.allow_non_loopback,
    };
    let addr = SocketAddr::new(args.host, args.port);
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| StartError::Bind {
            addr: addr.to_string(),
            source,
        })?;
    let port = listener.local_addr().map_err(StartError::Serve)?.port();
    let (www, pkg) = (opts.www_dir.clone(), opts.pkg_dir.clone());
    // The token endpoint reaches the fake API through this same listener.
    let self_host = match args.host {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(std::net::Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    let self_url = format!("http://{}", SocketAddr::new(self_host, port));
    let peer_address = opts.rate_limit.is_some();
    let app = dev_app(&self_url, opts)?;
    tracing::warn!("DEV MODE: fake ChatHub API, no authentication on the token endpoint, admin knobs at /dev/admin. Not for production.");
    if !pkg.join("chathub_loader.js").exists() {
        tracing::warn!(pkg = %pkg.display(), "the loader package is not built; run `make pkg`");
    }
    tracing::info!(www = %www.display(), pkg = %pkg.display(), "serving the demo");
    tracing::info!(
        "demo at {}/",
        format!("http://{}", SocketAddr::new(args.host, port))
    );
    serve(listener, app.router, peer_address).await
}
