//! A loopback HTTP/1.1 relay between a `sovstack` child and the API sandbox that counts the
//! requests going through and stops the world at a chosen one: it holds request N (before the
//! sandbox sees it, or after the sandbox answered it but before the answer goes back) and says
//! so, so that a test kills the child at exactly that point instead of after a guessed delay.
//! Once tripped, nothing more is forwarded or answered on any connection.
//!
//! It understands what the tool's HTTP client sends: requests with a `Content-Length` body (or
//! none), kept-alive connections. Chunked request bodies are not supported.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// Where to stop: the `request`-th request (1-based, counting every request on every
/// connection), before it reaches the sandbox or after the sandbox answered it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KillPoint {
    pub request: u64,
    pub after_response: bool,
}

impl std::fmt::Display for KillPoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let when = if self.after_response {
            "answered, answer withheld"
        } else {
            "held before the API"
        };
        write!(f, "request {} ({when})", self.request)
    }
}

struct Shared {
    upstream: String,
    kill_at: Option<KillPoint>,
    seen: AtomicU64,
    tripped: watch::Sender<bool>,
    client: reqwest::Client,
}

/// A running gate; dropping it stops accepting (held connections stay held until the child
/// they belong to is gone).
pub struct RequestGate {
    url: String,
    shared: Arc<Shared>,
    accept: tokio::task::JoinHandle<()>,
}

impl RequestGate {
    /// A gate in front of `upstream` (`http://127.0.0.1:PORT`, no path), tripping at `kill_at`.
    pub async fn start(upstream: &str, kill_at: Option<KillPoint>) -> RequestGate {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the gate");
        let addr = listener.local_addr().expect("gate address");
        let shared = Arc::new(Shared {
            upstream: upstream.trim_end_matches('/').to_string(),
            kill_at,
            seen: AtomicU64::new(0),
            tripped: watch::channel(false).0,
            client: reqwest::Client::new(),
        });
        let s = shared.clone();
        let accept = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve(stream, s.clone()));
            }
        });
        RequestGate {
            url: format!("http://{addr}/v1"),
            shared,
            accept,
        }
    }

    /// The endpoint to give the child (`HCLOUD_ENDPOINT`).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Requests seen so far.
    pub fn requests(&self) -> u64 {
        self.shared.seen.load(Ordering::SeqCst)
    }

    /// Resolves once the kill point is reached (never, without one).
    pub async fn tripped(&self) {
        let mut rx = self.shared.tripped.subscribe();
        let _ = rx.wait_for(|t| *t).await;
    }
}

impl Drop for RequestGate {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

/// One connection: request after request until the client closes it or the gate trips.
async fn serve(mut stream: TcpStream, shared: Arc<Shared>) {
    let mut buf = Vec::new();
    while let Some(request) = read_request(&mut stream, &mut buf).await {
        let n = shared.seen.fetch_add(1, Ordering::SeqCst) + 1;
        if *shared.tripped.borrow() {
            return hold(stream).await;
        }
        let point = shared.kill_at.filter(|k| k.request == n);
        if point.is_some_and(|k| !k.after_response) {
            shared.tripped.send_replace(true);
            return hold(stream).await;
        }
        let Some(response) = forward(&shared, &request).await else {
            return;
        };
        if point.is_some() {
            shared.tripped.send_replace(true);
        }
        if *shared.tripped.borrow() {
            return hold(stream).await;
        }
        if stream.write_all(&response).await.is_err() {
            return;
        }
    }
}

/// Keeps the connection open and silent until the other side goes away.
async fn hold(mut stream: TcpStream) {
    let mut sink = [0u8; 1024];
    while matches!(stream.read(&mut sink).await, Ok(n) if n > 0) {}
}

struct Request {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

/// Reads one request; `None` at the end of the connection or on anything unreadable.
async fn read_request(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Option<Request> {
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let mut chunk = [0u8; 8192];
        let n = stream.read(&mut chunk).await.ok().filter(|n| *n > 0)?;
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8(buf[..head_end].to_vec()).ok()?;
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let (method, path) = (first.next()?.to_string(), first.next()?.to_string());
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    while buf.len() < head_end + length {
        let mut chunk = [0u8; 8192];
        let n = stream.read(&mut chunk).await.ok().filter(|n| *n > 0)?;
        buf.extend_from_slice(&chunk[..n]);
    }
    let body = buf[head_end..head_end + length].to_vec();
    buf.drain(..head_end + length);
    Some(Request {
        method,
        path,
        headers,
        body,
    })
}

/// Sends the request on to the sandbox; the answer as bytes to write back.
async fn forward(shared: &Shared, r: &Request) -> Option<Vec<u8>> {
    let method = reqwest::Method::from_bytes(r.method.as_bytes()).ok()?;
    let mut req = shared
        .client
        .request(method, format!("{}{}", shared.upstream, r.path))
        .body(r.body.clone());
    for (k, v) in &r.headers {
        if !matches!(k.as_str(), "host" | "content-length" | "connection") {
            req = req.header(k.as_str(), v.as_str());
        }
    }
    let resp = req.send().await.ok()?;
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = resp.bytes().await.ok()?;
    let mut out = format!(
        "HTTP/1.1 {} {}\r\n",
        status.as_u16(),
        status.canonical_reason().unwrap_or("")
    );
    for (k, v) in &headers {
        if matches!(
            k.as_str(),
            "content-length" | "transfer-encoding" | "connection"
        ) {
            continue;
        }
        if let Ok(v) = v.to_str() {
            out.push_str(&format!("{k}: {v}\r\n"));
        }
    }
    out.push_str(&format!("content-length: {}\r\n\r\n", body.len()));
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(&body);
    Some(bytes)
}
