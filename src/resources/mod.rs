//! Resource kinds, and the registry of them.
//!
//! Each kind lives in its own folder (`server/`, `file/`...) and implements [`ResourceKind`]:
//! its desired attributes, which changes replace it, how it is read, created, changed and
//! deleted. Cloud kinds share one generic refresh/adopt/delete (`cloud/`), node kinds one
//! connection and probe per node (`node/`). Nothing outside this folder names a kind: the
//! planner, the engine, refresh and drift go through [`KINDS`] and the trait.
//!
//! Adding a kind: a folder with a unit struct implementing [`ResourceKind`], one `mod` line
//! and one entry in [`KINDS`] below.

mod address;
pub mod cloud;
mod context;
mod desired;
mod kind;
mod labels;
pub mod node;

mod bootstrap;
mod check;
mod compose;
mod file;
mod firewall;
mod host;
pub mod host_key;
mod server;
mod ssh_key;
mod volume;

pub use address::{Address, AddressError, InstanceKey, Kind};
pub use cloud::CloudProvider;
pub use context::{
    ApplyContext, ApplyError, ApplyOptions, Checkpoint, CheckpointRequest, Deleted, Deletion,
    Observed, Op, Orphan, Recorded, Refreshed, Unreadable, Violation,
};
pub use desired::{Desired, DesiredContext};
pub use file::{FileContent, NodeFile, node_inputs};
pub use kind::{
    ChangeMode, DriftStory, Facts, InPlace, Operate, PolicyFinding, Providers, Read, ResourceKind,
};
pub(crate) use labels::labels_json;
pub use labels::{label_value, ownership_labels};
pub use node::NodeProvider;

/// Every kind, in the order their resources are listed.
pub static KINDS: &[&dyn ResourceKind] = &[
    &ssh_key::SshKeyKind,
    &server::ServerKind,
    &volume::VolumeKind,
    &firewall::FirewallKind,
    &host::HostKind,
    &host_key::HostKeyKind,
    &bootstrap::BootstrapKind,
    &file::FileKind,
    &compose::ComposeKind,
    &check::CheckKind,
];

pub fn kind(name: &str) -> Option<&'static dyn ResourceKind> {
    KINDS.iter().copied().find(|k| k.name() == name)
}

/// The kind called `name`, or an error naming `address` (a state written by a newer tool).
pub(crate) fn kind_or_error(
    address: &str,
    name: &str,
) -> Result<&'static dyn ResourceKind, ApplyError> {
    kind(name).ok_or_else(|| ApplyError::Precondition {
        address: address.to_string(),
        message: format!("unknown resource kind `{name}`"),
        help: Some("this state was written by another version of sovstack".into()),
    })
}

/// Whether resources of `kind` live in Hetzner Cloud (so a run touching them needs the API).
pub fn is_cloud(kind: &str) -> bool {
    self::kind(kind).is_some_and(|k| matches!(k.read(), Read::Cloud(_)))
}

/// All desired resources of a stack, with inferred dependencies, sorted by address.
///
/// A resource depends on what its kind says, on every resource whose after-apply value it
/// waits for, and on every resource its block refers to anywhere (a server whose user data
/// names another's address): a reference is an edge whether or not its value is known yet.
pub fn desired(ctx: &DesiredContext<'_>) -> Vec<Desired> {
    let mut out: Vec<Desired> = KINDS.iter().flat_map(|k| k.desired(ctx)).collect();
    out.sort_by(|a, b| a.address.cmp(&b.address));
    let exists = |a: &String| out.binary_search_by(|d| d.address.cmp(a)).is_ok();
    let referenced: Vec<Vec<String>> = out
        .iter()
        .map(|d| {
            ctx.stack
                .references
                .get(&d.address)
                .map(|r| r.iter().filter(|a| exists(a)).cloned().collect())
                .unwrap_or_default()
        })
        .collect();
    for (d, refs) in out.iter_mut().zip(referenced) {
        d.dependencies.extend(refs);
        d.infer_dependencies();
    }
    out
}

/// The node address a compose target runs on.
pub(crate) fn node_address(t: &crate::config::Target) -> String {
    t.address()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value as Json;

    /// Plans `d` against the state apply records for it: its desired attributes plus what
    /// the kind adds.
    fn action_after_apply(d: &Desired, recorded: &[(&str, Json)]) -> crate::plan::Action {
        use crate::plan::{PlanInput, PlanOptions, compute};
        use crate::state::{ResourceState, ResourceStatus, StateFile};
        let mut attributes = d.attributes.clone();
        for (k, v) in recorded {
            attributes.insert((*k).to_string(), v.clone());
        }
        let mut state = StateFile::new("s");
        state.resources.insert(
            d.address.clone(),
            ResourceState {
                kind: d.kind.to_string(),
                id: Some("x".into()),
                attributes,
                sensitive_attributes: Default::default(),
                dependencies: Vec::new(),
                status: ResourceStatus::Ready,
            },
        );
        let plan = compute(
            &PlanInput {
                stack: "s",
                desired: std::slice::from_ref(d),
                prior: Some(&state),
                hasher: None,
                inputs_hash: String::new(),
                drift: Vec::new(),
            },
            &PlanOptions::default(),
        )
        .unwrap();
        plan.change(&d.address).unwrap().action
    }

    /// What node kinds record beyond the desired attributes (bootstrap versions, the
    /// compose bundle) is computed; otherwise the plan reads it as attributes to remove and
    /// apply's next wave stops with "still differs after it was applied in this run".
    #[test]
    fn attributes_node_apply_records_are_not_changes() {
        let bootstrap = Desired::new("bootstrap", "gpu")
            .attr("node", "host.gpu")
            .attr("script_sha256", "abc")
            .attr("nvidia_container_toolkit", true);
        assert_eq!(
            action_after_apply(
                &bootstrap,
                &[
                    ("docker_version", "27.3.1".into()),
                    ("compose_version", "2.29.7".into())
                ]
            ),
            crate::plan::Action::NoOp
        );
        let compose = Desired::new("compose", "llm")
            .attr("node", "host.gpu")
            .attr("project", "llm")
            .attr("services", serde_json::json!({"vllm": "h1"}));
        assert_eq!(
            action_after_apply(&compose, &[("bundle", "b1".into())]),
            crate::plan::Action::NoOp
        );
    }
}
