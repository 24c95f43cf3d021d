//! What the node kinds (what lives on a server or host over SSH) share: the connection
//! pool, how a node is reached, and refresh by one probe command per node.
//!
//! One SSH connection per node per run (the shared [`SshPool`]); every step is one remote
//! command and reports progress.

pub(crate) mod reach;
mod refresh;

pub(crate) use refresh::{docker_ok, refresh};

use crate::providers::node::{NodeError, ProbeReport};
use crate::providers::ssh::{SshEndpoint, SshPool, Transport};
use crate::resources::Recorded;
use crate::resources::{
    Address, ApplyContext, ApplyError, Deleted, Deletion, Desired, Observed, Op, Operate, Providers,
};
use crate::state::ResourceState;
use serde_json::Value as Json;
use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How long a freshly created server's sshd is waited for, by default.
pub const DEFAULT_SSHD_WAIT: Duration = Duration::from_secs(5 * 60);

/// How long reading one node (connecting and probing) may take before it is reported as
/// unreadable, by default; the other nodes are read and reported all the same.
pub const DEFAULT_READ_LIMIT: Duration = Duration::from_secs(60);

/// SSH to the nodes of a run, as the node kinds use it.
pub struct NodeProvider {
    pool: Arc<SshPool>,
    sshd_wait: Duration,
    read_limit: Duration,
    /// Servers already waited for in this run.
    contacted: Mutex<HashSet<String>>,
}

impl NodeProvider {
    pub fn new(pool: Arc<SshPool>) -> Self {
        Self {
            pool,
            sshd_wait: DEFAULT_SSHD_WAIT,
            read_limit: DEFAULT_READ_LIMIT,
            contacted: Mutex::new(HashSet::new()),
        }
    }

    /// Deadline for a new server's sshd to answer; zero waits for nothing (reading what
    /// exists, where a server recorded in state has long booted).
    pub fn with_sshd_wait(mut self, wait: Duration) -> Self {
        self.sshd_wait = wait;
        self
    }

    /// Deadline for reading one node in a refresh.
    pub fn with_read_limit(mut self, limit: Duration) -> Self {
        self.read_limit = limit;
        self
    }

    pub fn pool(&self) -> &Arc<SshPool> {
        &self.pool
    }

    pub(crate) fn first_contact(&self, node: &str) -> bool {
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
        NodeError::ComposeNotHealthy {
            target,
            project,
            services,
            after_secs,
        } => ApplyError::ComposeNotHealthy {
            address: address.to_string(),
            help: not_healthy_help(address, &project, &services),
            services: services.join(", "),
            project,
            target,
            after_secs,
        },
        e => ApplyError::Node {
            address: address.to_string(),
            message: e.to_string(),
        },
    }
}

/// What to do when services never became healthy: read their logs on the host, then fix the
/// service or give it more time.
fn not_healthy_help(address: &str, project: &str, services: &[String]) -> String {
    let logs: Vec<String> = services
        .iter()
        .map(|s| format!("`docker compose -p {project} logs {s}`"))
        .collect();
    format!(
        "on the host, {} and `docker compose -p {project} ps -a` show why; fix the service or its health check, or raise `wait_timeout` in {address} if it only needs longer, then apply again",
        logs.join(", ")
    )
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

/// A string attribute a node operation needs.
pub(crate) fn attr_str(desired: &Desired, key: &str) -> Result<String, ApplyError> {
    desired
        .attributes
        .get(key)
        .and_then(Json::as_str)
        .map(str::to_string)
        .ok_or_else(|| ApplyError::Precondition {
            address: desired.address.clone(),
            message: format!("attribute `{key}` is missing or not a string"),
            help: None,
        })
}

/// A string attribute as recorded in state.
pub(crate) fn prior_str(prior: &ResourceState, key: &str) -> Option<String> {
    attr(prior, key).map(str::to_string)
}

/// Create and update of a node kind are one thing: bring it in line on its node.
#[async_trait::async_trait]
pub trait NodeOps: Send + Sync {
    /// Brings the resource in line; `op.prior` and `op.changed` are set for an update.
    async fn converge(&self, nodes: &NodeProvider, op: Op<'_>)
    -> Result<ResourceState, ApplyError>;

    /// Removes what it put on the node. Most node kinds leave nothing to remove (a host is
    /// not ours, Docker stays installed, a check runs and is gone).
    async fn remove(&self, _nodes: &NodeProvider, _del: Deletion<'_>) -> Deleted {
        Ok(())
    }
}

/// A node kind's [`Operate`], over its [`NodeOps`].
pub struct OnNode<K>(pub K);

#[async_trait::async_trait]
impl<K: NodeOps> Operate for OnNode<K> {
    async fn create(&self, providers: &Providers, op: Op<'_>) -> Recorded {
        self.0.converge(providers.node(), op).await
    }

    async fn update(&self, providers: &Providers, op: Op<'_>) -> Recorded {
        self.0.converge(providers.node(), op).await
    }

    async fn delete(&self, providers: &Providers, del: Deletion<'_>) -> Deleted {
        self.0.remove(providers.node(), del).await
    }
}

/// A kind whose resources are machines the node kinds run on.
pub trait NodeHost: Send + Sync {
    /// How to reach the node `address` (block `name`), from the stack and what state recorded.
    fn endpoint(&self, cx: &ApplyContext, node: &Address) -> Result<SshEndpoint, ApplyError>;

    /// A machine sovstack just created may still be booting: its sshd is waited for before the
    /// first connection of a run.
    fn may_be_booting(&self) -> bool {
        false
    }
}

/// What a node's probe reports for one recorded resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProbeItem {
    /// The state of a compose project.
    Project(String),
    /// The sha256 and mode of a file.
    File(String),
}

/// How a node kind is read: which node each recorded resource is on, what the node's one
/// probe must report for it, and how that report compares with state.
#[async_trait::async_trait]
pub trait NodeRead: Send + Sync {
    /// The node (`server.x` or `host.x`) a recorded resource lives on.
    fn node_of(&self, _cx: &ApplyContext, _address: &str, r: &ResourceState) -> Option<String> {
        prior_str(r, "node")
    }

    /// What the probe must report for it, if anything.
    fn probe_item(&self, _r: &ResourceState) -> Option<ProbeItem> {
        None
    }

    /// What exists compared with `r`; `None` when it is as recorded (or not observable).
    async fn observe(
        &self,
        _cx: &ApplyContext,
        _t: &dyn Transport,
        _report: &ProbeReport,
        _address: &str,
        _r: &ResourceState,
    ) -> Result<Option<Observed>, ApplyError> {
        Ok(None)
    }
}

/// A string attribute as recorded in state, borrowed.
pub(crate) fn attr<'a>(r: &'a ResourceState, key: &str) -> Option<&'a str> {
    r.attributes.get(key).and_then(Json::as_str)
}

impl Default for NodeProvider {
    /// A fresh pool with default SSH options.
    fn default() -> Self {
        Self::new(Arc::new(SshPool::new(
            crate::providers::ssh::SshOptions::default(),
        )))
    }
}
