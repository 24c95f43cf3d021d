//! `sovstack render --out DIR [--redacted]`: write every artifact under `DIR/<node>/<remote path>`
//! and `DIR/manifest.json`, for review or for deploying with other tools.
//!
//! Without `--redacted` the artifacts must be deployable as written: every secret provided and
//! every value known. `render` reads no state, so what only apply learns (server addresses, the
//! host keys sovstack generates and pins) is not known here; `--redacted` writes placeholders for
//! those and for secrets, and the manifest marks those artifacts `"complete": false`.

use super::{Cli, CliError, exit};
use crate::config::{Stack, diagnostic};
use crate::engine::prepare;
use crate::render::{self, Manifest, RenderError, RenderMode, RenderOptions};
use crate::state::{KeyedHasher, StateError};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path, PathBuf};
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Directory to write into; created when missing. A directory from an earlier render is
    /// updated (artifacts no longer rendered are removed); any other non-empty one is refused.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Write `(sensitive)` for secrets and `(known after apply)` for values only apply learns,
    /// instead of failing; such artifacts are marked `"complete": false` in manifest.json.
    #[arg(long)]
    pub redacted: bool,
}

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
enum CommandError {
    #[error(transparent)]
    #[diagnostic(transparent)]
    Render(RenderError),

    #[error(
        "cannot render deployable artifacts: {} known only after apply: {}",
        if .0.len() == 1 { "this value is" } else { "these values are" },
        .0.iter().cloned().collect::<Vec<_>>().join(", ")
    )]
    #[diagnostic(
        code(sovstack::render::known_after_apply),
        help(
            "render reads no state, so it cannot know what apply creates (server addresses, the host keys sovstack generates and pins); run `sovstack render --out DIR --redacted` to write `(known after apply)` and `(sensitive)` placeholders, marked \"complete\": false in manifest.json"
        )
    )]
    KnownAfterApply(BTreeSet<String>),

    #[error("cannot get the key for digests of secret-bearing artifacts")]
    #[diagnostic(
        code(sovstack::render::state_key),
        help(
            "set SOVSTACK_STATE_KEY (64 hex characters, as in CI) or fix the local key file {path}; or pass --redacted, which needs no key"
        )
    )]
    StateKey {
        path: String,
        #[source]
        source: StateError,
    },

    #[error("{path} is not empty and holds no manifest.json from an earlier render")]
    #[diagnostic(
        code(sovstack::render::out_dir),
        help(
            "choose a new or empty directory: render replaces what it wrote before, nothing else"
        )
    )]
    ForeignOutDir { path: String },

    #[error("cannot prepare {path}: {source}")]
    #[diagnostic(code(sovstack::render::out_dir))]
    OutDir {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

pub fn run(cli: &Cli, args: &Args) -> miette::Result<ExitCode> {
    let ws = cli.workspace()?;
    let mut loaded = prepare::load(&ws, Default::default())?;
    if let Some(stack) = &loaded.stack {
        let findings = crate::validate::check(stack);
        loaded.add_findings(findings);
    }
    // Warnings are shown but do not stop a render; errors do.
    let text = diagnostic::render(&loaded.diagnostics, &loaded.source);
    if !text.is_empty() {
        eout!("{text}");
    }
    let stack = match &loaded.stack {
        Some(s) if !loaded.diagnostics.has_errors() => s,
        _ => return Err(CliError::new("not rendering: the stack has errors").into()),
    };
    match render_to(&ws, args, stack) {
        Ok(manifest) => {
            let incomplete = manifest.artifacts.iter().filter(|a| !a.complete).count();
            let n = manifest.artifacts.len();
            let what = if n == 1 { "artifact" } else { "artifacts" };
            let out = args.out.join("manifest.json");
            if incomplete == 0 {
                outln!("{}: {n} {what} written", out.display());
            } else {
                outln!(
                    "{}: {n} {what} written, {incomplete} with placeholders (not deployable as is)",
                    out.display()
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            let missing_secrets =
                matches!(&e, CommandError::Render(RenderError::MissingSecrets(_)));
            eoutln!("{:?}", miette::Report::new(e));
            if missing_secrets {
                eoutln!(
                    "note: `sovstack render --out DIR --redacted` writes `(sensitive)` placeholders instead, marked \"complete\": false in manifest.json"
                );
            }
            Ok(ExitCode::from(exit::ERROR))
        }
    }
}

fn render_to(
    ws: &crate::engine::Workspace,
    args: &Args,
    stack: &Stack,
) -> Result<Manifest, CommandError> {
    let artifacts = if args.redacted {
        render::render_stack(stack, &RenderOptions::redacted(BTreeMap::new()))
            .map_err(CommandError::Render)?
    } else {
        // The state key is fetched (and a local one created) only when a secret-bearing artifact
        // needs it, so a render that fails for another reason, or has no secrets, leaves no key file.
        let mut opts = RenderOptions {
            mode: RenderMode::Apply,
            ..RenderOptions::default()
        };
        let mut result = render::render_stack(stack, &opts);
        if matches!(result, Err(RenderError::MissingDigestKey)) {
            let key_path = crate::state::atomic::with_suffix(&ws.state, ".key");
            // A state kept elsewhere has no key file beside it: the key comes from the variable.
            let hasher = match ws.backend() {
                Ok(crate::state::AnyBackend::Local(_)) => state_key(&key_path),
                _ => remote_state_key(),
            };
            let hasher = hasher.map_err(|source| CommandError::StateKey {
                path: key_path.display().to_string(),
                source,
            })?;
            opts.digest_key = Some(hasher.digest_key().to_vec());
            result = render::render_stack(stack, &opts);
        }
        match result {
            Ok(a) => a,
            Err(RenderError::MissingHostKey { .. } | RenderError::Unresolved { .. }) => {
                return Err(CommandError::KnownAfterApply(known_after_apply(stack)));
            }
            Err(e) => return Err(CommandError::Render(e)),
        }
    };
    prepare_out_dir(&args.out, &artifacts)?;
    render::write_out(&artifacts, &args.out).map_err(CommandError::Render)
}

/// `SOVSTACK_STATE_KEY`, else the local key file (created on first use, as apply would).
fn remote_state_key() -> Result<KeyedHasher, StateError> {
    KeyedHasher::from_env()?.ok_or_else(|| StateError::Key {
        reason: "SOVSTACK_STATE_KEY must be set when the state is in PostgreSQL".into(),
    })
}

fn state_key(key_file: &Path) -> Result<KeyedHasher, StateError> {
    if let Some(h) = KeyedHasher::from_env()? {
        return Ok(h);
    }
    if let Some(dir) = key_file.parent().filter(|d| !d.as_os_str().is_empty()) {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| StateError::io("create", dir, e))?;
    }
    KeyedHasher::from_env_or_file(key_file)
}

/// Everything a deployable render lacks, for one complete error instead of the first one:
/// the references still unknown, and each server's host key.
fn known_after_apply(stack: &Stack) -> BTreeSet<String> {
    let mut out: BTreeSet<String> = stack
        .servers
        .iter()
        .map(|s| format!("host key of server.{}", s.name))
        .collect();
    if let Ok(artifacts) = render::render_stack(stack, &RenderOptions::redacted(BTreeMap::new())) {
        for a in artifacts {
            out.extend(a.unknowns);
        }
    }
    out
}

/// Makes `out` ready: created when missing; when it holds an earlier render, the files that
/// render wrote and this one does not are removed so the tree matches the new manifest.
fn prepare_out_dir(out: &Path, artifacts: &[render::Artifact]) -> Result<(), CommandError> {
    let io = |path: &Path| {
        let path = path.display().to_string();
        move |source| CommandError::OutDir { path, source }
    };
    let mut entries = match std::fs::read_dir(out) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return std::fs::create_dir_all(out).map_err(io(out));
        }
        Err(e) => return Err(io(out)(e)),
    };
    if entries.next().is_none() {
        return Ok(());
    }
    let manifest_path = out.join("manifest.json");
    let previous: Manifest = match std::fs::read(&manifest_path) {
        Ok(bytes) => match serde_json::from_slice(&bytes) {
            Ok(m) => m,
            Err(_) => {
                return Err(CommandError::ForeignOutDir {
                    path: out.display().to_string(),
                });
            }
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(CommandError::ForeignOutDir {
                path: out.display().to_string(),
            });
        }
        Err(e) => return Err(io(&manifest_path)(e)),
    };
    let current: BTreeSet<String> = Manifest::of(artifacts)
        .artifacts
        .into_iter()
        .map(|a| a.file)
        .collect();
    for old in previous.artifacts {
        // A manifest is input like any other: never remove anything outside `out`.
        let rel = Path::new(&old.file);
        let inside = rel.components().all(|c| matches!(c, Component::Normal(_)));
        if !inside || current.contains(&old.file) {
            continue;
        }
        let path = out.join(rel);
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io(&path)(e)),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn foreign_directories_are_refused_and_new_ones_created() {
        let dir = tempfile::tempdir().unwrap();
        let fresh = dir.path().join("new/out");
        prepare_out_dir(&fresh, &[]).unwrap();
        assert!(fresh.is_dir());
        std::fs::write(fresh.join("notes.txt"), "mine").unwrap();
        let err = prepare_out_dir(&fresh, &[]).unwrap_err();
        assert!(matches!(err, CommandError::ForeignOutDir { .. }), "{err:?}");
        assert!(fresh.join("notes.txt").exists());
    }

    #[test]
    fn stale_artifacts_of_an_earlier_render_are_removed_and_nothing_outside() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let outside = dir.path().join("precious");
        std::fs::write(&outside, "keep").unwrap();
        std::fs::create_dir_all(out.join("host.a/etc")).unwrap();
        std::fs::write(out.join("host.a/etc/old.yaml"), "old").unwrap();
        let manifest = serde_json::json!({
            "format": 1,
            "services": [],
            "artifacts": [
                {"node": "host.a", "remote_path": "/etc/old.yaml", "file": "host.a/etc/old.yaml",
                 "kind": "mounted_file", "mode": "0644", "sensitive": false, "digest": "sha256:00", "complete": true},
                {"node": "host.a", "remote_path": "/x", "file": "../precious",
                 "kind": "mounted_file", "mode": "0644", "sensitive": false, "digest": "sha256:00", "complete": true}
            ]
        });
        std::fs::write(out.join("manifest.json"), manifest.to_string()).unwrap();
        prepare_out_dir(&out, &[]).unwrap();
        assert!(!out.join("host.a/etc/old.yaml").exists());
        assert_eq!(std::fs::read_to_string(&outside).unwrap(), "keep");
    }
}
