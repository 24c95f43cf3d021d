//! The plan: what apply would do, per resource address, in the order it would do it.
//! Serialised as JSON (`schemas/plan.schema.json`) and rendered as text (`text.rs`).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

pub const PLAN_FORMAT_VERSION: u32 = 1;

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Create,
    Update,
    /// Destroy, then create again.
    Replace,
    Delete,
    NoOp,
}

impl Action {
    pub fn symbol(self) -> &'static str {
        match self {
            Action::Create => "+",
            Action::Update => "~",
            Action::Replace => "-/+",
            Action::Delete => "-",
            Action::NoOp => " ",
        }
    }
}

/// One attribute that changes. `before`/`after` are absent for sensitive values and for
/// values known only after apply (`after_unknown`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct AttrChange {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub before: Option<Json>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<Json>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub after_unknown: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub sensitive: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub forces_replacement: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ResourceChange {
    pub address: String,
    pub kind: String,
    pub action: Action,
    /// Why, when it is not obvious from the attributes (tainted, interrupted create, --replace).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Attribute changes (for create: every attribute; for delete: what is deleted).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<AttrChange>,
    /// Unified diff of a rendered file's content.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diff: Option<String>,
    /// Addresses this change waits for.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<String>,
    /// The address state recorded this resource under until now (a `moved` block): apply
    /// records the new address first, then makes the changes listed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub moved_from: Option<String>,
    /// The id of an existing resource an `import` block brings under management: apply
    /// records it first, then makes the changes listed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub import_id: Option<String>,
}

/// Something that changed outside sovstack, found by refresh.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Drift {
    pub address: String,
    pub kind: DriftKind,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<AttrChange>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum DriftKind {
    /// Breaks the stack's policy now (shown first).
    Policy,
    Changed,
    Deleted,
    /// Carries this stack's label but is not in state.
    Orphan,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Summary {
    pub add: usize,
    pub change: usize,
    pub destroy: usize,
    /// Resources recorded under a new address (`moved`).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub moved: usize,
    /// Existing resources brought under management (`import`).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub imported: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// The state a plan was made against; applying it against another is refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct StateRef {
    pub lineage: String,
    pub serial: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Plan {
    pub format_version: u32,
    pub tool_version: String,
    pub stack: String,
    /// `None` when there was no state yet.
    pub state: Option<StateRef>,
    /// sha256 over every input: the stack file, variable values (secrets keyed-hashed),
    /// rendered artifacts and the tool version.
    pub inputs_hash: String,
    /// Changed outside sovstack (from refresh), policy findings first.
    #[serde(default)]
    pub drift: Vec<Drift>,
    /// Every resource, in apply order; no-ops included so the plan is complete.
    pub changes: Vec<ResourceChange>,
    pub summary: Summary,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

impl Plan {
    /// Whether apply would do anything: change a resource, or record a move or an import.
    pub fn has_changes(&self) -> bool {
        self.changes
            .iter()
            .any(|c| c.action != Action::NoOp || c.moved_from.is_some() || c.import_id.is_some())
    }

    /// Marks the resources that arrive at their address by a move (new address -> old) or an
    /// import (address -> id), and counts them.
    pub fn mark_arrivals(
        &mut self,
        moved_from: &std::collections::BTreeMap<String, String>,
        imported: &std::collections::BTreeMap<String, String>,
    ) {
        for c in &mut self.changes {
            c.moved_from = moved_from.get(&c.address).cloned();
            c.import_id = imported.get(&c.address).cloned();
        }
        self.summary.moved = self
            .changes
            .iter()
            .filter(|c| c.moved_from.is_some())
            .count();
        self.summary.imported = self
            .changes
            .iter()
            .filter(|c| c.import_id.is_some())
            .count();
    }

    pub fn change(&self, address: &str) -> Option<&ResourceChange> {
        self.changes.iter().find(|c| c.address == address)
    }
}
