//! `validate`: the reference stack is clean, the tutorial as written is caught at the right lines.

use sovstack::config::{LoadOptions, Loaded, diagnostic, load_str};
use std::collections::BTreeSet;
use std::path::PathBuf;

fn repo(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn load(path: &str) -> Loaded {
    // Loaded under its repository-relative name so the snapshot does not depend on the checkout.
    let full = repo(path);
    let text = std::fs::read_to_string(&full).expect("readable");
    let mut opts = LoadOptions::default();
    // A value for a variable the stack does not declare is itself an error.
    if text.contains("variable \"signoz_jwt_secret\"") {
        opts.vars.insert(
            "signoz_jwt_secret".into(),
            "a-long-random-test-secret".into(),
        );
    }
    let dir = full.parent().expect("parent").to_path_buf();
    let loaded = load_str(path, &text, &dir, &opts);
    assert!(
        !loaded.diagnostics.has_errors(),
        "{path} does not load:\n{}",
        diagnostic::render(&loaded.diagnostics, &loaded.source)
    );
    loaded
}

#[test]
fn reference_stack_has_no_findings() {
    let loaded = load("stack.hcl");
    let diags = sovstack::validate::check(loaded.stack.as_ref().expect("stack"));
    assert!(
        diags.is_empty(),
        "the reference stack must stay free of errors and warnings:\n{}",
        diagnostic::render(&diags, &loaded.source)
    );
}

fn tutorial() -> (Loaded, sovstack::config::Diagnostics) {
    let loaded = load("examples/tutorial-as-written/stack.hcl");
    let diags = sovstack::validate::check(loaded.stack.as_ref().expect("stack"));
    (loaded, diags)
}

#[test]
fn tutorial_as_written_renders_every_finding() {
    let (loaded, diags) = tutorial();
    insta::assert_snapshot!(
        "tutorial_as_written",
        diagnostic::render(&diags, &loaded.source)
    );
}

#[test]
fn tutorial_as_written_has_many_distinct_mistakes() {
    let (_, diags) = tutorial();
    let codes: BTreeSet<&str> = diags.iter().map(|d| d.code).collect();
    assert!(
        codes.len() >= 15,
        "only {} distinct codes: {codes:?}",
        codes.len()
    );
    assert!(diags.has_errors());
}

/// Each finding points at the line that holds the mistake.
#[test]
fn tutorial_findings_point_at_the_mistake() {
    let (loaded, diags) = tutorial();
    let text = loaded.source.text();
    let line_of = |needle: &str| -> usize {
        let at = text
            .find(needle)
            .unwrap_or_else(|| panic!("`{needle}` not in the tutorial stack"));
        loaded.source.line_col(at).0
    };
    let expect = [
        ("policy::unpinned-image", "\"vllm/vllm-openai:latest\""),
        ("vllm::env-harmful", "VLLM_TRACE_FUNCTION       = \"1\""),
        ("vllm::env-no-effect", "VLLM_OTLP_TRACES_ENDPOINT = "),
        ("vllm::deprecated-flag", "\"--model\""),
        ("vllm::redundant-flag", "\"--enable-chunked-prefill\""),
        ("compose::runtime-nvidia", "runtime = \"nvidia\""),
        ("compose::no-gpu", "gpus       = \"all\""),
        ("collector::file-tmp", "path = \"/tmp/audit-spans.jsonl\""),
        (
            "check::audit-file",
            "audit_file = \"/tmp/audit-spans.jsonl\"",
        ),
        ("policy::unfirewalled-port", "\"4318:4318\""),
        ("policy::unfirewalled-port", "\"8888:8888\""),
        ("collector::filter-drops-audit", "\"filter/pii\", \"batch\""),
        ("signoz::ui-port", "port       = \"3301\""),
        ("signoz::ingest-endpoint", "\"signoz:4317\""),
        ("signoz::ui-port", "\"3301:3301\""),
        ("signoz::incomplete", "\"signoz/signoz:latest\""),
        // Docker keeps every service's output without a cap (compose::no-log-cap, a warning).
        ("compose::no-log-cap", "service \"vllm\" {"),
        ("compose::no-log-cap", "service \"otel-collector\" {"),
        ("compose::no-log-cap", "service \"signoz\" {"),
    ];
    for (code, needle) in expect {
        let want = line_of(needle);
        let lines: Vec<usize> = diags
            .iter()
            .filter(|d| d.code == code)
            .filter_map(|d| d.span.as_ref().map(|s| loaded.source.line_col(s.start).0))
            .collect();
        assert!(
            lines.contains(&want),
            "{code}: expected a finding on line {want} (`{needle}`), got lines {lines:?}"
        );
    }
}
