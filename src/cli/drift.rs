//! `sovstack drift`: refresh everything, compare with the state and with `stack.hcl`, report.
//! Exit codes for cron: 0 no drift, 2 drift, 1 something could not be checked (the findings
//! about the rest are still reported).

use super::Cli;
use super::ui::emit;
use crate::drift::{self, DRIFT_FORMAT_VERSION, DriftReport, DriftSummary, ReportError, Status};
use crate::engine::{EngineError, refresh};
use crate::plan::{PlanOptions, StateRef};
use crate::progress::json;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print the report as one JSON object per line (schemas/events.schema.json): a line per
    /// finding and the `drift_report` line with the whole report (schemas/drift.schema.json).
    #[arg(long)]
    pub json: bool,
    /// Print nothing unless there is drift or an error (for cron).
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

pub fn run(cli: &Cli, args: &Args) -> miette::Result<ExitCode> {
    let ws = cli.workspace()?;
    let rt = super::runtime()?;
    let (read, prepared) = super::read_and_prepare_unshown(&ws, &rt)?;
    // Warnings go out with the report: `--quiet` on a clean stack prints nothing, so a cron job
    // is not mailed the same warning every run.
    let show_warnings = || {
        super::state_cmd::show_state_warnings(&read.warnings);
        super::validate::show_warnings(&prepared.warnings);
    };
    let state = read.state.ok_or_else(|| EngineError::NoState {
        path: ws.state_location(),
    })?;
    let hasher = read.hasher.ok_or(EngineError::MissingStateKey)?;
    let refreshed = rt.block_on(refresh::refresh(&prepared.stack, &state, &hasher))?;
    // Configuration not applied: planned against the recorded state, so drift is not counted
    // again as pending work. Without every secret value the files cannot be rendered as apply
    // would, and the comparison would list them all, so it is skipped and said so.
    let unset: Vec<String> = prepared
        .stack
        .unset_sensitive_variables()
        .iter()
        .map(|v| format!("SOVSTACK_VAR_{}", v.name))
        .collect();
    let mut notes = Vec::new();
    let unapplied = if !unset.is_empty() {
        notes.push(format!(
            "configuration not applied was not compared: sensitive variables have no value ({}); drift itself was fully checked",
            unset.join(", ")
        ));
        Vec::new()
    } else {
        let plan = prepared.plan(
            Some(&state),
            Some(&hasher),
            Vec::new(),
            &PlanOptions::default(),
        )?;
        drift::unapplied(&plan)
    };
    let mut report = DriftReport {
        format_version: DRIFT_FORMAT_VERSION,
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
        stack: prepared.stack.name.value.clone(),
        state: StateRef {
            lineage: state.lineage.to_string(),
            serial: state.serial,
        },
        checked_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        checked: state.resources.len(),
        status: Status::Clean,
        findings: drift::findings(&prepared.stack, &refreshed.state, &refreshed.drift),
        unapplied,
        errors: refreshed
            .errors
            .iter()
            .map(|e| ReportError {
                address: e.address.clone(),
                message: e.message.clone(),
                help: e.help.clone(),
            })
            .collect(),
        notes,
        summary: DriftSummary::default(),
    };
    report.settle();
    // The export goes first so that its failure is part of what is printed.
    if let Some(logger) = crate::telemetry::logger("sovstack.drift") {
        drift::otlp::emit_report(&logger, &report);
        if let Err(e) = crate::telemetry::flush() {
            report.errors.push(ReportError {
                address: None,
                message: format!("cannot send the drift report: {e}"),
                help: miette::Diagnostic::help(&e).map(|h| h.to_string()),
            });
            report.settle();
        }
    }
    // A node that gave no answer within the read limit may still hold an SSH call on a
    // blocking thread until its own timeout: the report is ready, so it is not waited for.
    rt.shutdown_background();
    if !(args.quiet && report.status == Status::Clean) {
        show_warnings();
        if args.json {
            json::of_drift(&report).iter().for_each(emit);
        } else {
            out!("{}", drift::text::render(&report));
        }
    }
    Ok(ExitCode::from(report.exit_code()))
}
