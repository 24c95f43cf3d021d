//! The two stand-ins as processes on loopback: a chat completion with a `traceparent` reaches
//! the collector stand-in over OTLP/gRPC and lands in its file exporter's path as one JSON line
//! holding the request's trace id, and travels on through its OTLP/gRPC exporter to a second
//! collector (as a sidecar's reach SigNoz's); and both refuse what the real programs refuse.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const TRACE_ID: &str = "5b8aa5a2d2c872e8321cf37308d69df2";
const DEADLINE: Duration = Duration::from_secs(20);

/// A child process killed on drop, so a failing test leaves nothing running.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

fn spawn(program: &str, args: &[&str]) -> Running {
    Running(
        Command::new(program)
            .args(args)
            .env("OTEL_SERVICE_NAME", "vllm-roundtrip")
            .stdin(Stdio::null())
            .spawn()
            .expect("spawn stand-in"),
    )
}

/// One HTTP/1.1 exchange; `None` while nothing listens.
fn http(port: u16, method: &str, path: &str, headers: &str, body: &str) -> Option<String> {
    let mut s = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n{headers}\r\n{body}",
        body.len()
    )
    .ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    Some(out)
}

fn poll<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + DEADLINE;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "{what} within {DEADLINE:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A collector writing what it receives to `audit/spans.jsonl` under `dir`, sending it on to
/// the collector at `upstream` (plain-text OTLP/gRPC) when given.
fn collector_config(
    dir: &Path,
    grpc: u16,
    http: u16,
    health: u16,
    upstream: Option<u16>,
) -> std::path::PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let config = dir.join("config.yaml");
    let (exporter, exporters) = match upstream {
        Some(port) => (
            format!(
                "  otlp_grpc/upstream:\n    endpoint: 127.0.0.1:{port}\n    tls:\n      insecure: true\n"
            ),
            "[otlp_grpc/upstream, file/audit]",
        ),
        None => (String::new(), "[file/audit]"),
    };
    std::fs::write(
        &config,
        format!(
            "receivers:\n  otlp:\n    protocols:\n      grpc:\n        endpoint: 127.0.0.1:{grpc}\n      http:\n        endpoint: 127.0.0.1:{http}\n\
             exporters:\n  file/audit:\n    path: {audit}\n{exporter}\
             extensions:\n  health_check:\n    endpoint: 127.0.0.1:{health}\n\
             service:\n  extensions: [health_check]\n  pipelines:\n    traces:\n      receivers: [otlp]\n      exporters: {exporters}\n",
            audit = dir.join("audit/spans.jsonl").display()
        ),
    )
    .unwrap();
    config
}

/// A collector process from `config`, polled until its health check answers.
fn start_collector(config: &Path, health: u16) -> Running {
    let running = spawn(
        env!("CARGO_BIN_EXE_otelcol-contrib"),
        &["--config", config.to_str().unwrap()],
    );
    let up = poll("collector health", || http(health, "GET", "/", "", ""));
    assert!(up.starts_with("HTTP/1.1 200"), "{up}");
    running
}

#[test]
fn a_traced_completion_reaches_the_audit_file_and_the_next_collector() {
    let dir = tempfile::tempdir().unwrap();
    let (grpc, otlp_http, health, api) = (free_port(), free_port(), free_port(), free_port());
    let (up_grpc, up_http, up_health) = (free_port(), free_port(), free_port());
    let upstream_dir = dir.path().join("upstream");
    let upstream = collector_config(&upstream_dir, up_grpc, up_http, up_health, None);
    let _upstream = start_collector(&upstream, up_health);
    let config = collector_config(dir.path(), grpc, otlp_http, health, Some(up_grpc));
    let _collector = start_collector(&config, health);
    let endpoint = format!("http://127.0.0.1:{grpc}");
    let port = api.to_string();
    let _vllm = spawn(
        env!("CARGO_BIN_EXE_vllm"),
        &[
            "serve",
            "Qwen/Qwen2.5-1.5B-Instruct",
            "--served-model-name",
            "qwen",
            "--gpu-memory-utilization",
            "0.85",
            "--otlp-traces-endpoint",
            &endpoint,
            "--host",
            "127.0.0.1",
            "--port",
            &port,
        ],
    );
    let ready = poll("vLLM /health", || http(api, "GET", "/health", "", ""));
    assert!(ready.starts_with("HTTP/1.1 200"), "{ready}");

    let traceparent = format!("traceparent: 00-{TRACE_ID}-00f067aa0ba902b7-01\r\n");
    let body = r#"{"model":"qwen","messages":[{"role":"user","content":"ping"}],"max_tokens":1}"#;
    let answer = http(api, "POST", "/v1/chat/completions", &traceparent, body).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains(r#""completion_tokens":1"#), "{answer}");

    let audit = dir.path().join("audit/spans.jsonl");
    let line = poll("the span in the audit file", || {
        std::fs::read_to_string(&audit)
            .ok()
            .filter(|t| !t.is_empty())
    });
    assert_eq!(line.lines().count(), 1, "{line}");
    let v: serde_json::Value = serde_json::from_str(line.trim_end()).unwrap();
    let span = &v["resourceSpans"][0]["scopeSpans"][0]["spans"][0];
    assert_eq!(span["traceId"], TRACE_ID);
    assert_eq!(span["parentSpanId"], "00f067aa0ba902b7");
    assert_eq!(span["name"], "llm_request");
    assert_eq!(
        v["resourceSpans"][0]["resource"]["attributes"][0]["value"]["stringValue"],
        "vllm-roundtrip"
    );
    // The same batch, sent on by the exporter, in the next collector's file.
    let upstream_audit = upstream_dir.join("audit/spans.jsonl");
    let forwarded = poll("the span at the next collector", || {
        std::fs::read_to_string(&upstream_audit)
            .ok()
            .filter(|t| !t.is_empty())
    });
    assert_eq!(forwarded, line);

    // Unknown model: vLLM's 404; metrics count the one completion.
    let wrong = http(
        api,
        "POST",
        "/v1/chat/completions",
        "",
        &body.replace("qwen", "other"),
    )
    .unwrap();
    assert!(wrong.starts_with("HTTP/1.1 404"), "{wrong}");
    let metrics = http(api, "GET", "/metrics", "", "").unwrap();
    assert!(
        metrics.contains("vllm:request_success_total{model_name=\"qwen\"} 1"),
        "{metrics}"
    );
    // OTLP/HTTP JSON reaches the same file.
    let json = format!(
        r#"{{"resourceSpans":[{{"scopeSpans":[{{"spans":[{{"traceId":"{}","spanId":"1111111111111111","name":"via-http"}}]}}]}}]}}"#,
        "a".repeat(32)
    );
    let posted = http(otlp_http, "POST", "/v1/traces", "", &json).unwrap();
    assert!(posted.starts_with("HTTP/1.1 200"), "{posted}");
    let text = std::fs::read_to_string(&audit).unwrap();
    assert!(
        text.lines()
            .nth(1)
            .is_some_and(|l| l.contains(&"a".repeat(32))),
        "{text}"
    );
}

#[test]
fn both_refuse_what_the_real_ones_refuse() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.yaml");
    std::fs::write(&config, "receivers: {}\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_otelcol-contrib"))
        .args(["--config", config.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("at least one pipeline"));

    for (args, said) in [
        (
            ["--tensor-parallel-size", "2"],
            "unrecognized arguments: --tensor-parallel-size 2",
        ),
        (
            ["--gpu-memory-utilization", "most"],
            "argument --gpu-memory-utilization: invalid float value: 'most'",
        ),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_vllm"))
            .args(["serve", "m"])
            .args(args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(said), "{stderr}");
    }
}
