//! The real binary against an in-process Hetzner sandbox: a workspace holding a stack (and the
//! admin key it reads as `keys/admin.pub`), runs pointed at the sandbox, and what the sandbox
//! holds afterwards.

use sovstack::sandbox::{Sandbox, SandboxConfig, SandboxHandle};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The bearer token every run sends; a test may check it is never printed.
pub const TOKEN: &str = "sandbox-cli-token-never-printed";

/// A sandbox on a free loopback port.
pub async fn start(config: SandboxConfig) -> SandboxHandle {
    Sandbox::start(config, "127.0.0.1:0".parse().expect("a socket address"))
        .await
        .expect("the sandbox starts")
}

/// A temporary directory with `stack.hcl` and `keys/admin.pub`.
pub struct Workspace {
    _tmp: tempfile::TempDir,
    pub dir: PathBuf,
}

impl Workspace {
    pub fn new(stack: &str) -> Self {
        let tmp = tempfile::tempdir().expect("temp dir");
        let dir = tmp.path().to_path_buf();
        std::fs::create_dir_all(dir.join("keys")).expect("keys dir");
        std::fs::copy(
            super::cli::repo_root().join("keys/admin.pub"),
            dir.join("keys/admin.pub"),
        )
        .expect("copy the admin key");
        std::fs::write(dir.join("stack.hcl"), stack).expect("write stack.hcl");
        Workspace { _tmp: tmp, dir }
    }
}

/// The `examples/cloud-only` stack (an SSH key, a server, a firewall, a volume), reading its key
/// from the workspace's `keys/`.
pub fn cloud_only() -> String {
    std::fs::read_to_string(super::cli::repo_root().join("examples/cloud-only/stack.hcl"))
        .expect("the cloud-only example")
        .replace("../../keys/admin.pub", "keys/admin.pub")
}

/// `sovstack ARGS` in `dir`, against the sandbox at `endpoint`, with no terminal and no
/// inherited state key or variables.
pub fn command(endpoint: &str, dir: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_sovstack"));
    for (k, _) in std::env::vars_os() {
        // No state key, variables or collector of the developer's environment.
        let k_text = k.to_string_lossy();
        if k_text.starts_with("SOVSTACK_") || k_text.starts_with("OTEL_") {
            c.env_remove(&k);
        }
    }
    c.current_dir(dir)
        .args(args)
        .env("HCLOUD_ENDPOINT", endpoint)
        .env("HCLOUD_TOKEN", TOKEN)
        .env("NO_COLOR", "1")
        .env_remove("PG_CONN_STR")
        .env_remove("PG_SCHEMA_NAME")
        .stdin(Stdio::null());
    c
}

/// Runs `command` to its end without blocking the runtime the sandbox serves on.
pub async fn run(endpoint: &str, dir: &Path, args: &[&str]) -> Output {
    let mut c = command(endpoint, dir, args);
    tokio::task::spawn_blocking(move || c.output().expect("run sovstack"))
        .await
        .expect("the run's thread")
}

/// stdout and stderr together, for assertions and failure messages.
pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Every `what` the sandbox holds, as the API returns them.
pub async fn list(endpoint: &str, what: &str) -> Vec<serde_json::Value> {
    let body: serde_json::Value = reqwest::Client::new()
        .get(format!("{endpoint}/{what}?per_page=50"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("the sandbox answers")
        .json()
        .await
        .expect("a JSON list");
    body[what].as_array().cloned().unwrap_or_default()
}
