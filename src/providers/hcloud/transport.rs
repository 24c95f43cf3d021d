//! Sending one API request: pacing, counting, the retry loop, and turning responses into results.

use std::fmt;

use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::client::HcloudClient;
use super::error::{ApiError, ErrorEnvelope, HcloudError, TransportKind};
use super::ratelimit::RateLimitInfo;
use super::retry::{AttemptOutcome, Verdict, classify};

const CORRELATION_HEADER: &str = "x-correlation-id";
const BODY_SNIPPET: usize = 200;

/// One API call, described independently of the attempt so it can be re-sent.
#[derive(Debug, Clone)]
pub(crate) struct ApiRequest {
    pub method: Method,
    /// Path with placeholders, e.g. `/servers/{id}`: the key of the request counter.
    pub template: &'static str,
    /// Concrete path relative to the endpoint, e.g. `/servers/42`.
    pub path: String,
    pub query: Vec<(String, String)>,
    body: Option<Vec<u8>>,
}

impl ApiRequest {
    pub fn new(method: Method, template: &'static str, path: impl Into<String>) -> Self {
        Self {
            method,
            template,
            path: path.into(),
            query: Vec::new(),
            body: None,
        }
    }

    pub fn get(template: &'static str, path: impl Into<String>) -> Self {
        Self::new(Method::GET, template, path)
    }

    /// A request on one resource: the path is `template` with its `{id}` filled in, so the two
    /// cannot drift apart.
    pub fn for_id(method: Method, template: &'static str, id: impl fmt::Display) -> Self {
        let path = template.replace("{id}", &id.to_string());
        Self::new(method, template, path)
    }

    pub fn json<B: Serialize>(mut self, body: &B) -> Result<Self, HcloudError> {
        let bytes = serde_json::to_vec(body).map_err(|source| HcloudError::Encode {
            method: self.method.to_string(),
            path: self.path.clone(),
            source,
        })?;
        self.body = Some(bytes);
        Ok(self)
    }

    pub fn query(mut self, key: &str, value: impl Into<String>) -> Self {
        self.query.push((key.to_owned(), value.into()));
        self
    }

    fn endpoint_key(&self) -> String {
        format!("{} {}", self.method, self.template)
    }

    /// GET, PUT and DELETE may be sent twice with the effect of once; POST may not.
    fn idempotent(&self) -> bool {
        self.method != Method::POST
    }
}

/// A successful response.
#[derive(Debug)]
pub(crate) struct ApiResponse {
    pub status: StatusCode,
    pub body: Vec<u8>,
}

/// What went wrong in one attempt, before deciding on a retry.
enum Failure {
    Api(ApiError),
    Bare {
        status: u16,
        correlation_id: Option<String>,
        body: String,
    },
    Transport(TransportKind, reqwest::Error),
}

impl HcloudClient {
    /// Sends `request`, retrying per the policy, and returns the successful response; traced
    /// as one span (retries included).
    pub(crate) async fn execute(&self, request: &ApiRequest) -> Result<ApiResponse, HcloudError> {
        use tracing::Instrument;
        let method = request.method.to_string();
        let span = crate::telemetry::spans::api_call(&method, request.template);
        let result = self
            .execute_retrying(request)
            .instrument(span.clone())
            .await;
        match &result {
            Ok(_) => span.record("http.response.status_code", 200),
            Err(_) => span.record("otel.status_code", "ERROR"),
        };
        result
    }

    async fn execute_retrying(&self, request: &ApiRequest) -> Result<ApiResponse, HcloudError> {
        let inner = &self.inner;
        let policy = &inner.config.retry;
        let method = request.method.to_string();
        let key = request.endpoint_key();
        let mut retry: u32 = 0;
        // A POST attempt that may have been applied although it failed (gateway error); if the
        // retries then also fail, the caller must be told the outcome is unknown.
        let mut ambiguous = false;

        loop {
            let wait = inner.pacer.reserve(
                &inner.config.pacing,
                inner.clock.monotonic(),
                inner.clock.unix_time(),
            );
            if !wait.is_zero() {
                tracing::debug!(path = %request.path, wait_ms = wait.as_millis() as u64, "pacing request to stay within the rate limit");
                inner.clock.sleep(wait).await;
            }
            if !inner
                .counter
                .try_count(&key, retry > 0, inner.config.request_budget)
            {
                return Err(HcloudError::RequestBudgetExhausted {
                    budget: inner.config.request_budget.unwrap_or(0),
                });
            }

            let failure = match self.attempt(request).await {
                Ok(Ok(response)) => return Ok(response),
                Ok(Err(failure)) => failure,
                Err(e) => return Err(e),
            };

            let verdict = match &failure {
                Failure::Api(e) => classify(
                    policy,
                    request.idempotent(),
                    AttemptOutcome::Api {
                        status: e.status,
                        code: &e.code,
                    },
                ),
                Failure::Bare { status, .. } => classify(
                    policy,
                    request.idempotent(),
                    AttemptOutcome::BareStatus { status: *status },
                ),
                Failure::Transport(kind, _) => classify(
                    policy,
                    request.idempotent(),
                    AttemptOutcome::Transport(*kind),
                ),
            };

            let (retryable, rate_limited) = match verdict {
                Verdict::Retry {
                    ambiguous: a,
                    rate_limited,
                } => {
                    ambiguous |= a;
                    (true, rate_limited)
                }
                Verdict::Stop { ambiguous: a } => {
                    ambiguous |= a;
                    (false, false)
                }
            };

            if !retryable || retry >= policy.max_retries {
                let error = into_error(failure, &method, &request.path, retry + 1);
                return Err(if ambiguous {
                    HcloudError::OutcomeUnknown {
                        method,
                        path: request.path.clone(),
                        source: Box::new(error),
                    }
                } else {
                    error
                });
            }

            let backoff = policy.backoff(retry, (inner.jitter)());
            if rate_limited {
                let until_reset = inner
                    .pacer
                    .last()
                    .map(|info| {
                        info.wait_after_429(inner.clock.unix_time(), policy.max_rate_limit_wait)
                    })
                    .unwrap_or_default();
                let delay = backoff.max(until_reset);
                tracing::warn!(path = %request.path, retry = retry + 1, delay_ms = delay.as_millis() as u64, "rate limit exceeded, waiting for the budget to refill");
                // Every request of this client waits, not only this one.
                inner.pacer.block_until(inner.clock.monotonic() + delay);
            } else {
                tracing::warn!(path = %request.path, retry = retry + 1, delay_ms = backoff.as_millis() as u64, reason = failure_reason(&failure), "retrying Hetzner API request");
                inner.clock.sleep(backoff).await;
            }
            retry += 1;
        }
    }

    /// One HTTP exchange. The outer `Result` is for errors that no retry can fix.
    async fn attempt(
        &self,
        request: &ApiRequest,
    ) -> Result<Result<ApiResponse, Failure>, HcloudError> {
        let inner = &self.inner;
        let url = format!("{}{}", inner.config.endpoint, request.path);
        let mut auth = HeaderValue::from_str(&format!("Bearer {}", inner.config.token.expose()))
            .map_err(|_| HcloudError::InvalidToken)?;
        // Keeps the value out of reqwest/hyper debug output.
        auth.set_sensitive(true);
        let mut builder = inner
            .http
            .request(request.method.clone(), &url)
            .header(AUTHORIZATION, auth);
        if !request.query.is_empty() {
            builder = builder.query(&request.query);
        }
        if let Some(body) = &request.body {
            builder = builder
                .header(CONTENT_TYPE, "application/json")
                .body(body.clone());
        }

        let response = match builder.send().await {
            Ok(r) => r,
            Err(e) => return Ok(Err(Failure::Transport(transport_kind(&e), e))),
        };
        let status = response.status();
        let headers = response.headers().clone();
        if let Some(info) = RateLimitInfo::from_headers(&headers) {
            inner.pacer.observe(info);
        }
        let correlation_id = headers
            .get(CORRELATION_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = match response.bytes().await {
            Ok(b) => b.to_vec(),
            Err(e) => {
                let kind = if e.is_timeout() {
                    TransportKind::Timeout
                } else {
                    TransportKind::Interrupted
                };
                return Ok(Err(Failure::Transport(kind, e)));
            }
        };
        tracing::debug!(method = %request.method, path = %request.path, status = status.as_u16(), correlation_id = correlation_id.as_deref().unwrap_or(""), "Hetzner API response");

        if status.is_success() {
            return Ok(Ok(ApiResponse { status, body }));
        }
        let method = request.method.to_string();
        Ok(Err(match serde_json::from_slice::<ErrorEnvelope>(&body) {
            Ok(envelope) => Failure::Api(ApiError::from_body(
                &method,
                &request.path,
                status.as_u16(),
                envelope.error,
                correlation_id,
            )),
            Err(_) => Failure::Bare {
                status: status.as_u16(),
                correlation_id,
                body: snippet(&body),
            },
        }))
    }

    /// Sends and parses the JSON body.
    pub(crate) async fn execute_json<T: DeserializeOwned>(
        &self,
        request: &ApiRequest,
    ) -> Result<T, HcloudError> {
        let response = self.execute(request).await?;
        serde_json::from_slice(&response.body).map_err(|source| HcloudError::Decode {
            method: request.method.to_string(),
            path: request.path.clone(),
            source,
        })
    }

    /// Sends and parses one top-level field of the JSON body, e.g. `server` of `{"server": {...}}`.
    pub(crate) async fn execute_field<T: DeserializeOwned>(
        &self,
        request: &ApiRequest,
        field: &str,
    ) -> Result<T, HcloudError> {
        let mut value: serde_json::Value = self.execute_json(request).await?;
        let decode = |source| HcloudError::Decode {
            method: request.method.to_string(),
            path: request.path.clone(),
            source,
        };
        let inner = value
            .get_mut(field)
            .map(serde_json::Value::take)
            .ok_or_else(|| decode(serde::de::Error::custom(format!("missing field `{field}`"))))?;
        serde_json::from_value(inner).map_err(decode)
    }

    /// Sends a request whose success has no body worth reading (`204 No Content`).
    pub(crate) async fn execute_empty(&self, request: &ApiRequest) -> Result<(), HcloudError> {
        let response = self.execute(request).await?;
        tracing::trace!(status = response.status.as_u16(), "no-content response");
        Ok(())
    }
}

fn transport_kind(e: &reqwest::Error) -> TransportKind {
    if e.is_connect() {
        TransportKind::Connect
    } else if e.is_timeout() {
        TransportKind::Timeout
    } else {
        TransportKind::Interrupted
    }
}

fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        return "(empty body)".to_owned();
    }
    let mut out: String = text.chars().take(BODY_SNIPPET).collect();
    if text.chars().count() > BODY_SNIPPET {
        out.push('…');
    }
    out
}

fn failure_reason(f: &Failure) -> String {
    match f {
        Failure::Api(e) => e.code.to_string(),
        Failure::Bare { status, .. } => format!("HTTP {status}"),
        Failure::Transport(kind, _) => kind.to_string(),
    }
}

fn into_error(failure: Failure, method: &str, path: &str, attempts: u32) -> HcloudError {
    match failure {
        Failure::Api(mut e) => {
            e.attempts = attempts;
            HcloudError::Api(Box::new(e))
        }
        Failure::Bare {
            status,
            correlation_id,
            body,
        } => HcloudError::HttpStatus {
            method: method.to_owned(),
            path: path.to_owned(),
            status,
            correlation_id,
            body,
            attempts,
        },
        Failure::Transport(kind, source) => HcloudError::Transport {
            method: method.to_owned(),
            path: path.to_owned(),
            kind,
            attempts,
            source,
        },
    }
}
