//! Every request the sandbox answered, for tests: what was asked, what was answered, and counts per endpoint.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use serde::Serialize;
use serde_json::Value;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct LoggedRequest {
    /// 1-based position in the log.
    pub seq: u64,
    pub method: String,
    /// The request path as sent, e.g. `/v1/servers/3/actions/poweroff`.
    pub path: String,
    pub query: Option<String>,
    /// Method plus path template relative to `/v1`, e.g. `POST /servers/{id}/actions/poweroff`.
    pub endpoint: String,
    /// The request body if it was JSON.
    pub request_body: Option<Value>,
    /// The request body as text when it was present but not JSON.
    pub request_body_raw: Option<String>,
    pub status: u16,
    pub response_body: Option<Value>,
    pub correlation_id: String,
    /// The fault rules that fired on this request.
    pub faults: Vec<String>,
    /// The connection was closed without sending the (logged) response.
    pub dropped: bool,
}

#[derive(Debug, Default)]
struct Inner {
    entries: Vec<LoggedRequest>,
    counts: BTreeMap<String, u64>,
    next_seq: u64,
}

/// A shared, cloneable handle on the log.
#[derive(Debug, Clone, Default)]
pub struct RequestLog {
    inner: Arc<Mutex<Inner>>,
}

impl RequestLog {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic elsewhere must not make the log unreadable for the test that wants to explain it.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn push(&self, mut entry: LoggedRequest) {
        let mut inner = self.lock();
        inner.next_seq += 1;
        entry.seq = inner.next_seq;
        *inner.counts.entry(entry.endpoint.clone()).or_default() += 1;
        inner.entries.push(entry);
    }

    pub fn entries(&self) -> Vec<LoggedRequest> {
        self.lock().entries.clone()
    }

    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many requests hit an endpoint template, e.g. `count("GET /servers")`.
    pub fn count(&self, endpoint: &str) -> u64 {
        self.lock().counts.get(endpoint).copied().unwrap_or(0)
    }

    pub fn counts(&self) -> BTreeMap<String, u64> {
        self.lock().counts.clone()
    }

    pub fn clear(&self) {
        let mut inner = self.lock();
        inner.entries.clear();
        inner.counts.clear();
    }
}

/// `GET /v1/servers/12/actions/poweroff` -> `GET /servers/{id}/actions/poweroff`; later numeric segments are
/// `{action_id}` as in the spec's nested action paths.
pub fn endpoint_template(method: &str, path: &str) -> String {
    let path = path.strip_prefix("/v1").unwrap_or(path);
    let mut seen_id = false;
    let segments: Vec<String> = path
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| {
            if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
                let name = if seen_id { "{action_id}" } else { "{id}" };
                seen_id = true;
                name.to_owned()
            } else {
                s.to_owned()
            }
        })
        .collect();
    format!("{method} /{}", segments.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates() {
        assert_eq!(endpoint_template("GET", "/v1/servers"), "GET /servers");
        assert_eq!(
            endpoint_template("POST", "/v1/servers/12/actions/poweroff"),
            "POST /servers/{id}/actions/poweroff"
        );
        assert_eq!(
            endpoint_template("GET", "/v1/servers/12/actions/99"),
            "GET /servers/{id}/actions/{action_id}"
        );
        assert_eq!(endpoint_template("GET", "/v1/actions"), "GET /actions");
    }
}
