//! `sovstack state list | show ADDR | rm ADDR | mv FROM TO`, `show`, `output`,
//! `force-unlock`, `audit verify`: reading and carefully editing state.

use super::{Cli, CliError};
use crate::engine::{EngineError, Workspace, moves};
use crate::plan::SavedPlan;
use crate::state::{
    AnyBackend, OutputState, PgBackend, StateBackend, StateFile, StateOp, StateWriter,
};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Debug, clap::Subcommand)]
pub enum StateCommand {
    /// Addresses in state.
    List,
    /// One resource's recorded attributes (secrets only as keyed hashes).
    Show { address: String },
    /// Forget a resource without touching it (it keeps existing).
    Rm { address: String },
    /// Record a resource under a new address (after renaming its block); its labels follow
    /// on the next apply, nothing is re-created.
    Mv { from: String, to: String },
    /// Give the state the stack's new name (after renaming the `stack` block); every cloud
    /// resource's stack label follows on the next apply.
    RenameStack { from: String, to: String },
    /// Print the current state (with every recorded operation) as a state file.
    Pull,
    /// Replace the state with FILE (`-` reads stdin): same lineage, not older than the current
    /// serial unless --force; it becomes the next serial.
    Push(super::state_move::PushArgs),
    /// Copy the state between the local file and the stack's `backend "pg"`, keeping its
    /// lineage and serial.
    Migrate(super::state_move::MigrateArgs),
}

#[derive(Debug, clap::Args)]
pub struct ShowArgs {
    /// A saved plan to show instead of the state.
    pub plan_file: Option<PathBuf>,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct OutputArgs {
    pub name: Option<String>,
    #[arg(long)]
    pub json: bool,
}

pub(super) fn read(ws: &Workspace) -> miette::Result<StateFile> {
    let rt = super::runtime()?;
    let loaded = rt
        .block_on(ws.backend()?.load())
        .map_err(EngineError::from)?;
    match loaded {
        Some(l) => {
            show_state_warnings(
                &l.warnings
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>(),
            );
            Ok(l.state)
        }
        None => Err(no_state(ws).into()),
    }
}

/// What reading the state file noticed (e.g. a log left by a crashed run, replayed).
pub fn show_state_warnings(warnings: &[String]) {
    for w in warnings {
        eoutln!("warning: {w}");
    }
}

pub(super) fn no_state(ws: &Workspace) -> CliError {
    CliError::new(format!("no state at {}", ws.state_location()))
        .help("`sovstack apply` creates it; pass --state FILE if it lives elsewhere")
}

fn not_in_state(address: &str) -> CliError {
    CliError::new(format!("{address} is not in state"))
        .help("`sovstack state list` shows the addresses in state")
}

pub fn run_state(cli: &Cli, cmd: &StateCommand) -> miette::Result<ExitCode> {
    let ws = cli.workspace()?;
    match cmd {
        StateCommand::List => {
            for a in read(&ws)?.resources.keys() {
                outln!("{a}");
            }
        }
        StateCommand::Show { address } => {
            let s = read(&ws)?;
            let r = s
                .resources
                .get(address)
                .ok_or_else(|| not_in_state(address))?;
            outln!("{}", serde_json::to_string_pretty(r).unwrap_or_default());
        }
        StateCommand::Rm { address } => edit(&ws, "state rm", |s| {
            if !s.resources.contains_key(address) {
                return Err(not_in_state(address));
            }
            Ok(vec![StateOp::Remove {
                address: address.clone(),
            }])
        })?,
        StateCommand::Mv { from, to } => {
            let declared = declared_addresses(&ws)?;
            edit(&ws, "state mv", |s| move_ops(s, from, to, &declared))?
        }
        StateCommand::RenameStack { from, to } => rename_stack(&ws, from, to)?,
        StateCommand::Pull => super::state_move::pull(&ws)?,
        StateCommand::Push(args) => super::state_move::push(&ws, args)?,
        StateCommand::Migrate(args) => super::state_move::migrate(&ws, args)?,
    }
    Ok(ExitCode::SUCCESS)
}

/// The addresses the stack file declares (checking on the way that the state is this stack's).
fn declared_addresses(ws: &Workspace) -> miette::Result<moves::Declared> {
    let rt = super::runtime()?;
    let (_, prepared) = super::read_and_prepare(ws, &rt)?;
    Ok(crate::engine::prepare::declared(&prepared.desired))
}

/// `state mv FROM TO`: the same resource (and those named after its block) under a new
/// address of the same kind, for a block that was renamed.
fn move_ops(
    s: &StateFile,
    from: &str,
    to: &str,
    declared: &moves::Declared,
) -> Result<Vec<StateOp>, CliError> {
    if !s.resources.contains_key(from) {
        return Err(not_in_state(from));
    }
    if !declared.contains_key(to) {
        return Err(CliError::new(format!("the stack declares no {to}")).help(format!(
            "state mv is for a renamed block: rename the block of {from} to {to} in the stack file first, then move"
        )));
    }
    let pairs = moves::plan_move(from, to, s, declared, None)
        .map_err(|p| CliError::new(p.message).help(p.help))?;
    Ok(moves::Moves::from_pairs(pairs, s, declared).ops(s))
}

/// `state rename-stack FROM TO`: the state of stack FROM becomes the state of TO, which the
/// stack file must already be called.
fn rename_stack(ws: &Workspace, from: &str, to: &str) -> miette::Result<()> {
    let loaded = crate::engine::prepare::load(ws, Default::default())?;
    let named = loaded.stack.map(|s| s.name.value);
    if named.as_deref() != Some(to) {
        return Err(CliError::new(format!(
            "the stack file is named `{}`, not `{to}`",
            named.unwrap_or_default()
        ))
        .help(format!("rename the stack block to `stack \"{to}\"` first"))
        .into());
    }
    // What the stack declares under its new name (planned without the old stack's state).
    let prepared = crate::engine::prepare::prepare(ws, None, None)?;
    let declared = crate::engine::prepare::declared(&prepared.desired);
    let ops_for = |s: &StateFile| {
        if s.stack != from {
            return Err(CliError::new(format!(
                "the state belongs to stack `{}`, not `{from}`",
                s.stack
            )));
        }
        // Names made from the stack's name change with it; what recorded them follows.
        let mut ops = moves::Moves::stack_renamed(s, &declared).ops(s);
        ops.push(StateOp::RenameStack {
            stack: to.to_string(),
        });
        Ok(ops)
    };
    match ws.backend()? {
        AnyBackend::Postgres(pg) => rename_pg_stack(&pg, from, ops_for),
        AnyBackend::Local(_) => edit_any(ws, "state rename-stack", ops_for),
    }
}

/// In PostgreSQL the state is kept under the stack's name: it moves from FROM's rows to TO's
/// (which must have none), both locked, in one transaction.
fn rename_pg_stack(
    pg: &PgBackend,
    from: &str,
    ops_for: impl FnOnce(&StateFile) -> Result<Vec<StateOp>, CliError>,
) -> miette::Result<()> {
    let operation = "state rename-stack";
    let serial = super::runtime()?.block_on(async {
        let old = pg.for_stack(from);
        let source = old
            .lock(operation, Duration::ZERO)
            .await
            .map_err(EngineError::from)?;
        let target = pg
            .lock(operation, Duration::ZERO)
            .await
            .map_err(EngineError::from)?;
        let state = source.state().cloned().ok_or_else(|| {
            CliError::new(format!("no state at {}", old.location()))
                .help("`sovstack state list` with the old stack name shows where the state is")
        })?;
        let ops = ops_for(&state)?;
        let serial = source
            .rename_to(&target, &ops)
            .await
            .map_err(EngineError::from)?;
        target.unlock().await.map_err(EngineError::from)?;
        Ok::<_, miette::Report>(serial)
    })?;
    outln!("{operation}: done (serial {serial})");
    Ok(())
}

/// Edits this stack's state (another stack's is refused) under the lock.
fn edit(
    ws: &Workspace,
    operation: &str,
    f: impl FnOnce(&StateFile) -> Result<Vec<StateOp>, CliError>,
) -> miette::Result<()> {
    let loaded = crate::engine::prepare::load(ws, Default::default())?;
    let Some(stack) = loaded.stack else {
        return Err(EngineError::Invalid {
            rendered: crate::config::diagnostic::render(&loaded.diagnostics, &loaded.source),
        }
        .into());
    };
    edit_any(ws, operation, |s| {
        crate::engine::prepare::check_stack_identity(ws, &stack, Some(s))
            .map_err(|e| CliError::new(e.to_string()).help(help_of(&e)))?;
        f(s)
    })
}

fn help_of(e: &dyn miette::Diagnostic) -> String {
    e.help().map(|h| h.to_string()).unwrap_or_default()
}

/// Edits under the lock, recorded as operations, then folded into a new snapshot.
fn edit_any(
    ws: &Workspace,
    operation: &str,
    f: impl FnOnce(&StateFile) -> Result<Vec<StateOp>, CliError>,
) -> miette::Result<()> {
    let rt = super::runtime()?;
    let serial = rt.block_on(async {
        let backend = ws.backend()?;
        let mut w = backend
            .lock(operation, Duration::ZERO)
            .await
            .map_err(EngineError::from)?;
        let state = w.state().cloned().ok_or_else(|| no_state(ws))?;
        for op in f(&state)? {
            w.record(op).await.map_err(EngineError::from)?;
        }
        w.fold()
            .await
            .map_err(|e| miette::Report::new(EngineError::from(e)))
    })?;
    outln!("{operation}: done (serial {serial})");
    Ok(())
}

pub fn run_show(cli: &Cli, args: &ShowArgs) -> miette::Result<ExitCode> {
    if let Some(p) = &args.plan_file {
        return show_saved(cli, p, args.json);
    }
    let s = read(&cli.workspace()?)?;
    if args.json {
        outln!("{}", serde_json::to_string_pretty(&s).unwrap_or_default());
        return Ok(ExitCode::SUCCESS);
    }
    outln!(
        "# stack {} (lineage {}, serial {})",
        s.stack,
        s.lineage,
        s.serial
    );
    for (a, r) in &s.resources {
        outln!(
            "\n{a} ({:?}{})",
            r.status,
            r.id.as_ref()
                .map(|i| format!(", id {i}"))
                .unwrap_or_default()
        );
        for (k, v) in r.attributes.iter().filter(|(k, _)| k.as_str() != "content") {
            outln!("  {k} = {v}");
        }
        for k in r.sensitive_attributes.keys() {
            outln!("  {k} = (sensitive)");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A saved plan as it was made, then whether `apply FILE` would take it now (on stderr
/// with `--json`, so the JSON stays the plan).
fn show_saved(cli: &Cli, path: &std::path::Path, json: bool) -> miette::Result<ExitCode> {
    let saved = SavedPlan::read(path).map_err(EngineError::from)?;
    if json {
        outln!(
            "{}",
            serde_json::to_string_pretty(&saved.plan).unwrap_or_default()
        );
    } else {
        out!("{}", crate::plan::text::render(&saved.plan));
    }
    let ws = cli.workspace()?;
    let verdict = match super::runtime()?.block_on(crate::engine::apply::check_saved(&ws, path)) {
        Ok(_) => format!(
            "This plan is current: `sovstack apply {}` applies it as shown.",
            path.display()
        ),
        Err(e) => {
            let help = miette::Diagnostic::help(&e)
                .map(|h| format!("\n  help: {h}"))
                .unwrap_or_default();
            format!("This plan cannot be applied now: {e}{help}")
        }
    };
    if json {
        eoutln!("{verdict}");
    } else {
        outln!("\n{verdict}");
    }
    Ok(ExitCode::SUCCESS)
}

pub fn run_output(cli: &Cli, args: &OutputArgs) -> miette::Result<ExitCode> {
    let state = read(&cli.workspace()?)?;
    let shown = |o: &OutputState| match o {
        OutputState::Value(v) => v.clone(),
        OutputState::Sensitive(_) => serde_json::Value::String("(sensitive)".into()),
    };
    match &args.name {
        Some(n) => {
            let o = state
                .outputs
                .get(n)
                .ok_or_else(|| CliError::new(format!("no output named `{n}` in state")))?;
            match (args.json, shown(o)) {
                (false, serde_json::Value::String(s)) => outln!("{s}"),
                (_, v) => outln!("{v}"),
            }
        }
        None if args.json => {
            let m: serde_json::Map<String, serde_json::Value> = state
                .outputs
                .iter()
                .map(|(k, o)| (k.clone(), shown(o)))
                .collect();
            outln!("{}", serde_json::to_string_pretty(&m).unwrap_or_default());
        }
        None => {
            for (k, o) in &state.outputs {
                outln!("{k} = {}", shown(o));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `sovstack import ADDR ID`: reads the resource and records it as ADDR; the next plan shows
/// setting this stack's labels on it and whatever else differs from its block.
pub fn run_import(cli: &Cli, address: &str, id: &str) -> miette::Result<ExitCode> {
    let ws = cli.workspace()?;
    let rt = super::runtime()?;
    let (read, prepared) = super::read_and_prepare(&ws, &rt)?;
    let Some(desired) = prepared.desired.iter().find(|d| d.address == address) else {
        return Err(CliError::new(format!("the stack declares no {address}"))
            .help("write the block the resource becomes first, then import into it")
            .into());
    };
    if read
        .state
        .as_ref()
        .is_some_and(|s| s.resources.contains_key(address))
    {
        return Err(CliError::new(format!("{address} is already in state"))
            .help("`sovstack state show` shows what it is; `sovstack state rm` it first to import another")
            .into());
    }
    let providers = crate::engine::providers(true)?;
    let empty = StateFile::new(&prepared.stack.name.value);
    let resource = rt
        .block_on(crate::resources::cloud::read_for_import(
            providers.cloud(address).map_err(EngineError::from)?,
            desired,
            id,
            &prepared.stack.name.value,
            read.state.as_ref().unwrap_or(&empty),
        ))
        .map_err(EngineError::from)?;
    let stack = prepared.stack.name.value.clone();
    rt.block_on(async {
        let backend = ws.backend()?;
        let mut w = backend
            .lock("import", Duration::ZERO)
            .await
            .map_err(EngineError::from)?;
        if w.state().is_none() {
            w.init(&stack).await.map_err(EngineError::from)?;
        }
        w.record(StateOp::Upsert {
            address: address.to_string(),
            resource,
        })
        .await
        .map_err(EngineError::from)?;
        w.fold().await.map_err(EngineError::from)?;
        Ok::<_, miette::Report>(())
    })?;
    outln!(
        "Imported {id} as {address}; `sovstack plan` shows what apply changes to match its block."
    );
    Ok(ExitCode::SUCCESS)
}

pub fn run_force_unlock(cli: &Cli, id: &str) -> miette::Result<ExitCode> {
    let ws = cli.workspace()?;
    super::runtime()?
        .block_on(ws.backend()?.force_unlock(id))
        .map_err(EngineError::from)?;
    outln!("The state lock {id} was released.");
    Ok(ExitCode::SUCCESS)
}

pub fn run_audit_verify(cli: &Cli) -> miette::Result<ExitCode> {
    let ws = cli.workspace()?;
    let backend = ws.backend()?;
    let (location, s) = super::runtime()?
        .block_on(backend.verify_journal())
        .map_err(EngineError::from)?;
    outln!(
        "{location}: {} entries, every link intact; head {}",
        s.entries,
        s.head_hash
    );
    Ok(ExitCode::SUCCESS)
}

pub fn run_graph(cli: &Cli) -> miette::Result<ExitCode> {
    let ws = cli.workspace()?;
    let rt = super::runtime()?;
    let (_, prepared) = super::read_and_prepare(&ws, &rt)?;
    let g = crate::graph::Graph::build(
        prepared
            .desired
            .iter()
            .map(|d| (d.address.as_str(), &d.dependencies)),
    );
    out!("{}", g.dot());
    Ok(ExitCode::SUCCESS)
}
