//! The API's rate limit: a token bucket of `limit` requests that refills gradually (3600/hour = one per second).

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How the bucket is sized and refilled. The default is Hetzner's: 3600 requests, one back per second.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimitConfig {
    pub limit: u32,
    pub refill_per_second: f64,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self {
            limit: 3600,
            refill_per_second: 1.0,
        }
    }
}

/// What the three `RateLimit-*` headers report after one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitStatus {
    pub limit: u32,
    pub remaining: u32,
    /// UNIX timestamp (seconds) at which the bucket is full again.
    pub reset: u64,
    pub allowed: bool,
}

#[derive(Debug)]
pub struct TokenBucket {
    config: RateLimitConfig,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    pub fn new(config: RateLimitConfig, now: Instant) -> Self {
        Self {
            config,
            tokens: f64::from(config.limit),
            last: now,
        }
    }

    /// Takes one token if there is one; the status is reported either way.
    pub fn take(&mut self, now: Instant, wall: SystemTime) -> RateLimitStatus {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        let cap = f64::from(self.config.limit);
        self.tokens = (self.tokens + elapsed * self.config.refill_per_second).min(cap);
        let allowed = self.tokens >= 1.0;
        if allowed {
            self.tokens -= 1.0;
        }
        let missing = cap - self.tokens;
        let secs_to_full = if missing <= 0.0 || self.config.refill_per_second <= 0.0 {
            0.0
        } else {
            missing / self.config.refill_per_second
        };
        let wall_secs = wall
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO)
            .as_secs_f64();
        RateLimitStatus {
            limit: self.config.limit,
            remaining: self.tokens.floor() as u32,
            reset: (wall_secs + secs_to_full).ceil() as u64,
            allowed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drains_then_refuses_then_refills() {
        let t0 = Instant::now();
        let wall = UNIX_EPOCH + Duration::from_secs(1_000_000);
        let mut b = TokenBucket::new(
            RateLimitConfig {
                limit: 3,
                refill_per_second: 1.0,
            },
            t0,
        );
        let s = b.take(t0, wall);
        assert_eq!((s.allowed, s.remaining, s.limit), (true, 2, 3));
        assert_eq!(s.reset, 1_000_001);
        b.take(t0, wall);
        let s = b.take(t0, wall);
        assert_eq!((s.allowed, s.remaining, s.reset), (true, 0, 1_000_003));
        let s = b.take(t0, wall);
        assert!(!s.allowed);
        assert_eq!(s.remaining, 0);
        // Half a token is not enough; a whole one is.
        assert!(!b.take(t0 + Duration::from_millis(500), wall).allowed);
        assert!(b.take(t0 + Duration::from_millis(1000), wall).allowed);
    }

    #[test]
    fn never_exceeds_capacity() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(RateLimitConfig::default(), t0);
        let s = b.take(t0 + Duration::from_secs(10_000), SystemTime::now());
        assert_eq!(s.remaining, 3599);
    }
}
