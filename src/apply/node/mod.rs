//! The applier for what lives on nodes: `host`, `bootstrap`, `file`, `compose` and `check`.
//!
//! One SSH connection per node per run (the shared [`SshPool`]); every step is one remote
//! command and reports progress. Refresh is one probe command per node.

mod ops;
mod reach;
mod refresh;

use crate::apply::{Applier, ApplyContext, ApplyError, Refreshed};
use crate::providers::node::NodeError;
use crate::providers::ssh::SshPool;
use crate::resources::Desired;
use crate::state::ResourceState;
use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Kinds this applier handles.
pub const NODE_KINDS: &[&str] = &["host", "bootstrap", "file", "compose", "check"];

/// How long a freshly created server's sshd is waited for, by default.
pub const DEFAULT_SSHD_WAIT: Duration = Duration::from_secs(5 * 60);

pub struct NodeApplier {
    pool: Arc<SshPool>,
    sshd_wait: Duration,
    /// Servers already waited for in this run.
    contacted: Mutex<HashSet<String>>,
}

impl NodeApplier {
    pub fn new(pool: Arc<SshPool>) -> Self {
        Self {
            pool,
            sshd_wait: DEFAULT_SSHD_WAIT,
            contacted: Mutex::new(HashSet::new()),
        }
    }

    /// Deadline for a new server's sshd to answer.
    pub fn with_sshd_wait(mut self, wait: Duration) -> Self {
        self.sshd_wait = wait;
        self
    }

    pub fn pool(&self) -> &Arc<SshPool> {
        &self.pool
    }

    fn first_contact(&self, node: &str) -> bool {
        self.contacted
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(node.to_string())
    }
}

/// Maps a node-layer error to the executor's, keeping SSH errors (and their help) intact.
pub(crate) fn node_error(address: &str, e: NodeError) -> ApplyError {
    match e {
        NodeError::Ssh(e) => ApplyError::Ssh(e),
        NodeError::Check(message) => ApplyError::CheckFailed {
            address: address.to_string(),
            message,
        },
        e @ NodeError::BootstrapRefused { .. } => ApplyError::Precondition {
            address: address.to_string(),
            message: e.to_string(),
            help: Some(
                "sovstack installs Docker only where none is installed; fix the installation on the node, then apply again"
                    .into(),
            ),
        },
        e => ApplyError::Node {
            address: address.to_string(),
            message: e.to_string(),
        },
    }
}

#[async_trait::async_trait]
impl Applier for NodeApplier {
    fn handles(&self, kind: &str) -> bool {
        NODE_KINDS.contains(&kind)
    }

    async fn create(
        &self,
        cx: &ApplyContext,
        desired: &Desired,
    ) -> Result<ResourceState, ApplyError> {
        self.converge(cx, desired, None, &[]).await
    }

    async fn update(
        &self,
        cx: &ApplyContext,
        desired: &Desired,
        prior: &ResourceState,
        changed: &[String],
    ) -> Result<ResourceState, ApplyError> {
        self.converge(cx, desired, Some(prior), changed).await
    }

    async fn delete(
        &self,
        cx: &ApplyContext,
        address: &str,
        prior: &ResourceState,
    ) -> Result<(), ApplyError> {
        match prior.kind.as_str() {
            "file" => self.delete_file(cx, address, prior).await,
            "compose" => self.delete_compose(cx, address, prior).await,
            // A host is not ours to remove, Docker stays installed, a check leaves nothing behind.
            _ => Ok(()),
        }
    }

    async fn refresh(
        &self,
        cx: &ApplyContext,
        recorded: &BTreeMap<String, ResourceState>,
    ) -> Result<Refreshed, ApplyError> {
        self.refresh_nodes(cx, recorded).await
    }
}

impl NodeApplier {
    async fn converge(
        &self,
        cx: &ApplyContext,
        desired: &Desired,
        prior: Option<&ResourceState>,
        changed: &[String],
    ) -> Result<ResourceState, ApplyError> {
        match desired.kind {
            "host" => self.apply_host(cx, desired).await,
            "bootstrap" => self.apply_bootstrap(cx, desired).await,
            "file" => self.apply_file(cx, desired).await,
            "compose" => self.apply_compose(cx, desired, prior, changed).await,
            "check" => self.apply_check(cx, desired).await,
            other => Err(ApplyError::Precondition {
                address: desired.address.clone(),
                message: format!("the node applier does not handle `{other}`"),
                help: None,
            }),
        }
    }
}

/// A state entry from desired attributes.
pub(crate) fn record(desired: &Desired) -> ResourceState {
    ResourceState {
        kind: desired.kind.to_string(),
        id: None,
        attributes: desired.attributes.clone(),
        sensitive_attributes: BTreeMap::new(),
        dependencies: desired.dependencies.iter().cloned().collect(),
        status: crate::state::ResourceStatus::Ready,
    }
}
