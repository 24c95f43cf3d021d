use super::*;
use crate::config::{LoadOptions, load_str};
use crate::plan::{AttrChange, Drift, DriftKind, StateRef};
use crate::state::{ResourceState, ResourceStatus, StateFile};
use serde_json::json;
use std::collections::BTreeMap;

/// The checked-in schema is what the types generate; regenerate with UPDATE_SCHEMAS=1.
#[test]
fn checked_in_drift_schema_is_current() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/schemas/drift.schema.json");
    let generated = drift_schema_json();
    if std::env::var_os("UPDATE_SCHEMAS").is_some() {
        std::fs::write(path, &generated).expect("write schema");
    }
    let current = std::fs::read_to_string(path).unwrap_or_default();
    assert_eq!(
        current, generated,
        "schemas/drift.schema.json is stale: run UPDATE_SCHEMAS=1 cargo test --lib drift::"
    );
}

const STACK: &str = r#"
stack "t" {}
server "app" {
  server_type = "cx23"
  location    = "nbg1"
  image       = "ubuntu-24.04"
}
firewall "app" {
  apply_to = [server.app]
  rule {
    port       = "22"
    source_ips = ["198.51.100.0/24"]
  }
  rule {
    port       = "443"
    source_ips = ["0.0.0.0/0", "::/0"]
    public     = true
  }
}
"#;

fn stack() -> crate::config::Stack {
    let loaded = load_str(
        "stack.hcl",
        STACK,
        std::path::Path::new("."),
        &LoadOptions::default(),
    );
    assert!(!loaded.diagnostics.has_errors(), "{:?}", loaded.diagnostics);
    loaded.stack.unwrap()
}

fn rule(port: &str, ips: &[&str]) -> serde_json::Value {
    json!({"direction": "in", "protocol": "tcp", "port": port, "source_ips": ips})
}

fn state_with_rules(rules: Vec<serde_json::Value>) -> StateFile {
    let mut s = StateFile::new("t");
    s.resources.insert(
        "firewall.app".into(),
        ResourceState {
            kind: "firewall".into(),
            id: Some("1".into()),
            attributes: BTreeMap::from([("rules".to_string(), json!(rules))]),
            sensitive_attributes: BTreeMap::new(),
            dependencies: Vec::new().into_iter().collect(),
            status: ResourceStatus::Ready,
        },
    );
    s
}

#[test]
fn a_rule_opened_to_the_world_without_consent_is_a_policy_finding_first() {
    let st = stack();
    let refreshed = state_with_rules(vec![
        rule("22", &["0.0.0.0/0"]),
        rule("443", &["0.0.0.0/0", "::/0"]),
    ]);
    let drift = vec![Drift {
        address: "firewall.app".into(),
        kind: DriftKind::Changed,
        changes: vec![AttrChange {
            name: "rules".into(),
            before: Some(json!([])),
            after: Some(json!([])),
            after_unknown: false,
            sensitive: false,
            forces_replacement: false,
        }],
        message: None,
    }];
    let f = findings(&st, &refreshed, &drift);
    assert_eq!(f.len(), 2, "{f:#?}");
    assert_eq!((f[0].area, f[0].kind), (Area::Policy, DriftKind::Policy));
    assert!(
        f[0].summary.contains("tcp port 22") && f[0].summary.contains("0.0.0.0/0"),
        "{}",
        f[0].summary
    );
    // Port 443 is public by consent: no finding for it.
    assert!(!f.iter().any(|x| x.summary.contains("443")));
    assert_eq!((f[1].area, f[1].kind), (Area::Cloud, DriftKind::Changed));

    // The configured rules alone raise nothing.
    let clean = state_with_rules(vec![
        rule("22", &["198.51.100.0/24"]),
        rule("443", &["0.0.0.0/0", "::/0"]),
    ]);
    assert!(findings(&st, &clean, &[]).is_empty());
}

fn drift(address: &str, kind: DriftKind, changes: Vec<AttrChange>, message: Option<&str>) -> Drift {
    Drift {
        address: address.into(),
        kind,
        changes,
        message: message.map(str::to_string),
    }
}

fn change(name: &str, before: serde_json::Value, after: serde_json::Value) -> AttrChange {
    AttrChange {
        name: name.into(),
        before: Some(before),
        after: Some(after),
        after_unknown: false,
        sensitive: false,
        forces_replacement: false,
    }
}

fn report(findings: Vec<Finding>) -> DriftReport {
    let mut r = DriftReport {
        format_version: DRIFT_FORMAT_VERSION,
        tool_version: "0".into(),
        stack: "t".into(),
        state: StateRef {
            lineage: "l".into(),
            serial: 3,
        },
        checked_at: "2026-01-01T00:00:00Z".into(),
        checked: 5,
        status: Status::Clean,
        findings,
        unapplied: Vec::new(),
        errors: Vec::new(),
        notes: Vec::new(),
        summary: DriftSummary::default(),
    };
    r.settle();
    r
}

#[test]
fn node_findings_say_what_happened_and_secrets_stay_hashes() {
    let st = stack();
    let d = vec![
        drift(
            "compose.llm",
            DriftKind::Changed,
            vec![change(
                "services",
                json!({"vllm": "h1", "otel": "h2"}),
                json!({"vllm": "h1", "otel": "(not running: exited (1))"}),
            )],
            None,
        ),
        drift("bootstrap.box", DriftKind::Deleted, vec![], None),
        drift(
            "file.llm[\"vllm.env\"]",
            DriftKind::Changed,
            vec![AttrChange {
                name: "content".into(),
                before: None,
                after: None,
                after_unknown: false,
                sensitive: true,
                forces_replacement: false,
            }],
            None,
        ),
        drift(
            "file.llm[\"compose.yaml\"]",
            DriftKind::Changed,
            vec![change("sha256", json!("a"), json!("b"))],
            Some("--- a\n+++ b\n-x\n+y\n"),
        ),
        drift("server.app", DriftKind::Deleted, vec![], None),
    ];
    let f = findings(&st, &StateFile::new("t"), &d);
    let by = |a: &str| f.iter().find(|x| x.address == a).unwrap();
    assert_eq!(by("server.app").area, Area::Cloud);
    assert_eq!(by("compose.llm").area, Area::Node);
    assert!(by("compose.llm").summary.contains("otel (exited (1))"));
    assert!(by("bootstrap.box").summary.starts_with("docker missing"));
    assert!(by("file.llm[\"vllm.env\"]").diff.is_none());
    assert!(by("file.llm[\"vllm.env\"]").summary.contains("secret"));
    assert_eq!(
        by("file.llm[\"compose.yaml\"]").diff.as_deref(),
        Some("--- a\n+++ b\n-x\n+y\n")
    );
    // Cloud before node.
    assert_eq!(f[0].address, "server.app");

    let r = report(f);
    assert_eq!(r.status, Status::Drift);
    assert_eq!(r.exit_code(), 2);
    let t = text::render(&r);
    let cloud = t.find("Cloud resources").unwrap();
    let node = t.find("Nodes changed").unwrap();
    assert!(cloud < node, "{t}");
    assert!(!t.contains("content ="), "{t}");
    assert!(t.contains("+y"), "{t}");
    assert!(t.contains("-> `sovstack apply`"), "{t}");

    // The OTLP records: one per finding plus the summary, WARN for drift.
    let records = otlp::records(&r);
    assert_eq!(records.len(), r.findings.len() + 1);
    assert!(
        records[..r.findings.len()]
            .iter()
            .all(|x| x.level == crate::telemetry::records::Level::Warn)
    );
}

#[test]
fn a_clean_report_exits_0_and_an_error_beats_drift() {
    let mut r = report(Vec::new());
    assert_eq!((r.status, r.exit_code()), (Status::Clean, 0));
    assert!(text::render(&r).starts_with("No drift"));
    r.errors.push(ReportError {
        address: Some("host.gpu".into()),
        message: "connection refused".into(),
        help: None,
    });
    r.settle();
    assert_eq!((r.status, r.exit_code()), (Status::Error, 1));
    assert!(text::render(&r).contains("! host.gpu: connection refused"));
}
