//! The stop request of a long-running binary: SIGTERM (Kubernetes, `make down`) or SIGINT (Ctrl-C).

use tokio::signal::unix::{SignalKind, signal};

/// Resolves on the first SIGTERM or SIGINT (never, if the handlers cannot be installed) and logs it.
pub async fn stop_requested() {
    let (Ok(mut term), Ok(mut int)) = (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) else {
        return std::future::pending().await;
    };
    let name = tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = int.recv() => "SIGINT",
    };
    tracing::info!(signal = name, "stopping");
}
