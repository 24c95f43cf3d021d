//! `sovstack apply [PLANFILE]` and `sovstack destroy`.
//!
//! Apply runs in waves: a wave applies every change whose inputs are fully known (a file
//! that embeds a server's address waits until that server exists), then the stack is loaded
//! again with what state now knows and planned again, until nothing is left to do.

use super::{Cli, exit, pipeline};
use crate::apply::{self, ApplyContext, ApplyOptions, Checkpoint, EventSink, Outcome};
use crate::config::value;
use crate::graph::Graph;
use crate::plan::{self, Action, Plan, PlanInput, PlanOptions, SavedPlan};
use crate::resources::Desired;
use crate::state::{
    AddressResult, JournalRecord, KeyedHasher, Outcome as JournalOutcome, OutputState,
    StateBackend, StateFile, StateOp, StateWriter,
};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// More waves than this means something keeps waiting on itself.
const MAX_WAVES: usize = 6;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// A plan saved with `sovstack plan --out FILE`; refused if state or inputs moved since.
    pub plan_file: Option<PathBuf>,
    /// Do not ask for confirmation.
    #[arg(long)]
    pub auto_approve: bool,
    /// Operations to run at once.
    #[arg(long, default_value_t = 4)]
    pub parallelism: usize,
    /// Wait this long for the state lock (e.g. 30s, 5m); default: fail at once.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub lock_timeout: Option<Duration>,
    /// Learn and pin the host key of `host` blocks that have none.
    #[arg(long)]
    pub trust_new_host_keys: bool,
    /// Apply only this address and what it depends on (repeatable).
    #[arg(long = "target", value_name = "ADDR")]
    pub targets: Vec<String>,
    /// Replace this address even if unchanged (repeatable).
    #[arg(long = "replace", value_name = "ADDR")]
    pub replace: Vec<String>,
    /// Read what really exists first (`--refresh=false` to skip).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL")]
    pub refresh: bool,
    /// Accept what changed outside sovstack into the state; change nothing in the world.
    #[arg(long)]
    pub refresh_only: bool,
}

#[derive(Debug, clap::Args)]
pub struct DestroyArgs {
    #[arg(long)]
    pub auto_approve: bool,
    #[arg(long, default_value_t = 4)]
    pub parallelism: usize,
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub lock_timeout: Option<Duration>,
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

pub fn run(cli: &Cli, args: &Args) -> i32 {
    let Some(rt) = super::runtime() else {
        return exit::ERROR;
    };
    let opts = RunOptions {
        operation: "apply",
        refresh: args.refresh,
        refresh_only: args.refresh_only,
        auto_approve: args.auto_approve,
        parallelism: args.parallelism,
        lock_timeout: args.lock_timeout.unwrap_or_default(),
        plan_options: PlanOptions {
            targets: args.targets.clone(),
            replace: args.replace.clone(),
            destroy: false,
        },
        saved: args.plan_file.clone(),
        apply_options: ApplyOptions {
            trust_new_host_keys: args.trust_new_host_keys,
            parallelism: args.parallelism,
        },
    };
    rt.block_on(run_waves(cli, &opts))
}

pub fn run_destroy(cli: &Cli, args: &DestroyArgs) -> i32 {
    let Some(rt) = super::runtime() else {
        return exit::ERROR;
    };
    let opts = RunOptions {
        operation: "destroy",
        refresh: false,
        refresh_only: false,
        auto_approve: args.auto_approve,
        parallelism: args.parallelism,
        lock_timeout: args.lock_timeout.unwrap_or_default(),
        plan_options: PlanOptions {
            destroy: true,
            ..Default::default()
        },
        saved: None,
        apply_options: ApplyOptions {
            trust_new_host_keys: false,
            parallelism: args.parallelism,
        },
    };
    rt.block_on(run_waves(cli, &opts))
}

struct RunOptions {
    operation: &'static str,
    refresh: bool,
    refresh_only: bool,
    auto_approve: bool,
    parallelism: usize,
    lock_timeout: Duration,
    plan_options: PlanOptions,
    saved: Option<PathBuf>,
    apply_options: ApplyOptions,
}

fn report(e: impl miette::Diagnostic + Send + Sync + 'static) -> i32 {
    eprintln!("{:?}", miette::Report::new(e));
    exit::ERROR
}

async fn run_waves(cli: &Cli, opts: &RunOptions) -> i32 {
    let backend = pipeline::backend(cli);
    let mut writer = match backend.lock(opts.operation, opts.lock_timeout).await {
        Ok(w) => w,
        Err(e) => return report(e),
    };
    let hasher = match backend.hasher() {
        Ok(h) => Arc::new(h),
        Err(e) => return report(e),
    };
    let saved = match &opts.saved {
        Some(p) => match SavedPlan::read(p) {
            Ok(s) => Some(s),
            Err(e) => return report(e),
        },
        None => None,
    };
    let mut results: BTreeMap<String, AddressResult> = BTreeMap::new();
    let mut failed = false;
    let mut last_plan_hash = None;
    for wave in 1..=MAX_WAVES {
        let state = writer.state().cloned();
        let Some(prepared) = pipeline::prepare(cli, state.as_ref(), Some(&hasher)) else {
            return exit::ERROR;
        };
        if wave == 1 && opts.operation == "apply" {
            let unset = prepared.stack.unset_sensitive_variables();
            if !unset.is_empty() {
                let names: Vec<String> = unset
                    .iter()
                    .map(|v| format!("SOVSTACK_VAR_{}", v.name))
                    .collect();
                eprintln!(
                    "error: sensitive variables have no value: {}\n  help: set them in the environment (or --var NAME=VALUE) before apply; they are never stored",
                    names.join(", ")
                );
                return exit::ERROR;
            }
        }
        // The first wave diffs against the world, so apply undoes what changed outside.
        let (prior, drift) = match &state {
            Some(s) if wave == 1 && opts.refresh => {
                match super::refresh::refresh(&prepared.stack, s, &hasher).await {
                    Ok(r) => {
                        for e in &r.errors {
                            eprintln!("{e}");
                        }
                        if !r.errors.is_empty() {
                            eprintln!(
                                "error: could not read everything; fix the above or apply with --refresh=false"
                            );
                            return exit::ERROR;
                        }
                        (Some(r.state), r.drift)
                    }
                    Err(code) => return code,
                }
            }
            other => (other.clone(), Vec::new()),
        };
        if opts.refresh_only {
            return accept_refresh(&mut writer, prior, drift, opts.auto_approve).await;
        }
        let plan = match plan::compute(
            &PlanInput {
                stack: &prepared.stack.name.value,
                desired: &prepared.desired,
                prior: prior.as_ref(),
                hasher: Some(&hasher),
                inputs_hash: prepared.inputs_hash.clone(),
                drift,
            },
            &opts.plan_options,
        ) {
            Ok(mut p) => {
                p.state = state.as_ref().map(|s| crate::plan::StateRef {
                    lineage: s.lineage.to_string(),
                    serial: s.serial,
                });
                p
            }
            Err(e) => return report(e),
        };
        if wave == 1 {
            if let Some(saved) = &saved
                && let Err(e) = saved.check_current(plan.state.clone(), &plan.inputs_hash)
            {
                return report(e);
            }
            print!("{}", plan::text::render(&plan));
            if !plan.has_changes() {
                return exit::OK;
            }
            if saved.is_none() && !opts.auto_approve && !confirm(opts.operation) {
                eprintln!("{} cancelled.", opts.operation);
                return exit::ERROR;
            }
        } else if !plan.has_changes() {
            break;
        }
        // A later wave may only do what earlier waves could not: something applied in this
        // run that still differs means apply and plan disagree, and looping would churn it.
        if let Some(again) = plan.changes.iter().find(|c| {
            c.action != Action::NoOp
                && results
                    .get(&c.address)
                    .is_some_and(|r| r.outcome == JournalOutcome::Succeeded)
        }) {
            let attrs: Vec<&str> = again.changes.iter().map(|a| a.name.as_str()).collect();
            eprintln!(
                "error: {} still differs after it was applied in this run ({}); stopping instead of applying it again.\n  help: this is a bug in sovstack; `sovstack plan` shows the difference",
                again.address,
                attrs.join(", ")
            );
            failed = true;
            break;
        }
        let wave_plan = ready_part(&plan, &prepared.desired);
        if !wave_plan.has_changes() {
            let waiting: Vec<&str> = plan
                .changes
                .iter()
                .filter(|c| c.action != Action::NoOp)
                .map(|c| c.address.as_str())
                .collect();
            eprintln!(
                "error: cannot go on: {} wait for values nothing in this run will provide",
                waiting.join(", ")
            );
            failed = true;
            break;
        }
        if writer.state().is_none()
            && let Err(e) = writer.init(&prepared.stack.name.value).await
        {
            return report(e);
        }
        last_plan_hash = Some(crate::plan::SavedPlan::new(plan.clone()).plan_sha256);
        let outcome = match execute_wave(
            &mut writer,
            &wave_plan,
            &prepared.desired,
            &prepared.stack,
            &hasher,
            opts,
        )
        .await
        {
            Ok(o) => o,
            Err(code) => return code,
        };
        collect_results(&wave_plan, &outcome, &mut results);
        // The progress lines said what failed; here is each full diagnostic, with its help.
        for (address, report) in &outcome.failed {
            eprintln!("\nerror: {address} failed\n{report}");
        }
        if !outcome.is_success() {
            failed = true;
            break;
        }
    }
    if let Err(code) = finish(
        cli,
        &mut writer,
        &hasher,
        opts,
        results,
        last_plan_hash,
        failed,
    )
    .await
    {
        return code;
    }
    if failed { exit::ERROR } else { exit::OK }
}

/// The changes whose inputs are all known and whose secrets are all provided, with what
/// they depend on; the rest waits for the next wave.
fn ready_part(plan: &Plan, desired: &[Desired]) -> Plan {
    let by_addr: BTreeMap<&str, &Desired> =
        desired.iter().map(|d| (d.address.as_str(), d)).collect();
    let waits = |d: &Desired| {
        d.attributes.values().any(value::json_is_unknown)
            || d.sensitive.values().any(Option::is_none)
    };
    let deps: Vec<(&str, &BTreeSet<String>)> = desired
        .iter()
        .map(|d| (d.address.as_str(), &d.dependencies))
        .collect();
    let graph = Graph::build(deps);
    let mut deferred: BTreeSet<String> = BTreeSet::new();
    for c in &plan.changes {
        if c.action != Action::NoOp
            && c.action != Action::Delete
            && by_addr.get(c.address.as_str()).is_some_and(|d| waits(d))
        {
            deferred.insert(c.address.clone());
            deferred.extend(graph.dependents(&c.address));
        }
    }
    let mut p = plan.clone();
    p.changes.retain(|c| !deferred.contains(&c.address));
    p
}

async fn execute_wave<W: StateWriter>(
    writer: &mut W,
    plan: &Plan,
    desired: &[Desired],
    stack: &crate::config::Stack,
    hasher: &Arc<crate::state::KeyedHasher>,
    opts: &RunOptions,
) -> Result<Outcome, i32> {
    let needs_cloud = plan
        .changes
        .iter()
        .any(|c| c.action != Action::NoOp && super::appliers::is_cloud_kind(&c.kind));
    let appliers = super::appliers::build(needs_cloud)?;
    let (events, rx) = EventSink::new();
    let printer = tokio::spawn(apply::progress::print_events(rx));
    let (checkpoint, checkpoint_rx) = Checkpoint::new();
    let resources = writer
        .state()
        .map(|s| s.resources.clone())
        .unwrap_or_default();
    let cx = ApplyContext {
        stack: Arc::new(stack.clone()),
        resources: Arc::new(RwLock::new(resources)),
        hasher: hasher.clone(),
        events,
        checkpoint,
        options: opts.apply_options.clone(),
    };
    let result = apply::execute(
        plan,
        desired,
        &appliers,
        writer,
        cx,
        checkpoint_rx,
        opts.parallelism,
    )
    .await;
    // Every sender is gone once execute returns; the printer drains and stops.
    let _ = printer.await;
    match result {
        Ok(o) => Ok(o),
        Err(e) => Err(report(e)),
    }
}

fn collect_results(plan: &Plan, outcome: &Outcome, results: &mut BTreeMap<String, AddressResult>) {
    let action_of = |a: &str| {
        plan.change(a)
            .map(|c| format!("{:?}", c.action).to_lowercase())
            .unwrap_or_default()
    };
    for (a, _) in &outcome.completed {
        results.insert(
            a.clone(),
            AddressResult {
                action: action_of(a),
                outcome: JournalOutcome::Succeeded,
                message: None,
            },
        );
    }
    for (a, m) in &outcome.failed {
        // miette puts the code on the first line and the message after `×`: the journal
        // keeps the message, which says what went wrong.
        let first = m
            .lines()
            .find_map(|l| l.trim_start().strip_prefix('×').map(str::trim))
            .or_else(|| m.lines().find(|l| !l.trim().is_empty()).map(str::trim))
            .unwrap_or("")
            .to_string();
        results.insert(
            a.clone(),
            AddressResult {
                action: action_of(a),
                outcome: JournalOutcome::Failed,
                message: Some(first),
            },
        );
    }
    for a in &outcome.skipped {
        results.insert(
            a.clone(),
            AddressResult {
                action: action_of(a),
                outcome: JournalOutcome::Skipped,
                message: None,
            },
        );
    }
}

/// Outputs, journal, folding the log into a new snapshot, and the summary line.
async fn finish<W: StateWriter>(
    cli: &Cli,
    writer: &mut W,
    hasher: &KeyedHasher,
    opts: &RunOptions,
    results: BTreeMap<String, AddressResult>,
    plan_hash: Option<String>,
    failed: bool,
) -> Result<(), i32> {
    if writer.state().is_none() {
        return Ok(());
    }
    let outputs = outputs_from(cli, writer.state(), hasher, opts.operation == "destroy");
    if let Err(e) = writer.record(StateOp::SetOutputs { outputs }).await {
        return Err(report(e));
    }
    let (mut added, mut changed, mut destroyed) = (0, 0, 0);
    for r in results
        .values()
        .filter(|r| r.outcome == JournalOutcome::Succeeded)
    {
        match r.action.as_str() {
            "create" => added += 1,
            "update" => changed += 1,
            "replace" => {
                added += 1;
                destroyed += 1;
            }
            "delete" => destroyed += 1,
            _ => {}
        }
    }
    let record = JournalRecord {
        operation: opts.operation.to_string(),
        plan_hash,
        results,
    };
    if let Err(e) = writer.append_journal(record).await {
        return Err(report(e));
    }
    if let Err(e) = writer.fold().await {
        return Err(report(e));
    }
    println!(
        "\n{} {}: {added} added, {changed} changed, {destroyed} destroyed.",
        if opts.operation == "destroy" {
            "Destroy"
        } else {
            "Apply"
        },
        if failed {
            "stopped with errors"
        } else {
            "complete"
        }
    );
    Ok(())
}

/// Output values from the stack loaded with the final state; sensitive ones only as
/// keyed hashes.
fn outputs_from(
    cli: &Cli,
    state: Option<&StateFile>,
    hasher: &KeyedHasher,
    destroyed: bool,
) -> BTreeMap<String, OutputState> {
    let mut out = BTreeMap::new();
    if destroyed {
        return out;
    }
    let known = pipeline::known_from_state(state);
    let Some(loaded) = super::common::load_with_known(cli, known.into()) else {
        return out;
    };
    let Some(stack) = loaded.stack else {
        return out;
    };
    for o in &stack.outputs {
        if value::json_is_unknown(&o.value.value) {
            continue;
        }
        let v = if o.sensitive {
            OutputState::Sensitive(hasher.hash_json(&o.value.value))
        } else {
            OutputState::Value(o.value.value.clone())
        };
        out.insert(o.name.clone(), v);
    }
    out
}

/// `apply --refresh-only`: the world as it is becomes the recorded state.
async fn accept_refresh<W: StateWriter>(
    writer: &mut W,
    refreshed: Option<StateFile>,
    drift: Vec<crate::plan::Drift>,
    auto_approve: bool,
) -> i32 {
    let Some(refreshed) = refreshed else {
        println!("No state yet: nothing to refresh.");
        return exit::OK;
    };
    let shown = crate::plan::Plan {
        format_version: crate::plan::PLAN_FORMAT_VERSION,
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
        stack: refreshed.stack.clone(),
        state: None,
        inputs_hash: String::new(),
        drift: drift.clone(),
        changes: Vec::new(),
        summary: Default::default(),
        warnings: Vec::new(),
    };
    if drift.is_empty() {
        println!("No changes outside sovstack; the state already matches the world.");
        return exit::OK;
    }
    print!(
        "{}",
        plan::text::render(&shown).replace(
            "Unless the configuration is changed to match, apply will undo these changes.",
            "These changes will be accepted into the state; nothing in the world changes.",
        )
    );
    if !auto_approve && !confirm("accept these changes into the state") {
        return exit::ERROR;
    }
    match writer.persist(refreshed).await {
        Ok(serial) => {
            let results = drift
                .iter()
                .map(|d| {
                    (
                        d.address.clone(),
                        AddressResult {
                            action: "refresh".into(),
                            outcome: JournalOutcome::Succeeded,
                            message: Some(format!("{:?}", d.kind).to_lowercase()),
                        },
                    )
                })
                .collect();
            let record = JournalRecord {
                operation: "apply --refresh-only".into(),
                plan_hash: None,
                results,
            };
            if let Err(e) = writer.append_journal(record).await {
                return report(e);
            }
            println!(
                "Accepted {} change(s) into the state (serial {serial}).",
                drift.len()
            );
            exit::OK
        }
        Err(e) => report(e),
    }
}

fn confirm(operation: &str) -> bool {
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        eprintln!(
            "error: {operation} needs confirmation; no terminal to ask on. Pass --auto-approve (or apply a saved plan)."
        );
        return false;
    }
    eprint!("\nDo you want to {operation}? Only 'yes' will be accepted: ");
    let mut line = String::new();
    let _ = stdin.lock().read_line(&mut line);
    line.trim() == "yes"
}
