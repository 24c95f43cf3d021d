//! Resource kinds: what each kind of thing sovstack manages wants to be, which attribute
//! changes it can make in place and which force a replacement. The planner and the executor
//! only see `Desired` values and the `ResourceKind` trait; nothing in them is kind-specific.

mod bootstrap;
mod check;
mod compose;
mod file;
mod firewall;
mod host;
mod server;
mod ssh_key;
mod volume;

pub use bootstrap::Bootstrap;
pub use check::CheckKind;
pub use compose::ComposeKind;
pub use file::{FileContent, FileKind, NodeFile, node_inputs};
pub use firewall::FirewallKind;
pub use host::HostKind;
pub use server::ServerKind;
pub use ssh_key::SshKeyKind;
pub use volume::VolumeKind;

use crate::config::{Stack, value};
use serde_json::Value as Json;
use std::collections::{BTreeMap, BTreeSet};

/// What a resource should be, as the stack says.
#[derive(Debug, Clone, PartialEq)]
pub struct Desired {
    /// `kind.name`, e.g. `server.gpu`, `file.llm["compose.yaml"]`.
    pub address: String,
    pub kind: &'static str,
    /// Planned attributes; values may hold unknown markers (`config::value`).
    pub attributes: BTreeMap<String, Json>,
    /// Sensitive attributes: plaintext when provided (never stored or printed), `None` when unset.
    pub sensitive: BTreeMap<String, Option<String>>,
    /// Addresses that must be in place first.
    pub dependencies: BTreeSet<String>,
    /// Text shown as a unified diff when it changes (rendered files that are not secret).
    pub diffable: Option<String>,
}

impl Desired {
    pub fn new(kind: &'static str, name: &str) -> Self {
        Self {
            address: format!("{kind}.{name}"),
            kind,
            attributes: BTreeMap::new(),
            sensitive: BTreeMap::new(),
            dependencies: BTreeSet::new(),
            diffable: None,
        }
    }

    pub fn attr(mut self, key: &str, value: impl Into<Json>) -> Self {
        self.attributes.insert(key.to_string(), value.into());
        self
    }

    pub fn depends_on(mut self, address: impl Into<String>) -> Self {
        self.dependencies.insert(address.into());
        self
    }

    /// Adds a dependency on every resource whose after-apply value an attribute waits for.
    pub fn infer_dependencies(&mut self) {
        let mut found = BTreeSet::new();
        for v in self.attributes.values() {
            collect_unknown_addresses(v, &mut found);
        }
        if let Some(d) = &self.diffable {
            for r in value::unknowns(d) {
                if let Some(a) = address_of_reference(&r) {
                    found.insert(a);
                }
            }
        }
        found.remove(&self.address);
        self.dependencies.extend(found);
    }
}

fn collect_unknown_addresses(v: &Json, out: &mut BTreeSet<String>) {
    match v {
        Json::String(s) => {
            for r in value::unknowns(s) {
                if let Some(a) = address_of_reference(&r) {
                    out.insert(a);
                }
            }
        }
        Json::Array(a) => a.iter().for_each(|x| collect_unknown_addresses(x, out)),
        Json::Object(o) => o.values().for_each(|x| collect_unknown_addresses(x, out)),
        _ => {}
    }
}

/// `server.gpu.ipv4_address` -> `server.gpu`; variables and locals are not resources.
fn address_of_reference(r: &str) -> Option<String> {
    let mut parts = r.splitn(3, '.');
    let (kind, name) = (parts.next()?, parts.next()?);
    (!matches!(kind, "var" | "local")).then(|| format!("{kind}.{name}"))
}

/// How the planner treats a change of one attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeMode {
    /// Changed in place.
    Update,
    /// Needs the resource destroyed and created again.
    Replace,
}

/// One kind of resource. Implementations hold no state; the registry lists them.
pub trait ResourceKind: Sync {
    fn kind(&self) -> &'static str;

    /// Whether changing `attribute` can be done in place.
    fn change_mode(&self, attribute: &str) -> ChangeMode;

    /// Attributes only the provider knows, filled in by apply (`id`, `ipv4_address`...).
    fn computed(&self) -> &'static [&'static str] {
        &[]
    }

    /// Lives in Hetzner Cloud (as opposed to on a node over SSH).
    fn is_cloud(&self) -> bool {
        false
    }

    /// The desired resources of this kind.
    fn desired(&self, ctx: &DesiredContext<'_>) -> Vec<Desired>;
}

/// What building desired resources needs beyond the stack.
pub struct DesiredContext<'a> {
    pub stack: &'a Stack,
    /// Rendered node files (from `render`), with their hashes.
    pub files: &'a [NodeFile],
    /// sha256 of the node bootstrap script in force.
    pub bootstrap_sha256: &'a str,
    /// Input hash of each service, by (compose block, service).
    pub service_hashes: &'a BTreeMap<(String, String), String>,
}

/// Every kind, in the order their resources are listed.
pub static KINDS: &[&dyn ResourceKind] = &[
    &SshKeyKind,
    &ServerKind,
    &VolumeKind,
    &FirewallKind,
    &HostKind,
    &Bootstrap,
    &FileKind,
    &ComposeKind,
    &CheckKind,
];

pub fn kind(name: &str) -> Option<&'static dyn ResourceKind> {
    KINDS.iter().copied().find(|k| k.kind() == name)
}

/// All desired resources of a stack, with inferred dependencies, sorted by address.
pub fn desired(ctx: &DesiredContext<'_>) -> Vec<Desired> {
    let mut out: Vec<Desired> = KINDS.iter().flat_map(|k| k.desired(ctx)).collect();
    for d in &mut out {
        d.infer_dependencies();
    }
    out.sort_by(|a, b| a.address.cmp(&b.address));
    out
}

/// Labels sovstack puts on every cloud resource it creates, so that a create whose response
/// was lost can be found and adopted instead of duplicated.
pub fn ownership_labels(stack: &str, address: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("sovstack.stack".to_string(), label_value(stack)),
        ("sovstack.address".to_string(), label_value(address)),
    ])
}

/// Hetzner label values: up to 63 characters of `[a-z0-9A-Z._-]`, alphanumeric at both ends.
pub fn label_value(s: &str) -> String {
    // Most values (stack names, plain addresses) are valid as they are.
    let valid_char = |b: &u8| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-');
    let bytes = s.as_bytes();
    if bytes.len() <= 63
        && bytes.iter().all(valid_char)
        && bytes.first().is_some_and(u8::is_ascii_alphanumeric)
        && bytes.last().is_some_and(u8::is_ascii_alphanumeric)
    {
        return s.to_string();
    }
    label_value_mapped(s)
}

/// [`label_value`] the long way: every character mapped, then trimmed and cut.
fn label_value_mapped(s: &str) -> String {
    let mapped: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let trimmed = mapped.trim_matches(|c: char| !c.is_ascii_alphanumeric());
    trimmed
        .chars()
        .take(63)
        .collect::<String>()
        .trim_end_matches(|c: char| !c.is_ascii_alphanumeric())
        .to_string()
}

/// A JSON object of string labels merged with sovstack's own.
pub(crate) fn labels_json(stack: &str, address: &str, user: &BTreeMap<String, String>) -> Json {
    let mut all: serde_json::Map<String, Json> = user
        .iter()
        .map(|(k, v)| (k.clone(), Json::String(v.clone())))
        .collect();
    for (k, v) in ownership_labels(stack, address) {
        all.insert(k, Json::String(v));
    }
    Json::Object(all)
}

/// The node address a compose target runs on.
pub(crate) fn node_address(t: &crate::config::Target) -> String {
    t.address()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_follow_hetzner_rules() {
        assert_eq!(
            label_value("file.llm[\"compose.yaml\"]"),
            "file.llm__compose.yaml"
        );
        assert_eq!(label_value("server.gpu"), "server.gpu");
        assert!(label_value(&"x".repeat(100)).len() <= 63);
    }

    proptest::proptest! {
        #[test]
        fn the_label_shortcut_agrees_with_the_long_way(s in "[a-z0-9._\\-\\[\\]\"é ]{0,70}") {
            proptest::prop_assert_eq!(label_value(&s), label_value_mapped(&s));
        }
    }

    #[test]
    fn unknowns_become_dependencies() {
        let mut d = Desired::new("file", "x").attr(
            "content",
            format!(
                "http://{}:4317",
                value::after_apply("server.obs.ipv4_address")
            ),
        );
        d.infer_dependencies();
        assert!(d.dependencies.contains("server.obs"));
    }

    /// Plans `d` against the state apply records for it: its desired attributes plus what
    /// the applier adds.
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

    /// What the node applier records beyond the desired attributes (bootstrap versions, the
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
