//! `sovstack fmt [--check]`: canonical layout; `--check` exits 1 when a file would change.

use super::{Cli, CliError, exit};
use crate::config::fmt;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Do not write; exit 1 and list the file when it is not formatted.
    #[arg(long)]
    pub check: bool,
}

pub fn run(cli: &Cli, args: &Args) -> miette::Result<ExitCode> {
    let path = &cli.stack;
    let src = std::fs::read_to_string(path)
        .map_err(|e| CliError::new(format!("cannot read {}: {e}", path.display())))?;
    let out = fmt::format(&src)
        .map_err(|e| miette::Report::new(e).wrap_err(path.display().to_string()))?;
    if out == src {
        return Ok(ExitCode::SUCCESS);
    }
    if args.check {
        outln!("{}", path.display());
        return Ok(ExitCode::from(exit::ERROR));
    }
    // Same-directory temp file and rename: an interrupted fmt never leaves half a file.
    let tmp = path.with_extension("hcl.fmt-tmp");
    let written = std::fs::write(&tmp, &out).and_then(|()| std::fs::rename(&tmp, path));
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(CliError::new(format!("cannot write {}: {e}", path.display())).into());
    }
    outln!("{}", path.display());
    Ok(ExitCode::SUCCESS)
}
