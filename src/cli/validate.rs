//! `sovstack validate`: load, check, print diagnostics; exit 1 on any error.

use super::Cli;
use super::ui::emit;
use crate::config::diagnostic;
use crate::engine::{EngineError, prepare};
use crate::progress::json;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print the diagnostics as one JSON object per line (schemas/events.schema.json), each
    /// with the file, line and column it points at.
    #[arg(long)]
    pub json: bool,
}

/// The stack loaded and checked, with every diagnostic.
fn load_and_check(cli: &Cli) -> miette::Result<crate::config::Loaded> {
    let ws = cli.workspace()?;
    let mut loaded = prepare::load(&ws, Default::default())?;
    if let Some(stack) = &loaded.stack {
        let findings = crate::validate::check(stack);
        loaded.add_findings(findings);
    }
    Ok(loaded)
}

/// The stack's diagnostics as `--json` lines with where they point, for a command that
/// stopped because the stack is invalid; empty when they cannot be had.
pub fn json_lines(cli: &Cli) -> Vec<crate::progress::message::Line> {
    load_and_check(cli)
        .map(|l| json::diagnostics(&l.diagnostics, &l.source))
        .unwrap_or_default()
}

pub fn run(cli: &Cli, args: &Args) -> miette::Result<ExitCode> {
    let loaded = load_and_check(cli)?;
    if args.json {
        json::diagnostics(&loaded.diagnostics, &loaded.source)
            .iter()
            .for_each(emit);
        emit(&json::validate_result(&loaded.diagnostics));
        return Ok(ExitCode::from(if loaded.diagnostics.has_errors() {
            super::exit::ERROR
        } else {
            super::exit::OK
        }));
    }
    let rendered = diagnostic::render(&loaded.diagnostics, &loaded.source);
    if loaded.diagnostics.has_errors() {
        return Err(EngineError::Invalid { rendered }.into());
    }
    show_warnings(&rendered);
    if loaded.diagnostics.is_empty() {
        eoutln!("{}: valid", loaded.source.name());
    }
    Ok(ExitCode::SUCCESS)
}

/// Diagnostics that do not stop the command, as rendered.
pub fn show_warnings(rendered: &str) {
    if !rendered.is_empty() {
        eout!("{rendered}");
    }
}
