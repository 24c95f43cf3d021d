//! Time as the client sees it. Every delay (backoff, pacing, action polling) goes through a [`Clock`],
//! so tests swap in [`ManualClock`] and run instantly while still asserting on the waits.

use std::fmt::Debug;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::providers::sync::lock_even_if_poisoned;

/// A boxed future returned by [`Clock::sleep`].
pub type SleepFuture<'a> = Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

pub trait Clock: Send + Sync + Debug {
    /// Wall-clock time since the UNIX epoch; only used to interpret `RateLimit-Reset`.
    fn unix_time(&self) -> Duration;
    /// Monotonic time since an arbitrary origin; used for deadlines and pacing slots.
    fn monotonic(&self) -> Duration;
    fn sleep(&self, duration: Duration) -> SleepFuture<'_>;
}

/// The real clock: tokio timers, `Instant` for deadlines.
#[derive(Debug)]
pub struct SystemClock {
    origin: Instant,
}

impl SystemClock {
    pub fn new() -> Self {
        Self {
            origin: Instant::now(),
        }
    }
}

impl Default for SystemClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for SystemClock {
    fn unix_time(&self) -> Duration {
        // A clock before 1970 is a broken host; treating it as the epoch only makes pacing cautious.
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO)
    }

    fn monotonic(&self) -> Duration {
        self.origin.elapsed()
    }

    fn sleep(&self, duration: Duration) -> SleepFuture<'_> {
        Box::pin(tokio::time::sleep(duration))
    }
}

/// A clock that only moves when slept on. Sleeping advances both wall and monotonic time at once and
/// records the requested duration, so tests can assert exactly how long the client chose to wait.
#[derive(Debug, Clone)]
pub struct ManualClock {
    inner: Arc<Mutex<ManualState>>,
}

#[derive(Debug)]
struct ManualState {
    unix: Duration,
    monotonic: Duration,
    sleeps: Vec<Duration>,
}

impl ManualClock {
    /// Starts at the given UNIX time (seconds).
    pub fn at_unix(seconds: u64) -> Self {
        Self {
            inner: Arc::new(Mutex::new(ManualState {
                unix: Duration::from_secs(seconds),
                monotonic: Duration::ZERO,
                sleeps: Vec::new(),
            })),
        }
    }

    /// Moves time forward without recording a sleep (time passing outside the client).
    pub fn advance(&self, by: Duration) {
        let mut state = self.lock();
        state.unix += by;
        state.monotonic += by;
    }

    /// Every sleep requested so far, in order.
    pub fn sleeps(&self) -> Vec<Duration> {
        self.lock().sleeps.clone()
    }

    /// Sum of all sleeps.
    pub fn total_slept(&self) -> Duration {
        self.lock().sleeps.iter().sum()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ManualState> {
        // A panic while holding this lock can only come from a test; keep going with its data.
        lock_even_if_poisoned(&self.inner)
    }
}

impl Clock for ManualClock {
    fn unix_time(&self) -> Duration {
        self.lock().unix
    }

    fn monotonic(&self) -> Duration {
        self.lock().monotonic
    }

    fn sleep(&self, duration: Duration) -> SleepFuture<'_> {
        {
            let mut state = self.lock();
            state.sleeps.push(duration);
            state.unix += duration;
            state.monotonic += duration;
        }
        Box::pin(std::future::ready(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn manual_clock_advances_on_sleep() {
        let clock = ManualClock::at_unix(1_000);
        clock.sleep(Duration::from_secs(3)).await;
        clock.advance(Duration::from_secs(1));
        assert_eq!(clock.unix_time(), Duration::from_secs(1_004));
        assert_eq!(clock.monotonic(), Duration::from_secs(4));
        assert_eq!(clock.sleeps(), vec![Duration::from_secs(3)]);
    }
}
