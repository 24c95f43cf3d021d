//! The vLLM stand-in (`crates/test-standins`) as a plain process on 127.0.0.1, for check
//! tests that need an OpenAI endpoint answering but no Docker: it serves `/health` and chat
//! completions, and, started without `--otlp-traces-endpoint`, emits no span, so nothing ever
//! reaches an audit file. Killed on drop.

use super::images::standin;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const READY_TIMEOUT: Duration = Duration::from_secs(20);

pub struct VllmProcess {
    child: Child,
    port: u16,
}

fn healthy(port: u16) -> bool {
    let Ok(mut s) = TcpStream::connect((Ipv4Addr::LOCALHOST, port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    if s.write_all(b"GET /health HTTP/1.0\r\n\r\n").is_err() {
        return false;
    }
    let mut reply = String::new();
    s.read_to_string(&mut reply).is_ok() && reply.starts_with("HTTP/1.0 200")
}

impl VllmProcess {
    /// Serves `model` on a free loopback port.
    pub fn start(model: &str) -> VllmProcess {
        let binary = standin("vllm").unwrap_or_else(|e| panic!("{e}"));
        let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("free port");
        let child = Command::new(binary)
            .args([
                "serve",
                "Qwen/Qwen2.5-1.5B-Instruct",
                "--served-model-name",
                model,
            ])
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .stdin(Stdio::null())
            .spawn()
            .expect("spawn the vLLM stand-in");
        let mut me = VllmProcess { child, port };
        let deadline = Instant::now() + READY_TIMEOUT;
        while !healthy(port) {
            if let Ok(Some(status)) = me.child.try_wait() {
                panic!("the vLLM stand-in exited with {status}");
            }
            assert!(
                Instant::now() < deadline,
                "the vLLM stand-in did not answer /health"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        me.port = port;
        me
    }

    pub fn port(&self) -> u16 {
        self.port
    }
}

impl Drop for VllmProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
