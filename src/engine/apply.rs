//! Apply and destroy, in waves: a wave applies every change whose inputs are fully known (a
//! file that embeds a server's address waits until that server exists), then the stack is
//! loaded again with what state now knows and planned again, until nothing is left to do.

use super::executor::{Outcome, Walk, execute};
use super::prepare::{self, Prepared};
use super::{EngineError, Workspace, refresh};
use crate::config::value;
use crate::graph::Graph;
use crate::plan::{self, Action, Drift, Plan, PlanOptions, SavedPlan};
use crate::progress::{EventSink, Progress};
use crate::resources::{ApplyContext, ApplyOptions, Checkpoint, Desired};
use crate::state::{
    AddressResult, JournalRecord, KeyedHasher, Outcome as JournalOutcome, OutputState,
    StateBackend, StateFile, StateOp, StateWriter,
};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// More waves than this means something keeps waiting on itself.
const MAX_WAVES: usize = 6;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    Apply,
    Destroy,
}

impl Command {
    pub fn as_str(self) -> &'static str {
        match self {
            Command::Apply => "apply",
            Command::Destroy => "destroy",
        }
    }
}

/// What the user asked for.
#[derive(Debug, Clone)]
pub struct Request {
    pub command: Command,
    pub refresh: bool,
    pub refresh_only: bool,
    pub auto_approve: bool,
    pub lock_timeout: Duration,
    pub plan_options: PlanOptions,
    pub saved: Option<PathBuf>,
    pub apply_options: ApplyOptions,
    /// Stops the run between operations when requested (SIGINT, SIGTERM).
    pub stop: super::StopSignal,
}

/// What the engine asks of whoever runs it: show things, ask for confirmation, render progress.
pub trait Ui {
    /// Warnings about the stack, as rendered diagnostics.
    fn warnings(&mut self, text: &str);
    /// The plan about to be applied (or the changes `--refresh-only` would accept).
    fn plan(&mut self, plan: &Plan, refresh_only: bool);
    /// Asks to go on; `Err` when there is no way to ask.
    fn confirm(&mut self, question: &str) -> Result<bool, EngineError>;
    /// What renders one wave's events.
    fn progress(&mut self) -> Box<dyn Progress>;
}

/// Why a run stopped before it was done.
#[derive(Debug, Clone, PartialEq)]
pub enum Stop {
    /// Operations failed (their full diagnostics are in `failed`).
    Failed,
    /// Something applied in this run still differs: plan and apply disagree.
    StillDiffers {
        address: String,
        attributes: Vec<String>,
    },
    /// What is left waits for values nothing in this run provides.
    Waiting(Vec<String>),
    /// A stop was requested: the running operations finished and were recorded; these
    /// changes were not started.
    Interrupted { not_started: Vec<String> },
}

/// What an apply, destroy or `--refresh-only` did.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Report {
    /// Nothing was changed because nothing differed.
    pub nothing_to_do: bool,
    pub added: usize,
    pub changed: usize,
    pub destroyed: usize,
    /// Every failed operation's full diagnostic, by address.
    pub failed: Vec<(String, String)>,
    /// The addresses changed successfully in this run.
    pub done: Vec<String>,
    pub stop: Option<Stop>,
    /// `--refresh-only`: what was accepted into the state, and what the stack still wants.
    pub accepted: Option<Accepted>,
    /// The run was recorded (journal, outputs): its counts are a summary to show.
    pub recorded: bool,
}

/// What `apply --refresh-only` did: the findings it accepted into the state (address and
/// what happened: `changed`, `deleted`...), the serial written, and the changes of the stack
/// it left for `apply` (their addresses).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Accepted {
    pub changes: Vec<(String, String)>,
    pub serial: u64,
    pub pending: Vec<String>,
}

struct Run<'a, W: StateWriter> {
    ws: &'a Workspace,
    req: &'a Request,
    writer: W,
    hasher: Arc<KeyedHasher>,
    results: BTreeMap<String, AddressResult>,
    last_plan_hash: Option<String>,
}

/// Runs an apply or destroy to the end, recording state after every operation.
pub async fn run(ws: &Workspace, req: &Request, ui: &mut dyn Ui) -> Result<Report, EngineError> {
    let saved = req.saved.as_deref().map(SavedPlan::read).transpose()?;
    let read_ws = ws.read_data().await?;
    let ws = &read_ws;
    let planned_ws;
    let ws = match &saved {
        Some(saved) => {
            planned_ws = with_planned_variables(ws, saved)?;
            &planned_ws
        }
        None => ws,
    };
    let backend = ws.backend()?;
    let writer = backend.lock(req.command.as_str(), req.lock_timeout).await?;
    let hasher = Arc::new(backend.hasher()?);
    let mut run = Run {
        ws,
        req,
        writer,
        hasher,
        results: BTreeMap::new(),
        last_plan_hash: None,
    };
    let mut report = Report::default();
    for wave in 1..=MAX_WAVES {
        match run.wave(wave, saved.as_ref(), ui, &mut report).await? {
            WaveEnd::Continue => {}
            WaveEnd::Done => break,
            WaveEnd::Return => return Ok(report),
        }
    }
    run.finish(&mut report).await?;
    Ok(report)
}

/// The workspace a saved plan is applied in: the variables it was made with.
fn with_planned_variables(ws: &Workspace, saved: &SavedPlan) -> Result<Workspace, EngineError> {
    Ok(Workspace {
        vars: saved.variables(&ws.vars)?,
        ..ws.clone()
    })
}

/// The checks apply makes of a saved plan before it changes anything: the secrets it was
/// made with are given again, and neither the state nor any input moved.
fn accept_saved(
    saved: &SavedPlan,
    prepared: &Prepared,
    hasher: &KeyedHasher,
    recorded: Option<plan::StateRef>,
) -> Result<(), EngineError> {
    let secrets = prepared
        .stack
        .variables
        .iter()
        .filter(|v| v.sensitive)
        .map(|v| (v.name.clone(), v.value.clone()))
        .collect();
    saved.check_secrets(&secrets, hasher)?;
    saved.check_current(recorded, &prepared.inputs_hash)?;
    Ok(())
}

/// Whether `apply FILE` would accept the saved plan at `path` now: the checks it makes before
/// changing anything, without taking the lock or reading the world.
pub async fn check_saved(ws: &Workspace, path: &std::path::Path) -> Result<SavedPlan, EngineError> {
    let saved = SavedPlan::read(path)?;
    let ws = with_planned_variables(ws, &saved)?;
    let backend = ws.backend()?;
    let state = backend.load().await?.map(|l| l.state);
    let hasher = backend.hasher()?;
    let prepared = prepare::prepare(&ws, state.as_ref(), Some(&hasher))?;
    let recorded = state.as_ref().map(|s| plan::StateRef {
        lineage: s.lineage.to_string(),
        serial: s.serial,
    });
    accept_saved(&saved, &prepared, &hasher, recorded)?;
    Ok(saved)
}

enum WaveEnd {
    Continue,
    /// Stop waving; record the journal and outputs.
    Done,
    /// Nothing was done: return as is.
    Return,
}

impl<W: StateWriter> Run<'_, W> {
    async fn wave(
        &mut self,
        wave: usize,
        saved: Option<&SavedPlan>,
        ui: &mut dyn Ui,
        report: &mut Report,
    ) -> Result<WaveEnd, EngineError> {
        let state = self.writer.state().cloned();
        let mut prepared = prepare::prepare(self.ws, state.as_ref(), Some(&self.hasher))?;
        if self.req.command == Command::Apply {
            prepared.read_imports(state.as_ref()).await?;
        }
        if wave == 1 {
            ui.warnings(&prepared.warnings);
            if state.is_none()
                && let Some(hint) = prepare::renamed_stack_hint(&self.ws.backend()?).await?
            {
                ui.warnings(&format!("warning: {hint}\n"));
            }
            if self.req.command == Command::Apply {
                refuse_unset_secrets(&prepared)?;
            }
        }
        // The first wave diffs against the world, so apply undoes what changed outside.
        let (prior, drift) = match &state {
            Some(s) if wave == 1 && self.req.refresh => {
                let r = refresh::complete(&prepared.stack, &prepared.moved(s), Some(&self.hasher))
                    .await?;
                (Some(r.state), r.drift)
            }
            other => (other.clone(), Vec::new()),
        };
        if self.req.refresh_only {
            let pending = match &prior {
                Some(p) => self
                    .plan(&prepared, Some(p), Vec::new(), state.as_ref())?
                    .changes
                    .iter()
                    .filter(|c| c.action != Action::NoOp)
                    .map(|c| c.address.clone())
                    .collect(),
                None => Vec::new(),
            };
            *report = self.accept_refresh(prior, drift, pending, ui).await?;
            return Ok(WaveEnd::Return);
        }
        let plan = self.plan(&prepared, prior.as_ref(), drift, state.as_ref())?;
        if wave == 1 {
            if let Some(saved) = saved {
                accept_saved(saved, &prepared, &self.hasher, plan.state.clone())?;
            }
            ui.plan(&plan, false);
            if !plan.has_changes() {
                report.nothing_to_do = true;
                return Ok(WaveEnd::Return);
            }
            let question = self.req.command.as_str();
            if saved.is_none() && !self.req.auto_approve && !ui.confirm(question)? {
                return Err(EngineError::Cancelled(question.to_string()));
            }
            // Moves are recorded before anything else, so every operation after works on the
            // resource under its new address.
            if let Some(s) = &state {
                for op in prepared.moves.ops(s) {
                    self.writer.record(op).await?;
                }
            }
            if !prepared.imports.is_empty() && self.writer.state().is_none() {
                self.writer.init(&prepared.stack.name.value).await?;
            }
            for op in prepared.imports.ops() {
                self.writer.record(op).await?;
            }
        } else if !plan.has_changes() {
            return Ok(WaveEnd::Done);
        }
        let wave_plan = ready_part(&plan, &prepared.desired);
        if self.req.stop.is_requested() {
            report.stop = Some(Stop::Interrupted {
                not_started: pending_addresses(&plan),
            });
            return Ok(WaveEnd::Done);
        }
        if let Some(stop) = self.must_stop(&plan, &wave_plan) {
            report.stop = Some(stop);
            return Ok(WaveEnd::Done);
        }
        self.execute_wave(&plan, &wave_plan, &prepared, ui, report)
            .await
    }

    fn plan(
        &self,
        prepared: &Prepared,
        prior: Option<&StateFile>,
        drift: Vec<Drift>,
        recorded: Option<&StateFile>,
    ) -> Result<Plan, EngineError> {
        let mut plan = prepared.plan(prior, Some(&self.hasher), drift, &self.req.plan_options)?;
        plan.state = recorded.map(|s| plan::StateRef {
            lineage: s.lineage.to_string(),
            serial: s.serial,
        });
        Ok(plan)
    }

    /// A later wave may only do what earlier waves could not: something applied in this run
    /// that still differs means apply and plan disagree, and looping would churn it. And a
    /// wave with nothing ready would wait forever.
    fn must_stop(&self, plan: &Plan, wave_plan: &Plan) -> Option<Stop> {
        if let Some(again) = plan.changes.iter().find(|c| {
            c.action != Action::NoOp
                && self
                    .results
                    .get(&c.address)
                    .is_some_and(|r| r.outcome == JournalOutcome::Succeeded)
        }) {
            return Some(Stop::StillDiffers {
                address: again.address.clone(),
                attributes: again.changes.iter().map(|a| a.name.clone()).collect(),
            });
        }
        if !wave_plan.has_changes() {
            return Some(Stop::Waiting(pending_addresses(plan)));
        }
        None
    }

    /// Runs `wave_plan`, the part of `plan` that is ready now.
    async fn execute_wave(
        &mut self,
        plan: &Plan,
        wave_plan: &Plan,
        prepared: &Prepared,
        ui: &mut dyn Ui,
        report: &mut Report,
    ) -> Result<WaveEnd, EngineError> {
        if self.writer.state().is_none() {
            self.writer.init(&prepared.stack.name.value).await?;
        }
        self.last_plan_hash = Some(plan::plan_sha256(plan));
        let needs_cloud = wave_plan
            .changes
            .iter()
            .any(|c| c.action != Action::NoOp && crate::resources::is_cloud(&c.kind));
        let providers = Arc::new(super::providers(needs_cloud)?);
        let (events, rx) = EventSink::new();
        let printer = tokio::spawn(crate::progress::render(rx, ui.progress()));
        let (checkpoint, checkpoint_rx) = Checkpoint::new();
        let resources = self
            .writer
            .state()
            .map(|s| s.resources.clone())
            .unwrap_or_default();
        let cx = ApplyContext {
            stack: Arc::new(prepared.stack.clone()),
            resources: Arc::new(RwLock::new(resources)),
            hasher: self.hasher.clone(),
            events,
            checkpoint,
            options: self.req.apply_options.clone(),
        };
        let how = Walk {
            parallelism: self.req.apply_options.parallelism,
            stop: self.req.stop.clone(),
            plan_hash: self.last_plan_hash.clone(),
        };
        let result = execute(
            wave_plan,
            &prepared.desired,
            providers,
            &mut self.writer,
            cx,
            checkpoint_rx,
            &how,
        )
        .await;
        // Every sender is gone once execute returns; the printer drains and stops.
        let _ = printer.await;
        let outcome = result?;
        collect_results(wave_plan, &outcome, &mut self.results);
        report.failed.extend(outcome.failed.iter().cloned());
        if outcome.is_success() {
            Ok(WaveEnd::Continue)
        } else if !outcome.not_started.is_empty() || self.req.stop.is_requested() {
            // What later waves would have done is not started either.
            let mut not_started = outcome.not_started.clone();
            not_started.extend(
                pending_addresses(plan)
                    .into_iter()
                    .filter(|a| wave_plan.change(a).is_none()),
            );
            not_started.sort();
            report.stop = Some(Stop::Interrupted { not_started });
            Ok(WaveEnd::Done)
        } else {
            report.stop = Some(Stop::Failed);
            Ok(WaveEnd::Done)
        }
    }

    /// Outputs, journal, folding the log into a new snapshot, and the counts.
    async fn finish(&mut self, report: &mut Report) -> Result<(), EngineError> {
        if self.writer.state().is_none() {
            return Ok(());
        }
        let outputs = outputs_from(
            self.ws,
            self.writer.state(),
            &self.hasher,
            self.req.command == Command::Destroy,
        );
        self.writer.record(StateOp::SetOutputs { outputs }).await?;
        for (address, r) in self
            .results
            .iter()
            .filter(|(_, r)| r.outcome == JournalOutcome::Succeeded)
        {
            report.done.push(address.clone());
            match r.action.as_str() {
                "create" => report.added += 1,
                "update" => report.changed += 1,
                "replace" => {
                    report.added += 1;
                    report.destroyed += 1;
                }
                "delete" => report.destroyed += 1,
                _ => {}
            }
        }
        let record = JournalRecord {
            operation: self.req.command.as_str().to_string(),
            plan_hash: self.last_plan_hash.take(),
            results: std::mem::take(&mut self.results),
        };
        self.writer.append_journal(record).await?;
        self.writer.fold().await?;
        report.recorded = true;
        Ok(())
    }

    /// `apply --refresh-only`: the world as it is becomes the recorded state.
    async fn accept_refresh(
        &mut self,
        refreshed: Option<StateFile>,
        drift: Vec<Drift>,
        pending: Vec<String>,
        ui: &mut dyn Ui,
    ) -> Result<Report, EngineError> {
        let mut report = Report {
            nothing_to_do: true,
            ..Report::default()
        };
        let Some(refreshed) = refreshed else {
            return Ok(report);
        };
        let mut accepted = Accepted {
            changes: Vec::new(),
            serial: refreshed.serial,
            pending,
        };
        if drift.is_empty() {
            report.accepted = Some(accepted);
            return Ok(report);
        }
        let shown = Plan {
            format_version: plan::PLAN_FORMAT_VERSION,
            tool_version: env!("CARGO_PKG_VERSION").to_string(),
            stack: refreshed.stack.clone(),
            state: None,
            inputs_hash: String::new(),
            drift: drift.clone(),
            changes: Vec::new(),
            summary: Default::default(),
            warnings: Vec::new(),
        };
        ui.plan(&shown, true);
        let question = "accept these changes into the state";
        if !self.req.auto_approve && !ui.confirm(question)? {
            return Err(EngineError::Cancelled(question.to_string()));
        }
        accepted.serial = self.writer.persist(refreshed).await?;
        accepted.changes = drift
            .iter()
            .map(|d| (d.address.clone(), format!("{:?}", d.kind).to_lowercase()))
            .collect();
        let results = accepted
            .changes
            .iter()
            .map(|(address, what)| {
                (
                    address.clone(),
                    AddressResult {
                        action: "refresh".into(),
                        outcome: JournalOutcome::Succeeded,
                        message: Some(what.clone()),
                    },
                )
            })
            .collect();
        let record = JournalRecord {
            operation: "apply --refresh-only".into(),
            plan_hash: None,
            results,
        };
        self.writer.append_journal(record).await?;
        report.nothing_to_do = false;
        report.accepted = Some(accepted);
        Ok(report)
    }
}

/// The addresses a plan would change.
fn pending_addresses(plan: &Plan) -> Vec<String> {
    plan.changes
        .iter()
        .filter(|c| c.action != Action::NoOp)
        .map(|c| c.address.clone())
        .collect()
}

fn refuse_unset_secrets(prepared: &Prepared) -> Result<(), EngineError> {
    let unset = prepared.stack.unset_sensitive_variables();
    if unset.is_empty() {
        return Ok(());
    }
    Err(EngineError::UnsetSecrets(
        unset
            .iter()
            .map(|v| format!("SOVSTACK_VAR_{}", v.name))
            .collect(),
    ))
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

fn collect_results(plan: &Plan, outcome: &Outcome, results: &mut BTreeMap<String, AddressResult>) {
    let action_of = |a: &str| {
        plan.change(a)
            .map(|c| format!("{:?}", c.action).to_lowercase())
            .unwrap_or_default()
    };
    let mut put = |address: &str, outcome, message| {
        results.insert(
            address.to_string(),
            AddressResult {
                action: action_of(address),
                outcome,
                message,
            },
        );
    };
    for (a, _) in &outcome.completed {
        put(a, JournalOutcome::Succeeded, None);
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
        put(a, JournalOutcome::Failed, Some(first));
    }
    for a in &outcome.skipped {
        put(a, JournalOutcome::Skipped, None);
    }
}

/// Output values from the stack loaded with the final state; sensitive ones only as
/// keyed hashes.
fn outputs_from(
    ws: &Workspace,
    state: Option<&StateFile>,
    hasher: &KeyedHasher,
    destroyed: bool,
) -> BTreeMap<String, OutputState> {
    let mut out = BTreeMap::new();
    if destroyed {
        return out;
    }
    let known = prepare::known_from_state(state);
    let Ok(loaded) = prepare::load(ws, known.into()) else {
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
