//! The stop request of a binary: SIGTERM (Kubernetes, `make down`, a spot reclaim) or SIGINT
//! (Ctrl-C), as a value that can be checked and waited on from any task.

use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::watch;

#[derive(Debug, Clone)]
pub struct Shutdown(watch::Receiver<bool>);

/// Requests a stop of a [`Shutdown`] made by [`Shutdown::manual`].
#[derive(Debug)]
pub struct Trigger(watch::Sender<bool>);

impl Trigger {
    pub fn stop(&self) {
        let _ = self.0.send(true);
    }
}

impl Shutdown {
    /// Starts listening for SIGTERM and SIGINT (needs a Tokio runtime).
    pub fn listen() -> std::io::Result<Self> {
        let (trigger, shutdown) = Self::manual();
        let mut term = signal(SignalKind::terminate())?;
        let mut int = signal(SignalKind::interrupt())?;
        tokio::spawn(async move {
            let name = tokio::select! {
                _ = term.recv() => "SIGTERM",
                _ = int.recv() => "SIGINT",
            };
            tracing::warn!(signal = name, "stop requested");
            trigger.stop();
            // Keep the sender: dropping it would read as "no stop can come any more".
            std::future::pending::<()>().await;
        });
        Ok(shutdown)
    }

    /// A stop that only `Trigger::stop` requests (tests, embedding).
    pub fn manual() -> (Trigger, Self) {
        let (tx, rx) = watch::channel(false);
        (Trigger(tx), Shutdown(rx))
    }

    pub fn is_requested(&self) -> bool {
        *self.0.borrow()
    }

    /// Resolves once a stop was requested.
    pub async fn requested(&self) {
        let mut rx = self.0.clone();
        // An error means the sender is gone: no stop can come any more.
        if rx.wait_for(|stop| *stop).await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// Resolves on the first SIGTERM or SIGINT (never, if the handlers cannot be installed): for
/// servers' graceful shutdown.
pub async fn stop_requested() {
    match Shutdown::listen() {
        Ok(shutdown) => shutdown.requested().await,
        Err(e) => {
            tracing::warn!(error = %e, "cannot install signal handlers; stop with SIGKILL");
            std::future::pending().await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_manual_stop_is_seen_by_every_clone() {
        let (trigger, shutdown) = Shutdown::manual();
        let other = shutdown.clone();
        assert!(!shutdown.is_requested());
        trigger.stop();
        other.requested().await;
        assert!(shutdown.is_requested());
    }
}
