//! `sovstack drift`: what changed outside sovstack, as a report (text, JSON, OTLP logs).
//!
//! Refresh (`cli/refresh.rs`) reads the world; this module classifies what it found (policy,
//! cloud, node), adds the policy checks only the refreshed world can answer (a firewall rule
//! open to the internet without `public = true`), says what to do about each finding, and
//! renders the report.

mod build;
mod model;
pub mod otlp;
pub mod text;

pub use build::{UNDO_OR_ACCEPT, findings, unapplied};
pub use model::*;

/// JSON Schema of the drift report (`schemas/drift.schema.json`).
pub fn drift_schema_json() -> String {
    let schema = schemars::schema_for!(DriftReport);
    let mut s = serde_json::to_string_pretty(&schema).unwrap_or_default();
    s.push('\n');
    s
}

#[cfg(test)]
mod tests;

/// A report for tests: one finding (`findings` entries as JSON), `errors` as JSON, settled.
#[cfg(test)]
pub(crate) fn example_report(
    findings: serde_json::Value,
    errors: serde_json::Value,
) -> DriftReport {
    let mut r: DriftReport = serde_json::from_value(serde_json::json!({
        "format_version": DRIFT_FORMAT_VERSION, "tool_version": "0", "stack": "s",
        "state": {"lineage": "l", "serial": 3}, "checked_at": "2026-01-01T00:00:00Z",
        "checked": 2, "status": "clean", "findings": findings, "unapplied": [],
        "errors": errors, "notes": [], "summary": DriftSummary::default()
    }))
    .expect("a drift report");
    r.settle();
    r
}
