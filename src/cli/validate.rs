//! `sovstack validate`: load, check, print diagnostics; exit 1 on any error.

use super::{Cli, common, exit};
use crate::config::diagnostic;

#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(cli: &Cli, _args: &Args) -> i32 {
    let Some(mut loaded) = common::load(cli) else {
        return exit::ERROR;
    };
    if let Some(stack) = &loaded.stack {
        loaded.diagnostics.extend(crate::validate::check(stack));
        loaded.diagnostics.sort();
    }
    let text = diagnostic::render(&loaded.diagnostics, &loaded.source);
    if !text.is_empty() {
        eprint!("{text}");
    }
    if loaded.diagnostics.has_errors() {
        exit::ERROR
    } else {
        if loaded.diagnostics.is_empty() {
            eprintln!("{}: valid", loaded.source.name());
        }
        exit::OK
    }
}
