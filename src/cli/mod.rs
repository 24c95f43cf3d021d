//! Command-line definitions and dispatch; one file per command.

mod appliers;
mod apply;
mod common;
mod drift;
mod fmt;
mod pipeline;
mod plan;
mod refresh;
mod render;
mod state_cmd;
mod validate;

use clap::{Parser, Subcommand};
use std::path::PathBuf;

/// Exit codes, as scripts and cron rely on them.
pub mod exit {
    pub const OK: i32 = 0;
    pub const ERROR: i32 = 1;
    /// Changes pending (`plan --detailed-exitcode`) or drift found.
    pub const CHANGES: i32 = 2;
}

#[derive(Debug, Parser)]
#[command(
    name = "sovstack",
    version,
    about = "Provision a sovereign LLM inference stack from stack.hcl"
)]
pub struct Cli {
    /// Run as if started in DIR.
    #[arg(short = 'C', global = true, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// The stack file.
    #[arg(long, global = true, default_value = "stack.hcl", value_name = "FILE")]
    pub stack: PathBuf,
    /// The local state file (default: .sovstack/state.json).
    #[arg(long, global = true, value_name = "FILE")]
    pub state: Option<PathBuf>,
    /// Set a variable (repeatable); overrides SOVSTACK_VAR_<name>.
    #[arg(long = "var", global = true, value_name = "NAME=VALUE")]
    pub vars: Vec<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Load and check the stack; diagnostics point at file:line:col.
    Validate(validate::Args),
    /// Rewrite the stack file in canonical layout, keeping comments.
    Fmt(fmt::Args),
    /// Write every artifact and manifest.json to a directory.
    Render(render::Args),
    /// Show what apply would change.
    Plan(plan::Args),
    /// Make the world match the stack (or apply a saved plan).
    Apply(apply::Args),
    /// Destroy everything in state.
    Destroy(apply::DestroyArgs),
    /// Report what changed outside sovstack (exit 0 none, 2 drift, 1 error).
    Drift(drift::Args),
    /// Show the state, or a saved plan.
    Show(state_cmd::ShowArgs),
    /// Inspect or carefully edit the state.
    #[command(subcommand)]
    State(state_cmd::StateCommand),
    /// Show output values.
    Output(state_cmd::OutputArgs),
    /// Print the dependency graph as Graphviz DOT.
    Graph,
    /// Release a state lock left by a crashed run.
    ForceUnlock {
        /// The lock id shown in the "state is locked" message.
        id: String,
    },
    /// Check the hash-chained journal of applies.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Serve a local simulation of the Hetzner Cloud API, to rehearse on.
    Sandbox(crate::sandbox::SandboxArgs),
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Verify every link of the journal.
    Verify,
}

/// A runtime for commands that talk to state backends, the API or nodes.
pub(crate) fn runtime() -> Option<tokio::runtime::Runtime> {
    build_runtime(tokio::runtime::Builder::new_multi_thread())
}

/// A runtime on the calling thread: for commands whose concurrency is waiting on the network
/// (requests, SSH sessions on the blocking pool), where worker threads would only cost their
/// start-up and per-thread allocator arenas.
pub(crate) fn runtime_on_this_thread() -> Option<tokio::runtime::Runtime> {
    build_runtime(tokio::runtime::Builder::new_current_thread())
}

fn build_runtime(mut builder: tokio::runtime::Builder) -> Option<tokio::runtime::Runtime> {
    match builder.enable_all().build() {
        Ok(rt) => Some(rt),
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            None
        }
    }
}

/// Entry point used by the binary; returns the process exit code.
pub fn main() -> i32 {
    let cli = Cli::parse();
    if let Some(dir) = &cli.dir
        && let Err(e) = std::env::set_current_dir(dir)
    {
        eprintln!("error: cannot change to {}: {e}", dir.display());
        return exit::ERROR;
    }
    match &cli.command {
        Command::Validate(args) => validate::run(&cli, args),
        Command::Fmt(args) => fmt::run(&cli, args),
        Command::Render(args) => render::run(&cli, args),
        Command::Plan(args) => plan::run(&cli, args),
        Command::Apply(args) => apply::run(&cli, args),
        Command::Destroy(args) => apply::run_destroy(&cli, args),
        Command::Drift(args) => drift::run(&cli, args),
        Command::Show(args) => state_cmd::run_show(&cli, args),
        Command::State(cmd) => state_cmd::run_state(&cli, cmd),
        Command::Output(args) => state_cmd::run_output(&cli, args),
        Command::Graph => state_cmd::run_graph(&cli),
        Command::ForceUnlock { id } => state_cmd::run_force_unlock(&cli, id),
        Command::Audit(AuditCommand::Verify) => state_cmd::run_audit_verify(&cli),
        Command::Sandbox(args) => match runtime() {
            Some(rt) => match rt.block_on(crate::sandbox::serve(args.clone())) {
                Ok(()) => exit::OK,
                Err(e) => {
                    eprintln!("{:?}", miette::Report::new(e));
                    exit::ERROR
                }
            },
            None => exit::ERROR,
        },
    }
}
