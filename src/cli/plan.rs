//! `sovstack plan`: what apply would change. Offline by default for a stack with no state.

use super::ui::emit;
use super::{Cli, CliError, exit};
use crate::engine::{EngineError, refresh};
use crate::plan::{self, PlanOptions, SavedPlan};
use crate::progress::json;
use crate::progress::message::RunKind;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Exit 0 when there are no changes, 2 when there are, 1 on error.
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// Print the plan as one JSON object per line (schemas/events.schema.json); the `plan`
    /// line holds the plan document (schemas/plan.schema.json).
    #[arg(long)]
    pub json: bool,
    /// Save the plan for `sovstack apply FILE`.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub select: Selection,
    /// Plan the destruction of everything in state.
    #[arg(long)]
    pub destroy: bool,
}

/// What plan and apply share: which addresses, what to replace, whether to read the world.
#[derive(Debug, clap::Args)]
pub struct Selection {
    /// Only this address and what it depends on (repeatable).
    #[arg(long = "target", value_name = "ADDR")]
    pub targets: Vec<String>,
    /// Replace this address even if unchanged (repeatable).
    #[arg(long = "replace", value_name = "ADDR")]
    pub replace: Vec<String>,
    /// Read what really exists first (`--refresh=false` to skip).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL")]
    pub refresh: bool,
}

impl Selection {
    pub fn plan_options(&self, destroy: bool) -> PlanOptions {
        PlanOptions {
            targets: self.targets.clone(),
            replace: self.replace.clone(),
            destroy,
        }
    }
}

pub fn run(cli: &Cli, args: &Args) -> miette::Result<ExitCode> {
    let ws = cli.workspace()?;
    let rt = super::runtime_on_this_thread()?;
    let ws = rt.block_on(ws.read_data())?;
    let mut read = rt.block_on(crate::engine::prepare::read_state(&ws))?;
    if args.out.is_some() && read.hasher.is_none() {
        // A saved plan is applied with the state's key: it must be made with that key, so
        // saving the first plan of a stack creates the key (nothing else).
        read.hasher = Some(ws.backend()?.hasher().map_err(EngineError::from)?);
    }
    let (read, mut prepared) = super::prepare_read(&ws, read)?;
    rt.block_on(prepared.read_imports(read.state.as_ref()))?;
    let (state, hasher) = (read.state, read.hasher);
    // A saved plan refers to the recorded state; the diff is made against the world.
    let recorded = state.as_ref().map(|s| crate::plan::StateRef {
        lineage: s.lineage.to_string(),
        serial: s.serial,
    });
    // Without refresh the recorded state is the prior one as it is (a large state is not copied).
    let (refreshed, drift) = match &state {
        Some(s) if args.select.refresh => {
            let r = rt.block_on(refresh::complete(
                &prepared.stack,
                &prepared.moved(s),
                hasher.as_ref(),
            ))?;
            (Some(r.state), r.drift)
        }
        _ => (None, Vec::new()),
    };
    let opts = args.select.plan_options(args.destroy);
    let prior = refreshed.as_ref().or(state.as_ref());
    let mut plan = prepared.plan(prior, hasher.as_ref(), drift, &opts)?;
    plan.state = recorded;
    if args.json {
        json::of_plan(&plan, RunKind::Plan).iter().for_each(emit);
    } else {
        out!("{}", plan::text::render(&plan));
    }
    if let Some(out) = &args.out {
        let saved = SavedPlan {
            plan,
            inputs: crate::engine::prepare::plan_inputs(&ws, &prepared.stack, hasher.as_ref()),
        };
        let text = saved
            .to_json()
            .map_err(|e| CliError::new(format!("cannot encode the plan: {e}")))?;
        crate::state::atomic::write_atomic(out, text.as_bytes()).map_err(EngineError::from)?;
        plan = saved.plan;
        if !args.json {
            outln!(
                "\nSaved the plan to {}; apply it with `sovstack apply {}`.",
                out.display(),
                out.display()
            );
        }
    }
    // The process ends right after this: tearing down the loaded stack, state and plan
    // (every map and string of a large stack) is measurable work with no use.
    let has_changes = plan.has_changes() || !plan.drift.is_empty();
    std::mem::forget((prepared, state, refreshed, plan));
    Ok(if args.detailed_exitcode && has_changes {
        ExitCode::from(exit::CHANGES)
    } else {
        ExitCode::SUCCESS
    })
}
