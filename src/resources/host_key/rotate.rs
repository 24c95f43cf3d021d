//! Rotating a server's SSH host key, step by step, each step either idempotent on the server or
//! a record in state, in this order:
//!
//! 1. `stage`: a new key is generated on the server beside the live one (the key sovstack
//!    generated and sent in the cloud-init user data, which the metadata service keeps serving);
//! 2. `record-next`: state accepts the live key or the staged one;
//! 3. `install`: the staged key replaces the live one and sshd reloads;
//! 4. `verify`: a fresh connection must present the new key;
//! 5. `record-rotated`: state accepts the new key alone;
//! 6. `scrub`: the cloud-init copies of the old key on the server's disk are removed.
//!
//! Whatever step a crash interrupts, the server presents a key state accepts: before 3 the old
//! one (accepted until 5), after 3 the new one (accepted from 2 on). The next run finds where
//! things stand from state and the server and carries on.

use super::{HostKeyState, RECORDED_KIND};
use crate::providers::ssh::{
    ExecRequest, HostKeyFingerprint, HostKeyPolicy, SshTransport, Transport,
};
use crate::resources::node::NodeProvider;
use crate::resources::node::reach::{endpoint, fingerprint, precondition};
use crate::resources::{ApplyContext, ApplyError};
use crate::state::{ResourceState, ResourceStatus};
use std::time::Duration;

/// The remote half: each step one `sh -s` run of this script.
pub const ROTATE_SCRIPT: &str = include_str!("rotate.sh");

/// The steps in the order a run takes them; tests stop a run between any two of them.
pub const STEPS: &[&str] = &[
    "stage",
    "record-next",
    "install",
    "verify",
    "record-rotated",
    "scrub",
];

/// How long sshd may take to come back after the reload before the new key counts as failed.
const RELOAD_WAIT: Duration = Duration::from_secs(30);
const OUTPUT_PREFIX: &str = "sovstack-host-key: ";

/// Where cloud-init keeps what it was given, and the file that keeps it from running again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloudInitLayout {
    pub dir: String,
    pub disable_flag: String,
}

impl Default for CloudInitLayout {
    fn default() -> Self {
        Self {
            dir: "/var/lib/cloud".into(),
            disable_flag: "/etc/cloud/cloud-init.disabled".into(),
        }
    }
}

/// What `stage` found: a key waiting beside the live one, or the new key already live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Staged {
    Waiting(HostKeyFingerprint),
    Live(HostKeyFingerprint),
}

impl Staged {
    pub fn fingerprint(&self) -> HostKeyFingerprint {
        match self {
            Staged::Waiting(f) | Staged::Live(f) => *f,
        }
    }
}

/// One rotation of the key of `node` (`server.<name>`), recorded at `address`
/// (`host_key.<name>`).
pub struct Rotation<'a> {
    pub cx: &'a ApplyContext,
    pub nodes: &'a NodeProvider,
    pub address: &'a str,
    pub node: &'a str,
    pub layout: CloudInitLayout,
}

impl Rotation<'_> {
    /// Where the rotation stands, as state records it for the server that exists now.
    pub fn position(&self) -> Result<HostKeyState, ApplyError> {
        HostKeyState::of(self.cx, self.node)?.ok_or_else(|| {
            precondition(
                self.node,
                "no host key is recorded for it".into(),
                Some("the server must be created (with its cloud-init key) first"),
            )
        })
    }

    /// Runs every step not yet done, then returns what to record.
    pub async fn run(&self) -> Result<ResourceState, ApplyError> {
        let mut pos = self.position()?;
        if !pos.rotated {
            let staged = self.stage(&pos).await?;
            pos = self.record_next(&pos, staged.fingerprint()).await?;
            self.install(staged.fingerprint()).await?;
            self.verify(staged.fingerprint()).await?;
            pos = self.record_rotated(&pos).await?;
        }
        self.scrub(&pos).await?;
        Ok(pos.scrubbed().to_state(self.node))
    }

    async fn connection(&self) -> Result<SshTransport, ApplyError> {
        self.nodes.connect(self.cx, self.address, self.node).await
    }

    async fn remote(&self, t: &dyn Transport, args: &[String]) -> Result<String, ApplyError> {
        let mut cmd = String::from("sh -s --");
        for a in args {
            cmd.push(' ');
            cmd.push_str(&crate::providers::ssh::shell_quote(a));
        }
        let out = t
            .exec(ExecRequest::new(cmd).stdin(ROTATE_SCRIPT.as_bytes().to_vec()))
            .await?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        let line = stdout
            .lines()
            .rev()
            .find_map(|l| l.strip_prefix(OUTPUT_PREFIX));
        match (out.status, line) {
            (0, Some(line)) => Ok(line.trim().to_string()),
            _ => Err(ApplyError::Node {
                address: self.address.to_string(),
                message: format!(
                    "host key {} failed on the server: {}",
                    args.first().map_or("step", String::as_str),
                    String::from_utf8_lossy(&out.stderr).trim()
                ),
            }),
        }
    }

    /// Step 1: a new key on the server, generated there (or the one staged before).
    pub async fn stage(&self, pos: &HostKeyState) -> Result<Staged, ApplyError> {
        let t = self.connection().await?;
        self.cx.events.progress(
            self.address,
            "generating a new host key on the server".to_string(),
        );
        let next = pos.next.map_or_else(|| "-".to_string(), |n| n.to_string());
        let line = self
            .remote(&t, &["stage".into(), pos.current.to_string(), next])
            .await?;
        let (what, fp) = line.split_once(' ').unwrap_or((line.as_str(), ""));
        let fp = fingerprint(self.address, fp)?;
        Ok(match what {
            "installed" => Staged::Live(fp),
            _ => Staged::Waiting(fp),
        })
    }

    /// Step 2: state accepts the live key or `next` until the rotation is recorded.
    pub async fn record_next(
        &self,
        pos: &HostKeyState,
        next: HostKeyFingerprint,
    ) -> Result<HostKeyState, ApplyError> {
        let pos = HostKeyState {
            next: Some(next),
            ..pos.clone()
        };
        self.checkpoint(&pos).await?;
        Ok(pos)
    }

    /// Step 3: the staged key in place, sshd reloaded.
    pub async fn install(&self, next: HostKeyFingerprint) -> Result<(), ApplyError> {
        let t = self.connection().await?;
        self.cx.events.progress(
            self.address,
            format!("installing host key {next} and reloading sshd"),
        );
        self.remote(&t, &["install".into(), next.to_string()])
            .await?;
        Ok(())
    }

    /// Step 4: a new connection, which must present `next` (sshd may take a moment to listen
    /// again after the reload).
    pub async fn verify(&self, next: HostKeyFingerprint) -> Result<(), ApplyError> {
        let mut ep = endpoint(self.cx, self.node)?;
        ep.host_key = HostKeyPolicy::Pinned(next);
        let options = self.nodes.pool().options().clone();
        let deadline = tokio::time::Instant::now() + RELOAD_WAIT;
        let mut pause = Duration::from_millis(50);
        loop {
            match SshTransport::connect(ep.clone(), options.clone()).await {
                Ok(_) => return Ok(()),
                Err(e) if tokio::time::Instant::now() >= deadline => return Err(e.into()),
                Err(_) => {
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_secs(1));
                }
            }
        }
    }

    /// Step 5: state accepts the new key alone; the old connection (verified with the old key)
    /// is dropped from the pool.
    pub async fn record_rotated(&self, pos: &HostKeyState) -> Result<HostKeyState, ApplyError> {
        let next = pos.next.ok_or_else(|| {
            precondition(self.address, "no next host key is recorded".into(), None)
        })?;
        let pos = HostKeyState {
            current: next,
            next: None,
            rotated: true,
            ..pos.clone()
        };
        self.checkpoint(&pos).await?;
        if let Ok(ep) = endpoint(self.cx, self.node) {
            self.nodes.pool().evict(&ep.target);
        }
        Ok(pos)
    }

    /// Step 6: the cloud-init copies of the key sovstack sent are removed from the server's disk.
    pub async fn scrub(&self, pos: &HostKeyState) -> Result<usize, ApplyError> {
        let t = self.connection().await?;
        let line = self
            .remote(
                &t,
                &[
                    "scrub".into(),
                    pos.cloud_init.to_string(),
                    self.layout.dir.clone(),
                    self.layout.disable_flag.clone(),
                ],
            )
            .await?;
        let n = line
            .strip_prefix("scrubbed ")
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        if n > 0 {
            self.cx.events.progress(
                self.address,
                format!("removed the cloud-init copies of the first host key ({n} files)"),
            );
        }
        Ok(n)
    }

    async fn checkpoint(&self, pos: &HostKeyState) -> Result<(), ApplyError> {
        let mut state = pos.to_state(self.node);
        state.status = ResourceStatus::Pending;
        state.kind = RECORDED_KIND.to_string();
        self.cx
            .checkpoint
            .record(self.address, state.clone())
            .await?;
        // The live view follows at once: the next connection must accept what was recorded.
        if let Ok(mut view) = self.cx.resources.write() {
            view.insert(self.address.to_string(), state);
        }
        Ok(())
    }
}
