//! What several commands share: loading the stack with the command-line variables.

use super::Cli;
use crate::config::{self, LoadOptions, Loaded};

/// Loads the stack named on the command line. I/O errors are printed and mapped to `None`.
pub fn load(cli: &Cli) -> Option<Loaded> {
    load_with_known(cli, Default::default())
}

/// Loads the stack with after-apply values known from state.
pub fn load_with_known(
    cli: &Cli,
    known: std::sync::Arc<std::collections::BTreeMap<String, String>>,
) -> Option<Loaded> {
    let mut opts = LoadOptions::from_process_env();
    opts.known = known;
    for v in &cli.vars {
        match v.split_once('=') {
            Some((k, val)) => {
                opts.vars.insert(k.to_string(), val.to_string());
            }
            None => {
                eprintln!("error: --var takes NAME=VALUE, got `{v}`");
                return None;
            }
        }
    }
    match config::load_file(&cli.stack, &opts) {
        Ok(l) => Some(l),
        Err(e) => {
            eprintln!("{:?}", miette::Report::new(e));
            None
        }
    }
}
