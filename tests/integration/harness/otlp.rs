//! A small OTLP/HTTP receiver on loopback: it answers every POST with 200, keeps each
//! request's path and raw body, and decodes `/v1/traces` and `/v1/logs` bodies (protobuf) with
//! the `opentelemetry-proto` types. What it does not do: gzip, JSON encoding, partial-success
//! answers; sovstack sends uncompressed protobuf.

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::logs::v1::LogRecord;
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

/// One request as received: its request line (`POST /v1/logs HTTP/1.1`) and body.
#[derive(Debug, Clone)]
pub struct Received {
    pub request_line: String,
    pub body: Vec<u8>,
}

pub struct OtlpReceiver {
    port: u16,
    received: Arc<Mutex<Vec<Received>>>,
}

impl OtlpReceiver {
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        let port = listener.local_addr().expect("its address").port();
        let received = Arc::new(Mutex::new(Vec::new()));
        let seen = received.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut s) = stream else { return };
                if let Some(r) = read_request(&mut s) {
                    seen.lock().unwrap().push(r);
                }
                let _ = s.write_all(
                    b"HTTP/1.1 200 OK\r\ncontent-type: application/x-protobuf\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                );
            }
        });
        Self { port, received }
    }

    /// The base URL to give as `--otlp-endpoint`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// Forgets what was received so far.
    pub fn clear(&self) {
        self.received.lock().unwrap().clear();
    }

    /// Every body received, as one byte string (for "never contains" checks).
    pub fn all_bytes(&self) -> Vec<u8> {
        self.received().into_iter().flat_map(|r| r.body).collect()
    }

    /// Every span received, with the resource it came from.
    pub fn spans(&self) -> Vec<(Resource, Span)> {
        let mut out = Vec::new();
        for r in self.posted_to("/v1/traces") {
            let req = ExportTraceServiceRequest::decode(r.body.as_slice()).expect("OTLP traces");
            for rs in req.resource_spans {
                let resource = rs.resource.unwrap_or_default();
                for ss in rs.scope_spans {
                    out.extend(ss.spans.into_iter().map(|s| (resource.clone(), s)));
                }
            }
        }
        out
    }

    /// Every log record received, with the resource it came from.
    pub fn logs(&self) -> Vec<(Resource, LogRecord)> {
        let mut out = Vec::new();
        for r in self.posted_to("/v1/logs") {
            let req = ExportLogsServiceRequest::decode(r.body.as_slice()).expect("OTLP logs");
            for rl in req.resource_logs {
                let resource = rl.resource.unwrap_or_default();
                for sl in rl.scope_logs {
                    out.extend(sl.log_records.into_iter().map(|l| (resource.clone(), l)));
                }
            }
        }
        out
    }

    fn posted_to(&self, path: &str) -> Vec<Received> {
        self.received()
            .into_iter()
            .filter(|r| r.request_line.starts_with(&format!("POST {path} ")))
            .collect()
    }
}

/// The string value of attribute `key`, if there is one.
pub fn attr(attributes: &[KeyValue], key: &str) -> Option<String> {
    attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
        .and_then(text)
}

/// A string, integer or boolean value as text.
pub fn text(v: &AnyValue) -> Option<String> {
    match v.value.as_ref()? {
        any_value::Value::StringValue(s) => Some(s.clone()),
        any_value::Value::IntValue(i) => Some(i.to_string()),
        any_value::Value::BoolValue(b) => Some(b.to_string()),
        _ => None,
    }
}

/// One HTTP/1.1 request with a content-length body.
fn read_request(s: &mut TcpStream) -> Option<Received> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let (head, len) = loop {
        let n = s.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).into_owned();
            let len = head
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse::<usize>().ok())?
                })
                .unwrap_or(0);
            buf.drain(..end + 4);
            break (head, len);
        }
    };
    while buf.len() < len {
        let n = s.read(&mut chunk).ok()?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Some(Received {
        request_line: head.lines().next().unwrap_or("").to_string(),
        body: buf,
    })
}
