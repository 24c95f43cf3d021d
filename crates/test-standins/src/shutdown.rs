//! Stopping on SIGTERM or SIGINT. A stand-in runs as PID 1 in its container, where the kernel
//! applies no default action to SIGTERM: without a handler `docker stop` would wait out its
//! grace period and kill it.

use tokio::signal::unix::{SignalKind, signal};

/// Completes when the process is asked to stop.
pub async fn requested() {
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        // No handler could be installed: never complete; the stop falls back to SIGKILL.
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}
