//! The `chathub-token-server` binary: `serve` (the default) runs the token
//! service against ChatHub; `dev` (with the `dev` feature) runs everything
//! offline on one port. This file only wires: the settings are in
//! `cli.rs` and `config.rs`, the request path in `layers.rs`, the
//! connection layer and shutdown in `server.rs`.

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use chathub_token_server::cli::{self, Command, LogFormat, MetricsBind, ParseError, ServeArgs};
use chathub_token_server::routes::{metrics_router, router, TokenService};
use chathub_token_server::server::{
    fit_open_files, raise_open_file_limit, serve, RESERVED_OPEN_FILES,
};
use chathub_token_server::shutdown::Shutdown;
use chathub_token_server::{schedule, ConfigError, Issuer, TokenCache};

fn main() -> ExitCode {
    #[cfg(not(feature = "dev"))]
    if std::env::args().nth(1).as_deref() == Some("dev") {
        eprintln!("error: this build has no dev mode; build with `cargo build -p chathub-token-server --features dev` (make demo does)");
        return ExitCode::from(2);
    }
    let cli = match cli::parse() {
        Ok(cli) => cli,
        Err(ParseError::Setting(e)) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
        Err(ParseError::Clap(e)) => e.exit(),
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "info,tower_http=info".into());
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match cli.log_format {
        LogFormat::Text => logs
            .with_ansi(std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none())
            .init(),
        LogFormat::Json => logs.json().with_current_span(false).init(),
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
        let shutdown = Shutdown::new();
        shutdown.on_signal();
        match cli.command {
            #[cfg(feature = "dev")]
            Some(Command::Dev(args)) => run_dev(args, shutdown).await,
            Some(Command::Serve(args)) => run_serve(&args, shutdown).await,
            None => run_serve(&cli.serve, shutdown).await,
        }
    });
    // Whatever the deadline left running (a DNS lookup on a blocking
    // thread) does not hold the exit.
    runtime.shutdown_timeout(Duration::from_secs(1));
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
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("error: the server stopped: {0}")]
    Serve(std::io::Error),
    #[error("error: the open-file limit (RLIMIT_NOFILE) is {0}, too low to serve connections beside the {1} kept for ChatHub calls, listeners and logs; raise it (systemd LimitNOFILE=65536, ulimit -n)")]
    OpenFiles(u64, usize),
}

async fn bind(addr: SocketAddr) -> Result<tokio::net::TcpListener, StartError> {
    tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| StartError::Bind { addr, source })
}

/// Past the shutdown deadline, the watchdog gives the process this much
/// more before it exits regardless.
const WATCHDOG_GRACE: Duration = Duration::from_secs(5);

/// Connections at most on the metrics listener of its own.
const METRICS_MAX_CONNECTIONS: usize = 16;

async fn run_serve(args: &ServeArgs, shutdown: Shutdown) -> Result<(), StartError> {
    let mut settings = args.build(&shutdown)?;
    // Each connection and each ChatHub call is an open file: the
    // connection cap must leave room for the calls (one flow per org at a
    // time, the login) and the metrics listener's connections.
    let reserve = RESERVED_OPEN_FILES
        + settings.config.orgs.len()
        + match settings.metrics {
            MetricsBind::At(_) => METRICS_MAX_CONNECTIONS,
            MetricsBind::Same | MetricsBind::Off => 0,
        };
    if let Some(open_files) = raise_open_file_limit() {
        let wanted = settings.serve.max_connections;
        let fit = fit_open_files(wanted, open_files, reserve)
            .ok_or(StartError::OpenFiles(open_files, reserve))?;
        if fit < wanted {
            tracing::warn!(
                open_files,
                reserved = reserve,
                max_connections = fit,
                "the open-file limit (RLIMIT_NOFILE) is {open_files}, too low for CHATHUB_MAX_CONNECTIONS={wanted} plus {reserve} kept for ChatHub calls, listeners and logs: serving at most {fit} connections; raise the limit (systemd LimitNOFILE=) or lower CHATHUB_MAX_CONNECTIONS"
            );
            settings.serve.max_connections = fit;
        }
    }
    shutdown.exit_after(settings.serve.shutdown_timeout + WATCHDOG_GRACE);
    let orgs: Vec<String> = settings.config.orgs.keys().cloned().collect();
    let share = schedule::renewal_share(
        settings.config.token_ttl,
        settings.config.refresh_margin,
        &settings.config.renewal,
    );
    if share + 1e-9 < settings.config.renewal.refresh_ahead {
        tracing::warn!(
            renew_at_percent = (share * 100.0).round(),
            "with this CHATHUB_TOKEN_TTL, CHATHUB_REFRESH_MARGIN ends a token's fresh time before CHATHUB_REFRESH_AHEAD: tokens are renewed earlier than it says"
        );
    }
    let auth = settings.authorizer.name();
    let cache = TokenCache::new(Issuer::new(Arc::new(settings.config))?);
    let app = router(
        TokenService {
            cache: cache.clone(),
            authorizer: settings.authorizer,
        },
        &settings.http,
    );
    let listener = bind(settings.bind).await?;
    let addr = listener.local_addr().map_err(StartError::Serve)?;
    tracing::info!(%addr, auth, orgs = ?orgs, origins = ?settings.http.allowed_origins, "chathub-token-server listening");
    match &settings.http.rate_limit {
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
    let metrics = match settings.metrics {
        MetricsBind::At(addr) => {
            let listener = bind(addr).await?;
            tracing::info!(%addr, "metrics listening");
            let app = metrics_router(cache, &settings.http);
            let options = chathub_token_server::server::ServeOptions {
                peer_address: false,
                max_connections: METRICS_MAX_CONNECTIONS,
                max_connections_per_client: None,
                ..settings.serve.clone()
            };
            Some(tokio::spawn(serve(
                listener,
                app,
                options,
                shutdown.clone(),
            )))
        }
        MetricsBind::Same | MetricsBind::Off => None,
    };
    let served = serve(listener, app, settings.serve, shutdown).await;
    if let Some(metrics) = metrics {
        let _ = metrics.await;
    }
    served.map_err(StartError::Serve)
}

#[cfg(feature = "dev")]
async fn run_dev(args: cli::DevArgs, shutdown: Shutdown) -> Result<(), StartError> {
    use chathub_token_server::dev::{dev_app, DevOptions};
    use chathub_token_server::limits::Limits;
    use chathub_token_server::server::ServeOptions;
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

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
        token_ttl: args.token_ttl,
        upstream_timeout: args.upstream_timeout,
        refresh_margin: Duration::from_secs(5 * 60),
        rate_limit: cli::rate_limit(args.rate_limit, args.rate_limit_burst, None),
        allow_ip_hosts: args.allow_non_loopback,
        shutdown: shutdown.clone(),
    };
    let addr = SocketAddr::new(args.host, args.port);
    let listener = bind(addr).await?;
    let port = listener.local_addr().map_err(StartError::Serve)?.port();
    let (www, pkg) = (opts.www_dir.clone(), opts.pkg_dir.clone());
    // The token endpoint reaches the fake API through this same listener.
    let self_host = match args.host {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    let self_url = format!("http://{}", SocketAddr::new(self_host, port));
    let serve_options = ServeOptions {
        peer_address: opts.rate_limit.is_some(),
        ..ServeOptions::new(&Limits::default())
    };
    shutdown.exit_after(serve_options.shutdown_timeout + WATCHDOG_GRACE);
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
    serve(listener, app.router, serve_options, shutdown)
        .await
        .map_err(StartError::Serve)
}
