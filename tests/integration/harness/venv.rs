//! The pinned Python tools CI installs (`.ci/run` puts `.ci/requirements.txt` into a venv and exports
//! `SOVSTACK_TEST_VENV`; the default is `<repo>/.venv`). A test that needs one fails when `CI` is set and the tool is
//! missing, and is skipped loudly otherwise, as the PostgreSQL harness does.

use std::path::PathBuf;
use std::process::Command;

/// The venv the tests use: `SOVSTACK_TEST_VENV`, else `<repo>/.venv`.
pub fn dir() -> PathBuf {
    std::env::var_os("SOVSTACK_TEST_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".venv"))
}

/// The venv's python when it can import `module`; `None` (after a loud message) outside CI when it cannot.
pub fn python_with(module: &str, what_is_untested: &str) -> Option<PathBuf> {
    let python = dir().join("bin").join("python");
    let importable = Command::new(&python)
        .args(["-c", &format!("import {module}")])
        .output()
        .is_ok_and(|o| o.status.success());
    if importable {
        return Some(python);
    }
    let msg = format!(
        "{} cannot import the Python module `{module}` (create the venv: python3 -m venv .venv && \
         .venv/bin/pip install -r .ci/requirements.txt, or point SOVSTACK_TEST_VENV at one)",
        python.display()
    );
    if std::env::var_os("CI").is_some() {
        panic!("{msg}; CI must run this test");
    }
    eprintln!("\n!!!!!!!! SKIPPED: {msg}. {what_is_untested} was NOT tested. !!!!!!!!\n");
    None
}
