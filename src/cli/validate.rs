//! `sovstack validate`: load, check, print diagnostics; exit 1 on any error.

use super::Cli;
use crate::config::diagnostic;
use crate::engine::{EngineError, prepare};
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(cli: &Cli, _args: &Args) -> miette::Result<ExitCode> {
    let ws = cli.workspace()?;
    let mut loaded = prepare::load(&ws, Default::default())?;
    if let Some(stack) = &loaded.stack {
        loaded.diagnostics.extend(crate::validate::check(stack));
        loaded.diagnostics.sort();
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
