//! The HTTP client the OTLP exporters send with: the blocking client of the reqwest the tool
//! already uses (rustls, so `https://` collectors work), run on the SDK's own export threads.

use opentelemetry_http::{Bytes, HttpClient, HttpError, Request, Response};
use std::time::Duration;

/// How long one export may take before it counts as failed.
pub const TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone)]
pub struct BlockingClient(reqwest::blocking::Client);

impl BlockingClient {
    /// Must be called outside an async runtime (reqwest's blocking client runs its own).
    pub fn new() -> Result<Self, reqwest::Error> {
        Ok(Self(
            reqwest::blocking::Client::builder()
                .timeout(TIMEOUT)
                .build()?,
        ))
    }
}

#[async_trait::async_trait]
impl HttpClient for BlockingClient {
    async fn send_bytes(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        let request = reqwest::blocking::Request::try_from(request)?;
        let response = self.0.execute(request)?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.bytes()?;
        let mut out = Response::builder().status(status).body(body)?;
        *out.headers_mut() = headers;
        Ok(out)
    }
}
