//! Reading what really exists: one list call per cloud resource type, one probe per node.
//! The result is the state as the world has it (what plan diffs against, so apply undoes
//! drift) and the drift itself (what changed outside sovstack).

use super::EngineError;
use crate::config::Stack;
use crate::plan::{AttrChange, Drift, DriftKind, unified_diff};
use crate::progress::EventSink;
use crate::resources::{ApplyContext, ApplyOptions, Checkpoint, Observed, Refreshed};
use crate::state::{KeyedHasher, ResourceState, StateFile};
use serde_json::Value as Json;
use std::sync::{Arc, RwLock};

pub struct RefreshResult {
    /// The recorded state with observed attributes; resources gone from the world removed.
    pub state: StateFile,
    pub drift: Vec<Drift>,
    /// Errors for parts that could not be read (a host unreachable): reported, the rest checked.
    pub errors: Vec<RefreshError>,
}

/// A part of the world refresh could not read: one node (`address`), or a whole provider.
#[derive(Debug, Clone, PartialEq)]
pub struct RefreshError {
    pub address: Option<String>,
    pub message: String,
    pub help: Option<String>,
}

impl RefreshError {
    fn from_apply(address: Option<String>, e: &crate::resources::ApplyError) -> Self {
        Self {
            address,
            message: e.to_string(),
            help: miette::Diagnostic::help(e).map(|h| h.to_string()),
        }
    }
}

impl std::fmt::Display for RefreshError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.address {
            Some(a) => write!(f, "error: {a} could not be read: {}", self.message)?,
            None => write!(f, "error: {}", self.message)?,
        }
        if let Some(h) = &self.help {
            write!(f, "\n  help: {h}")?;
        }
        Ok(())
    }
}

/// Reads what exists of everything `state` records: the cloud kinds with one list call per
/// kind, the node kinds with one probe per node.
pub async fn refresh(
    stack: &Stack,
    state: &StateFile,
    hasher: &KeyedHasher,
) -> Result<RefreshResult, EngineError> {
    let needs_cloud = state
        .resources
        .values()
        .any(|r| crate::resources::is_cloud(&r.kind));
    let providers = super::reading_providers(needs_cloud)?;
    // Kinds hash secrets with the state's own key, so recorded hashes compare.
    let cx = ApplyContext {
        stack: Arc::new(stack.clone()),
        resources: Arc::new(RwLock::new(state.resources.clone())),
        hasher: Arc::new(hasher.clone()),
        events: EventSink::discard(),
        checkpoint: Checkpoint::none(),
        options: ApplyOptions::default(),
    };
    let mut errors = Vec::new();
    let mut found = Refreshed::default();
    for part in providers.refresh_each(&cx, &state.resources).await {
        match part {
            Ok(mut r) => {
                errors.extend(r.unreadable.drain(..).map(|u| RefreshError {
                    address: Some(u.address),
                    message: u.message,
                    help: u.help,
                }));
                found.merge(r);
            }
            Err(e) => errors.push(RefreshError::from_apply(None, &e)),
        }
    }
    Ok(fold(state, found, errors))
}

/// Applies observations to the recorded state and says what differs.
pub fn fold(state: &StateFile, found: Refreshed, errors: Vec<RefreshError>) -> RefreshResult {
    let mut refreshed = state.clone();
    let mut drift = Vec::new();
    for v in found.violations {
        drift.push(Drift {
            address: v
                .address
                .clone()
                .unwrap_or_else(|| format!("{}.id:{}", v.kind, v.id)),
            kind: DriftKind::Policy,
            changes: Vec::new(),
            message: Some(v.to_string()),
        });
    }
    for (addr, obs) in found.observed {
        let Some(recorded) = state.resources.get(&addr) else {
            continue;
        };
        match obs {
            Observed::Missing => {
                refreshed.resources.remove(&addr);
                drift.push(Drift {
                    address: addr,
                    kind: DriftKind::Deleted,
                    changes: Vec::new(),
                    message: None,
                });
            }
            Observed::Present(actual) => {
                let (changes, diff) = attribute_drift(&addr, recorded, &actual);
                if !changes.is_empty() {
                    drift.push(Drift {
                        address: addr.clone(),
                        kind: DriftKind::Changed,
                        changes,
                        message: diff,
                    });
                }
                if let Some(r) = refreshed.resources.get_mut(&addr) {
                    r.attributes = actual.attributes;
                    if !actual.sensitive_attributes.is_empty() {
                        r.sensitive_attributes = actual.sensitive_attributes;
                    }
                }
            }
        }
    }
    for o in found.orphans {
        drift.push(Drift {
            address: o.address_label.clone().unwrap_or_else(|| crate::config::instance::block_address(&o.kind, &o.name)),
            kind: DriftKind::Orphan,
            changes: Vec::new(),
            message: Some(format!(
                "{} `{}` (id {}) carries this stack's label but is not in state; delete it, or bring it under management with `sovstack import <address> {}`",
                o.kind, o.name, o.id, o.id
            )),
        });
    }
    drift.sort_by(|a, b| (a.kind, &a.address).cmp(&(b.kind, &b.address)));
    RefreshResult {
        state: refreshed,
        drift,
        errors,
    }
}

fn attribute_drift(
    addr: &str,
    recorded: &ResourceState,
    actual: &ResourceState,
) -> (Vec<AttrChange>, Option<String>) {
    let mut changes = Vec::new();
    let mut diff = None;
    let keys: std::collections::BTreeSet<&String> = recorded
        .attributes
        .keys()
        .chain(actual.attributes.keys())
        .collect();
    for k in keys {
        let (b, a) = (recorded.attributes.get(k), actual.attributes.get(k));
        if b == a || a.is_none() {
            continue;
        }
        if k == "content" {
            if let (Some(Json::String(old)), Some(Json::String(new))) = (b, a) {
                diff = Some(unified_diff(addr, old, new));
            }
            continue;
        }
        changes.push(AttrChange {
            name: k.clone(),
            before: b.cloned(),
            after: a.cloned(),
            after_unknown: false,
            sensitive: false,
            forces_replacement: false,
        });
    }
    for (k, h) in &actual.sensitive_attributes {
        if recorded.sensitive_attributes.get(k) != Some(h) {
            changes.push(AttrChange {
                name: k.clone(),
                before: None,
                after: None,
                after_unknown: false,
                sensitive: true,
                forces_replacement: false,
            });
        }
    }
    (changes, diff)
}

/// For `plan` and `apply`: refresh, and refuse to go on when any part could not be read
/// (a plan made from a guess would be wrong).
pub async fn complete(
    stack: &Stack,
    state: &StateFile,
    hasher: Option<&KeyedHasher>,
) -> Result<RefreshResult, EngineError> {
    let hasher = hasher.ok_or(EngineError::MissingStateKey)?;
    let r = refresh(stack, state, hasher).await?;
    if !r.errors.is_empty() {
        return Err(EngineError::Unreadable(
            r.errors
                .into_iter()
                .map(|e| crate::resources::Unreadable {
                    address: e.address.unwrap_or_else(|| "the provider".into()),
                    message: e.message,
                    help: e.help,
                })
                .collect(),
        ));
    }
    Ok(r)
}
