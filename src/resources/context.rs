//! What the kinds' operations share with the engine: the live view of state, durable
//! checkpoints, options, what refresh finds, and the error type.

use crate::config::Stack;
use crate::progress::EventSink;
use crate::state::{KeyedHasher, ResourceState};
use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use tokio::sync::{mpsc, oneshot};

/// A request to make a resource's state durable now, answered once it is.
pub type CheckpointRequest = (String, ResourceState, oneshot::Sender<Result<(), String>>);

/// Lets an operation record state in the middle of an operation (e.g. the fingerprint of a
/// host key it generated, before the create request that installs it), so that a crash
/// right after leaves enough in state to adopt safely. The executor serves the requests.
#[derive(Clone, Debug)]
pub struct Checkpoint {
    tx: Option<mpsc::UnboundedSender<CheckpointRequest>>,
}

impl Checkpoint {
    pub fn new() -> (Self, mpsc::UnboundedReceiver<CheckpointRequest>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (Self { tx: Some(tx) }, rx)
    }

    /// No durability (tests of one kind): checkpoints succeed without being stored.
    pub fn none() -> Self {
        Self { tx: None }
    }

    pub async fn record(&self, address: &str, state: ResourceState) -> Result<(), ApplyError> {
        let Some(tx) = &self.tx else { return Ok(()) };
        let (ack, done) = oneshot::channel();
        let failed = |message: String| ApplyError::Precondition {
            address: address.to_string(),
            message,
            help: Some("the state could not be written; fix that before applying again".into()),
        };
        tx.send((address.to_string(), state, ack)).map_err(|_| {
            failed("the executor stopped before the checkpoint was recorded".into())
        })?;
        match done.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(failed(format!("cannot record checkpoint: {e}"))),
            Err(_) => Err(failed(
                "the executor stopped before the checkpoint was recorded".into(),
            )),
        }
    }
}

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
    pub checkpoint: Checkpoint,
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

/// What an operation that records a resource returns.
pub type Recorded = Result<ResourceState, ApplyError>;

/// One operation on one resource: the run's context, the resource as the stack wants it and,
/// for an update, what state recorded and which attributes changed.
#[derive(Clone, Copy)]
pub struct Op<'a> {
    pub cx: &'a ApplyContext,
    pub desired: &'a crate::resources::Desired,
    pub prior: Option<&'a ResourceState>,
    pub changed: &'a [String],
}

impl<'a> Op<'a> {
    pub fn create(cx: &'a ApplyContext, desired: &'a crate::resources::Desired) -> Self {
        Self {
            cx,
            desired,
            prior: None,
            changed: &[],
        }
    }

    /// What state recorded; an update without it is a bug in the caller.
    pub fn prior(&self) -> Result<&'a ResourceState, ApplyError> {
        self.prior.ok_or_else(|| ApplyError::Precondition {
            address: self.desired.address.clone(),
            message: "an update needs what state recorded".into(),
            help: Some("make a new plan".into()),
        })
    }

    /// Whether `attribute` is among the changed ones.
    pub fn has(&self, attribute: &str) -> bool {
        self.changed.iter().any(|c| c == attribute)
    }
}

/// What a delete acts on: the resource at `address`, as state recorded it.
#[derive(Clone, Copy)]
pub struct Deletion<'a> {
    pub cx: &'a ApplyContext,
    pub address: &'a str,
    pub prior: &'a ResourceState,
}

/// What a delete returns.
pub type Deleted = Result<(), ApplyError>;

/// A resource carrying this stack's label that state does not know.
#[derive(Debug, Clone, PartialEq)]
pub struct Orphan {
    pub kind: String,
    /// The `sovstack.address` label it carries, if any.
    pub address_label: Option<String>,
    pub id: String,
    pub name: String,
}

/// What one refresh found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Refreshed {
    pub observed: BTreeMap<String, Observed>,
    pub orphans: Vec<Orphan>,
    /// Policy findings about what exists (a location outside the allowed set, as the API reports it).
    pub violations: Vec<Violation>,
    /// Parts that could not be read (a host unreachable), by node address; their resources
    /// are absent from `observed`, and the rest was still read.
    pub unreadable: Vec<Unreadable>,
}

impl Refreshed {
    /// Adds what another provider found.
    pub fn merge(&mut self, other: Refreshed) {
        self.observed.extend(other.observed);
        self.orphans.extend(other.orphans);
        self.violations.extend(other.violations);
        self.unreadable.extend(other.unreadable);
    }
}

/// A policy finding about something that exists, as the provider reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct Violation {
    /// The address it carries (its `sovstack.address` label), when it is one of ours.
    pub address: Option<String>,
    /// The kind of resource and its provider id.
    pub kind: String,
    pub id: String,
    /// What is wrong, e.g. "is in ash (Ashburn, US), outside the EU: ...".
    pub reason: String,
}

impl Violation {
    /// Who it is about: `server.a (server 7)`, or `server 7` for a resource not of this stack.
    pub fn subject(&self) -> String {
        match &self.address {
            Some(a) => format!("{a} ({} {})", self.kind, self.id),
            None => format!("{} {}", self.kind, self.id),
        }
    }
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.subject(), self.reason)
    }
}

/// A node (or other part) refresh could not read, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Unreadable {
    pub address: String,
    pub message: String,
    pub help: Option<String>,
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
    /// `compose up --wait` reached its `wait_timeout` with services not yet healthy.
    #[error(
        "{address}: {services} of project `{project}` on {target} not healthy after {after_secs} s (wait_timeout)"
    )]
    #[diagnostic(code(sovstack::apply::compose_not_healthy))]
    ComposeNotHealthy {
        address: String,
        project: String,
        target: String,
        services: String,
        after_secs: u32,
        #[help]
        help: String,
    },
    /// Hetzner refused a delete because the resource's delete protection is on; sovstack never lifts it itself.
    #[error("{address}: {noun} {id} has delete protection at Hetzner, so it was not deleted")]
    #[diagnostic(code(sovstack::apply::protected))]
    Protected {
        address: String,
        noun: &'static str,
        id: u64,
        #[help]
        help: String,
    },
}
