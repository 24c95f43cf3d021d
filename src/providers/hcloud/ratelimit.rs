//! Staying inside the project's request budget (3600/hour by default).
//!
//! Every response carries `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset` (the UNIX
//! time at which the budget is full again). The budget refills gradually, `Limit` tokens over an
//! hour, so between now and the reset `Limit - Remaining` tokens come back. Once `Remaining` drops
//! under a threshold the pacer spaces requests at that refill rate: the remainder then stops
//! shrinking and the run never walks into a 429. Slots are handed out under a lock so concurrent
//! requests are paced together, not each on its own.

use std::sync::Mutex;
use std::time::Duration;

use reqwest::header::HeaderMap;

use crate::providers::sync::lock_even_if_poisoned;

#[derive(Debug, Clone, PartialEq)]
pub struct PacingPolicy {
    /// Pace once `Remaining` is below this fraction of `Limit`.
    pub threshold_ratio: f64,
    /// Upper bound of the pause inserted before one request.
    pub max_delay: Duration,
}

impl Default for PacingPolicy {
    fn default() -> Self {
        Self {
            threshold_ratio: 0.1,
            max_delay: Duration::from_secs(30),
        }
    }
}

impl PacingPolicy {
    /// Never pace (tests against a simulator with a tiny budget, or a caller that paces itself).
    pub fn disabled() -> Self {
        Self {
            threshold_ratio: 0.0,
            max_delay: Duration::ZERO,
        }
    }
}

/// The three rate-limit headers of one response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitInfo {
    pub limit: u64,
    pub remaining: u64,
    /// UNIX time (seconds) at which the budget is full again.
    pub reset: u64,
}

impl RateLimitInfo {
    /// Reads the headers; `None` unless all three are present and numeric.
    pub fn from_headers(headers: &HeaderMap) -> Option<Self> {
        let get =
            |name: &str| -> Option<u64> { headers.get(name)?.to_str().ok()?.trim().parse().ok() };
        Some(Self {
            limit: get("ratelimit-limit")?,
            remaining: get("ratelimit-remaining")?,
            reset: get("ratelimit-reset")?,
        })
    }

    fn threshold(&self, policy: &PacingPolicy) -> u64 {
        (self.limit as f64 * policy.threshold_ratio.clamp(0.0, 1.0)).ceil() as u64
    }

    fn until_reset(&self, now_unix: Duration) -> Duration {
        Duration::from_secs(self.reset).saturating_sub(now_unix)
    }

    /// The pause before the next request: zero while the budget is above the threshold, otherwise
    /// the time one token takes to refill, `(reset - now) / (limit - remaining)`, capped.
    pub fn pacing_delay(&self, policy: &PacingPolicy, now_unix: Duration) -> Duration {
        if self.limit == 0 || self.remaining >= self.threshold(policy) {
            return Duration::ZERO;
        }
        let until_reset = self.until_reset(now_unix);
        let missing = self.limit.saturating_sub(self.remaining).max(1);
        let per_token = until_reset / u32::try_from(missing).unwrap_or(u32::MAX);
        per_token.min(policy.max_delay)
    }

    /// How long to wait after a 429: until the reset, but never longer than `max`.
    pub fn wait_after_429(&self, now_unix: Duration, max: Duration) -> Duration {
        self.until_reset(now_unix).min(max)
    }
}

#[derive(Debug, Default)]
struct PacerState {
    last: Option<RateLimitInfo>,
    /// Monotonic start of the most recently admitted request.
    last_start: Option<Duration>,
    /// Monotonic time before which no request may start (set after a 429).
    floor: Duration,
}

/// Shared pacing state of one client.
#[derive(Debug, Default)]
pub(crate) struct Pacer {
    state: Mutex<PacerState>,
}

impl Pacer {
    fn lock(&self) -> std::sync::MutexGuard<'_, PacerState> {
        lock_even_if_poisoned(&self.state)
    }

    /// Admits the next request and returns how long the caller must sleep before sending: at least
    /// the current spacing after the previously admitted request, and not before the floor.
    pub fn reserve(
        &self,
        policy: &PacingPolicy,
        now_mono: Duration,
        now_unix: Duration,
    ) -> Duration {
        let mut state = self.lock();
        let spacing = state
            .last
            .map(|info| info.pacing_delay(policy, now_unix))
            .unwrap_or(Duration::ZERO);
        let earliest = state.last_start.map(|t| t + spacing).unwrap_or(now_mono);
        let start = now_mono.max(earliest).max(state.floor);
        state.last_start = Some(start);
        start - now_mono
    }

    pub fn observe(&self, info: RateLimitInfo) {
        self.lock().last = Some(info);
    }

    pub fn last(&self) -> Option<RateLimitInfo> {
        self.lock().last
    }

    /// Holds back every request (not just the one that got the 429) until `until`.
    pub fn block_until(&self, until: Duration) {
        let mut state = self.lock();
        state.floor = state.floor.max(until);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn info(limit: u64, remaining: u64, reset: u64) -> RateLimitInfo {
        RateLimitInfo {
            limit,
            remaining,
            reset,
        }
    }

    #[test]
    fn parses_the_three_headers() {
        let mut h = HeaderMap::new();
        h.insert("RateLimit-Limit", HeaderValue::from_static("1000"));
        h.insert("RateLimit-Remaining", HeaderValue::from_static("999"));
        h.insert("RateLimit-Reset", HeaderValue::from_static("1511954577"));
        assert_eq!(
            RateLimitInfo::from_headers(&h),
            Some(info(1000, 999, 1_511_954_577))
        );
        h.insert("RateLimit-Reset", HeaderValue::from_static("soon"));
        assert_eq!(RateLimitInfo::from_headers(&h), None);
    }

    #[test]
    fn no_pacing_above_threshold() {
        let p = PacingPolicy::default();
        let now = Duration::from_secs(1_000);
        assert_eq!(info(3600, 360, 4_240).pacing_delay(&p, now), Duration::ZERO);
        assert_eq!(
            info(3600, 3600, 1_000).pacing_delay(&p, now),
            Duration::ZERO
        );
    }

    #[test]
    fn paces_at_refill_rate_below_threshold() {
        let p = PacingPolicy::default();
        let now = Duration::from_secs(1_000);
        // 3600/h refills one token per second: 3590 missing tokens come back in 3590 s.
        assert_eq!(
            info(3600, 10, 1_000 + 3_590).pacing_delay(&p, now),
            Duration::from_secs(1)
        );
        // Empty budget, full again in an hour: one token per second.
        assert_eq!(
            info(3600, 0, 1_000 + 3_600).pacing_delay(&p, now),
            Duration::from_secs(1)
        );
        // A slower project (600/h): six seconds per token.
        assert_eq!(
            info(600, 10, 1_000 + 3_540).pacing_delay(&p, now),
            Duration::from_secs(6)
        );
        // Reset already passed: nothing to wait for.
        assert_eq!(info(3600, 5, 900).pacing_delay(&p, now), Duration::ZERO);
        // Capped.
        let tight = PacingPolicy {
            max_delay: Duration::from_millis(500),
            ..p.clone()
        };
        assert_eq!(
            info(3600, 0, 1_000 + 3_600).pacing_delay(&tight, now),
            Duration::from_millis(500)
        );
        assert_eq!(
            info(3600, 0, 1_000 + 3_600).pacing_delay(&PacingPolicy::disabled(), now),
            Duration::ZERO
        );
    }

    #[test]
    fn wait_after_429_is_bounded() {
        let now = Duration::from_secs(1_000);
        let max = Duration::from_secs(60);
        assert_eq!(
            info(3600, 0, 1_010).wait_after_429(now, max),
            Duration::from_secs(10)
        );
        assert_eq!(info(3600, 0, 5_000).wait_after_429(now, max), max);
        assert_eq!(info(3600, 0, 10).wait_after_429(now, max), Duration::ZERO);
    }

    #[test]
    fn concurrent_reservations_are_spaced() {
        let p = PacingPolicy::default();
        let pacer = Pacer::default();
        let unix = Duration::from_secs(1_000);
        let mono = Duration::from_secs(5);
        assert_eq!(pacer.reserve(&p, mono, unix), Duration::ZERO);
        pacer.observe(info(3600, 0, 1_000 + 3_600));
        // Three requests issued at the same instant get slots one token-time apart.
        let waits: Vec<u64> = (0..3)
            .map(|_| pacer.reserve(&p, mono, unix).as_secs())
            .collect();
        assert_eq!(waits, vec![1, 2, 3]);
        pacer.block_until(mono + Duration::from_secs(30));
        assert_eq!(pacer.reserve(&p, mono, unix), Duration::from_secs(30));
    }
}
