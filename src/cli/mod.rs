//! Command-line definitions and dispatch; one file per command.

#[macro_use]
mod out;

mod apply;
mod drift;
mod error;
mod fmt;
mod plan;
mod render;
mod signals;
mod state_cmd;
mod state_move;
mod ui;
mod validate;
mod version;

pub use error::CliError;

use crate::engine::{EngineError, Workspace};
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// Exit codes, as scripts and cron rely on them.
pub mod exit {
    pub const OK: u8 = 0;
    pub const ERROR: u8 = 1;
    /// Changes pending (`plan --detailed-exitcode`) or drift found.
    pub const CHANGES: u8 = 2;
}

#[derive(Debug, Parser)]
#[command(
    name = "sovstack",
    version,
    long_version = version::LONG,
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
    /// Read variables from an HCL file of `name = value` lines (repeatable; later files win).
    /// `sovstack.vars.hcl` and `*.auto.vars.hcl` beside the stack are read first without it.
    #[arg(long = "var-file", global = true, value_name = "FILE")]
    pub var_files: Vec<PathBuf>,
    /// No colours (also when NO_COLOR is set).
    #[arg(long, global = true)]
    pub no_color: bool,
    /// Export this run's trace and log records (plan, apply, destroy, drift) over OTLP/HTTP
    /// to this collector (base URL; `/v1/traces` and `/v1/logs` are appended).
    #[arg(
        long,
        global = true,
        env = "OTEL_EXPORTER_OTLP_ENDPOINT",
        value_name = "URL"
    )]
    pub otlp_endpoint: Option<String>,
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
    /// Bring an existing cloud resource under management as ADDR (its block must exist).
    Import {
        /// The block it becomes, e.g. `firewall.edge`.
        address: String,
        /// Its Hetzner Cloud id.
        id: String,
    },
    ForceUnlock {
        /// The lock id shown in the "state is locked" message.
        id: String,
    },
    /// Check the hash-chained journal of applies.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Serve a local simulation of the Hetzner Cloud API, to rehearse on.
    Sandbox(crate::sandbox::SandboxArgs),
    /// Print the version, commit, build date and what this build supports.
    Version,
    /// Print a shell completion script (e.g. `sovstack completions bash > /etc/bash_completion.d/sovstack`).
    Completions { shell: clap_complete::Shell },
}

impl Command {
    /// The commands that export their trace, by name.
    pub fn traced(&self) -> Option<&'static str> {
        match self {
            Command::Plan(_) => Some("plan"),
            Command::Apply(_) => Some("apply"),
            Command::Destroy(_) => Some("destroy"),
            Command::Drift(_) => Some("drift"),
            _ => None,
        }
    }

    /// Whether the command prints the machine-readable stream (`--json`).
    pub fn json_stream(&self) -> bool {
        match self {
            Command::Validate(a) => a.json,
            Command::Plan(a) => a.json,
            Command::Apply(a) => a.run.json,
            Command::Destroy(a) => a.run.json,
            Command::Drift(a) => a.json,
            _ => false,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Verify every link of the journal.
    Verify,
}

impl Cli {
    /// The stack, state and variables this invocation works on.
    pub fn workspace(&self) -> Result<Workspace, EngineError> {
        let vars = self
            .vars
            .iter()
            .map(|v| match v.split_once('=') {
                Some((k, val)) => Ok((k.to_string(), val.to_string())),
                None => Err(EngineError::VarSyntax(v.clone())),
            })
            .collect::<Result<_, _>>()?;
        Ok(Workspace::new(self.stack.clone(), self.state.clone(), vars)
            .with_var_files(self.var_files.clone()))
    }
}

/// A runtime for commands that talk to state backends, the API or nodes.
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    build_runtime(tokio::runtime::Builder::new_multi_thread())
}

/// A runtime on the calling thread: for commands whose concurrency is waiting on the network
/// (requests, SSH sessions on the blocking pool), where worker threads would only cost their
/// start-up and per-thread allocator arenas.
pub(crate) fn runtime_on_this_thread() -> Result<tokio::runtime::Runtime, CliError> {
    build_runtime(tokio::runtime::Builder::new_current_thread())
}

fn build_runtime(
    mut builder: tokio::runtime::Builder,
) -> Result<tokio::runtime::Runtime, CliError> {
    builder
        .enable_all()
        .build()
        .map_err(|e| CliError::new(format!("cannot start the async runtime: {e}")))
}

/// The state as recorded and the stack prepared against it.
type ReadAndPrepared = (
    crate::engine::prepare::ReadState,
    crate::engine::prepare::Prepared,
);

/// The state as recorded and the stack prepared against it, with what either warns of shown.
fn read_and_prepare(
    ws: &Workspace,
    rt: &tokio::runtime::Runtime,
) -> miette::Result<ReadAndPrepared> {
    let read = rt.block_on(crate::engine::prepare::read_state(ws))?;
    prepare_read(ws, read)
}

/// [`read_and_prepare`] from a state already read.
fn prepare_read(
    ws: &Workspace,
    read: crate::engine::prepare::ReadState,
) -> miette::Result<ReadAndPrepared> {
    state_cmd::show_state_warnings(&read.warnings);
    let (read, prepared) = prepare_quietly(ws, read)?;
    validate::show_warnings(&prepared.warnings);
    Ok((read, prepared))
}

/// [`read_and_prepare`] that leaves the warnings to the caller (state warnings, rendered
/// validation warnings): `drift --quiet` prints nothing at all on a clean stack.
fn read_and_prepare_unshown(
    ws: &Workspace,
    rt: &tokio::runtime::Runtime,
) -> miette::Result<ReadAndPrepared> {
    let read = rt.block_on(crate::engine::prepare::read_state(ws))?;
    prepare_quietly(ws, read)
}

/// The stack prepared against a state already read, nothing shown.
fn prepare_quietly(
    ws: &Workspace,
    read: crate::engine::prepare::ReadState,
) -> miette::Result<ReadAndPrepared> {
    let prepared = crate::engine::prepare::prepare(ws, read.state.as_ref(), read.hasher.as_ref())?;
    Ok((read, prepared))
}

/// Entry point used by the binary.
pub fn main() -> ExitCode {
    // Lines are not wrapped: an id or a path in a message must survive a copy and paste.
    let _ = miette::set_hook(Box::new(|_| {
        Box::new(miette::MietteHandlerOpts::new().wrap_lines(false).build())
    }));
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage(&e),
    };
    ui::set_colors(cli.no_color);
    let json = cli.command.json_stream();
    if json {
        ui::emit(&crate::progress::json::version());
    }
    let result = enter_dir(&cli).and_then(|()| traced(&cli));
    match result {
        Ok(code) => code,
        Err(report) if json => {
            show_json_error(&cli, &report);
            ExitCode::from(exit::ERROR)
        }
        Err(report) => {
            show_error(&report);
            ExitCode::from(exit::ERROR)
        }
    }
}

/// Help and version are printed and succeed; a usage error (an unknown flag, a missing
/// argument) is printed and exits 1, never 2, which means "changes pending" or "drift found".
fn usage(e: &clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    // Printing fails only when the reader has gone; there is nothing left to tell then.
    let _ = e.print();
    match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => ExitCode::SUCCESS,
        _ => ExitCode::from(exit::ERROR),
    }
}

/// The error that stopped a `--json` command as its last lines: an invalid stack's
/// diagnostics each with where it points, anything else as miette shows it.
fn show_json_error(cli: &Cli, report: &miette::Report) {
    let stack = match report.downcast_ref::<EngineError>() {
        Some(EngineError::Invalid { .. }) => validate::json_lines(cli),
        _ => Vec::new(),
    };
    if stack.is_empty() {
        ui::emit(&crate::progress::json::error(report));
    } else {
        stack.iter().for_each(ui::emit);
    }
}

/// Diagnostics of the stack come rendered (file:line:col, with their source); the rest are
/// shown by miette.
fn show_error(report: &miette::Report) {
    match report.downcast_ref::<EngineError>() {
        Some(EngineError::Invalid { rendered }) => eout!("{rendered}"),
        _ => eoutln!("{report:?}"),
    }
}

fn enter_dir(cli: &Cli) -> miette::Result<()> {
    if let Some(dir) = &cli.dir {
        std::env::set_current_dir(dir)
            .map_err(|e| CliError::new(format!("cannot change to {}: {e}", dir.display())))?;
    }
    Ok(())
}

/// Runs the command inside its trace span, exporting the trace when asked to; the span ends
/// and everything is sent before the process exits.
fn traced(cli: &Cli) -> miette::Result<ExitCode> {
    let Some(name) = cli.command.traced() else {
        crate::telemetry::start(&Default::default())?;
        return run(cli);
    };
    let endpoint = cli.otlp_endpoint.clone().filter(|e| !e.is_empty());
    let region = endpoint.as_ref().and_then(|_| region(cli));
    crate::telemetry::start(&crate::telemetry::Settings { endpoint, region })?;
    let span = crate::telemetry::spans::command(name);
    let result = span.in_scope(|| run(cli));
    if result.is_err() {
        span.record("otel.status_code", "ERROR");
    }
    drop(span);
    crate::telemetry::shutdown();
    result
}

/// The Hetzner location of the stack's first server, for `cloud.region`; `None` when the
/// stack does not load (the command itself then says why).
fn region(cli: &Cli) -> Option<String> {
    let ws = cli.workspace().ok()?;
    let loaded = crate::engine::prepare::load(&ws, Default::default()).ok()?;
    let stack = loaded.stack?;
    stack.servers.first().map(|s| s.location.value.clone())
}

fn run(cli: &Cli) -> miette::Result<ExitCode> {
    match &cli.command {
        Command::Validate(args) => validate::run(cli, args),
        Command::Fmt(args) => fmt::run(cli, args),
        Command::Render(args) => render::run(cli, args),
        Command::Plan(args) => plan::run(cli, args),
        Command::Apply(args) => apply::run(cli, args),
        Command::Destroy(args) => apply::run_destroy(cli, args),
        Command::Drift(args) => drift::run(cli, args),
        Command::Show(args) => state_cmd::run_show(cli, args),
        Command::State(cmd) => state_cmd::run_state(cli, cmd),
        Command::Output(args) => state_cmd::run_output(cli, args),
        Command::Graph => state_cmd::run_graph(cli),
        Command::ForceUnlock { id } => state_cmd::run_force_unlock(cli, id),
        Command::Import { address, id } => state_cmd::run_import(cli, address, id),
        Command::Audit(AuditCommand::Verify) => state_cmd::run_audit_verify(cli),
        Command::Version => {
            outln!("{}", version::report());
            Ok(ExitCode::SUCCESS)
        }
        Command::Completions { shell } => {
            version::completions(*shell);
            Ok(ExitCode::SUCCESS)
        }
        Command::Sandbox(args) => {
            runtime()?
                .block_on(crate::sandbox::serve(args.clone()))
                .map_err(miette::Report::new)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}
