//! Which failures are worth another attempt, and how long to wait before it.
//!
//! The policy follows the official clients (retry `conflict`, `rate_limit_exceeded`, 502/504 and
//! network timeouts; truncated exponential backoff with full jitter, base 1 s, cap 60 s, 5 retries)
//! and adds what a provisioner needs: `locked` is retried (our own actions finish), 503 is retried, a
//! bare 429 without a JSON body is retried, 500 is retried for requests that are safe to repeat
//! (GET, PUT, DELETE), and a POST is only re-sent when that cannot apply it twice (a POST answered
//! with a 5xx is reported as of unknown outcome: the caller reads the resource again to decide).

use std::time::Duration;

use super::error::{ErrorCode, TransportKind};

#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Retries after the first attempt (so `max_retries + 1` attempts at most).
    pub max_retries: u32,
    /// Ceiling of the first backoff; doubles on each retry.
    pub base_delay: Duration,
    /// Upper bound of any single backoff.
    pub max_delay: Duration,
    /// Upper bound of a wait for `RateLimit-Reset` after a 429.
    pub max_rate_limit_wait: Duration,
    /// Retry `423 locked`. The official clients do not (the code is used for more than running
    /// actions), but for a provisioner the usual cause is its own action still finishing.
    pub retry_locked: bool,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_retries: 5,
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(60),
            max_rate_limit_wait: Duration::from_secs(60),
            retry_locked: true,
        }
    }
}

impl RetryPolicy {
    /// No retries at all; useful for read-only probes that should fail fast.
    pub fn none() -> Self {
        Self {
            max_retries: 0,
            ..Self::default()
        }
    }

    /// Ceiling of the backoff before retry number `retry` (0-based): `min(max, base * 2^retry)`.
    pub fn backoff_ceiling(&self, retry: u32) -> Duration {
        let factor = 2u32.saturating_pow(retry.min(31));
        self.base_delay
            .checked_mul(factor)
            .unwrap_or(self.max_delay)
            .min(self.max_delay)
    }

    /// Full jitter: a uniform draw from `[0, ceiling]`. `unit` is the random draw in `[0, 1)`;
    /// values outside are clamped so a bad source can never produce a negative or oversized wait.
    pub fn backoff(&self, retry: u32, unit: f64) -> Duration {
        let unit = if unit.is_finite() {
            unit.clamp(0.0, 1.0)
        } else {
            0.0
        };
        self.backoff_ceiling(retry).mul_f64(unit)
    }
}

/// What one attempt ended with, as far as retrying is concerned.
#[derive(Debug, Clone, Copy)]
pub enum AttemptOutcome<'a> {
    /// An error response with a JSON error code.
    Api { status: u16, code: &'a ErrorCode },
    /// An error response without a parsable JSON body.
    BareStatus { status: u16 },
    /// No response.
    Transport(TransportKind),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Try again. `ambiguous`: the failed attempt may have been applied (a gateway error after a
    /// POST), so if the retries end in failure the outcome is unknown, not simply failed.
    /// `rate_limited`: wait for the rate-limit reset rather than the plain backoff.
    Retry { ambiguous: bool, rate_limited: bool },
    /// Give up now. `ambiguous` as above: a POST that timed out may have been applied.
    Stop { ambiguous: bool },
}

/// Decides whether an attempt is retried. `idempotent` is true for GET, PUT and DELETE: sending them
/// twice has the same effect as once, so any transport failure may be retried.
pub fn classify(policy: &RetryPolicy, idempotent: bool, outcome: AttemptOutcome<'_>) -> Verdict {
    // A 5xx answer to a POST does not say whether the backend applied it before failing.
    match outcome {
        AttemptOutcome::Api { status, code } => match code {
            // These describe the request itself; sending it again cannot succeed.
            ErrorCode::InvalidInput
            | ErrorCode::JsonError
            | ErrorCode::UniquenessError
            | ErrorCode::Protected
            | ErrorCode::NotFound
            | ErrorCode::Forbidden
            | ErrorCode::TokenReadonly
            | ErrorCode::Unauthorized
            | ErrorCode::ResourceLimitExceeded
            | ErrorCode::MethodNotAllowed
            | ErrorCode::DeprecatedApiEndpoint => Verdict::Stop { ambiguous: false },
            ErrorCode::RateLimitExceeded => Verdict::Retry {
                ambiguous: false,
                rate_limited: true,
            },
            ErrorCode::Conflict => Verdict::Retry {
                ambiguous: false,
                rate_limited: false,
            },
            ErrorCode::Locked if policy.retry_locked => Verdict::Retry {
                ambiguous: false,
                rate_limited: false,
            },
            // A POST answered by a gateway error may have been applied: it is not re-sent (a
            // second create could duplicate a resource); the caller adopts by labels instead.
            _ if !idempotent && matches!(status, 502..=504) => Verdict::Stop { ambiguous: true },
            ErrorCode::BadGateway | ErrorCode::Timeout | ErrorCode::Unavailable => Verdict::Retry {
                ambiguous: false,
                rate_limited: false,
            },
            _ if matches!(status, 502..=504) => Verdict::Retry {
                ambiguous: false,
                rate_limited: false,
            },
            // An internal error on a request that is safe to repeat (a read, a PUT of the same
            // labels) is as transient as a gateway error: one 500 on a GET must not fail an apply.
            _ if idempotent && status == 500 => Verdict::Retry {
                ambiguous: false,
                rate_limited: false,
            },
            _ => Verdict::Stop {
                ambiguous: !idempotent && status >= 500,
            },
        },
        AttemptOutcome::BareStatus { status } => match status {
            429 => Verdict::Retry {
                ambiguous: false,
                rate_limited: true,
            },
            502..=504 if !idempotent => Verdict::Stop { ambiguous: true },
            500 | 502..=504 if idempotent => Verdict::Retry {
                ambiguous: false,
                rate_limited: false,
            },
            _ => Verdict::Stop {
                ambiguous: !idempotent && status >= 500,
            },
        },
        AttemptOutcome::Transport(TransportKind::Connect) => Verdict::Retry {
            ambiguous: false,
            rate_limited: false,
        },
        AttemptOutcome::Transport(_) if idempotent => Verdict::Retry {
            ambiguous: false,
            rate_limited: false,
        },
        // A POST that may have reached the API is not re-sent: a second create could duplicate a
        // resource or trip over the first one. The caller adopts by labels instead.
        AttemptOutcome::Transport(_) => Verdict::Stop { ambiguous: true },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn api(status: u16, code: &str) -> Verdict {
        let code = ErrorCode::parse(code);
        classify(
            &RetryPolicy::default(),
            true,
            AttemptOutcome::Api {
                status,
                code: &code,
            },
        )
    }

    fn retries(v: Verdict) -> bool {
        matches!(v, Verdict::Retry { .. })
    }

    #[test]
    fn never_retries_what_cannot_succeed() {
        for (status, code) in [
            (422, "invalid_input"),
            (409, "uniqueness_error"),
            (423, "protected"),
            (404, "not_found"),
            (403, "forbidden"),
            (401, "unauthorized"),
            (403, "resource_limit_exceeded"),
            (400, "json_error"),
            (422, "server_not_stopped"),
            (412, "resource_unavailable"),
        ] {
            assert!(!retries(api(status, code)), "{code}");
        }
        // A POST answered with a 500 may have been applied: not re-sent, outcome unknown.
        let code = ErrorCode::parse("server_error");
        assert_eq!(
            classify(
                &RetryPolicy::default(),
                false,
                AttemptOutcome::Api {
                    status: 500,
                    code: &code
                }
            ),
            Verdict::Stop { ambiguous: true }
        );
    }

    #[test]
    fn retries_transient_codes() {
        for (status, code) in [
            (409, "conflict"),
            (423, "locked"),
            (429, "rate_limit_exceeded"),
            (502, "bad_gateway"),
            (503, "unavailable"),
            (504, "timeout"),
            (503, "something_new"),
            (500, "server_error"),
        ] {
            assert!(retries(api(status, code)), "{code}");
        }
        assert_eq!(
            api(429, "rate_limit_exceeded"),
            Verdict::Retry {
                ambiguous: false,
                rate_limited: true
            }
        );
        let no_locked = RetryPolicy {
            retry_locked: false,
            ..RetryPolicy::default()
        };
        let code = ErrorCode::Locked;
        assert!(!retries(classify(
            &no_locked,
            true,
            AttemptOutcome::Api {
                status: 423,
                code: &code
            }
        )));
    }

    #[test]
    fn bare_statuses() {
        let p = RetryPolicy::default();
        let bare =
            |idempotent, status| classify(&p, idempotent, AttemptOutcome::BareStatus { status });
        assert!(retries(bare(true, 502)));
        assert!(retries(bare(true, 503)));
        assert!(retries(bare(true, 504)));
        assert!(retries(bare(true, 429)));
        assert!(retries(bare(true, 500)));
        assert_eq!(bare(false, 500), Verdict::Stop { ambiguous: true });
        assert_eq!(bare(true, 501), Verdict::Stop { ambiguous: false });
        assert!(!retries(bare(true, 409)));
        // A POST answered by a gateway error may have been applied: never re-sent.
        assert_eq!(bare(false, 504), Verdict::Stop { ambiguous: true });
        assert_eq!(bare(false, 503), Verdict::Stop { ambiguous: true });
        assert_eq!(
            bare(true, 503),
            Verdict::Retry {
                ambiguous: false,
                rate_limited: false
            }
        );
    }

    #[test]
    fn posts_are_only_resent_when_certainly_not_sent() {
        let p = RetryPolicy::default();
        let t = |idempotent, kind| classify(&p, idempotent, AttemptOutcome::Transport(kind));
        assert!(retries(t(false, TransportKind::Connect)));
        assert_eq!(
            t(false, TransportKind::Timeout),
            Verdict::Stop { ambiguous: true }
        );
        assert_eq!(
            t(false, TransportKind::Interrupted),
            Verdict::Stop { ambiguous: true }
        );
        assert!(retries(t(true, TransportKind::Timeout)));
        assert!(retries(t(true, TransportKind::Interrupted)));
    }

    #[test]
    fn ceiling_doubles_and_caps() {
        let p = RetryPolicy::default();
        let secs: Vec<u64> = (0..8).map(|r| p.backoff_ceiling(r).as_secs()).collect();
        assert_eq!(secs, vec![1, 2, 4, 8, 16, 32, 60, 60]);
        assert_eq!(p.backoff_ceiling(u32::MAX), Duration::from_secs(60));
    }

    proptest! {
        #[test]
        fn jitter_stays_within_bounds(retry in 0u32..100, unit in proptest::num::f64::ANY) {
            let p = RetryPolicy::default();
            let d = p.backoff(retry, unit);
            prop_assert!(d <= p.backoff_ceiling(retry));
            prop_assert!(d <= p.max_delay);
        }

        #[test]
        fn jitter_is_uniform_scale(retry in 0u32..10, unit in 0.0f64..1.0) {
            let p = RetryPolicy::default();
            let expected = p.backoff_ceiling(retry).as_secs_f64() * unit;
            prop_assert!((p.backoff(retry, unit).as_secs_f64() - expected).abs() < 1e-6);
        }
    }
}
