//! What a resource should be: its planned attributes, secrets and dependencies, built by each
//! kind from the loaded stack and the rendered files.

use super::file::NodeFile;
use crate::config::instance::block_address;
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
            address: block_address(kind, name),
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
    let (module, r) = crate::config::instance::strip_module_path(r);
    let mut parts = r.splitn(3, '.');
    let (kind, name) = (parts.next()?, parts.next()?);
    (!matches!(kind, "var" | "local")).then(|| block_address(kind, &format!("{module}{name}")))
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
