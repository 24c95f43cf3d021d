//! The drift report: what changed outside sovstack, what the configuration has that was never
//! applied, and what could not be checked. Serialised as JSON (`schemas/drift.schema.json`).

use crate::plan::{Action, AttrChange, DriftKind, StateRef};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub const DRIFT_FORMAT_VERSION: u32 = 1;

/// The overall outcome, as the exit code says it: 0 clean, 2 drift, 1 error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Everything was checked and nothing changed outside sovstack.
    Clean,
    /// Something changed outside sovstack.
    Drift,
    /// Something could not be checked (findings about the rest are still reported).
    Error,
}

/// Where a finding is.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Area {
    /// Breaks the stack's policy now, whatever else is true (reported first).
    Policy,
    /// A Hetzner Cloud resource.
    Cloud,
    /// Something on a server or host: files, containers, Docker.
    Node,
}

/// One thing that changed outside sovstack.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Finding {
    pub area: Area,
    pub kind: DriftKind,
    /// The resource address (`firewall.edge`, `file.llm["compose.yaml"]`), or the address
    /// label an orphan carries.
    pub address: String,
    /// One line saying what happened.
    pub summary: String,
    /// Attributes whose recorded and actual values differ (secrets as `sensitive`, no value).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<AttrChange>,
    /// Unified diff from the recorded to the remote content of a managed file (never for a
    /// secret file: those are compared by keyed hash only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diff: Option<String>,
    /// What to do about it.
    pub remedy: String,
}

/// A resource whose configuration in the stack differs from what was last applied: pending
/// work, not drift.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Unapplied {
    pub address: String,
    pub action: Action,
    /// Names of the attributes that would change.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attributes: Vec<String>,
}

/// A part that could not be checked (a host unreachable, the API refusing the token, the
/// export of the report failing).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ReportError {
    /// The node or resource it concerns; absent when it concerns a whole provider.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DriftSummary {
    pub policy: usize,
    pub cloud: usize,
    pub node: usize,
    pub unapplied: usize,
    pub errors: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct DriftReport {
    pub format_version: u32,
    pub tool_version: String,
    pub stack: String,
    /// The recorded state compared against.
    pub state: StateRef,
    /// When the check ran (RFC 3339, UTC).
    pub checked_at: String,
    /// How many recorded resources were compared.
    pub checked: usize,
    pub status: Status,
    /// Policy findings first, then cloud, then node; by address within each.
    pub findings: Vec<Finding>,
    /// Configuration not applied: `stack.hcl` differs from the last apply.
    #[serde(default)]
    pub unapplied: Vec<Unapplied>,
    #[serde(default)]
    pub errors: Vec<ReportError>,
    /// What this run could not compare, and why (e.g. configuration not applied, without the
    /// secret values the rendering needs).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    pub summary: DriftSummary,
}

impl DriftReport {
    pub fn has_drift(&self) -> bool {
        !self.findings.is_empty()
    }

    /// Recomputes `status` and `summary` from the lists (after an error is added).
    pub fn settle(&mut self) {
        let count = |a: Area| self.findings.iter().filter(|f| f.area == a).count();
        self.summary = DriftSummary {
            policy: count(Area::Policy),
            cloud: count(Area::Cloud),
            node: count(Area::Node),
            unapplied: self.unapplied.len(),
            errors: self.errors.len(),
        };
        self.status = if !self.errors.is_empty() {
            Status::Error
        } else if self.has_drift() {
            Status::Drift
        } else {
            Status::Clean
        };
    }

    /// The process exit code for cron: 0 clean, 2 drift, 1 something could not be checked.
    pub fn exit_code(&self) -> u8 {
        match self.status {
            Status::Clean => 0,
            Status::Drift => 2,
            Status::Error => 1,
        }
    }
}
