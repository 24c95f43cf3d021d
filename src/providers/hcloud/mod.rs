//! Hetzner Cloud API client.
//!
//! Behaves like a careful operator: waits on actions with batched polls, paces itself by the
//! `RateLimit-*` headers to stay inside the project's hourly budget, retries only what can succeed
//! (and never re-sends a POST that may already have been applied), counts every request, and never
//! lets the token reach a log, an error or a serialised value.
//!
//! Layout: `config` (token, endpoint), `transport` (one request, retry loop), `retry` (what to retry,
//! backoff), `ratelimit` (pacing), `error`, `models` (spec types), `actions` (waiting), `pagination`,
//! `labels` (selectors), `api/` (the operations per resource), `clock` (injectable time).

pub mod actions;
mod api;
pub mod client;
pub mod clock;
pub mod config;
pub mod error;
pub mod ids;
pub mod labels;
pub mod metrics;
pub mod models;
pub mod pagination;
pub mod ratelimit;
pub mod retry;
mod transport;

#[cfg(test)]
mod spec_tests;

pub use actions::PollPolicy;
pub use client::{HcloudClient, JitterSource};
pub use clock::{Clock, ManualClock, SystemClock};
pub use config::{ClientConfig, DEFAULT_ENDPOINT, SecretToken};
pub use error::{ActionFailure, ApiError, ErrorCode, HcloudError, TransportKind};
pub use ids::*;
pub use labels::{LabelError, LabelSelector, Labels};
pub use metrics::RequestStats;
pub use pagination::ListParams;
pub use ratelimit::{PacingPolicy, RateLimitInfo};
pub use retry::RetryPolicy;
