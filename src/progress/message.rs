//! The machine-readable run: one JSON object per line (`--json`), modelled on Terraform's
//! machine-readable UI. Every line has `@level`, `@message`, `@module`, `@timestamp` and a
//! `type` that says which other fields it has. `schemas/events.schema.json` is generated from
//! these types; the words of `@message` are for people, the typed fields for programs.

use super::Operation;
use crate::drift::DriftReport;
use crate::plan::{Action, DriftKind, Plan};
use crate::resources::InstanceKey;
use schemars::JsonSchema;
use serde::Serialize;
use std::collections::BTreeMap;

/// Version of this stream's format; a consumer checks it on the `version` line.
pub const UI_VERSION: &str = "1.0";

/// One line of the stream.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Line {
    #[serde(rename = "@level")]
    pub level: Level,
    /// What a person would read, e.g. `server.gpu: Creating...`.
    #[serde(rename = "@message")]
    pub message: String,
    /// Always `sovstack.ui`.
    #[serde(rename = "@module")]
    pub module: String,
    /// RFC 3339, microseconds, UTC.
    #[serde(rename = "@timestamp")]
    pub timestamp: String,
    #[serde(flatten)]
    pub body: Body,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Info,
    Warn,
    Error,
}

/// What a line carries, by its `type`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Body {
    /// The first line: which sovstack and which version of this stream.
    Version {
        sovstack: String,
        ui: String,
    },
    /// A message with nothing more to it.
    Log,
    /// A warning or error, with where it points in the stack file when it does.
    Diagnostic {
        diagnostic: Diagnostic,
    },
    /// The whole plan document (`schemas/plan.schema.json`), once per plan.
    Plan {
        plan: Box<Plan>,
    },
    /// One change the plan would make (no-ops are not listed).
    PlannedChange {
        change: Change,
    },
    /// Something changed outside sovstack, found by refresh.
    ResourceDrift {
        change: DriftChange,
    },
    /// Counts of a plan, an apply or a destroy.
    ChangeSummary {
        changes: ChangeSummary,
    },
    /// An operation on a resource started.
    ApplyStart {
        hook: Hook,
    },
    /// Something worth telling while an operation runs; also the heartbeat of a long wait.
    ApplyProgress {
        hook: ProgressHook,
    },
    ApplyComplete {
        hook: Hook,
    },
    ApplyErrored {
        hook: ErroredHook,
    },
    /// Not attempted because something it depends on failed.
    ApplySkipped {
        hook: SkippedHook,
    },
    /// The stack's outputs after an apply; sensitive values are left out.
    Outputs {
        outputs: BTreeMap<String, Output>,
    },
    /// The drift report (`schemas/drift.schema.json`).
    DriftReport {
        report: Box<DriftReport>,
    },
    /// The end of `validate`.
    ValidateResult {
        valid: bool,
        error_count: usize,
        warning_count: usize,
    },
}

/// The resource a line is about.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Resource {
    /// The full address, e.g. `file.llm["compose.yaml"]`.
    pub addr: String,
    /// The kind, e.g. `file`; empty when the address does not parse.
    pub resource_type: String,
    pub resource_name: String,
    /// The instance key, when the address has one: a number (`count`) or a string.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_key: Option<serde_json::Value>,
}

impl Resource {
    pub fn of(addr: &str) -> Self {
        match crate::resources::Address::parse(addr) {
            Ok(a) => Self {
                addr: addr.to_string(),
                resource_type: a.kind.name().to_string(),
                resource_name: a.name.clone(),
                resource_key: a.key.as_ref().map(|k| match k {
                    InstanceKey::Index(i) => serde_json::Value::from(*i),
                    InstanceKey::Key(k) => serde_json::Value::from(k.as_str()),
                }),
            },
            Err(_) => Self {
                addr: addr.to_string(),
                resource_type: String::new(),
                resource_name: String::new(),
                resource_key: None,
            },
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Hook {
    pub resource: Resource,
    pub action: Operation,
    /// Seconds since the operation started (on `apply_complete`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub elapsed_seconds: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct ProgressHook {
    pub resource: Resource,
    /// What is happening, e.g. `waiting for sshd on 203.0.113.10:22 (at most 300s)`.
    pub message: String,
    /// Seconds since the operation started, when it is known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub elapsed_seconds: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct ErroredHook {
    pub resource: Resource,
    pub action: Operation,
    /// The error in one line; the full diagnostic follows as a `diagnostic` line.
    pub error: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct SkippedHook {
    pub resource: Resource,
    /// The address whose failure skipped this one.
    pub because: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct DriftChange {
    pub resource: Resource,
    pub kind: DriftKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Attributes that differ from the state (names only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attributes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Change {
    pub resource: Resource,
    pub action: Action,
    /// Why, when the plan says (e.g. which attribute forces replacement).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Attributes that change (names only; values are in the `plan` line).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attributes: Vec<String>,
}

/// Which command a summary counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum RunKind {
    Plan,
    Apply,
    Destroy,
}

#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct ChangeSummary {
    pub add: usize,
    pub change: usize,
    pub remove: usize,
    pub operation: RunKind,
}

#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Output {
    pub sensitive: bool,
    /// Left out when sensitive.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Diagnostic {
    pub severity: Severity,
    /// The first line: what is wrong.
    pub summary: String,
    /// The rest: the full text as the terminal shows it, help included.
    pub detail: String,
    /// A stable code, e.g. `sovstack::unknown_attribute`, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// The address it concerns, when it concerns one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// Where in the stack file it points.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub range: Option<Range>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Range {
    pub filename: String,
    pub start: Pos,
    pub end: Pos,
}

/// A position: 1-based line and column, 0-based byte offset.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, JsonSchema)]
pub struct Pos {
    pub line: usize,
    pub column: usize,
    pub byte: usize,
}

impl Line {
    pub fn new(level: Level, message: impl Into<String>, body: Body) -> Self {
        Self {
            level,
            message: message.into(),
            module: "sovstack.ui".to_string(),
            timestamp: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            body,
        }
    }

    pub fn info(message: impl Into<String>, body: Body) -> Self {
        Self::new(Level::Info, message, body)
    }

    /// The line as JSON, without a newline.
    pub fn to_json(&self) -> String {
        // Every field is a string, number, bool or map with string keys: encoding cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// JSON Schema of one line of the stream (`schemas/events.schema.json`).
pub fn events_schema_json() -> String {
    let schema = schemars::schema_for!(Line);
    let mut s = serde_json::to_string_pretty(&schema).unwrap_or_default();
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::progress::{Event, json};
    use std::time::Duration;

    const PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/schemas/events.schema.json");

    /// The checked-in schema is what the types generate; regenerate with UPDATE_SCHEMAS=1.
    #[test]
    fn checked_in_events_schema_is_current() {
        let generated = events_schema_json();
        if std::env::var_os("UPDATE_SCHEMAS").is_some() {
            std::fs::write(PATH, &generated).expect("write schema");
        }
        let current = std::fs::read_to_string(PATH).unwrap_or_default();
        assert_eq!(
            current, generated,
            "schemas/events.schema.json is stale: run UPDATE_SCHEMAS=1 cargo test --lib progress::"
        );
    }

    /// The name of a line's type; a new variant fails to compile here until it has a sample.
    fn type_name(b: &Body) -> &'static str {
        match b {
            Body::Version { .. } => "version",
            Body::Log => "log",
            Body::Diagnostic { .. } => "diagnostic",
            Body::Plan { .. } => "plan",
            Body::PlannedChange { .. } => "planned_change",
            Body::ResourceDrift { .. } => "resource_drift",
            Body::ChangeSummary { .. } => "change_summary",
            Body::ApplyStart { .. } => "apply_start",
            Body::ApplyProgress { .. } => "apply_progress",
            Body::ApplyComplete { .. } => "apply_complete",
            Body::ApplyErrored { .. } => "apply_errored",
            Body::ApplySkipped { .. } => "apply_skipped",
            Body::Outputs { .. } => "outputs",
            Body::DriftReport { .. } => "drift_report",
            Body::ValidateResult { .. } => "validate_result",
        }
    }

    /// One line of every type, made by the functions the commands use.
    fn samples() -> Vec<Line> {
        let a = "file.llm[\"compose.yaml\"]".to_string();
        let op = Operation::Create;
        let mut lines = vec![json::version(), json::log(Level::Warn, "hello")];
        lines.extend(
            [
                Event::Started {
                    address: a.clone(),
                    operation: op,
                },
                Event::Progress {
                    address: a.clone(),
                    message: "waiting for sshd".into(),
                },
                Event::Finished {
                    address: a.clone(),
                    operation: op,
                    elapsed: Duration::from_millis(1500),
                },
                Event::Failed {
                    address: a.clone(),
                    operation: op,
                    error: "boom".into(),
                },
                Event::Skipped {
                    address: "compose.llm".into(),
                    because: a.clone(),
                },
            ]
            .iter()
            .map(|e| json::of_event(e, Some(2.5))),
        );
        let plan: Plan = serde_json::from_value(serde_json::json!({
            "format_version": 1, "tool_version": "0", "stack": "s", "state": null,
            "inputs_hash": "h",
            "drift": [{"address": "server.a", "kind": "changed", "changes": [
                {"name": "labels", "before": 1, "after": 2}]}],
            "changes": [{"address": "server.a", "kind": "server", "action": "create"}],
            "summary": {"add": 1, "change": 0, "destroy": 0}
        }))
        .expect("a plan");
        lines.extend(json::of_plan(&plan, RunKind::Plan));
        lines.push(json::failure(&a, "the full diagnostic"));
        lines.push(json::error(&miette::miette!("no state")));
        let outputs = [(
            "url".to_string(),
            crate::state::OutputState::Value("http://x".into()),
        )]
        .into_iter()
        .collect();
        lines.push(json::outputs(&outputs));
        let report = crate::drift::example_report(
            serde_json::json!([{"area": "cloud", "kind": "changed", "address": "server.a",
                "summary": "labels changed", "remedy": "apply"}]),
            serde_json::json!([]),
        );
        lines.extend(json::of_drift(&report));
        let source = crate::config::SourceFile::new("stack.hcl", "stack \"x\" {\n  bad = 1\n}\n");
        let mut diags = crate::config::Diagnostics::new();
        diags.push(crate::config::Diagnostic::error("sovstack::x", "bad attribute").at(14..17));
        lines.extend(json::diagnostics(&diags, &source));
        lines.push(json::validate_result(&diags));
        lines
    }

    #[test]
    fn every_line_type_validates_against_the_checked_in_schema() {
        let schema: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(PATH).expect("schema")).expect("json");
        let validator = jsonschema::validator_for(&schema).expect("a schema");
        let mut seen = std::collections::BTreeSet::new();
        for line in samples() {
            let value: serde_json::Value = serde_json::from_str(&line.to_json()).expect("json");
            let errors: Vec<String> = validator
                .iter_errors(&value)
                .map(|e| e.to_string())
                .collect();
            assert!(errors.is_empty(), "{value:#}\n{errors:#?}");
            assert_eq!(value["type"], type_name(&line.body));
            seen.insert(type_name(&line.body));
        }
        assert_eq!(seen.len(), 15, "a sample of every type: {seen:?}");
        let wrong = serde_json::json!({"@level": "info", "@message": "m", "@module": "sovstack.ui",
            "@timestamp": "t", "type": "apply_start"});
        assert!(
            !validator.is_valid(&wrong),
            "a hook is required on apply_start"
        );
    }

    #[test]
    fn a_diagnostic_points_at_line_and_column() {
        let lines = samples();
        let d = lines
            .iter()
            .find_map(|l| match &l.body {
                Body::Diagnostic { diagnostic } if diagnostic.range.is_some() => Some(diagnostic),
                _ => None,
            })
            .expect("a diagnostic with a range");
        let r = d.range.as_ref().unwrap();
        assert_eq!(
            (r.filename.as_str(), r.start.line, r.start.column),
            ("stack.hcl", 2, 3)
        );
        assert!(d.detail.contains("bad attribute"), "{}", d.detail);
    }
}
