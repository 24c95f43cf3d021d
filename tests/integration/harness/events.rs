//! The `--json` stream as tests read it: every line parsed and checked against
//! `schemas/events.schema.json`, and the documents some lines carry.

use serde_json::Value;
use std::path::PathBuf;

/// Every line of `stdout`, each checked against the events schema (a line that is not JSON or
/// breaks the schema fails the test, naming the line).
pub fn stream(stdout: &[u8]) -> Vec<Value> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("schemas/events.schema.json");
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let validator = jsonschema::validator_for(&schema).expect("events schema compiles");
    let text = String::from_utf8_lossy(stdout);
    text.lines()
        .map(|line| {
            let v: Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"));
            let errors: Vec<String> = validator
                .iter_errors(&v)
                .map(|e| format!("{e} at {}", e.instance_path()))
                .collect();
            assert!(errors.is_empty(), "{line}\n{errors:#?}");
            v
        })
        .collect()
}

/// The `field` of the one line of type `kind` (the `plan` of the `plan` line).
pub fn document(lines: &[Value], kind: &str, field: &str) -> Value {
    let found: Vec<&Value> = lines.iter().filter(|l| l["type"] == kind).collect();
    assert_eq!(found.len(), 1, "one {kind} line in {lines:#?}");
    found[0][field].clone()
}

/// The types of the lines, in order.
pub fn types(lines: &[Value]) -> Vec<String> {
    lines
        .iter()
        .map(|l| l["type"].as_str().unwrap_or_default().to_string())
        .collect()
}
