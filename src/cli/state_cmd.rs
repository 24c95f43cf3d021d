//! `sovstack state list | show ADDR | rm ADDR | mv FROM TO`, `show`, `output`,
//! `force-unlock`, `audit verify`: reading and carefully editing state.

use super::{Cli, CliError};
use crate::engine::{EngineError, Workspace};
use crate::plan::SavedPlan;
use crate::resources::Address;
use crate::state::{OutputState, StateBackend, StateFile, StateOp, StateWriter, verify_journal};
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
    /// Rename a resource's address (after renaming its block); labels follow on the next apply.
    Mv { from: String, to: String },
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

fn read(ws: &Workspace) -> miette::Result<StateFile> {
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

fn no_state(ws: &Workspace) -> CliError {
    CliError::new(format!("no state at {}", ws.state.display()))
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
        StateCommand::Mv { from, to } => edit(&ws, "state mv", |s| move_ops(s, from, to))?,
    }
    Ok(ExitCode::SUCCESS)
}

/// `state mv FROM TO`: the same resource under a new address of the same kind.
fn move_ops(s: &StateFile, from: &str, to: &str) -> Result<Vec<StateOp>, CliError> {
    let r = s.resources.get(from).ok_or_else(|| not_in_state(from))?;
    if s.resources.contains_key(to) {
        return Err(CliError::new(format!("{to} is already in state"))
            .help("`sovstack state list` shows the addresses in state"));
    }
    let target = Address::parse(to).map_err(|e| CliError::new(e.to_string()))?;
    if r.kind != target.kind.name() {
        return Err(
            CliError::new(format!("{from} is a {} and cannot become {to}", r.kind))
                .help("`sovstack state list` shows the addresses in state"),
        );
    }
    Ok(vec![
        StateOp::Upsert {
            address: to.to_string(),
            resource: r.clone(),
        },
        StateOp::Remove {
            address: from.to_string(),
        },
    ])
}

/// Edits under the lock, recorded as operations, then folded into a new snapshot.
fn edit(
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
        let s = SavedPlan::read(p).map_err(EngineError::from)?;
        if args.json {
            outln!(
                "{}",
                serde_json::to_string_pretty(&s.plan).unwrap_or_default()
            );
        } else {
            out!("{}", crate::plan::text::render(&s.plan));
        }
        return Ok(ExitCode::SUCCESS);
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
    let path = crate::state::atomic::with_suffix(&ws.state, ".journal");
    let s = verify_journal(&path).map_err(miette::Report::new)?;
    outln!(
        "{}: {} entries, every link intact; head {}",
        path.display(),
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
