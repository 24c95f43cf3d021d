//! From what refresh found to findings: which area each belongs to, one line on what happened,
//! what to do about it, and the policy checks that only the refreshed world can answer.

use super::model::*;
use crate::config::Stack;
use crate::plan::{Action, Drift, DriftKind, Plan};
use crate::resources::Address;
use crate::state::StateFile;

pub const UNDO_OR_ACCEPT: &str = "`sovstack apply` undoes it; `sovstack apply --refresh-only` accepts it into the state (then change stack.hcl to match, or the next apply undoes it)";

/// The kind part of an address (`file` in `file.llm["compose.yaml"]`).
fn kind_of(address: &str) -> &str {
    let (_, in_module) = crate::config::instance::strip_module_path(address);
    in_module.split('.').next().unwrap_or(in_module)
}

/// What lives in Hetzner Cloud is cloud; the rest lives on nodes.
fn area_of(address: &str) -> Area {
    match Address::parse(address) {
        Ok(a) if !crate::resources::is_cloud(a.kind.name()) => Area::Node,
        _ => Area::Cloud,
    }
}

/// Turns refresh's drift entries into findings, adds the policy findings about firewall rules
/// open to the world, and sorts: policy first, then cloud, then node.
pub fn findings(stack: &Stack, refreshed: &StateFile, drift: &[Drift]) -> Vec<Finding> {
    let mut out: Vec<Finding> = drift.iter().map(finding).collect();
    out.extend(open_to_the_world(stack, refreshed));
    out.sort_by(|a, b| (a.area, a.kind, &a.address).cmp(&(b.area, b.kind, &b.address)));
    out
}

fn finding(d: &Drift) -> Finding {
    let area = if d.kind == DriftKind::Policy {
        Area::Policy
    } else {
        area_of(&d.address)
    };
    // A kind tells its own changes and deletions; the rest read the same for every kind.
    let story = matches!(d.kind, DriftKind::Changed | DriftKind::Deleted)
        .then(|| crate::resources::kind(kind_of(&d.address))?.drift_story(d))
        .flatten();
    let (summary, diff, remedy) = match story {
        Some(s) => (s.summary, s.diff, s.remedy),
        None => general_words(d),
    };
    Finding {
        area,
        kind: d.kind,
        address: d.address.clone(),
        summary,
        changes: d.changes.clone(),
        diff,
        remedy,
    }
}

/// What a finding says when its kind has no words of its own for it.
fn general_words(d: &Drift) -> (String, Option<String>, String) {
    let names: Vec<&str> = d.changes.iter().map(|c| c.name.as_str()).collect();
    match (d.kind, kind_of(&d.address)) {
        (DriftKind::Policy, _) => (
            d.message.clone().unwrap_or_else(|| "violates the stack's policy".into()),
            None,
            "move it back inside the policy now: recreate it in an allowed location (`sovstack apply` recreates what is deleted), and find out who moved it".to_string(),
        ),
        (DriftKind::Changed, _) => (
            format!("changed outside sovstack: {}", names.join(", ")),
            d.message.clone(),
            UNDO_OR_ACCEPT.to_string(),
        ),
        (DriftKind::Deleted, _) => (
            "deleted outside sovstack".to_string(),
            None,
            "`sovstack apply` creates it again; `sovstack apply --refresh-only` removes it from the state".to_string(),
        ),
        (DriftKind::Orphan, kind) => (
            d.message
                .clone()
                .map(|m| m.split(';').next().unwrap_or(&m).to_string())
                .unwrap_or_else(|| "carries this stack's labels but is not in state".into()),
            None,
            format!(
                "delete it (`hcloud {kind} delete <id>`), or manage it: add a `{kind}` block for it to stack.hcl, then `sovstack import {kind}.<name> <id>` (or an `import` block)"
            ),
        ),
    }
}

/// Policy findings each kind makes about what refresh found (firewall rules open to the
/// world without `public = true`).
fn open_to_the_world(stack: &Stack, refreshed: &StateFile) -> Vec<Finding> {
    let mut out = Vec::new();
    for (address, r) in &refreshed.resources {
        let Some(kind) = crate::resources::kind(&r.kind) else {
            continue;
        };
        out.extend(
            kind.policy_findings(stack, address, r)
                .into_iter()
                .map(|p| Finding {
                    area: Area::Policy,
                    kind: DriftKind::Policy,
                    address: address.clone(),
                    summary: p.summary,
                    changes: Vec::new(),
                    diff: None,
                    remedy: p.remedy,
                }),
        );
    }
    out
}

/// Configuration not applied: every change a plan against the recorded state (not the
/// refreshed one, so drift is not counted twice) would make.
pub fn unapplied(plan: &Plan) -> Vec<Unapplied> {
    plan.changes
        .iter()
        .filter(|c| c.action != Action::NoOp)
        .map(|c| Unapplied {
            address: c.address.clone(),
            action: c.action,
            attributes: if c.action == Action::Update || c.action == Action::Replace {
                c.changes.iter().map(|a| a.name.clone()).collect()
            } else {
                Vec::new()
            },
        })
        .collect()
}
