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
//! - **Per-client cap** ([`ServeOptions::max_connections_per_client`]):
//!   one peer address (IPv6: its /64) holding every slot would starve
//!   everyone else; a connection past its share is answered `503
//!   TOO_MANY_CONNECTIONS` and closed at once.
//! - **Open files** ([`fit_open_files`]): each connection is a file
//!   descriptor, and so is each ChatHub call. At start-up the soft
//!   `RLIMIT_NOFILE` is raised to the hard one, and the connection cap is
//!   lowered if it does not leave [`RESERVED_OPEN_FILES`] for the rest:
//!   out of descriptors, `accept` fails and so does every ChatHub call.
//! - **Shutdown** ([`Shutdown`]): once started, `/readyz` answers 503;
//!   connections already open finish the request under way and close
//!   (idle ones at once); for [`ServeOptions::shutdown_delay`] new
//!   connections are still accepted and served one request each (for load
//!   balancers that route by readiness); then the listener closes, and
//!   whatever is still open when [`ServeOptions::shutdown_timeout`] has
//!   passed since the start is dropped.

use std::collections::HashMap;
use std::convert::Infallible;
use std::io;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
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
    /// Open connections per peer address (IPv6: per /64) at most; one
    /// more is answered `503 TOO_MANY_CONNECTIONS` and closed. `None`: no
    /// cap (behind a reverse proxy every connection comes from the proxy).
    pub max_connections_per_client: Option<usize>,
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
            max_connections_per_client: None,
        }
    }
}

/// Open files kept beside the connections: ChatHub calls, listeners, logs
/// and the runtime's own.
pub const RESERVED_OPEN_FILES: usize = 64;

/// Raises the soft open-file limit (`RLIMIT_NOFILE`) to the hard one and
/// returns the soft limit now in force; `None` where it cannot be read.
#[cfg(unix)]
pub fn raise_open_file_limit() -> Option<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `limit` is a valid, writable `rlimit` that outlives the call,
    // and RLIMIT_NOFILE is a valid resource.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return None;
    }
    if limit.rlim_cur < limit.rlim_max {
        let raised = libc::rlimit {
            rlim_cur: limit.rlim_max,
            rlim_max: limit.rlim_max,
        };
        // SAFETY: as above; `raised` is only read. Raising the soft limit
        // up to the hard one needs no privilege; on failure it stays as is.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
            limit.rlim_cur = limit.rlim_max;
        }
    }
    #[allow(clippy::unnecessary_cast, clippy::useless_conversion)]
    Some(u64::try_from(limit.rlim_cur as u128).unwrap_or(u64::MAX))
}

/// Elsewhere the limit is not known.
#[cfg(not(unix))]
pub fn raise_open_file_limit() -> Option<u64> {
    None
}

/// The connection cap that fits `open_files` with `reserve` kept for the
/// rest: `wanted`, or less (`None` when not even a few connections fit).
pub fn fit_open_files(wanted: usize, open_files: u64, reserve: usize) -> Option<usize> {
    let room = usize::try_from(open_files)
        .unwrap_or(usize::MAX)
        .saturating_sub(reserve);
    (room >= MIN_CONNECTIONS).then_some(wanted.min(room))
}

/// Fewer connections than this is no service.
const MIN_CONNECTIONS: usize = 16;

/// Open connections per client address.
#[derive(Default)]
struct PerClient {
    open: Mutex<HashMap<IpAddr, usize>>,
}

/// One open connection of a client; gives its slot back when dropped.
struct ClientSlot {
    clients: Arc<PerClient>,
    key: IpAddr,
}

impl PerClient {
    /// A slot for `key` unless it holds `max` already.
    fn take(self: &Arc<Self>, key: IpAddr, max: usize) -> Option<ClientSlot> {
        let mut open = lock(&self.open);
        let n = open.entry(key).or_insert(0);
        if *n >= max {
            return None;
        }
        *n += 1;
        Some(ClientSlot {
            clients: self.clone(),
            key,
        })
    }
}

impl Drop for ClientSlot {
    fn drop(&mut self) {
        let mut open = lock(&self.clients.open);
        if let Some(n) = open.get_mut(&self.key) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                open.remove(&self.key);
            }
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The answer to a connection past its client's share, in the documented shape.
fn too_many_connections() -> Vec<u8> {
    let body = serde_json::json!({
        "code": "TOO_MANY_CONNECTIONS",
        "message": "This client has too many open connections; close some and try again.",
    })
    .to_string();
    format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\ncache-control: no-store\r\nx-content-type-options: nosniff\r\nretry-after: 1\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
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
    let per_client = Arc::new(PerClient::default());
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
        let slot = match options.max_connections_per_client {
            None => None,
            Some(max) => match per_client.take(crate::limits::bucket(peer.ip()), max) {
                Some(slot) => Some(slot),
                None => {
                    tracing::debug!(peer = %peer.ip(), "refused a connection past the client's share");
                    // Best effort on a fresh socket, then closed (and its
                    // permit given back).
                    let _ = stream.try_write(&too_many_connections());
                    continue;
                }
            },
        };
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
            drop(slot);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_connection_cap_leaves_the_reserve_free() {
        assert_eq!(fit_open_files(2048, 1024, 66), Some(958));
        assert_eq!(fit_open_files(2048, 65536, 66), Some(2048));
        assert_eq!(fit_open_files(2048, u64::MAX, 66), Some(2048));
        assert_eq!(fit_open_files(2048, 70, 66), None);
    }

    #[test]
    fn a_client_holds_at_most_its_share_and_gets_slots_back() {
        let clients = Arc::new(PerClient::default());
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        let first = clients.take(a, 2).expect("a slot");
        let _second = clients.take(a, 2).expect("a slot");
        assert!(clients.take(a, 2).is_none());
        assert!(clients.take(b, 2).is_some());
        drop(first);
        assert!(clients.take(a, 2).is_some());
        assert!(
            lock(&clients.open).get(&b).is_none(),
            "an idle client is forgotten"
        );
    }
}
