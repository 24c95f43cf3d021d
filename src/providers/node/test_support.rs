//! Helpers for the tests that run the node scripts on this machine.

use std::process::{Command, Output};

/// Runs `command` to its end; a failure fails the test with the command's stderr.
pub(crate) fn run_ok(command: &mut Command) -> Output {
    let out = command.output().expect("the test command starts");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}
