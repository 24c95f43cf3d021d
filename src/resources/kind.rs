//! The contract every resource kind implements: what the stack wants of it, how the planner
//! treats its changes, how it is read, and how it is created, changed and deleted. The
//! planner, the executor, refresh and drift only talk to kinds through this trait.

use super::cloud::{CloudProvider, CloudRead};
use super::context::{ApplyContext, ApplyError, Deleted, Deletion, Op, Refreshed};
use super::desired::{Desired, DesiredContext};
use super::node::{NodeHost, NodeProvider, NodeRead};
use crate::config::Stack;
use crate::plan::Drift;
use crate::resources::Recorded;
use crate::state::ResourceState;
use std::collections::BTreeMap;

/// How the planner treats a change of one attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeMode {
    /// Changed in place.
    Update,
    /// Needs the resource destroyed and created again.
    Replace,
}

/// Which attribute changes a kind makes in place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InPlace {
    /// Only these change in place; any other attribute needs a new resource.
    Only(&'static [&'static str]),
    /// Everything changes in place except these.
    AllBut(&'static [&'static str]),
}

/// What the planner knows of a kind without asking it anything: its name, which changes it
/// makes in place, and the attributes only the provider knows.
#[derive(Debug, Clone, Copy)]
pub struct Facts {
    pub name: &'static str,
    pub in_place: InPlace,
    /// Filled in by apply (`id`, `ipv4_address`...); never a change of their own.
    pub computed: &'static [&'static str],
}

/// How what exists of a kind is read: cloud kinds by one label-selector list call per kind,
/// node kinds from the one probe each node answers.
pub enum Read<'a> {
    Cloud(&'a dyn CloudRead),
    Node(&'a dyn NodeRead),
}

/// How one piece of drift reads in a drift report.
#[derive(Debug, Clone, PartialEq)]
pub struct DriftStory {
    /// One line saying what happened.
    pub summary: String,
    /// A unified diff to show, if any.
    pub diff: Option<String>,
    /// What to do about it.
    pub remedy: String,
}

/// Something that exists and breaks the stack's policy.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyFinding {
    pub summary: String,
    pub remedy: String,
}

/// One kind of resource. Implementations hold no state; the registry (`resources::KINDS`)
/// lists them.
#[async_trait::async_trait]
pub trait ResourceKind: Send + Sync {
    /// The kind's name, change modes and computed attributes.
    fn facts(&self) -> &'static Facts;

    /// The kind's name in addresses (`server` in `server.gpu`).
    fn name(&self) -> &'static str {
        self.facts().name
    }

    /// Whether changing `attribute` can be done in place.
    fn change_mode(&self, attribute: &str) -> ChangeMode {
        let in_place = match self.facts().in_place {
            InPlace::Only(these) => these.contains(&attribute),
            InPlace::AllBut(these) => !these.contains(&attribute),
        };
        if in_place {
            ChangeMode::Update
        } else {
            ChangeMode::Replace
        }
    }

    /// Attributes only the provider knows, filled in by apply (`id`, `ipv4_address`...).
    fn computed(&self) -> &'static [&'static str] {
        self.facts().computed
    }

    /// The desired resources of this kind.
    fn desired(&self, ctx: &DesiredContext<'_>) -> Vec<Desired>;

    /// How refresh reads this kind.
    fn read(&self) -> Read<'_>;

    /// A machine other resources run on, reached over SSH. Also a planner hook: a replaced
    /// one is empty, so everything on it is created again.
    fn as_node(&self) -> Option<&dyn NodeHost> {
        None
    }

    /// Planner hook: the attribute that attaches this resource to servers; when one of them
    /// is replaced, it is re-applied in place against the new machine.
    fn attachment(&self) -> Option<&'static str> {
        None
    }

    /// The block kinds this kind's resources are named after (`bootstrap.gpu` is named after
    /// `server.gpu` or `host.gpu`): a move of such a block moves them with it.
    fn named_after(&self) -> &'static [&'static str] {
        &[]
    }

    /// Whether an address of this kind ends in a key of its own (a file's path:
    /// `file.llm["compose.yaml"]`), rather than only a block instance's (`server.gpu[0]`).
    fn keyed(&self) -> bool {
        false
    }

    /// Planner hook: runs again whenever something it depends on is created again.
    fn reruns_after_dependencies(&self) -> bool {
        false
    }

    /// Drift reports: how a change or deletion of this kind found by refresh reads, where it
    /// differs from the general words.
    fn drift_story(&self, _drift: &Drift) -> Option<DriftStory> {
        None
    }

    /// Drift reports: policy findings only the refreshed world can answer (a firewall rule
    /// open to the internet without `public = true`).
    fn policy_findings(
        &self,
        _stack: &Stack,
        _address: &str,
        _refreshed: &ResourceState,
    ) -> Vec<PolicyFinding> {
        Vec::new()
    }

    /// How resources of this kind are created, changed and deleted.
    fn operate(&self) -> &dyn Operate;
}

/// Create, update and delete of one kind. Cloud kinds get it from [`super::cloud::Cloud`],
/// node kinds from [`super::node::OnNode`]; a kind of another sort implements it itself.
#[async_trait::async_trait]
pub trait Operate: Send + Sync {
    /// Creates (or adopts what an interrupted run made); returns what to record, with
    /// computed attributes. Must be idempotent: it is called again for a `Pending` create.
    async fn create(&self, providers: &Providers, op: Op<'_>) -> Recorded;

    /// Changes `op.changed` attributes in place; returns what to record.
    async fn update(&self, providers: &Providers, op: Op<'_>) -> Recorded;

    /// Deletes the resource; deleting something already gone is success.
    async fn delete(&self, providers: &Providers, del: Deletion<'_>) -> Deleted;
}

/// What the kinds reach the world through: the Hetzner Cloud API (only built when a run
/// involves cloud resources, so a stack of existing hosts needs no token) and SSH.
pub struct Providers {
    cloud: Option<CloudProvider>,
    node: NodeProvider,
}

impl Providers {
    pub fn new(cloud: Option<CloudProvider>, node: NodeProvider) -> Self {
        Self { cloud, node }
    }

    /// The Hetzner Cloud API, or a precondition error naming `address` when the run has none.
    pub fn cloud(&self, address: &str) -> Result<&CloudProvider, ApplyError> {
        self.cloud.as_ref().ok_or_else(|| ApplyError::Precondition {
            address: address.to_string(),
            message: "this run has no Hetzner Cloud API client".into(),
            help: Some(
                "set HCLOUD_TOKEN (and HCLOUD_ENDPOINT to rehearse against `sovstack sandbox`)"
                    .into(),
            ),
        })
    }

    pub fn node(&self) -> &NodeProvider {
        &self.node
    }

    /// Reads what exists of everything `recorded` holds, one result per provider (node
    /// first, then cloud when the run has it): a provider that fails does not hide the others.
    pub async fn refresh_each(
        &self,
        cx: &ApplyContext,
        recorded: &BTreeMap<String, ResourceState>,
    ) -> Vec<Result<Refreshed, ApplyError>> {
        let mut parts = vec![super::node::refresh(&self.node, cx, recorded).await];
        if let Some(cloud) = &self.cloud {
            parts.push(super::cloud::refresh(cloud, cx, recorded).await);
        }
        parts
    }

    /// Reads what exists of everything `recorded` holds; the first provider error fails it.
    pub async fn refresh(
        &self,
        cx: &ApplyContext,
        recorded: &BTreeMap<String, ResourceState>,
    ) -> Result<Refreshed, ApplyError> {
        let mut all = Refreshed::default();
        for part in self.refresh_each(cx, recorded).await {
            all.merge(part?);
        }
        Ok(all)
    }

    /// Runs a create through the kind of `op.desired`.
    pub async fn create_op(&self, op: Op<'_>) -> Recorded {
        let kind = super::kind_or_error(&op.desired.address, op.desired.kind)?;
        kind.operate().create(self, op).await
    }

    /// Runs an in-place update through the kind of `op.desired`.
    pub async fn update_op(&self, op: Op<'_>) -> Recorded {
        let kind = super::kind_or_error(&op.desired.address, op.desired.kind)?;
        kind.operate().update(self, op).await
    }

    /// Runs a delete through the kind state recorded for it.
    pub async fn delete_op(&self, del: Deletion<'_>) -> Deleted {
        let kind = super::kind_or_error(del.address, &del.prior.kind)?;
        kind.operate().delete(self, del).await
    }

    /// Creates `desired` through its kind.
    pub async fn create(&self, cx: &ApplyContext, desired: &Desired) -> Recorded {
        self.create_op(Op::create(cx, desired)).await
    }

    /// Updates `desired` in place through its kind.
    pub async fn update(
        &self,
        cx: &ApplyContext,
        desired: &Desired,
        prior: &ResourceState,
        changed: &[String],
    ) -> Recorded {
        let op = Op {
            cx,
            desired,
            prior: Some(prior),
            changed,
        };
        self.update_op(op).await
    }

    /// Deletes what `prior` records through its kind.
    pub async fn delete(&self, cx: &ApplyContext, address: &str, prior: &ResourceState) -> Deleted {
        self.delete_op(Deletion { cx, address, prior }).await
    }
}
