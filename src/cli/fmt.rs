//! `sovstack fmt [--check]`: canonical layout; `--check` exits 1 when a file would change.

use super::{Cli, exit};
use crate::config::fmt;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Do not write; exit 1 and list the file when it is not formatted.
    #[arg(long)]
    pub check: bool,
}

pub fn run(cli: &Cli, args: &Args) -> i32 {
    let path = &cli.stack;
    let src = match std::fs::read_to_string(path) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: cannot read {}: {e}", path.display());
            return exit::ERROR;
        }
    };
    let out = match fmt::format(&src) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{}: {:?}", path.display(), miette::Report::new(e));
            return exit::ERROR;
        }
    };
    if out == src {
        return exit::OK;
    }
    if args.check {
        println!("{}", path.display());
        return exit::ERROR;
    }
    // Same-directory temp file and rename: an interrupted fmt never leaves half a file.
    let tmp = path.with_extension("hcl.fmt-tmp");
    let written = std::fs::write(&tmp, &out).and_then(|()| std::fs::rename(&tmp, path));
    match written {
        Ok(()) => {
            println!("{}", path.display());
            exit::OK
        }
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            eprintln!("error: cannot write {}: {e}", path.display());
            exit::ERROR
        }
    }
}
