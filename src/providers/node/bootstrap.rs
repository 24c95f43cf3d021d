//! Running the bootstrap script on a node and reading its verdict.
//!
//! The script travels on stdin (`sh -s`), so the command line stays short and nothing is left
//! on the node; its sha256 is what `bootstrap.script_sha256` records, so a changed script
//! re-runs on every node.

use super::error::{NodeError, tail_lines};
use crate::providers::ssh::{ExecRequest, Transport};
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
}

/// The command line that runs the script read from stdin.
pub fn bootstrap_command(nvidia: bool) -> String {
    if nvidia {
        "sh -s -- --nvidia".to_string()
    } else {
        "sh -s --".to_string()
    }
}

/// Runs the script on the node behind `t`.
pub async fn run_bootstrap(t: &dyn Transport, nvidia: bool) -> Result<BootstrapReport, NodeError> {
    let out = t
        .exec(
            ExecRequest::new(bootstrap_command(nvidia))
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
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::unix::fs::PermissionsExt;
    use std::process::{Command, Stdio};

    #[test]
    fn versions_are_pinned_at_the_top() {
        let head: String = BOOTSTRAP_SCRIPT
            .lines()
            .take(30)
            .collect::<Vec<_>>()
            .join("\n");
        for var in [
            "DOCKER_ENGINE_VERSION=\"27.3.1\"",
            "COMPOSE_PLUGIN_VERSION=\"2.29.7\"",
            "COMPOSE_MIN_VERSION=\"2.29.0\"",
            "NVIDIA_CTK_VERSION=",
        ] {
            assert!(head.contains(var), "{var} not pinned near the top");
        }
        // Never a piped installer.
        assert!(!BOOTSTRAP_SCRIPT.contains("| sh"));
        assert!(!BOOTSTRAP_SCRIPT.contains("|sh"));
        assert!(!BOOTSTRAP_SCRIPT.contains("get.docker.com"));
    }

    #[test]
    fn sha256_is_of_the_script() {
        assert_eq!(bootstrap_sha256().len(), 64);
        assert_eq!(
            bootstrap_sha256(),
            hex::encode(Sha256::digest(BOOTSTRAP_SCRIPT.as_bytes()))
        );
    }

    #[test]
    fn interpret_ok_refused_failed() {
        let ok = interpret(
            "h",
            0,
            b"noise\nsovstack-bootstrap: ok docker=27.3.1 compose=2.29.7 installed=0 nvidia=1\n",
            b"",
        )
        .unwrap();
        assert_eq!(
            ok,
            BootstrapReport {
                docker_version: "27.3.1".into(),
                compose_version: "2.29.7".into(),
                installed: false,
                nvidia: true
            }
        );
        let refused = interpret(
            "h",
            3,
            b"",
            b"sovstack-bootstrap: refused: Docker Compose 2.20.0 is older than 2.29.0\n",
        )
        .unwrap_err();
        assert!(
            matches!(&refused, NodeError::BootstrapRefused { reason, .. } if reason.contains("2.20.0")),
            "{refused:?}"
        );
        let failed = interpret("h", 100, b"", b"E: Unable to locate package\n").unwrap_err();
        assert!(failed.to_string().contains("Unable to locate"), "{failed}");
        assert!(interpret("h", 0, b"", b"").is_err());
    }

    /// Runs the real script under `sh` with fake `docker`, `apt-get`, `curl` and `sudo` on PATH:
    /// it must decide from the versions alone, and never reach a package manager or the network
    /// when Docker and Compose are acceptable.
    fn run_with_fakes(
        docker: &str,
        compose: &str,
        nvidia_runtime: bool,
        args: &[&str],
    ) -> (i32, String, String, String) {
        let dir = tempfile::tempdir().unwrap();
        let trap = dir.path().join("trap.log");
        let tool = |name: &str, body: &str| {
            let p = dir.path().join(name);
            std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        };
        for forbidden in [
            "apt-get",
            "curl",
            "gpg",
            "dpkg",
            "systemctl",
            "nvidia-ctk",
            "sudo",
            "wget",
        ] {
            tool(
                forbidden,
                &format!("echo {forbidden} \"$@\" >> '{}'; exit 99", trap.display()),
            );
        }
        let runtimes = if nvidia_runtime {
            r#"{"nvidia":{},"runc":{}}"#
        } else {
            r#"{"runc":{}}"#
        };
        tool(
            "docker",
            &format!(
                r#"case "$1 $2" in
  "version --format") echo '{docker}' ;;
  "compose version") echo '{compose}' ;;
  "info --format") echo '{runtimes}' ;;
  *) exit 1 ;;
esac"#
            ),
        );
        let mut child = Command::new("sh")
            .arg("-s")
            .arg("--")
            .args(args)
            .env("PATH", format!("{}:/usr/bin:/bin", dir.path().display()))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(BOOTSTRAP_SCRIPT.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
            std::fs::read_to_string(&trap).unwrap_or_default(),
        )
    }

    #[test]
    fn present_and_acceptable_installs_nothing() {
        let (status, stdout, stderr, trap) = run_with_fakes("27.3.1", "2.29.7", false, &[]);
        assert_eq!(status, 0, "{stderr}");
        assert_eq!(trap, "", "a package manager or downloader ran");
        let r = interpret("h", status, stdout.as_bytes(), stderr.as_bytes()).unwrap();
        assert!(!r.installed && !r.nvidia);
        assert_eq!(r.compose_version, "2.29.7");
        // A newer major, `v` prefix as some builds print it.
        let (status, _, stderr, trap) = run_with_fakes("28.0.0", "v5.0.1", false, &[]);
        assert_eq!((status, trap.as_str()), (0, ""), "{stderr}");
    }

    #[test]
    fn old_compose_is_refused_without_touching_anything() {
        let (status, stdout, stderr, trap) = run_with_fakes("27.3.1", "2.28.1", false, &[]);
        assert_eq!(status, 3, "{stdout}{stderr}");
        assert_eq!(trap, "");
        let e = interpret("h", status, stdout.as_bytes(), stderr.as_bytes()).unwrap_err();
        assert!(e.to_string().contains("2.28.1 is older than 2.29.0"), "{e}");
        let (status, _, _, trap) = run_with_fakes("19.03.15", "2.29.7", false, &[]);
        assert_eq!((status, trap.as_str()), (3, ""));
        // A suffix counts by its leading digits only: `2.28+ds1` is 2.28, not 2.281.
        let (status, _, _, trap) = run_with_fakes("27.3.1", "2.28+ds1.0", false, &[]);
        assert_eq!((status, trap.as_str()), (3, ""));
    }

    #[test]
    fn debians_engine_is_accepted_as_it_reports_itself() {
        let (status, stdout, stderr, trap) = run_with_fakes("20.10.24+dfsg1", "2.40.3", false, &[]);
        assert_eq!((status, trap.as_str()), (0, ""), "{stderr}");
        let r = interpret("h", status, stdout.as_bytes(), b"").unwrap();
        assert_eq!(r.docker_version, "20.10.24+dfsg1");
    }

    #[test]
    fn nvidia_runtime_present_is_enough() {
        let (status, stdout, stderr, trap) =
            run_with_fakes("27.3.1", "2.29.7", true, &["--nvidia"]);
        assert_eq!((status, trap.as_str()), (0, ""), "{stderr}");
        assert!(interpret("h", 0, stdout.as_bytes(), b"").unwrap().nvidia);
        // Without a driver there is nothing the toolkit could expose: refused, nothing installed.
        let (status, _, stderr, trap) = run_with_fakes("27.3.1", "2.29.7", false, &["--nvidia"]);
        assert_eq!((status, trap.as_str()), (3, ""), "{stderr}");
        assert!(stderr.contains("nvidia-smi"), "{stderr}");
    }
}
