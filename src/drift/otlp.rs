//! The report as OTLP log records (through the OpenTelemetry SDK, `crate::telemetry`), so
//! drift lands in the same collector (and audit trail) as the inference traces: one record per
//! finding and per error, plus one summary record that proves the check ran even when it found
//! nothing.

use super::model::*;
use crate::plan::DriftKind;
use crate::telemetry::records::{Level, Record, emit};
use opentelemetry_sdk::logs::SdkLogger;

fn kind_name(k: DriftKind) -> &'static str {
    match k {
        DriftKind::Policy => "policy",
        DriftKind::Changed => "changed",
        DriftKind::Deleted => "deleted",
        DriftKind::Orphan => "orphan",
    }
}

fn area_name(a: Area) -> &'static str {
    match a {
        Area::Policy => "policy",
        Area::Cloud => "cloud",
        Area::Node => "node",
    }
}

/// What a finding says to a log backend.
fn finding(r: &DriftReport, f: &Finding) -> Record {
    let level = if f.kind == DriftKind::Policy {
        Level::Error
    } else {
        Level::Warn
    };
    let mut attrs = vec![
        ("sovstack.stack", r.stack.clone()),
        ("sovstack.address", f.address.clone()),
        ("sovstack.drift.kind", kind_name(f.kind).to_string()),
        ("sovstack.drift.area", area_name(f.area).to_string()),
        ("sovstack.drift.remedy", f.remedy.clone()),
    ];
    if !f.changes.is_empty() {
        let names: Vec<&str> = f.changes.iter().map(|c| c.name.as_str()).collect();
        attrs.push(("sovstack.drift.attributes", names.join(",")));
    }
    if let Some(d) = &f.diff {
        attrs.push(("sovstack.drift.diff", d.clone()));
    }
    Record {
        level,
        body: format!("{}: {}", f.address, f.summary),
        attributes: attrs,
    }
}

fn error(r: &DriftReport, e: &ReportError) -> Record {
    let mut attrs = vec![
        ("sovstack.stack", r.stack.clone()),
        ("sovstack.drift.kind", "error".to_string()),
    ];
    if let Some(a) = &e.address {
        attrs.push(("sovstack.address", a.clone()));
    }
    let body = match &e.address {
        Some(a) => format!("{a} could not be checked: {}", e.message),
        None => format!("could not be checked: {}", e.message),
    };
    Record {
        level: Level::Error,
        body,
        attributes: attrs,
    }
}

fn summary(r: &DriftReport) -> Record {
    let s = &r.summary;
    let (level, status) = match r.status {
        Status::Clean => (Level::Info, "clean"),
        Status::Drift => (Level::Warn, "drift"),
        Status::Error => (Level::Error, "error"),
    };
    let body = format!(
        "drift check of stack {}: {status} ({} policy, {} cloud, {} node, {} unapplied, {} errors)",
        r.stack, s.policy, s.cloud, s.node, s.unapplied, s.errors
    );
    let attrs = vec![
        ("sovstack.stack", r.stack.clone()),
        ("sovstack.drift.status", status.to_string()),
        ("sovstack.state.lineage", r.state.lineage.clone()),
    ];
    Record {
        level,
        body,
        attributes: attrs,
    }
}

/// Every record of a report, in order: findings, errors, the summary.
pub fn records(r: &DriftReport) -> Vec<Record> {
    let mut out: Vec<_> = r.findings.iter().map(|f| finding(r, f)).collect();
    out.extend(r.errors.iter().map(|e| error(r, e)));
    out.push(summary(r));
    out
}

/// Emits the report's records on `logger`; `telemetry::flush` sends them.
pub fn emit_report(logger: &SdkLogger, r: &DriftReport) {
    for record in records(r) {
        emit(logger, record);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_is_its_findings_its_errors_and_a_summary() {
        let r = crate::drift::example_report(
            serde_json::json!([{"area": "policy", "kind": "policy", "address": "firewall.a",
                "summary": "open to the world", "remedy": "apply"}]),
            serde_json::json!([{"address": "host.b", "message": "unreachable"}]),
        );
        let recs = records(&r);
        assert_eq!(recs.len(), 3);
        assert_eq!(recs[0].level, Level::Error, "a policy finding is an error");
        let kind = ("sovstack.drift.kind", "policy".to_string());
        assert!(recs[0].attributes.contains(&kind));
        assert_eq!(recs[1].body, "host.b could not be checked: unreachable");
        assert!(recs[2].body.starts_with("drift check of stack s: error"));
    }
}
