//! The connection layer, configured in one place: [`serve`].
//!
//! `axum::serve` runs hyper without a timer, so hyper's header-read timeout
//! never applies, and it has no connection cap or shutdown deadline: 200
//! clients each trickling an unfinished 380 KB request head held 84 MB and
//! were never closed, and a client that pipelined requests without reading
//! the answers kept the process alive after SIGTERM for as long as it
//! stayed connected. Here:
//!
//! - **Header-read timeout** ([`crate::connection`]): a request head must
//!   be complete this long after its first byte (on a new connection,
//!   after the accept: one that sends nothing is closed as soon).
//! - **Idle timeout**: a connection kept alive between requests, or one on
//!   which a read or write waits on the client with no byte moving (a
//!   client that does not read its answers), is closed after this long.
//!   hyper's own header-read timeout, with a tokio timer, is set to it:
//!   hyper starts that one when it waits for the next request.
//! - **Connection cap**: beyond it the server stops accepting, and new
//!   connections wait in the kernel's backlog until one closes. With
//!   hyper's head buffer ([`ServeOptions::max_head_bytes`]) it bounds the
//!   memory clients can make the server hold.
//! - **Shutdown** ([`Shutdown`]): once started, `/readyz` answers 503;
//!   connections already open finish the request under way and close
//!   (idle ones at once); for [`ServeOptions::shutdown_delay`] new
//!   connections are still accepted and served one request each (for load
//!   balancers that route by readiness); then the listener closes, and
//!   whatever is still open when [`ServeOptions::shutdown_timeout`] has
//!   passed since the start is dropped.

use std::convert::Infallible;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;
use tower::ServiceExt;

use crate::connection::Guarded;
use crate::limits::Limits;
use crate::shutdown::Shutdown;

/// hyper's default header count; browsers send 10 to 30.
const HYPER_MAX_HEADERS: usize = 100;

/// Settings of the connection layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServeOptions {
    /// A request head must be complete this long after its first byte.
    pub header_read_timeout: Duration,
    /// A connection kept alive with no request, or on which no byte moves
    /// while the server waits on the client, is closed after this long.
    pub idle_timeout: Duration,
    /// Open connections at most; beyond it new ones wait to be accepted.
    pub max_connections: usize,
    /// After shutdown starts, keep accepting connections this long.
    pub shutdown_delay: Duration,
    /// Connections still open this long after shutdown started are dropped.
    pub shutdown_timeout: Duration,
    /// hyper's read buffer: the largest request head it holds before it
    /// refuses the request itself (431). Above the layers' own limits, so
    /// those answer first, with CORS.
    pub max_head_bytes: usize,
    /// hyper's own header count limit (then 431), above the layers' one.
    pub max_headers: usize,
    /// Attach each request's peer address (`ConnectInfo`), for the rate
    /// limit; it costs every request a map insertion.
    pub peer_address: bool,
}

impl ServeOptions {
    /// Defaults around the request limits `limits`: 10 s to send a head,
    /// 60 s idle, 2048 connections, no drain delay, 15 s to shut down, and
    /// hyper's head buffer and header count four times the layers' limits.
    pub fn new(limits: &Limits) -> Self {
        ServeOptions {
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            max_connections: 2048,
            shutdown_delay: Duration::ZERO,
            shutdown_timeout: Duration::from_secs(15),
            max_head_bytes: head_buffer(limits),
            max_headers: limits.max_headers.saturating_mul(4).max(HYPER_MAX_HEADERS),
            peer_address: false,
        }
    }
}

/// hyper's head buffer for `limits`: four times the largest head the
/// layers accept (URI and headers), at least hyper's minimum of 8 KiB.
pub fn head_buffer(limits: &Limits) -> usize {
    limits
        .max_uri_bytes
        .saturating_add(limits.max_header_bytes)
        .saturating_add(1024)
        .saturating_mul(4)
        .max(8192)
}

/// Serves `app` on `listener` until `shutdown` has started and every
/// connection has closed, or the shutdown deadline has passed.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    options: ServeOptions,
    shutdown: Shutdown,
) -> io::Result<()> {
    let mut open = http1::Builder::new();
    open.timer(TokioTimer::new())
        .header_read_timeout(options.idle_timeout.max(options.header_read_timeout))
        .max_buf_size(options.max_head_bytes.max(8192))
        .max_headers(options.max_headers);
    let mut closing = open.clone();
    closing.keep_alive(false);
    let builders = Arc::new((open, closing));
    let permits = Arc::new(Semaphore::new(options.max_connections.max(1)));
    let (closing_tx, closing_rx) = watch::channel(false);
    let mut connections = JoinSet::new();

    let stop_accepting = {
        let shutdown = shutdown.clone();
        let delay = options.shutdown_delay;
        async move {
            shutdown.started().await;
            // Open connections finish their request and close; new ones
            // get one request each.
            let _ = closing_tx.send(true);
            tokio::time::sleep(delay).await;
            closing_tx
        }
    };
    tokio::pin!(stop_accepting);
    let closing_tx = loop {
        let permit = tokio::select! {
            closing_tx = &mut stop_accepting => break closing_tx,
            permit = permits.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => continue, // never closed
            },
        };
        let (stream, peer) = tokio::select! {
            closing_tx = &mut stop_accepting => break closing_tx,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    accept_error(e).await;
                    continue;
                }
            },
        };
        while connections.try_join_next().is_some() {}
        let builders = builders.clone();
        let closing = closing_rx.clone();
        // Counted up for each request the service gets: the socket's
        // header-read clock stops there.
        let requests = Arc::new(AtomicU64::new(0));
        let io = TokioIo::new(Guarded::new(
            stream,
            options.header_read_timeout,
            options.idle_timeout,
            requests.clone(),
        ));
        let peer = options.peer_address.then_some(ConnectInfo(peer));
        let service = app
            .clone()
            .map_request(move |mut request: axum::http::Request<Incoming>| {
                requests.fetch_add(1, Ordering::Relaxed);
                if let Some(peer) = peer {
                    request.extensions_mut().insert(peer);
                }
                request
            });
        connections.spawn(async move {
            connection(io, service, &builders, closing).await;
            drop(permit);
        });
    };
    drop(listener);
    let _ = closing_tx.send(true);
    let open = connections.len();
    if open > 0 {
        tracing::info!(open, "waiting for open connections to finish");
    }
    let drained = async { while connections.join_next().await.is_some() {} };
    // The deadline counts from the start of the shutdown, delay included.
    let left = options
        .shutdown_timeout
        .saturating_sub(options.shutdown_delay);
    if tokio::time::timeout(left, drained).await.is_err() {
        tracing::warn!(
            dropped = connections.len(),
            "shutdown deadline reached; dropping the connections still open"
        );
        // Not awaited: a task stuck in a blocking call would hold it.
        connections.abort_all();
    }
    Ok(())
}

/// Serves one connection until it closes, or closes it gracefully once
/// `closing` says so.
async fn connection<S>(
    io: TokioIo<Guarded<TcpStream>>,
    service: S,
    builders: &(http1::Builder, http1::Builder),
    mut closing: watch::Receiver<bool>,
) where
    S: tower::Service<
            axum::http::Request<Incoming>,
            Response = axum::response::Response,
            Error = Infallible,
        > + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    let service = TowerToHyperService::new(service);
    if *closing.borrow() {
        // Accepted while shutting down: one request, then hyper closes it.
        if let Err(e) = builders.1.serve_connection(io, service).await {
            tracing::debug!(error = %e, "connection ended with an error");
        }
        return;
    }
    let conn = builders.0.serve_connection(io, service);
    tokio::pin!(conn);
    tokio::select! {
        result = conn.as_mut() => {
            if let Err(e) = result {
                tracing::debug!(error = %e, "connection ended with an error");
            }
            return;
        }
        _ = closing.wait_for(|closing| *closing) => {}
    }
    conn.as_mut().graceful_shutdown();
    if let Err(e) = conn.await {
        tracing::debug!(error = %e, "connection ended with an error");
    }
}

/// After a failed `accept`: per-connection errors are skipped; others (out
/// of file descriptors) are logged and retried a moment later.
async fn accept_error(e: io::Error) {
    if matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    ) {
        return;
    }
    tracing::error!(error = %e, "accepting a connection failed; retrying in a second");
    tokio::time::sleep(Duration::from_secs(1)).await;
}
