//! A stand-in for vLLM's OpenAI endpoint and the collector's audit file, so the node checks can
//! run end to end against the real sshd: `GET /health` (vLLM) and `GET /api/v1/health` (the
//! SigNoz UI's health URL) answer 200, `POST /v1/chat/completions`
//! appends one JSON line holding the request's trace id (from `traceparent`) to the audit file,
//! the way the collector's file exporter would, and answers 200. Anything else is 404.
//! Listens on 127.0.0.1 only; stops on drop.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

pub struct OpenAiStandIn {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    requests: Arc<AtomicUsize>,
    thread: Option<JoinHandle<()>>,
}

impl OpenAiStandIn {
    /// Serves on `127.0.0.1:port` (0: any free port), appending to `audit_file`.
    pub fn start(port: u16, audit_file: &Path) -> OpenAiStandIn {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, port)).expect("bind stand-in");
        let addr = listener.local_addr().expect("addr");
        let stop = Arc::new(AtomicBool::new(false));
        let requests = Arc::new(AtomicUsize::new(0));
        let audit = audit_file.to_path_buf();
        let (s, r) = (stop.clone(), requests.clone());
        let thread = std::thread::spawn(move || {
            for conn in listener.incoming() {
                if s.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(stream) = conn {
                    r.fetch_add(1, Ordering::SeqCst);
                    let _ = serve(stream, &audit);
                }
            }
        });
        OpenAiStandIn {
            addr,
            stop,
            requests,
            thread: Some(thread),
        }
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

impl Drop for OpenAiStandIn {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(stream: TcpStream, audit: &PathBuf) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let mut parts = request_line.split_whitespace();
    let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let mut length = 0usize;
    let mut traceparent = None;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            match k.trim().to_ascii_lowercase().as_str() {
                "content-length" => length = v.trim().parse().unwrap_or(0),
                "traceparent" => traceparent = Some(v.trim().to_string()),
                _ => {}
            }
        }
    }
    let mut body = vec![0u8; length];
    reader.read_exact(&mut body)?;
    let (status, reply) = match (method, path) {
        ("GET", "/health" | "/api/v1/health") => ("200 OK", String::new()),
        ("POST", "/v1/chat/completions") => {
            let trace_id = traceparent
                .as_deref()
                .and_then(|t| t.split('-').nth(1))
                .unwrap_or("")
                .to_string();
            let request: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
            // The shape of an OTLP-JSON line as the file exporter writes it, reduced to what matters.
            let line = serde_json::json!({"resourceSpans": [{"scopeSpans": [{"spans": [{
                "traceId": trace_id, "name": "llm_request",
                "attributes": [{"key": "gen_ai.request.max_tokens", "value": {"intValue": request["max_tokens"].to_string()}}]
            }]}]}]});
            let mut f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(audit)?;
            writeln!(f, "{line}")?;
            (
                "200 OK",
                serde_json::json!({"object": "chat.completion", "model": request["model"], "choices": []}).to_string(),
            )
        }
        _ => ("404 Not Found", String::new()),
    };
    let mut out = stream;
    write!(
        out,
        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{reply}",
        reply.len()
    )?;
    out.flush()
}
