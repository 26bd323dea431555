//! Graceful shutdown: a [`Shutdown`] handle that the signal listener (or a
//! test, or a host embedding the crate) starts, that `/readyz` reads and
//! that [`crate::server::serve`] follows. What happens after the start is
//! the server's business (drain delay, then no new connections, then a
//! deadline); see [`crate::server`].

use std::sync::Arc;

use tokio::sync::watch;

/// Whether shutdown has started. Cloning shares it.
#[derive(Debug, Clone)]
pub struct Shutdown {
    started: Arc<watch::Sender<bool>>,
}

impl Default for Shutdown {
    fn default() -> Self {
        Self::new()
    }
}

impl Shutdown {
    /// Not started.
    pub fn new() -> Self {
        Shutdown {
            started: Arc::new(watch::Sender::new(false)),
        }
    }

    /// Starts the shutdown (again: no effect).
    pub fn start(&self) {
        self.started
            .send_if_modified(|started| !std::mem::replace(started, true));
    }

    /// Whether it has started.
    pub fn is_started(&self) -> bool {
        *self.started.borrow()
    }

    /// Resolves once it has started.
    pub async fn started(&self) {
        let mut rx = self.started.subscribe();
        // The sender lives in `self`, so waiting cannot fail.
        let _ = rx.wait_for(|started| *started).await;
    }

    /// Starts it on the first SIGINT or SIGTERM (needs a tokio runtime).
    pub fn on_signal(&self) {
        let this = self.clone();
        tokio::spawn(async move {
            signal().await;
            this.start();
        });
    }

    /// Once started, exits the process `limit` later if it is still
    /// running: a thread of its own, so not even a task stuck in a
    /// blocking call or a wedged runtime outlives the deadline.
    pub fn exit_after(&self, limit: std::time::Duration) {
        let this = self.clone();
        tokio::spawn(async move {
            this.started().await;
            std::thread::spawn(move || {
                std::thread::sleep(limit);
                eprintln!("error: still running {limit:?} after the shutdown started; exiting");
                std::process::exit(1);
            });
        });
    }
}

/// Resolves on the first SIGINT (Ctrl-C) or SIGTERM.
pub async fn signal() {
    let interrupt = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = interrupt => {}
        _ = terminate => {}
    }
    tracing::info!("shutting down");
}
