//! What can go wrong on a node. Messages name the node and the step, never file contents or
//! secrets: they end up in CI logs and the apply journal.

use crate::providers::ssh::SshError;

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum NodeError {
    #[error(transparent)]
    #[diagnostic(transparent)]
    Ssh(#[from] SshError),

    /// The bootstrap script found something it will not change on its own.
    #[error("bootstrap on {target} refused: {reason}")]
    #[diagnostic(
        code(sovstack::node::bootstrap_refused),
        help(
            "sovstack installs Docker only where none is installed; fix the installation on the node, then apply again"
        )
    )]
    BootstrapRefused { target: String, reason: String },

    #[error("bootstrap on {target} failed (exit {status}): {reason}")]
    #[diagnostic(code(sovstack::node::bootstrap_failed))]
    BootstrapFailed {
        target: String,
        status: i32,
        reason: String,
    },

    #[error("the probe on {target} printed something that is not its JSON report: {reason}")]
    #[diagnostic(code(sovstack::node::probe))]
    Probe { target: String, reason: String },

    #[error("docker compose {action} of project `{project}` on {target} failed: {reason}")]
    #[diagnostic(
        code(sovstack::node::compose),
        help(
            "the events before the failure are in the progress output; `docker compose -p {project} ps -a` and `docker compose -p {project} logs` on the node tell more"
        )
    )]
    Compose {
        target: String,
        project: String,
        action: String,
        reason: String,
    },

    /// `up --wait` ran into its `--wait-timeout` with these services not healthy yet.
    #[error(
        "docker compose up of project `{project}` on {target}: {} not healthy after {after_secs} s",
        services.join(", ")
    )]
    #[diagnostic(code(sovstack::node::compose_not_healthy))]
    ComposeNotHealthy {
        target: String,
        project: String,
        services: Vec<String>,
        after_secs: u32,
    },

    #[error("{step} on {target} failed: {reason}")]
    #[diagnostic(code(sovstack::node::step))]
    Step {
        target: String,
        step: String,
        reason: String,
    },

    /// A check ran to its deadline without passing.
    #[error("{0}")]
    #[diagnostic(code(sovstack::node::check))]
    Check(String),

    #[error("{0}")]
    #[diagnostic(code(sovstack::node::invalid))]
    Invalid(String),
}

/// The last `lines` non-empty lines of `bytes`, at most `max` characters.
pub(crate) fn tail_lines(bytes: &[u8], lines: usize, max: usize) -> String {
    let text = String::from_utf8_lossy(bytes);
    let all: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let start = all.len().saturating_sub(lines);
    let joined = all[start..].join("\n");
    if joined.chars().count() <= max {
        return joined;
    }
    let skip = joined.chars().count() - max;
    format!("...{}", joined.chars().skip(skip).collect::<String>())
}
