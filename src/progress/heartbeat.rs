//! A wait that says what it waits for while it waits: every few seconds a progress line with
//! what is awaited, how long it has been, and the deadline it has. A run never sits silent for
//! minutes (a booting server's sshd, a slow action).

use super::EventSink;
use std::future::Future;
use std::time::Duration;
use tokio::time::{Instant, interval_at};

/// How often a long wait says it is still waiting.
pub const EVERY: Duration = Duration::from_secs(15);

/// Runs `wait`, telling `events` every `every` that `address` still waits for `what`, with the
/// time waited so far and `limit`, the deadline the wait itself enforces.
pub async fn while_waiting<T>(
    events: &EventSink,
    address: &str,
    what: &str,
    limit: Duration,
    every: Duration,
    wait: impl Future<Output = T>,
) -> T {
    let started = Instant::now();
    let mut tick = interval_at(started + every, every);
    let mut wait = std::pin::pin!(wait);
    loop {
        tokio::select! {
            done = &mut wait => return done,
            _ = tick.tick() => events.progress(
                address,
                format!(
                    "still waiting for {what}: {}s so far, giving up after {}s",
                    started.elapsed().as_secs(),
                    limit.as_secs()
                ),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::progress::Event;

    #[tokio::test]
    async fn a_long_wait_says_what_it_waits_for_and_a_short_one_says_nothing() {
        let (events, mut rx) = EventSink::new();
        let every = Duration::from_millis(20);
        let limit = Duration::from_secs(300);
        let slow = tokio::time::sleep(every * 5);
        let v = while_waiting(
            &events,
            "server.a",
            "sshd on 127.0.0.1:22",
            limit,
            every,
            async {
                slow.await;
                7
            },
        )
        .await;
        assert_eq!(v, 7);
        let mut said = Vec::new();
        while let Ok(Event::Progress { address, message }) = rx.try_recv() {
            assert_eq!(address, "server.a");
            said.push(message);
        }
        assert!(said.len() >= 2, "{said:?}");
        assert!(
            said[0].starts_with("still waiting for sshd on 127.0.0.1:22: ")
                && said[0].ends_with("giving up after 300s"),
            "{said:?}"
        );

        while_waiting(
            &events,
            "server.a",
            "x",
            limit,
            Duration::from_secs(60),
            async {},
        )
        .await;
        assert!(rx.try_recv().is_err(), "a quick wait is silent");
    }
}
