//! Checks that run on the node after compose: an HTTP endpoint answering with the expected
//! status, and a traced chat completion whose trace id must reach the collector's audit file.
//! Every probe runs on the node (curl against 127.0.0.1), polled with backoff until it passes
//! or the deadline; a failure says what was seen, never a secret.

use super::error::NodeError;
use crate::providers::ssh::{ExecRequest, Transport, shell_quote};
use std::time::Duration;
use tokio::time::Instant;

const FIRST_POLL: Duration = Duration::from_millis(250);
const MAX_POLL: Duration = Duration::from_secs(10);
/// Bound on one curl, so a hanging endpoint cannot outlive the deadline by much.
const CURL_MAX_TIME_SECS: u64 = 30;

/// Parses `within` durations: `90s`, `10m`, `1h`, `500ms`, `1h30m`.
pub fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    let mut total = Duration::ZERO;
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        let n: u64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest.bytes().take_while(|b| b.is_ascii_alphabetic()).count();
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        total += match unit {
            "ms" => Duration::from_millis(n),
            "s" => Duration::from_secs(n),
            "m" => Duration::from_secs(n * 60),
            "h" => Duration::from_secs(n * 3600),
            _ => return None,
        };
    }
    Some(total)
}

/// A W3C trace context for one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceContext {
    /// 32 lowercase hex digits, never all zero.
    pub trace_id: String,
    /// 16 lowercase hex digits, never all zero.
    pub span_id: String,
}

impl TraceContext {
    pub fn random() -> Self {
        let mut trace = [0u8; 16];
        let mut span = [0u8; 8];
        // All-zero ids are invalid (W3C trace-context 3.2.2.3/3.2.2.4).
        while trace.iter().all(|b| *b == 0) {
            rand::fill(&mut trace[..]);
        }
        while span.iter().all(|b| *b == 0) {
            rand::fill(&mut span[..]);
        }
        Self {
            trace_id: hex::encode(trace),
            span_id: hex::encode(span),
        }
    }

    /// `00-<trace id>-<span id>-01` (sampled).
    pub fn traceparent(&self) -> String {
        format!("00-{}-{}-01", self.trace_id, self.span_id)
    }
}

/// The pauses of one polling loop: doubling from [`FIRST_POLL`] up to [`MAX_POLL`], never past
/// the deadline.
struct Pauses {
    next: Duration,
    deadline: Instant,
}

impl Pauses {
    fn until(deadline: Instant) -> Self {
        Self {
            next: FIRST_POLL,
            deadline,
        }
    }

    fn expired(&self) -> bool {
        Instant::now() >= self.deadline
    }

    async fn wait(&mut self) {
        let left = self.deadline.saturating_duration_since(Instant::now());
        tokio::time::sleep(self.next.min(left)).await;
        self.next = (self.next * 2).min(MAX_POLL);
    }
}

fn http_command(url: &str) -> String {
    format!(
        "curl -sS -o /dev/null -w '%{{http_code}}' --max-time {CURL_MAX_TIME_SECS} -- {}",
        shell_quote(url)
    )
}

/// What an HTTP probe returned: the status (`000` when nothing answered) and curl's complaint.
async fn http_status(
    t: &dyn Transport,
    command: String,
    stdin: Option<Vec<u8>>,
) -> Result<(String, String), NodeError> {
    let mut req = ExecRequest::new(command).timeout(Duration::from_secs(CURL_MAX_TIME_SECS + 15));
    if let Some(body) = stdin {
        req = req.stdin(body);
    }
    let out = t.exec(req).await?;
    let code = out.stdout_str().trim().chars().take(3).collect::<String>();
    let code = if code.len() == 3 && code.bytes().all(|b| b.is_ascii_digit()) {
        code
    } else {
        "000".into()
    };
    let complaint = out
        .stderr_str()
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .map(|l| l.trim().chars().take(200).collect())
        .unwrap_or_default();
    Ok((code, complaint))
}

/// Keeps the statuses of a polling loop for its final message, a run of the same status once.
fn note_status(seen: &mut Vec<String>, code: String) {
    if seen.last() != Some(&code) {
        seen.push(code);
    }
}

/// The error of a polling loop that ran out of time: what failed, how often, the statuses it
/// saw, and the last complaint (curl's stderr) when there was one.
fn gave_up(what: &str, attempts: u32, seen: &[String], complaint: &str) -> NodeError {
    let complaint = if complaint.is_empty() {
        String::new()
    } else {
        format!(" (last error: {complaint})")
    };
    NodeError::Check(format!(
        "{what} after {attempts} attempt(s); statuses seen: {}{complaint}",
        seen.join(", ")
    ))
}

/// Polls `url` from the node until it answers `status`, or fails at `deadline`.
pub async fn http_check(
    t: &dyn Transport,
    url: &str,
    status: u16,
    deadline: Instant,
    on_attempt: &(dyn Fn(&str) + Send + Sync),
) -> Result<u32, NodeError> {
    let want = format!("{status:03}");
    let mut seen: Vec<String> = Vec::new();
    let mut last_complaint = String::new();
    let mut pauses = Pauses::until(deadline);
    let mut attempts = 0u32;
    loop {
        attempts += 1;
        let (code, complaint) = http_status(t, http_command(url), None).await?;
        if code == want {
            return Ok(attempts);
        }
        on_attempt(&format!("GET {url}: {code}, want {want}"));
        note_status(&mut seen, code);
        if !complaint.is_empty() {
            last_complaint = complaint;
        }
        if pauses.expired() {
            return Err(gave_up(
                &format!("GET {url} did not answer {want}"),
                attempts,
                &seen,
                &last_complaint,
            ));
        }
        pauses.wait().await;
    }
}

fn chat_body(model: &str) -> Vec<u8> {
    serde_json::json!({
        "model": model,
        "messages": [{"role": "user", "content": "ping"}],
        "max_tokens": 1,
    })
    .to_string()
    .into_bytes()
}

fn post_command(url: &str, traceparent: &str) -> String {
    format!(
        "curl -sS -o /dev/null -w '%{{http_code}}' --max-time {CURL_MAX_TIME_SECS} -X POST -H 'content-type: application/json' -H {} --data-binary @- -- {}",
        shell_quote(&format!("traceparent: {traceparent}")),
        shell_quote(url)
    )
}

const AUDIT_SCRIPT: &str = r#"if [ ! -f "$1" ]; then echo "missing 0"; exit 0; fi
n=$(wc -l < "$1" | tr -d ' ')
if grep -q -F -- "$2" "$1"; then echo "found $n"; else echo "absent $n"; fi
"#;

/// Result of a passing round trip.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Roundtrip {
    pub trace_id: String,
    pub attempts: u32,
}

/// Sends one chat completion with a fresh `traceparent` (retried until the endpoint answers
/// 2xx), then polls `audit_file` until a line holds the trace id, all before `deadline`.
pub async fn trace_roundtrip(
    t: &dyn Transport,
    url: &str,
    model: &str,
    audit_file: &str,
    deadline: Instant,
    on_attempt: &(dyn Fn(&str) + Send + Sync),
) -> Result<Roundtrip, NodeError> {
    let mut pauses = Pauses::until(deadline);
    let mut attempts = 0u32;
    let mut seen: Vec<String> = Vec::new();
    let trace = loop {
        attempts += 1;
        // A fresh id per attempt: a failed request may still have left a span behind.
        let trace = TraceContext::random();
        let (code, complaint) = http_status(
            t,
            post_command(url, &trace.traceparent()),
            Some(chat_body(model)),
        )
        .await?;
        if code.starts_with('2') {
            on_attempt(&format!("POST {url}: {code}, trace {}", trace.trace_id));
            break trace;
        }
        on_attempt(&format!("POST {url}: {code}"));
        note_status(&mut seen, code);
        if pauses.expired() {
            return Err(gave_up(
                &format!("POST {url} (one chat completion, max_tokens 1) did not succeed"),
                attempts,
                &seen,
                &complaint,
            ));
        }
        pauses.wait().await;
    };

    let cmd = format!(
        "/bin/sh -c {} sovstack-audit {} {}",
        shell_quote(AUDIT_SCRIPT),
        shell_quote(audit_file),
        shell_quote(&trace.trace_id)
    );
    let mut pauses = Pauses::until(deadline);
    loop {
        let out = t
            .exec_checked(ExecRequest::new(cmd.clone()))
            .await?
            .stdout_str();
        let mut parts = out.split_whitespace();
        let (verdict, lines) = (parts.next().unwrap_or(""), parts.next().unwrap_or("0"));
        if verdict == "found" {
            return Ok(Roundtrip {
                trace_id: trace.trace_id,
                attempts,
            });
        }
        if pauses.expired() {
            let what = if verdict == "missing" {
                format!("the audit file {audit_file} does not exist")
            } else {
                format!("none of the {lines} line(s) of {audit_file} holds it")
            };
            return Err(NodeError::Check(format!(
                "the request with trace id {} was answered, but {what} (is the collector's file exporter writing there, through a pipeline that receives vLLM's spans?)",
                trace.trace_id
            )));
        }
        on_attempt(&format!(
            "trace {} not in {audit_file} yet ({lines} line(s))",
            trace.trace_id
        ));
        pauses.wait().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10m"), Some(Duration::from_secs(600)));
        assert_eq!(parse_duration("1h30m"), Some(Duration::from_secs(5400)));
        assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("2s"), Some(Duration::from_secs(2)));
        for bad in ["", "10", "m", "10x", "-1s"] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }

    #[test]
    fn traceparent_shape_and_freshness() {
        let a = TraceContext::random();
        let b = TraceContext::random();
        assert_ne!(a.trace_id, b.trace_id);
        let tp = a.traceparent();
        let parts: Vec<&str> = tp.split('-').collect();
        assert_eq!(parts.len(), 4);
        assert_eq!(parts[0], "00");
        assert_eq!(parts[1].len(), 32);
        assert_eq!(parts[2].len(), 16);
        assert_eq!(parts[3], "01");
        assert!(
            tp.bytes()
                .all(|c| c == b'-' || c.is_ascii_digit() || (b'a'..=b'f').contains(&c))
        );
    }

    #[test]
    fn commands_quote_urls_and_carry_the_header() {
        let c = post_command(
            "http://127.0.0.1:8000/v1/chat/completions?x=1&y",
            "00-a-b-01",
        );
        assert!(c.contains("-H 'traceparent: 00-a-b-01'"), "{c}");
        assert!(
            c.contains("'http://127.0.0.1:8000/v1/chat/completions?x=1&y'"),
            "{c}"
        );
        let body: serde_json::Value = serde_json::from_slice(&chat_body("m")).unwrap();
        assert_eq!(body["max_tokens"], 1);
        assert_eq!(body["model"], "m");
    }
}
