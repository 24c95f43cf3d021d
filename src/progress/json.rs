//! Runs, plans and diagnostics as lines of the machine-readable stream (`message::Line`).

use super::message::{
    Body, Change, ChangeSummary, Diagnostic, DriftChange, ErroredHook, Hook, Level, Line, Output,
    Pos, ProgressHook, Range, Resource, RunKind, Severity, SkippedHook, UI_VERSION,
};
use super::watch::Watch;
use super::{Event, LineSink, Progress};
use crate::config::SourceFile;
use crate::config::diagnostic::{self, Diagnostics};
use crate::drift::{DriftReport, Status};
use crate::plan::{Action, Plan};
use crate::state::OutputState;
use std::collections::BTreeMap;

/// Writes each event as one JSON line, and an `apply_progress` heartbeat for an operation
/// silent for [`super::watch::HEARTBEAT`].
pub struct JsonLines {
    out: LineSink,
    watch: Watch,
}

impl JsonLines {
    pub fn new(out: LineSink) -> Self {
        Self {
            out,
            watch: Watch::default(),
        }
    }
}

impl Progress for JsonLines {
    fn event(&mut self, event: &Event) {
        let elapsed = match event {
            Event::Progress { address, .. } => self.watch.elapsed(address),
            _ => None,
        };
        self.watch.note(event);
        let line = of_event(event, elapsed.map(|e| e.as_secs_f64()));
        (self.out)(&line.to_json());
    }

    fn tick(&mut self) {
        for beat in self.watch.due() {
            let progress = Event::Progress {
                address: beat.address.clone(),
                message: beat.describe(),
            };
            let line = of_event(&progress, Some(beat.elapsed.as_secs_f64()));
            (self.out)(&line.to_json());
        }
    }
}

/// The first line of every stream.
pub fn version() -> Line {
    let v = env!("CARGO_PKG_VERSION");
    Line::info(
        format!("sovstack {v}"),
        Body::Version {
            sovstack: v.to_string(),
            ui: UI_VERSION.to_string(),
        },
    )
}

/// One run event as a line; `elapsed` is the time since its operation started.
pub fn of_event(e: &Event, elapsed: Option<f64>) -> Line {
    let message = super::plain::describe(e);
    match e {
        Event::Started { address, operation } => Line::info(
            message,
            Body::ApplyStart {
                hook: Hook {
                    resource: Resource::of(address),
                    action: *operation,
                    elapsed_seconds: None,
                },
            },
        ),
        Event::Progress {
            address,
            message: m,
        } => Line::info(
            message,
            Body::ApplyProgress {
                hook: ProgressHook {
                    resource: Resource::of(address),
                    message: m.clone(),
                    elapsed_seconds: elapsed,
                },
            },
        ),
        Event::Finished {
            address,
            operation,
            elapsed,
        } => Line::info(
            message,
            Body::ApplyComplete {
                hook: Hook {
                    resource: Resource::of(address),
                    action: *operation,
                    elapsed_seconds: Some(elapsed.as_secs_f64()),
                },
            },
        ),
        Event::Failed {
            address,
            operation,
            error,
        } => Line::new(
            Level::Error,
            message,
            Body::ApplyErrored {
                hook: ErroredHook {
                    resource: Resource::of(address),
                    action: *operation,
                    error: error.clone(),
                },
            },
        ),
        Event::Skipped { address, because } => Line::new(
            Level::Warn,
            message,
            Body::ApplySkipped {
                hook: SkippedHook {
                    resource: Resource::of(address),
                    because: because.clone(),
                },
            },
        ),
    }
}

/// A plan as lines: the document, what drifted, each change, the counts.
pub fn of_plan(plan: &Plan, kind: RunKind) -> Vec<Line> {
    let mut lines = vec![Line::info(
        format!("Plan of stack {}", plan.stack),
        Body::Plan {
            plan: Box::new(plan.clone()),
        },
    )];
    for d in &plan.drift {
        let change = DriftChange {
            resource: Resource::of(&d.address),
            kind: d.kind,
            message: d.message.clone(),
            attributes: d.changes.iter().map(|c| c.name.clone()).collect(),
        };
        lines.push(Line::new(
            Level::Warn,
            format!("{}: changed outside sovstack", d.address),
            Body::ResourceDrift { change },
        ));
    }
    for c in plan.changes.iter().filter(|c| c.action != Action::NoOp) {
        let change = Change {
            resource: Resource::of(&c.address),
            action: c.action,
            reason: c.reason.clone(),
            attributes: c.changes.iter().map(|a| a.name.clone()).collect(),
        };
        lines.push(Line::info(
            format!("{}: plan to {}", c.address, action_word(c.action)),
            Body::PlannedChange { change },
        ));
    }
    let s = &plan.summary;
    lines.push(summary(kind, s.add, s.change, s.destroy));
    lines
}

fn action_word(a: Action) -> &'static str {
    super::Operation::of(a).map_or("leave unchanged", super::Operation::as_str)
}

/// A drift report as lines: one per finding, then the whole report.
pub fn of_drift(report: &DriftReport) -> Vec<Line> {
    let mut lines: Vec<Line> = report
        .findings
        .iter()
        .map(|f| {
            let change = DriftChange {
                resource: Resource::of(&f.address),
                kind: f.kind,
                message: Some(f.summary.clone()),
                attributes: f.changes.iter().map(|c| c.name.clone()).collect(),
            };
            Line::new(
                Level::Warn,
                format!("{}: {}", f.address, f.summary),
                Body::ResourceDrift { change },
            )
        })
        .collect();
    let level = match report.status {
        Status::Clean => Level::Info,
        Status::Drift => Level::Warn,
        Status::Error => Level::Error,
    };
    lines.push(Line::new(
        level,
        format!("drift check of stack {}: {:?}", report.stack, report.status).to_lowercase(),
        Body::DriftReport {
            report: Box::new(report.clone()),
        },
    ));
    lines
}

/// The counts of a plan, an apply or a destroy.
pub fn summary(kind: RunKind, add: usize, change: usize, remove: usize) -> Line {
    let what = match kind {
        RunKind::Plan => "Plan",
        RunKind::Apply => "Apply complete",
        RunKind::Destroy => "Destroy complete",
    };
    Line::info(
        format!("{what}: {add} to add, {change} to change, {remove} to destroy."),
        Body::ChangeSummary {
            changes: ChangeSummary {
                add,
                change,
                remove,
                operation: kind,
            },
        },
    )
}

/// The outputs after an apply; sensitive ones without their value.
pub fn outputs(outputs: &BTreeMap<String, OutputState>) -> Line {
    let outputs: BTreeMap<String, Output> = outputs
        .iter()
        .map(|(k, o)| {
            let out = match o {
                OutputState::Value(v) => Output {
                    sensitive: false,
                    value: Some(v.clone()),
                },
                OutputState::Sensitive(_) => Output {
                    sensitive: true,
                    value: None,
                },
            };
            (k.clone(), out)
        })
        .collect();
    Line::info(
        format!("Outputs: {}", outputs.len()),
        Body::Outputs { outputs },
    )
}

/// A message with nothing more to it.
pub fn log(level: Level, message: impl Into<String>) -> Line {
    Line::new(level, message, Body::Log)
}

/// The full diagnostic of an operation that failed.
pub fn failure(address: &str, detail: &str) -> Line {
    let diagnostic = Diagnostic {
        severity: Severity::Error,
        summary: format!("{address} failed"),
        detail: detail.to_string(),
        code: None,
        address: Some(address.to_string()),
        range: None,
    };
    Line::new(
        Level::Error,
        diagnostic.summary.clone(),
        Body::Diagnostic { diagnostic },
    )
}

/// An error that stopped a command, as miette shows it.
pub fn error(report: &miette::Report) -> Line {
    let detail = format!("{report:?}");
    let diagnostic = Diagnostic {
        severity: Severity::Error,
        summary: report.to_string(),
        detail,
        code: report.code().map(|c| c.to_string()),
        address: None,
        range: None,
    };
    Line::new(
        Level::Error,
        diagnostic.summary.clone(),
        Body::Diagnostic { diagnostic },
    )
}

/// Diagnostics of the stack file, each with where it points.
pub fn diagnostics(diags: &Diagnostics, source: &SourceFile) -> Vec<Line> {
    diags
        .iter()
        .map(|d| {
            let severity = if d.is_error() {
                Severity::Error
            } else {
                Severity::Warning
            };
            let range = d.span.as_ref().map(|span| Range {
                filename: source.name().to_string(),
                start: pos(source, span.start),
                end: pos(source, span.end),
            });
            let mut one = Diagnostics::new();
            one.push(d.clone());
            let diagnostic = Diagnostic {
                severity,
                summary: d.message.clone(),
                detail: diagnostic::render(&one, source),
                code: Some(d.code.to_string()),
                address: None,
                range,
            };
            let level = match severity {
                Severity::Error => Level::Error,
                Severity::Warning => Level::Warn,
            };
            Line::new(level, d.message.clone(), Body::Diagnostic { diagnostic })
        })
        .collect()
}

fn pos(source: &SourceFile, byte: usize) -> Pos {
    let (line, column) = source.line_col(byte);
    Pos { line, column, byte }
}

/// The end of `validate`.
pub fn validate_result(diags: &Diagnostics) -> Line {
    let (errors, warnings) = (diags.errors(), diags.warnings());
    Line::new(
        if errors > 0 {
            Level::Error
        } else {
            Level::Info
        },
        if errors > 0 {
            format!("invalid: {errors} error(s), {warnings} warning(s)")
        } else {
            format!("valid: {warnings} warning(s)")
        },
        Body::ValidateResult {
            valid: errors == 0,
            error_count: errors,
            warning_count: warnings,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::progress::{EventSink, Operation, render};
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    #[tokio::test(start_paused = true)]
    async fn a_silent_operation_gets_an_apply_progress_heartbeat() {
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = lines.clone();
        let out: LineSink = Box::new(move |l| sink.lock().unwrap().push(l.to_string()));
        let (events, rx) = EventSink::new();
        let shown = tokio::spawn(render(rx, Box::new(JsonLines::new(out))));
        events.send(Event::Started {
            address: "server.a".into(),
            operation: Operation::Create,
        });
        events.progress("server.a", "waiting for create_server (1) 0%");
        tokio::time::sleep(Duration::from_secs(15)).await;
        drop(events);
        shown.await.unwrap();
        let lines: Vec<serde_json::Value> = lines
            .lock()
            .unwrap()
            .iter()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let beats: Vec<&serde_json::Value> = lines
            .iter()
            .filter(|l| {
                l["hook"]["message"]
                    .as_str()
                    .is_some_and(|m| m.starts_with("server.a: still creating"))
            })
            .collect();
        assert_eq!(beats.len(), 1, "{lines:#?}");
        assert_eq!(beats[0]["type"], "apply_progress");
        assert_eq!(
            beats[0]["hook"]["elapsed_seconds"].as_f64().map(f64::round),
            Some(10.0)
        );
    }
}
