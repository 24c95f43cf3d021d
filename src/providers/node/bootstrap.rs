//! Running the bootstrap script on a node and reading its verdict.
//!
//! The script travels on stdin (`sh -s`), so the command line stays short and nothing is left
//! on the node; its sha256 is what `bootstrap.script_sha256` records, so a changed script
//! re-runs on every node. Every version it installs comes in as an argument: the pins and the
//! minimums live in `validate::knowledge::runtime`, next to the CVE table they are checked against.

use super::error::{NodeError, tail_lines};
use crate::providers::ssh::{ExecRequest, Transport, shell_quote};
use sha2::{Digest, Sha256};
use std::time::Duration;

/// The script, as shipped with this build.
pub const BOOTSTRAP_SCRIPT: &str = include_str!("bootstrap.sh");

/// Exit status the script uses when it refuses to touch an unacceptable installation.
const REFUSED: i32 = 3;
const OK_PREFIX: &str = "sovstack-bootstrap: ok ";
const REFUSED_PREFIX: &str = "sovstack-bootstrap: refused: ";
/// Installing Docker and the toolkit from apt can take a while on a slow mirror.
const BOOTSTRAP_TIMEOUT: Duration = Duration::from_secs(20 * 60);

/// sha256 (lowercase hex) of [`BOOTSTRAP_SCRIPT`].
pub fn bootstrap_sha256() -> String {
    hex::encode(Sha256::digest(BOOTSTRAP_SCRIPT.as_bytes()))
}

/// What the script reports after a successful run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootstrapReport {
    pub docker_version: String,
    pub compose_version: String,
    /// Something was installed in this run.
    pub installed: bool,
    /// The NVIDIA runtime is registered with Docker.
    pub nvidia: bool,
    /// Volumes mounted (or found mounted) by this run.
    pub mounts: usize,
}

/// A version to install and the lowest one accepted when one is already there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pin {
    pub install: String,
    pub minimum: String,
}

/// A volume the node mounts: by its device, at a path the stack chose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeMount {
    /// `/dev/disk/by-id/scsi-0HC_Volume_<id>`.
    pub device: String,
    pub path: String,
    /// `ext4` or `xfs`, as the volume was formatted.
    pub fstype: String,
}

/// What the script is asked to put on a node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootstrapRequest {
    pub docker: Pin,
    pub compose: Pin,
    /// Only where a service wants GPUs.
    pub nvidia_container_toolkit: Option<Pin>,
    pub mounts: Vec<VolumeMount>,
}

/// The Compose plugin installed with Docker, and the lowest accepted (`--progress json` needs it).
pub const COMPOSE_PLUGIN: &str = "2.29.7";
pub const COMPOSE_PLUGIN_MIN: &str = "2.29.0";

/// The command line that runs the script read from stdin, every argument quoted.
pub fn bootstrap_command(r: &BootstrapRequest) -> String {
    let mut args = vec![
        format!("--docker={}", r.docker.install),
        format!("--docker-min={}", r.docker.minimum),
        format!("--compose={}", r.compose.install),
        format!("--compose-min={}", r.compose.minimum),
    ];
    if let Some(ctk) = &r.nvidia_container_toolkit {
        args.push(format!("--nvidia-ctk={}", ctk.install));
        args.push(format!("--nvidia-ctk-min={}", ctk.minimum));
    }
    for m in &r.mounts {
        args.push(format!("--mount={},{},{}", m.device, m.path, m.fstype));
    }
    let mut cmd = String::from("sh -s --");
    for a in &args {
        cmd.push(' ');
        cmd.push_str(&shell_quote(a));
    }
    cmd
}

/// Runs the script on the node behind `t`.
pub async fn run_bootstrap(
    t: &dyn Transport,
    request: &BootstrapRequest,
) -> Result<BootstrapReport, NodeError> {
    let out = t
        .exec(
            ExecRequest::new(bootstrap_command(request))
                .stdin(BOOTSTRAP_SCRIPT.as_bytes().to_vec())
                .timeout(BOOTSTRAP_TIMEOUT),
        )
        .await?;
    interpret(&t.describe(), out.status, &out.stdout, &out.stderr)
}

/// Turns the script's exit status and output into a report or a typed error.
pub fn interpret(
    target: &str,
    status: i32,
    stdout: &[u8],
    stderr: &[u8],
) -> Result<BootstrapReport, NodeError> {
    let err_text = String::from_utf8_lossy(stderr);
    if status == REFUSED
        && let Some(reason) = err_text
            .lines()
            .rev()
            .find_map(|l| l.strip_prefix(REFUSED_PREFIX))
    {
        return Err(NodeError::BootstrapRefused {
            target: target.to_string(),
            reason: reason.trim().to_string(),
        });
    }
    if status != 0 {
        return Err(NodeError::BootstrapFailed {
            target: target.to_string(),
            status,
            reason: tail_lines(stderr, 5, 1500),
        });
    }
    let text = String::from_utf8_lossy(stdout);
    let line = text
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix(OK_PREFIX))
        .ok_or_else(|| NodeError::BootstrapFailed {
            target: target.to_string(),
            status,
            reason: "the script ended without its `ok` line".into(),
        })?;
    let field = |k: &str| {
        line.split_whitespace()
            .find_map(|kv| kv.strip_prefix(k).and_then(|v| v.strip_prefix('=')))
            .unwrap_or("")
            .to_string()
    };
    Ok(BootstrapReport {
        docker_version: field("docker"),
        compose_version: field("compose"),
        installed: field("installed") == "1",
        nvidia: field("nvidia") == "1",
        mounts: field("mounts").parse().unwrap_or(0),
    })
}

#[cfg(test)]
#[path = "bootstrap_tests.rs"]
mod tests;
