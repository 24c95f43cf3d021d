//! The state model: what sovstack knows it has done, keyed by resource address.
//!
//! Every map is a `BTreeMap` so that the same state always serializes to the same bytes.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::keyed_hash::KeyedHash;

/// The newest state format this build reads and the one it writes.
pub const FORMAT_VERSION: u32 = 1;

/// UUIDs are read only in the form we write (lowercase, hyphenated). A UUID parser also accepts upper case, and
/// the checksum is computed over parsed content, so without this an altered byte (`a` -> `A`) would pass.
pub(crate) mod strict_uuid {
    use serde::de::Error;
    use serde::{Deserialize, Deserializer};
    use uuid::Uuid;

    fn parse<E: Error>(s: &str) -> Result<Uuid, E> {
        let u = Uuid::parse_str(s).map_err(E::custom)?;
        if u.hyphenated().to_string() != s {
            return Err(E::custom(format!(
                "`{s}` is not a lowercase hyphenated UUID"
            )));
        }
        Ok(u)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Uuid, D::Error> {
        parse(&String::deserialize(d)?)
    }

    pub fn option<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Uuid>, D::Error> {
        Option::<String>::deserialize(d)?
            .map(|s| parse(&s))
            .transpose()
    }
}

/// A state snapshot.
// Fields are declared in key order here and in every type below (as every map is sorted): the
// snapshot text is then already in canonical order, and loading checksums the text as it is
// (`canonical::checksum_of_sorted_text_without`; a test in `snapshot` holds this).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StateFile {
    /// `sha256:<hex>` over the canonical JSON of every other field; catches a flipped byte that still parses.
    pub checksum: String,
    /// Format of this document; a file with a higher version is refused, never rewritten.
    pub format_version: u32,
    /// Random id given to a state when it is created; every later snapshot and log entry carries it, so that
    /// states of different stacks or workspaces are never mixed up.
    #[serde(deserialize_with = "strict_uuid::deserialize")]
    pub lineage: Uuid,
    /// Outputs by name.
    #[serde(default)]
    pub outputs: BTreeMap<String, OutputState>,
    /// Resources by address (`server.gpu`, `compose.llm`).
    #[serde(default)]
    pub resources: BTreeMap<String, ResourceState>,
    /// Incremented on every persisted snapshot; saved plans record it to detect staleness.
    pub serial: u64,
    /// Name of the stack this state belongs to.
    pub stack: String,
    /// sovstack version that wrote this snapshot.
    pub tool_version: String,
}

/// What is known about one resource.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ResourceState {
    /// Last known attributes (non-sensitive only).
    #[serde(default)]
    pub attributes: BTreeMap<String, serde_json::Value>,
    /// Addresses this resource depends on; destroy order is their reverse.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dependencies: Vec<String>,
    /// Provider id (Hetzner id, host name...), absent until the provider has confirmed the object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Resource kind (`server`, `firewall`, `compose`...).
    pub kind: String,
    /// Sensitive attributes, as keyed hashes only.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub sensitive_attributes: BTreeMap<String, KeyedHash>,
    /// Lifecycle status.
    pub status: ResourceStatus,
}

/// Lifecycle status of a resource in state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ResourceStatus {
    /// Created or updated and confirmed.
    Ready,
    /// Exists but must be replaced on the next apply (e.g. a create that half-failed, or a user's `taint`).
    Tainted,
    /// A create was requested but not confirmed (crash in between): the next apply adopts the object by its
    /// labels, or creates it again if it does not exist.
    Pending,
}

/// An output value. Sensitive outputs are stored as keyed hashes only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum OutputState {
    /// A plain value.
    Value(serde_json::Value),
    /// The keyed hash of a sensitive value.
    Sensitive(KeyedHash),
}

impl OutputState {
    /// Whether the value is only known by its hash.
    pub fn is_sensitive(&self) -> bool {
        matches!(self, OutputState::Sensitive(_))
    }
}

/// One completed change, recorded durably as soon as it happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum StateOp {
    /// Insert or replace the resource at `address`.
    Upsert {
        address: String,
        resource: ResourceState,
    },
    /// Forget the resource at `address` (it was deleted, or removed from management).
    Remove { address: String },
    /// Replace all outputs.
    SetOutputs {
        outputs: BTreeMap<String, OutputState>,
    },
    /// The stack was renamed (`state rename-stack`); the state now belongs to `stack`.
    RenameStack { stack: String },
}

impl StateFile {
    /// An empty state for `stack` with a fresh lineage and serial 0 (nothing persisted yet).
    pub fn new(stack: &str) -> Self {
        let mut s = StateFile {
            format_version: FORMAT_VERSION,
            lineage: Uuid::new_v4(),
            serial: 0,
            tool_version: env!("CARGO_PKG_VERSION").to_string(),
            stack: stack.to_string(),
            resources: BTreeMap::new(),
            outputs: BTreeMap::new(),
            checksum: String::new(),
        };
        s.seal();
        s
    }

    /// Applies one recorded operation. Operations are idempotent (upsert, remove, replace), so replaying a log
    /// twice gives the same state.
    pub fn apply(&mut self, op: &StateOp) {
        match op {
            StateOp::Upsert { address, resource } => {
                self.resources.insert(address.clone(), resource.clone());
            }
            StateOp::Remove { address } => {
                self.resources.remove(address);
            }
            StateOp::SetOutputs { outputs } => {
                self.outputs = outputs.clone();
            }
            StateOp::RenameStack { stack } => {
                self.stack.clone_from(stack);
            }
        }
    }

    /// The checksum of the current content.
    pub fn compute_checksum(&self) -> Result<String, serde_json::Error> {
        let value = serde_json::to_value(self)?;
        Ok(super::canonical::checksum_without(&value, "checksum"))
    }

    /// Stamps the tool version and checksum; done right before every write.
    pub fn seal(&mut self) {
        self.tool_version = env!("CARGO_PKG_VERSION").to_string();
        // Serializing plain maps and strings cannot fail; keep the old checksum if it somehow does, the next
        // read then refuses the file instead of trusting it.
        if let Ok(c) = self.compute_checksum() {
            self.checksum = c;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    pub(crate) fn server(id: &str) -> ResourceState {
        ResourceState {
            kind: "server".into(),
            id: Some(id.into()),
            attributes: BTreeMap::from([
                ("name".into(), json!("gpu")),
                ("ipv4".into(), json!("192.0.2.1")),
            ]),
            sensitive_attributes: BTreeMap::new(),
            dependencies: vec!["ssh_key.admin".into()],
            status: ResourceStatus::Ready,
        }
    }

    #[test]
    fn ops_apply_and_are_idempotent() {
        let mut s = StateFile::new("demo");
        let up = StateOp::Upsert {
            address: "server.gpu".into(),
            resource: server("1"),
        };
        s.apply(&up);
        s.apply(&up);
        assert_eq!(s.resources.len(), 1);
        s.apply(&StateOp::SetOutputs {
            outputs: BTreeMap::from([("ip".into(), OutputState::Value(json!("192.0.2.1")))]),
        });
        assert_eq!(s.outputs.len(), 1);
        let rm = StateOp::Remove {
            address: "server.gpu".into(),
        };
        s.apply(&rm);
        s.apply(&rm);
        assert!(s.resources.is_empty());
    }

    #[test]
    fn checksum_covers_content_and_serialization_is_byte_stable() {
        let mut s = StateFile::new("demo");
        s.apply(&StateOp::Upsert {
            address: "server.gpu".into(),
            resource: server("1"),
        });
        s.seal();
        let c1 = s.checksum.clone();
        assert_eq!(s.compute_checksum().unwrap(), c1);
        let bytes1 = serde_json::to_vec_pretty(&s).unwrap();
        let back: StateFile = serde_json::from_slice(&bytes1).unwrap();
        assert_eq!(serde_json::to_vec_pretty(&back).unwrap(), bytes1);
        s.resources.get_mut("server.gpu").unwrap().id = Some("2".into());
        assert_ne!(s.compute_checksum().unwrap(), c1);
    }

    #[test]
    fn only_the_canonical_uuid_form_is_read() {
        let s = StateFile::new("demo");
        let text = serde_json::to_string(&s).unwrap();
        let lineage = s.lineage.to_string();
        assert!(serde_json::from_str::<StateFile>(&text).is_ok());
        let upper = text.replace(&lineage, &lineage.to_uppercase());
        let err = serde_json::from_str::<StateFile>(&upper).unwrap_err();
        assert!(err.to_string().contains("lowercase"), "{err}");
    }

    #[test]
    fn ops_and_outputs_have_a_readable_json_form() {
        let op = StateOp::Remove {
            address: "server.gpu".into(),
        };
        assert_eq!(
            serde_json::to_value(&op).unwrap(),
            json!({"op": "remove", "address": "server.gpu"})
        );
        let out = OutputState::Value(json!(1));
        assert_eq!(serde_json::to_value(&out).unwrap(), json!({"value": 1}));
        assert!(!out.is_sensitive());
    }
}
