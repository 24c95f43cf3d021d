//! The client handle: one HTTP connection pool, one pacer and one request counter, shared by clones.

use std::fmt;
use std::sync::Arc;

use super::clock::{Clock, SystemClock};
use super::config::{ClientConfig, normalize_endpoint};
use super::error::HcloudError;
use super::metrics::{RequestCounter, RequestStats};
use super::ratelimit::{Pacer, RateLimitInfo};

/// Source of the random draw in `[0, 1)` used for backoff jitter.
pub type JitterSource = Arc<dyn Fn() -> f64 + Send + Sync>;

/// A Hetzner Cloud API client. Cheap to clone; clones share the connection pool, the rate-limit
/// pacing and the request counter, so parallel work is paced and counted as one.
#[derive(Clone)]
pub struct HcloudClient {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub http: reqwest::Client,
    pub config: ClientConfig,
    pub clock: Arc<dyn Clock>,
    pub jitter: JitterSource,
    pub pacer: Pacer,
    pub counter: RequestCounter,
}

impl fmt::Debug for HcloudClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HcloudClient")
            .field("endpoint", &self.inner.config.endpoint)
            .field("token", &self.inner.config.token)
            .finish_non_exhaustive()
    }
}

impl HcloudClient {
    /// A client for `HCLOUD_TOKEN` / `HCLOUD_ENDPOINT`.
    pub fn from_env() -> Result<Self, HcloudError> {
        Self::new(ClientConfig::from_env()?)
    }

    /// A client with the real clock and random jitter.
    pub fn new(config: ClientConfig) -> Result<Self, HcloudError> {
        Self::with_runtime(
            config,
            Arc::new(SystemClock::new()),
            Arc::new(rand::random::<f64>),
        )
    }

    /// A client whose waits go through `clock` and whose jitter comes from `jitter`; tests use a
    /// [`super::ManualClock`] so backoff, pacing and polling cost no real time.
    pub fn with_runtime(
        mut config: ClientConfig,
        clock: Arc<dyn Clock>,
        jitter: JitterSource,
    ) -> Result<Self, HcloudError> {
        config.endpoint = normalize_endpoint(&config.endpoint)?;
        let http = reqwest::Client::builder()
            .user_agent(config.user_agent.clone())
            .timeout(config.timeout)
            .connect_timeout(config.timeout.min(std::time::Duration::from_secs(10)))
            .build()
            .map_err(HcloudError::ClientBuild)?;
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                config,
                clock,
                jitter,
                pacer: Pacer::default(),
                counter: RequestCounter::default(),
            }),
        })
    }

    pub fn config(&self) -> &ClientConfig {
        &self.inner.config
    }

    /// Requests sent so far (retries included), in total and per endpoint template.
    pub fn request_stats(&self) -> RequestStats {
        self.inner.counter.snapshot()
    }

    /// The rate-limit headers of the latest response.
    pub fn last_rate_limit(&self) -> Option<RateLimitInfo> {
        self.inner.pacer.last()
    }
}
