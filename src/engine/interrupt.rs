//! A request to stop a run (the command line turns SIGINT and SIGTERM into one): once it is
//! made, the executor starts no new operation, lets the running ones finish (each within its own
//! deadline) and records them, and the run reports what was done and what was not.

use std::sync::Arc;
use tokio::sync::watch;

/// Shared by whoever hears the signal and the run it stops; clones see the same request.
#[derive(Debug, Clone)]
pub struct StopSignal(Arc<watch::Sender<bool>>);

impl Default for StopSignal {
    fn default() -> Self {
        Self(Arc::new(watch::channel(false).0))
    }
}

impl StopSignal {
    /// Asks the run to stop starting operations. Asking again changes nothing.
    pub fn request(&self) {
        self.0.send_replace(true);
    }

    pub fn is_requested(&self) -> bool {
        *self.0.borrow()
    }

    /// Resolves once the stop is requested.
    pub async fn requested(&self) {
        let mut rx = self.0.subscribe();
        let _ = rx.wait_for(|stop| *stop).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_request_is_seen_by_every_clone_and_wakes_a_waiter() {
        let stop = StopSignal::default();
        let seen = stop.clone();
        assert!(!seen.is_requested());
        let waiter = tokio::spawn(async move { seen.requested().await });
        stop.request();
        waiter.await.expect("the waiter wakes");
        assert!(stop.is_requested());
        // Already requested: resolves at once.
        stop.requested().await;
    }
}
