//! A copy of the cloud-only example and the `sovstack` binary run against an in-process API
//! sandbox on loopback, with the sandbox's own listing as the witness of what exists.

use sovstack::sandbox::{Sandbox, SandboxConfig, SandboxHandle};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The API token every run gets; tests check it is never printed.
pub const TOKEN: &str = "cloud-token-never-printed";

/// The cloud-only example copied into a temp dir (its key path is `../../keys/admin.pub`).
pub struct CloudWorkspace {
    _tmp: tempfile::TempDir,
    pub dir: PathBuf,
    pub sb: SandboxHandle,
}

impl CloudWorkspace {
    pub async fn start() -> Self {
        Self::start_with(SandboxConfig::for_tests()).await
    }

    /// The workspace against a sandbox configured with `config` (faults, action durations).
    pub async fn start_with(config: SandboxConfig) -> Self {
        let repo = super::cli::repo_root();
        let tmp = tempfile::tempdir().expect("temp dir");
        let dir = tmp.path().join("examples/cloud-only");
        std::fs::create_dir_all(&dir).expect("create dir");
        std::fs::create_dir_all(tmp.path().join("keys")).expect("create keys dir");
        std::fs::copy(
            repo.join("examples/cloud-only/stack.hcl"),
            dir.join("stack.hcl"),
        )
        .expect("copy stack");
        std::fs::copy(
            repo.join("keys/admin.pub"),
            tmp.path().join("keys/admin.pub"),
        )
        .expect("copy key");
        let sb = Sandbox::start(config, "127.0.0.1:0".parse().expect("loopback address"))
            .await
            .expect("sandbox starts");
        Self { _tmp: tmp, dir, sb }
    }

    pub fn stack_path(&self) -> PathBuf {
        self.dir.join("stack.hcl")
    }

    pub fn state_path(&self) -> PathBuf {
        self.dir.join(".sovstack/state.json")
    }

    /// Rewrites the stack file with `f`.
    pub fn edit_stack(&self, f: impl FnOnce(String) -> String) {
        let text = std::fs::read_to_string(self.stack_path()).expect("read stack");
        std::fs::write(self.stack_path(), f(text)).expect("write stack");
    }

    /// `sovstack ARGS` in the workspace against the sandbox, not yet started.
    pub fn command(&self, args: &[&str]) -> Command {
        command_in(&self.sb, &self.dir, args)
    }

    /// Runs `sovstack ARGS` in the workspace against the sandbox.
    pub async fn run(&self, args: &[&str]) -> Output {
        let mut c = self.command(args);
        tokio::task::spawn_blocking(move || c.output().expect("run sovstack"))
            .await
            .expect("join")
    }

    /// Runs and asserts the exit code, returning stdout and stderr together.
    #[track_caller]
    pub fn expect(out: &Output, code: i32) -> String {
        let text = text(out);
        assert_eq!(out.status.code(), Some(code), "{text}");
        text
    }

    /// The ids of everything of `what` (`servers`, `volumes`...) the sandbox holds, sorted.
    pub async fn ids(&self, what: &str) -> Vec<u64> {
        let mut ids: Vec<u64> = self
            .list(what)
            .await
            .iter()
            .filter_map(|v| v["id"].as_u64())
            .collect();
        ids.sort_unstable();
        ids
    }

    /// The names of everything of `what` the sandbox holds, sorted.
    pub async fn names(&self, what: &str) -> Vec<String> {
        let mut names: Vec<String> = self
            .list(what)
            .await
            .iter()
            .filter_map(|v| v["name"].as_str().map(str::to_string))
            .collect();
        names.sort();
        names
    }

    /// How many of `what` (`servers`, `volumes`...) the sandbox holds.
    pub async fn count(&self, what: &str) -> usize {
        self.list(what).await.len()
    }

    /// Stops the sandbox.
    pub async fn shutdown(self) {
        self.sb.shutdown().await;
    }

    /// Everything of `what` the sandbox holds, as the API lists it.
    pub async fn list(&self, what: &str) -> Vec<serde_json::Value> {
        let url = format!("{}/{what}?per_page=50", self.sb.base_url());
        let body: serde_json::Value = reqwest::Client::new()
            .get(url)
            .bearer_auth(TOKEN)
            .send()
            .await
            .expect("sandbox answers")
            .json()
            .await
            .expect("JSON");
        body[what].as_array().cloned().unwrap_or_default()
    }

    /// `POST /{what}` straight to the API, as a user outside sovstack would; the new id.
    pub async fn create_directly(&self, what: &str, field: &str, body: serde_json::Value) -> u64 {
        let url = format!("{}/{what}", self.sb.base_url());
        let answer: serde_json::Value = reqwest::Client::new()
            .post(url)
            .bearer_auth(TOKEN)
            .json(&body)
            .send()
            .await
            .expect("sandbox answers")
            .json()
            .await
            .expect("JSON");
        answer[field]["id"]
            .as_u64()
            .unwrap_or_else(|| panic!("created {what}: {answer}"))
    }
}

/// `sovstack ARGS` in `dir` against the sandbox, with a clean environment.
pub fn command_in(sb: &SandboxHandle, dir: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_sovstack"));
    c.current_dir(dir)
        .args(args)
        // A collector set in the developer's environment gets no test runs.
        .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
        .env("HCLOUD_ENDPOINT", sb.base_url())
        .env("HCLOUD_TOKEN", TOKEN)
        .env("NO_COLOR", "1")
        .env_remove("SOVSTACK_STATE_KEY")
        .env_remove("PG_CONN_STR")
        .stdin(Stdio::null());
    c
}

pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}
