//! Waiting for a freshly created server's sshd to come up.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use tokio::time::{Instant, sleep_until, timeout_at};

use super::error::SshError;

const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// RFC 4253 4.2: the identification line is at most 255 bytes; a server may send other lines
/// before it. Reading more than this without a banner means it is not an SSH server.
const MAX_PRELUDE: usize = 8 * 1024;

/// Polls `addr` until a TCP connect succeeds and the peer sends an SSH identification line, with
/// exponential backoff, giving up at `deadline`. Returns the identification line
/// (`SSH-2.0-OpenSSH_9.2p1 Debian-2`).
pub async fn wait_for_sshd(addr: SocketAddr, deadline: Instant) -> Result<String, SshError> {
    let started = Instant::now();
    let mut backoff = FIRST_BACKOFF;
    let mut last_error = String::from("no attempt made before the deadline");
    loop {
        if Instant::now() >= deadline {
            return Err(SshError::SshdNotReady {
                addr,
                waited: started.elapsed(),
                last_error,
            });
        }
        match timeout_at(deadline, probe(addr)).await {
            Ok(Ok(banner)) => return Ok(banner),
            Ok(Err(e)) => last_error = e,
            Err(_) => last_error = "timed out".into(),
        }
        tracing::debug!(target: "sovstack::ssh", %addr, error = %last_error, "sshd not ready");
        sleep_until((Instant::now() + backoff).min(deadline)).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

async fn probe(addr: SocketAddr) -> Result<String, String> {
    let mut stream = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let mut seen = Vec::new();
    let mut buf = [0u8; 512];
    loop {
        let n = stream
            .read(&mut buf)
            .await
            .map_err(|e| format!("reading banner: {e}"))?;
        if n == 0 {
            return Err("connection closed before the SSH banner".into());
        }
        seen.extend_from_slice(&buf[..n]);
        if let Some(last_newline) = seen.iter().rposition(|&b| b == b'\n') {
            let complete = &seen[..last_newline];
            if let Some(line) = complete
                .split(|&b| b == b'\n')
                .find(|line| line.starts_with(b"SSH-"))
            {
                let line = String::from_utf8_lossy(line);
                return Ok(line.trim_end_matches('\r').to_string());
            }
        }
        if seen.len() > MAX_PRELUDE {
            return Err("peer is not an SSH server (no banner)".into());
        }
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::AsyncWriteExt;
    use tokio::net::TcpListener;

    use super::*;

    #[tokio::test]
    async fn reads_banner_after_prelude_lines() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            s.write_all(b"hello\r\nSSH-2.0-Test_1.0\r\n").await.unwrap();
            // Keep the socket open until the client is done reading.
            let mut sink = [0u8; 1];
            let _ = s.read(&mut sink).await;
        });
        let banner = wait_for_sshd(addr, Instant::now() + Duration::from_secs(5))
            .await
            .unwrap();
        assert_eq!(banner, "SSH-2.0-Test_1.0");
    }

    #[tokio::test]
    async fn a_listener_that_is_not_sshd_is_not_ready() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            loop {
                let (mut s, _) = listener.accept().await.unwrap();
                let _ = s.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n").await;
            }
        });
        let err = wait_for_sshd(addr, Instant::now() + Duration::from_millis(600))
            .await
            .unwrap_err();
        assert!(
            matches!(err, SshError::SshdNotReady { .. }),
            "unexpected: {err}"
        );
    }
}
