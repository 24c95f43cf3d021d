//! `sovstack drift`: refresh everything, compare with the state and with `stack.hcl`, report.
//! Exit codes for cron: 0 no drift, 2 drift, 1 something could not be checked (the findings
//! about the rest are still reported).

use super::{Cli, exit, pipeline};
use crate::drift::{self, DRIFT_FORMAT_VERSION, DriftReport, DriftSummary, ReportError, Status};
use crate::plan::{self, PlanInput, PlanOptions, StateRef};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print the report as JSON (schemas/drift.schema.json).
    #[arg(long)]
    pub json: bool,
    /// Print nothing unless there is drift or an error (for cron).
    #[arg(long, short = 'q')]
    pub quiet: bool,
    /// Also send the report as OTLP/HTTP log records to this collector (base URL; `/v1/logs`
    /// is appended).
    #[arg(long, env = "OTEL_EXPORTER_OTLP_ENDPOINT", value_name = "URL")]
    pub otlp_endpoint: Option<String>,
}

pub fn run(cli: &Cli, args: &Args) -> i32 {
    let Some(rt) = super::runtime() else {
        return exit::ERROR;
    };
    let (state, hasher) = match rt.block_on(pipeline::read_state(cli)) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{:?}", miette::Report::new(e));
            return exit::ERROR;
        }
    };
    let Some(state) = state else {
        eprintln!(
            "error: no state at {}: there is nothing to compare the world with\n  help: drift reports changes to what `sovstack apply` made; apply first, or point --state at the state file",
            pipeline::state_path(cli).display()
        );
        return exit::ERROR;
    };
    let Some(hasher) = hasher else {
        eprintln!("error: the state key is missing, so recorded secrets cannot be compared");
        return exit::ERROR;
    };
    let Some(prepared) = pipeline::prepare(cli, Some(&state), Some(&hasher)) else {
        return exit::ERROR;
    };
    let refreshed = match rt.block_on(super::refresh::refresh(&prepared.stack, &state, &hasher)) {
        Ok(r) => r,
        Err(code) => return code,
    };
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
        match plan::compute(
            &PlanInput {
                stack: &prepared.stack.name.value,
                desired: &prepared.desired,
                prior: Some(&state),
                hasher: Some(&hasher),
                inputs_hash: prepared.inputs_hash.clone(),
                drift: Vec::new(),
            },
            &PlanOptions::default(),
        ) {
            Ok(p) => drift::unapplied(&p),
            Err(e) => {
                eprintln!("{:?}", miette::Report::new(e));
                return exit::ERROR;
            }
        }
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
    if let Some(endpoint) = args.otlp_endpoint.as_deref().filter(|e| !e.is_empty()) {
        let headers = drift::otlp::headers_from_env();
        if let Err(e) = rt.block_on(drift::otlp::export(endpoint, &headers, &report)) {
            report.errors.push(ReportError {
                address: None,
                message: e.to_string(),
                help: miette::Diagnostic::help(&e).map(|h| h.to_string()),
            });
            report.settle();
        }
    }
    if !(args.quiet && report.status == Status::Clean) {
        if args.json {
            println!(
                "{}",
                serde_json::to_string_pretty(&report).unwrap_or_default()
            );
        } else {
            print!("{}", drift::text::render(&report));
        }
    }
    report.exit_code()
}
