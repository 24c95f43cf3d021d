//! The contract between the executor and kind-specific code.

use super::events::EventSink;
use crate::config::Stack;
use crate::resources::Desired;
use crate::state::{KeyedHasher, ResourceState};
use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

/// What every operation may look at. `resources` is the live view of state: the executor
/// updates it after every completed operation, so a firewall created after its server sees
/// the server's id.
#[derive(Clone)]
pub struct ApplyContext {
    /// The stack as loaded for this run, with after-apply values of existing resources known.
    pub stack: Arc<Stack>,
    pub resources: Arc<RwLock<BTreeMap<String, ResourceState>>>,
    pub hasher: Arc<KeyedHasher>,
    pub events: EventSink,
    pub options: ApplyOptions,
}

impl ApplyContext {
    pub fn stack_name(&self) -> &str {
        &self.stack.name.value
    }

    /// A resource as currently recorded.
    pub fn resource(&self, address: &str) -> Option<ResourceState> {
        self.resources.read().ok()?.get(address).cloned()
    }

    /// One attribute of a recorded resource.
    pub fn attribute(&self, address: &str, key: &str) -> Option<serde_json::Value> {
        self.resource(address)?.attributes.get(key).cloned()
    }

    /// Provider id of a recorded resource.
    pub fn id_of(&self, address: &str) -> Option<String> {
        self.resource(address)?.id
    }
}

#[derive(Debug, Clone, Default)]
pub struct ApplyOptions {
    /// Learn and pin host keys of `host` blocks that have none (`--trust-new-host-keys`).
    pub trust_new_host_keys: bool,
    /// Operations allowed to run at once.
    pub parallelism: usize,
}

/// What refresh found for one recorded resource.
#[derive(Debug, Clone, PartialEq)]
pub enum Observed {
    /// It exists; these are its actual attributes (same keys as in state).
    Present(ResourceState),
    /// It no longer exists.
    Missing,
}

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum ApplyError {
    #[error(transparent)]
    #[diagnostic(transparent)]
    Hcloud(#[from] crate::providers::hcloud::HcloudError),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Ssh(#[from] crate::providers::ssh::SshError),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Render(#[from] crate::render::RenderError),
    #[error(transparent)]
    #[diagnostic(transparent)]
    State(#[from] crate::state::StateError),
    /// A check ran and did not pass.
    #[error("check {address} failed: {message}")]
    #[diagnostic(code(sovstack::apply::check_failed))]
    CheckFailed { address: String, message: String },
    /// The world is not as it must be for this operation (missing dependency id, policy).
    #[error("{address}: {message}")]
    #[diagnostic(code(sovstack::apply::precondition))]
    Precondition {
        address: String,
        message: String,
        #[help]
        help: Option<String>,
    },
    #[error("{address}: {message}")]
    #[diagnostic(code(sovstack::apply::node))]
    Node { address: String, message: String },
}

/// Kind-specific create, update, delete and refresh. Implementations must be idempotent:
/// the executor may call `create` again for a resource whose earlier create was interrupted
/// (state status `Pending`), and `create` must then adopt what exists instead of duplicating.
#[async_trait::async_trait]
pub trait Applier: Send + Sync {
    /// Whether this applier handles resources of `kind`.
    fn handles(&self, kind: &str) -> bool;

    /// Creates (or adopts) the resource; returns what to record, with computed attributes.
    async fn create(
        &self,
        cx: &ApplyContext,
        desired: &Desired,
    ) -> Result<ResourceState, ApplyError>;

    /// Changes `changed` attributes in place; returns what to record.
    async fn update(
        &self,
        cx: &ApplyContext,
        desired: &Desired,
        prior: &ResourceState,
        changed: &[String],
    ) -> Result<ResourceState, ApplyError>;

    /// Deletes the resource; deleting something already gone is success.
    async fn delete(
        &self,
        cx: &ApplyContext,
        address: &str,
        prior: &ResourceState,
    ) -> Result<(), ApplyError>;

    /// Reads what actually exists for the recorded resources this applier handles, at a cost
    /// that does not grow with their number (one list call per cloud resource type, one probe
    /// per node). Resources it does not report are taken as unchanged.
    async fn refresh(
        &self,
        cx: &ApplyContext,
        recorded: &BTreeMap<String, ResourceState>,
    ) -> Result<BTreeMap<String, Observed>, ApplyError>;
}
