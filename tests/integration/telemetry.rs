//! The tool's own telemetry: `SOVSTACK_LOG` on stderr, and the trace and log records of plan
//! and apply at a local OTLP receiver. (The full apply with nodes, the drift report as log
//! records and the secret canary are in `drift.rs`.)

use crate::harness::otlp::{self, OtlpReceiver};
use crate::harness::sandbox_cli::{self, Workspace, cloud_only, command, text};
use sovstack::sandbox::SandboxConfig;

async fn output(mut c: std::process::Command) -> std::process::Output {
    tokio::task::spawn_blocking(move || c.output().expect("run sovstack"))
        .await
        .unwrap()
}

#[tokio::test]
async fn plan_and_apply_export_their_trace_and_sovstack_log_writes_stderr() {
    let sb = sandbox_cli::start(SandboxConfig::for_tests()).await;
    let ws = Workspace::new(&cloud_only());
    let receiver = OtlpReceiver::start();
    let url = sb.base_url();

    let mut c = command(&url, &ws.dir, &["apply", "--auto-approve"]);
    c.env("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint());
    c.env("SOVSTACK_LOG", "sovstack=debug");
    let out = output(c).await;
    assert!(out.status.success(), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("hcloud{") && stderr.contains("close"),
        "API calls are logged with SOVSTACK_LOG: {stderr}"
    );
    let spans = receiver.spans();
    let root = spans
        .iter()
        .find(|(_, s)| s.name == "sovstack apply")
        .map(|(_, s)| s.clone())
        .expect("the command span");
    let ops = spans
        .iter()
        .filter(|(_, s)| s.parent_span_id == root.span_id && s.name.starts_with("create "))
        .count();
    assert_eq!(ops, 4, "{spans:#?}");
    let (resource, _) = &spans[0];
    assert_eq!(
        otlp::attr(&resource.attributes, "cloud.region").as_deref(),
        Some("nbg1")
    );
    let logs = receiver.logs();
    let summary = logs.last().expect("log records").1.clone();
    let body = summary
        .body
        .as_ref()
        .and_then(otlp::text)
        .unwrap_or_default();
    assert_eq!(body, "apply complete: 4 added, 0 changed, 0 destroyed");
    assert_eq!(summary.trace_id, root.trace_id);

    // A plan's trace: the refresh's API calls under the command.
    receiver.clear();
    let mut c = command(
        &url,
        &ws.dir,
        &["plan", "--otlp-endpoint", &receiver.endpoint()],
    );
    c.env_remove("SOVSTACK_LOG");
    let out = output(c).await;
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        out.stderr.is_empty(),
        "no log without SOVSTACK_LOG: {}",
        text(&out)
    );
    let spans = receiver.spans();
    let root = spans
        .iter()
        .find(|(_, s)| s.name == "sovstack plan")
        .map(|(_, s)| s.clone())
        .expect("the plan's command span");
    assert!(
        spans
            .iter()
            .any(|(_, s)| s.name == "GET /servers" && s.parent_span_id == root.span_id),
        "{spans:#?}"
    );
}
