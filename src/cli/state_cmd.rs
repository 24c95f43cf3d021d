//! `sovstack state list | show ADDR | rm ADDR | mv FROM TO`, `show`, `output`,
//! `force-unlock`, `audit verify`: reading and carefully editing state.

use super::{Cli, exit, pipeline};
use crate::plan::SavedPlan;
use crate::state::{OutputState, StateBackend, StateFile, StateOp, StateWriter, verify_journal};
use std::path::PathBuf;
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

fn fail(e: impl miette::Diagnostic + Send + Sync + 'static) -> i32 {
    eprintln!("{:?}", miette::Report::new(e));
    exit::ERROR
}

fn read(cli: &Cli) -> Result<Option<StateFile>, i32> {
    let rt = super::runtime().ok_or(exit::ERROR)?;
    let backend = pipeline::backend(cli);
    match rt.block_on(backend.load()) {
        Ok(l) => Ok(l.map(|l| l.state)),
        Err(e) => Err(fail(e)),
    }
}

fn no_state(cli: &Cli) -> i32 {
    eprintln!(
        "error: no state at {}\n  help: `sovstack apply` creates it; pass --state FILE if it lives elsewhere",
        pipeline::state_path(cli).display()
    );
    exit::ERROR
}

pub fn run_state(cli: &Cli, cmd: &StateCommand) -> i32 {
    match cmd {
        StateCommand::List => match read(cli) {
            Ok(Some(s)) => {
                for a in s.resources.keys() {
                    println!("{a}");
                }
                exit::OK
            }
            Ok(None) => no_state(cli),
            Err(c) => c,
        },
        StateCommand::Show { address } => match read(cli) {
            Ok(Some(s)) => match s.resources.get(address) {
                Some(r) => {
                    println!("{}", serde_json::to_string_pretty(r).unwrap_or_default());
                    exit::OK
                }
                None => {
                    eprintln!(
                        "error: {address} is not in state\n  help: `sovstack state list` shows what is"
                    );
                    exit::ERROR
                }
            },
            Ok(None) => no_state(cli),
            Err(c) => c,
        },
        StateCommand::Rm { address } => edit(cli, "state rm", |s| {
            if !s.resources.contains_key(address) {
                return Err(format!("{address} is not in state"));
            }
            Ok(vec![StateOp::Remove {
                address: address.clone(),
            }])
        }),
        StateCommand::Mv { from, to } => edit(cli, "state mv", |s| {
            let Some(r) = s.resources.get(from) else {
                return Err(format!("{from} is not in state"));
            };
            if s.resources.contains_key(to) {
                return Err(format!("{to} is already in state"));
            }
            if r.kind != to.split('.').next().unwrap_or("") {
                return Err(format!("{from} is a {} and cannot become {to}", r.kind));
            }
            Ok(vec![
                StateOp::Upsert {
                    address: to.clone(),
                    resource: r.clone(),
                },
                StateOp::Remove {
                    address: from.clone(),
                },
            ])
        }),
    }
}

/// Edits under the lock, recorded as operations, then folded into a new snapshot.
fn edit(
    cli: &Cli,
    operation: &str,
    f: impl FnOnce(&StateFile) -> Result<Vec<StateOp>, String>,
) -> i32 {
    let Some(rt) = super::runtime() else {
        return exit::ERROR;
    };
    rt.block_on(async {
        let backend = pipeline::backend(cli);
        let mut w = match backend.lock(operation, Duration::ZERO).await {
            Ok(w) => w,
            Err(e) => return fail(e),
        };
        let Some(state) = w.state().cloned() else {
            return no_state(cli);
        };
        let ops = match f(&state) {
            Ok(ops) => ops,
            Err(m) => {
                eprintln!("error: {m}\n  help: `sovstack state list` shows the addresses in state");
                return exit::ERROR;
            }
        };
        for op in ops {
            if let Err(e) = w.record(op).await {
                return fail(e);
            }
        }
        match w.fold().await {
            Ok(serial) => {
                println!("{operation}: done (serial {serial})");
                exit::OK
            }
            Err(e) => fail(e),
        }
    })
}

pub fn run_show(cli: &Cli, args: &ShowArgs) -> i32 {
    if let Some(p) = &args.plan_file {
        return match SavedPlan::read(p) {
            Ok(s) if args.json => {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&s.plan).unwrap_or_default()
                );
                exit::OK
            }
            Ok(s) => {
                print!("{}", crate::plan::text::render(&s.plan));
                exit::OK
            }
            Err(e) => fail(e),
        };
    }
    match read(cli) {
        Ok(Some(s)) if args.json => {
            println!("{}", serde_json::to_string_pretty(&s).unwrap_or_default());
            exit::OK
        }
        Ok(Some(s)) => {
            println!(
                "# stack {} (lineage {}, serial {})",
                s.stack, s.lineage, s.serial
            );
            for (a, r) in &s.resources {
                println!(
                    "\n{a} ({:?}{})",
                    r.status,
                    r.id.as_ref()
                        .map(|i| format!(", id {i}"))
                        .unwrap_or_default()
                );
                for (k, v) in r.attributes.iter().filter(|(k, _)| k.as_str() != "content") {
                    println!("  {k} = {v}");
                }
                for k in r.sensitive_attributes.keys() {
                    println!("  {k} = (sensitive)");
                }
            }
            exit::OK
        }
        Ok(None) => no_state(cli),
        Err(c) => c,
    }
}

pub fn run_output(cli: &Cli, args: &OutputArgs) -> i32 {
    let state = match read(cli) {
        Ok(Some(s)) => s,
        Ok(None) => return no_state(cli),
        Err(c) => return c,
    };
    let shown = |o: &OutputState| match o {
        OutputState::Value(v) => v.clone(),
        OutputState::Sensitive(_) => serde_json::Value::String("(sensitive)".into()),
    };
    match &args.name {
        Some(n) => match state.outputs.get(n) {
            Some(o) => {
                match (args.json, shown(o)) {
                    (false, serde_json::Value::String(s)) => println!("{s}"),
                    (_, v) => println!("{v}"),
                }
                exit::OK
            }
            None => {
                eprintln!("error: no output named `{n}` in state");
                exit::ERROR
            }
        },
        None if args.json => {
            let m: serde_json::Map<String, serde_json::Value> = state
                .outputs
                .iter()
                .map(|(k, o)| (k.clone(), shown(o)))
                .collect();
            println!("{}", serde_json::to_string_pretty(&m).unwrap_or_default());
            exit::OK
        }
        None => {
            for (k, o) in &state.outputs {
                println!("{k} = {}", shown(o));
            }
            exit::OK
        }
    }
}

pub fn run_force_unlock(cli: &Cli, id: &str) -> i32 {
    let Some(rt) = super::runtime() else {
        return exit::ERROR;
    };
    match rt.block_on(pipeline::backend(cli).force_unlock(id)) {
        Ok(()) => {
            println!("The state lock {id} was released.");
            exit::OK
        }
        Err(e) => fail(e),
    }
}

pub fn run_audit_verify(cli: &Cli) -> i32 {
    let path = crate::state::atomic::with_suffix(&pipeline::state_path(cli), ".journal");
    match verify_journal(&path) {
        Ok(s) => {
            println!(
                "{}: {} entries, every link intact; head {}",
                path.display(),
                s.entries,
                s.head_hash
            );
            exit::OK
        }
        Err(e) => fail(e),
    }
}

pub fn run_graph(cli: &Cli) -> i32 {
    let Some(rt) = super::runtime() else {
        return exit::ERROR;
    };
    let (state, hasher) = match rt.block_on(pipeline::read_state(cli)) {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    let Some(prepared) = pipeline::prepare(cli, state.as_ref(), hasher.as_ref()) else {
        return exit::ERROR;
    };
    let g = crate::graph::Graph::build(
        prepared
            .desired
            .iter()
            .map(|d| (d.address.as_str(), &d.dependencies)),
    );
    print!("{}", g.dot());
    exit::OK
}
