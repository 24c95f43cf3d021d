//! `sovstack apply [PLANFILE]` and `sovstack destroy`: arguments, then the engine's report
//! as the user reads it.

use super::{Cli, exit};
use crate::engine::StopSignal;
use crate::engine::apply::{self, Command, Report, Request, Stop};
use crate::plan::PlanOptions;
use crate::resources::ApplyOptions;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// A plan saved with `sovstack plan --out FILE`; refused if state or inputs moved since.
    pub plan_file: Option<PathBuf>,
    #[command(flatten)]
    pub run: RunArgs,
    /// Learn and pin the host key of `host` blocks that have none.
    #[arg(long)]
    pub trust_new_host_keys: bool,
    #[command(flatten)]
    pub select: super::plan::Selection,
    /// Accept what changed outside sovstack into the state; change nothing in the world.
    #[arg(long)]
    pub refresh_only: bool,
}

/// What apply and destroy share: confirmation, parallelism, waiting for the lock.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Do not ask for confirmation.
    #[arg(long)]
    pub auto_approve: bool,
    /// Operations to run at once.
    #[arg(long, default_value_t = 4)]
    pub parallelism: usize,
    /// Wait this long for the state lock (e.g. 30s, 5m); default: fail at once.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub lock_timeout: Option<Duration>,
}

#[derive(Debug, clap::Args)]
pub struct DestroyArgs {
    #[command(flatten)]
    pub run: RunArgs,
}

pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = num
        .parse()
        .map_err(|_| format!("`{s}` is not a duration like 30s or 5m"))?;
    match unit {
        "" | "s" => Ok(Duration::from_secs(n)),
        "ms" => Ok(Duration::from_millis(n)),
        "m" => Ok(Duration::from_secs(n * 60)),
        "h" => Ok(Duration::from_secs(n * 3600)),
        _ => Err(format!("`{s}`: use s, m or h")),
    }
}

pub fn run(cli: &Cli, args: &Args) -> miette::Result<ExitCode> {
    let req = Request {
        command: Command::Apply,
        refresh: args.select.refresh,
        refresh_only: args.refresh_only,
        auto_approve: args.run.auto_approve,
        lock_timeout: args.run.lock_timeout.unwrap_or_default(),
        plan_options: args.select.plan_options(false),
        saved: args.plan_file.clone(),
        apply_options: ApplyOptions {
            trust_new_host_keys: args.trust_new_host_keys,
            parallelism: args.run.parallelism,
        },
        stop: StopSignal::default(),
    };
    execute(cli, &req)
}

pub fn run_destroy(cli: &Cli, args: &DestroyArgs) -> miette::Result<ExitCode> {
    let req = Request {
        command: Command::Destroy,
        refresh: false,
        refresh_only: false,
        auto_approve: args.run.auto_approve,
        lock_timeout: args.run.lock_timeout.unwrap_or_default(),
        plan_options: PlanOptions {
            destroy: true,
            ..Default::default()
        },
        saved: None,
        apply_options: ApplyOptions {
            trust_new_host_keys: false,
            parallelism: args.run.parallelism,
        },
        stop: StopSignal::default(),
    };
    execute(cli, &req)
}

fn execute(cli: &Cli, req: &Request) -> miette::Result<ExitCode> {
    let ws = cli.workspace()?;
    let rt = super::runtime()?;
    let guard = rt.spawn(super::signals::guard(req.stop.clone()));
    let report = rt.block_on(apply::run(&ws, req, &mut super::ui::TerminalUi));
    guard.abort();
    Ok(show(req, &report?))
}

/// What the user reads after the live lines: the full diagnostic of each failure, why the
/// run stopped, and the summary.
fn show(req: &Request, report: &Report) -> ExitCode {
    if req.refresh_only {
        show_accepted(report.accepted.as_ref());
        return ExitCode::SUCCESS;
    }
    if report.nothing_to_do {
        return ExitCode::SUCCESS;
    }
    for (address, diagnostic) in &report.failed {
        eoutln!("\nerror: {address} failed\n{diagnostic}");
    }
    match &report.stop {
        Some(Stop::StillDiffers {
            address,
            attributes,
        }) => eoutln!(
            "error: {address} still differs after it was applied in this run ({}); stopping instead of applying it again.\n  help: this is a bug in sovstack; `sovstack plan` shows the difference",
            attributes.join(", ")
        ),
        Some(Stop::Waiting(addresses)) => eoutln!(
            "error: cannot go on: {} wait for values nothing in this run will provide",
            addresses.join(", ")
        ),
        Some(Stop::Interrupted { not_started }) => show_interrupted(report, not_started),
        Some(Stop::Failed) | None => {}
    }
    if report.recorded {
        outln!(
            "\n{} {}: {} added, {} changed, {} destroyed.",
            match req.command {
                Command::Destroy => "Destroy",
                Command::Apply => "Apply",
            },
            if report.stop.is_some() {
                "stopped with errors"
            } else {
                "complete"
            },
            report.added,
            report.changed,
            report.destroyed
        );
    }
    if report.stop.is_some() {
        ExitCode::from(exit::ERROR)
    } else {
        ExitCode::SUCCESS
    }
}

/// What `--refresh-only` accepted, and what it left for `apply`: "No changes" is never said
/// while the stack still differs from the world.
fn show_accepted(accepted: Option<&apply::Accepted>) {
    let Some(a) = accepted else {
        outln!("No state yet: nothing to refresh.");
        return;
    };
    if a.changes.is_empty() {
        outln!(
            "Nothing changed outside sovstack: nothing to accept (state serial {}).",
            a.serial
        );
    } else {
        outln!(
            "Accepted {} change(s) made outside sovstack into the state (serial {}):",
            a.changes.len(),
            a.serial
        );
        for (address, what) in &a.changes {
            outln!("  {address}: {what}");
        }
    }
    if !a.pending.is_empty() {
        outln!(
            "\nThe stack still differs from the world at {} address(es), which --refresh-only does not change: {}.\n`sovstack plan` shows what `sovstack apply` would do.",
            a.pending.len(),
            a.pending.join(", ")
        );
    }
}

/// A run stopped on request: what was done (recorded), and what was not started.
fn show_interrupted(report: &Report, not_started: &[String]) {
    eoutln!(
        "\nInterrupted: the operations that were running finished and are recorded in the state."
    );
    if !report.done.is_empty() {
        eoutln!("  done: {}", report.done.join(", "));
    }
    if !not_started.is_empty() {
        eoutln!("  not done: {}", not_started.join(", "));
    }
    eoutln!("  `sovstack apply` (or `destroy`) continues from here.");
}
