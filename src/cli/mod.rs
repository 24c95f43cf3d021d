//! Command-line definitions and dispatch; one file per command.

mod common;
mod fmt;
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
    }
}
