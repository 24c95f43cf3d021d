//! `sovstack plan` on the reference stack, through the real binary.

use crate::harness::events;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn sovstack(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sovstack"))
        .current_dir(dir)
        .args(args)
        .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
        // A state directory of its own, so nothing is read from or written to the repo.
        .arg("--state")
        .arg(std::env::temp_dir().join(format!(
            "sovstack-plan-test-{}/state.json",
            std::process::id()
        )))
        .env_remove("SOVSTACK_STATE_KEY")
        .env_remove("HCLOUD_TOKEN")
        .output()
        .expect("run sovstack")
}

#[test]
fn plan_of_the_reference_stack_lists_every_resource_and_exits_2() {
    let out = sovstack(&repo(), &["plan", "--detailed-exitcode"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(2),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    for addr in [
        "ssh_key.admin",
        "server.observability",
        "volume.clickhouse",
        "firewall.edge",
        "host.gpu",
        "bootstrap.gpu",
        "bootstrap.observability",
        // The shipped modules' blocks, at their module addresses.
        "module.vllm.compose.inference",
        "module.signoz.compose.signoz",
        "module.vllm.file.inference[\"compose.yaml\"]",
        "module.signoz.file.signoz[\"signoz.env\"]",
        "module.vllm.check.audit-trail",
        "module.vllm.check.health",
        "module.signoz.check.ui",
    ] {
        assert!(
            text.contains(&format!("# {addr} will be created")),
            "{addr} missing:\n{text}"
        );
    }
    assert!(
        text.contains("Plan: 26 to add, 0 to change, 0 to destroy."),
        "{text}"
    );
    // Secrets are never shown; values known only after apply say so.
    assert!(text.contains("(known after apply)"));
}

#[test]
fn plan_json_conforms_to_the_checked_in_schema() {
    let out = sovstack(&repo(), &["plan", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines = events::stream(&out.stdout);
    assert_eq!(events::types(&lines)[0], "version");
    assert_eq!(lines.last().unwrap()["type"], "change_summary");
    assert_eq!(lines.last().unwrap()["changes"]["add"], 26);
    let planned = lines
        .iter()
        .filter(|l| l["type"] == "planned_change")
        .count();
    assert_eq!(planned, 26);
    let plan = events::document(&lines, "plan", "plan");
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join("schemas/plan.schema.json")).unwrap(),
    )
    .unwrap();
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(&plan)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    assert_eq!(plan["summary"]["add"], 26);
    // And the schema can fail: a plan with a made-up action is refused.
    let mut bad = plan.clone();
    bad["changes"][0]["action"] = "explode".into();
    assert!(!validator.is_valid(&bad));
}

#[test]
fn planning_twice_gives_byte_identical_output() {
    // The plan document is byte-identical; the lines around it carry their own timestamps.
    let a = sovstack(&repo(), &["plan", "--json"]);
    let b = sovstack(&repo(), &["plan", "--json"]);
    let plan = |o: &Output| events::document(&events::stream(&o.stdout), "plan", "plan");
    assert_eq!(
        serde_json::to_string(&plan(&a)).unwrap(),
        serde_json::to_string(&plan(&b)).unwrap()
    );
}

#[test]
fn plan_text_snapshot_of_the_cloud_only_example() {
    let out = sovstack(&repo().join("examples/cloud-only"), &["plan"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    insta::assert_snapshot!(String::from_utf8_lossy(&out.stdout));
}
