//! The OTLP ingest a fleet's sidecars export to (SigNoz's collector, in the example), as far as
//! the tests follow a span: the collector stand-in (`crates/test-standins`) run as a process in a
//! network namespace of its own, receiving OTLP/gRPC on port 4317 of its address and writing
//! every batch it receives to one file as the file exporter's JSON lines. Hosts reach it over
//! direct links ([`OtlpIngest::admit`]), as GEX machines reach SigNoz over a vSwitch.
//!
//! It does not do what SigNoz does with what it receives: no ClickHouse, no query service or UI,
//! no metrics or logs, no TLS; it answers every export with success once the line is written.

use super::images::standin;
use super::netns::{Link, NetNs};
use super::test_host::DockerHost;
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

const GRPC_PORT: u16 = 4317;
const HEALTH_PORT: u16 = 13133;
const READY_TIMEOUT: Duration = Duration::from_secs(10);

pub struct OtlpIngest {
    child: Child,
    /// Before the namespace: links go first.
    links: Vec<Link>,
    netns: NetNs,
    dir: tempfile::TempDir,
}

impl OtlpIngest {
    /// The ingest, listening; `Err` says what failed.
    pub fn start() -> Result<OtlpIngest, String> {
        let netns = NetNs::create()?;
        let dir = tempfile::Builder::new()
            .prefix("sovstack-ingest-")
            .tempdir()
            .map_err(|e| e.to_string())?;
        let config = dir.path().join("config.yaml");
        std::fs::write(
            &config,
            format!(
                "receivers:\n  otlp:\n    protocols:\n      grpc:\n        endpoint: 0.0.0.0:{GRPC_PORT}\n\
                 exporters:\n  file/received:\n    path: {received}\n\
                 extensions:\n  health_check:\n    endpoint: 0.0.0.0:{HEALTH_PORT}\n\
                 service:\n  extensions: [health_check]\n  pipelines:\n    traces:\n      receivers: [otlp]\n      exporters: [file/received]\n",
                received = dir.path().join("received.jsonl").display()
            ),
        )
        .map_err(|e| e.to_string())?;
        let log =
            std::fs::File::create(dir.path().join("collector.log")).map_err(|e| e.to_string())?;
        let child = netns
            .command(&standin("otelcol-contrib")?.to_string_lossy())
            .arg("--config")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| format!("collector stand-in: {e}"))?;
        let mut ingest = OtlpIngest {
            child,
            links: Vec::new(),
            netns,
            dir,
        };
        ingest.wait_ready()?;
        Ok(ingest)
    }

    fn wait_ready(&mut self) -> Result<(), String> {
        let health = SocketAddr::from((self.netns.ip(), HEALTH_PORT));
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if TcpStream::connect_timeout(&health, Duration::from_millis(200)).is_ok() {
                return Ok(());
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("the ingest exited: {status}: {}", self.log()));
            }
            if Instant::now() > deadline {
                return Err(format!("the ingest is not listening: {}", self.log()));
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// Lets `host` (and its containers) reach the ingest.
    pub fn admit(&mut self, host: &DockerHost) {
        let link = host
            .netns()
            .link_to(&self.netns)
            .unwrap_or_else(|e| panic!("linking a host to the ingest: {e}"));
        self.links.push(link);
    }

    /// `host:port`, as an exporter's `endpoint` names it.
    pub fn endpoint(&self) -> String {
        format!("{}:{GRPC_PORT}", self.netns.ip())
    }

    /// Every batch received so far, one JSON line each.
    pub fn received(&self) -> String {
        std::fs::read_to_string(self.received_path()).unwrap_or_default()
    }

    fn received_path(&self) -> PathBuf {
        self.dir.path().join("received.jsonl")
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("collector.log")).unwrap_or_default()
    }
}

impl Drop for OtlpIngest {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
