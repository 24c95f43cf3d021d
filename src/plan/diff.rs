//! Desired resources x prior state -> planned changes.

use super::model::*;
use crate::config::value;
use crate::graph::Graph;
use crate::resources::{self, ChangeMode, Desired};
use crate::state::{KeyedHasher, ResourceState, ResourceStatus, StateFile};
use serde_json::Value as Json;
use similar::TextDiff;
use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug, Clone, Default)]
pub struct PlanOptions {
    /// Limit the plan to these addresses and what they depend on (`--target`).
    pub targets: Vec<String>,
    /// Replace these even if nothing changed (`--replace`).
    pub replace: Vec<String>,
    /// Plan the destruction of everything in state (`destroy`).
    pub destroy: bool,
}

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum PlanError {
    #[error(transparent)]
    #[diagnostic(transparent)]
    Graph(#[from] crate::graph::GraphError),
    #[error("--{flag} {address}: no such resource")]
    #[diagnostic(
        code(sovstack::plan::unknown_address),
        help(
            "`sovstack state list` shows the addresses in state; `sovstack plan` lists those in the stack"
        )
    )]
    UnknownAddress { flag: &'static str, address: String },
}

/// Everything the planner compares.
pub struct PlanInput<'a> {
    pub stack: &'a str,
    pub desired: &'a [Desired],
    pub prior: Option<&'a StateFile>,
    pub hasher: Option<&'a KeyedHasher>,
    pub inputs_hash: String,
    pub drift: Vec<Drift>,
}

pub fn compute(input: &PlanInput<'_>, opts: &PlanOptions) -> Result<Plan, PlanError> {
    let empty = BTreeMap::new();
    let prior_resources = input.prior.map_or(&empty, |s| &s.resources);
    let desired: Vec<&Desired> = if opts.destroy {
        Vec::new()
    } else {
        input.desired.iter().collect()
    };
    let by_addr: BTreeMap<&str, &Desired> =
        desired.iter().map(|d| (d.address.as_str(), *d)).collect();

    for (flag, list) in [("target", &opts.targets), ("replace", &opts.replace)] {
        for a in list.iter() {
            if !by_addr.contains_key(a.as_str()) && !prior_resources.contains_key(a) {
                return Err(PlanError::UnknownAddress {
                    flag,
                    address: a.clone(),
                });
            }
        }
    }

    let mut changes: BTreeMap<String, ResourceChange> = BTreeMap::new();
    let mut warnings = Vec::new();
    for d in &desired {
        let prior = prior_resources.get(&d.address);
        let change = plan_one(d, prior, input.hasher, opts, &mut warnings);
        changes.insert(d.address.clone(), change);
    }
    cascade_node_replacements(&desired, &mut changes);
    for (addr, prior) in prior_resources {
        if !by_addr.contains_key(addr.as_str()) {
            changes.insert(addr.clone(), delete_change(addr, prior));
        }
    }

    if !opts.targets.is_empty() {
        restrict_to_targets(&mut changes, &desired, prior_resources, &opts.targets);
    }

    let order = apply_order(&changes, &desired, prior_resources)?;
    let mut ordered: Vec<ResourceChange> = Vec::with_capacity(order.len());
    for a in order {
        if let Some(c) = changes.remove(&a) {
            ordered.push(c);
        }
    }
    let mut summary = Summary::default();
    for c in &ordered {
        match c.action {
            Action::Create => summary.add += 1,
            Action::Update => summary.change += 1,
            Action::Replace => {
                summary.add += 1;
                summary.destroy += 1;
            }
            Action::Delete => summary.destroy += 1,
            Action::NoOp => {}
        }
    }
    let mut drift = input.drift.clone();
    drift.sort_by(|a, b| (a.kind, &a.address).cmp(&(b.kind, &b.address)));
    warnings.sort();
    warnings.dedup();
    Ok(Plan {
        format_version: PLAN_FORMAT_VERSION,
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
        stack: input.stack.to_string(),
        state: input.prior.map(|s| StateRef {
            lineage: s.lineage.to_string(),
            serial: s.serial,
        }),
        inputs_hash: input.inputs_hash.clone(),
        drift,
        changes: ordered,
        summary,
        warnings,
    })
}

fn plan_one(
    d: &Desired,
    prior: Option<&ResourceState>,
    hasher: Option<&KeyedHasher>,
    opts: &PlanOptions,
    warnings: &mut Vec<String>,
) -> ResourceChange {
    let kind = resources::kind(d.kind);
    let computed: &[&str] = kind.map_or(&[], |k| k.computed());
    let depends_on: Vec<String> = d.dependencies.iter().cloned().collect();
    for (k, v) in &d.sensitive {
        if v.is_none() {
            warnings.push(format!(
                "{}: the sensitive value of `{k}` is not set; apply needs it",
                d.address
            ));
        }
    }
    let Some(prior) = prior else {
        return ResourceChange {
            address: d.address.clone(),
            kind: d.kind.to_string(),
            action: Action::Create,
            reason: None,
            changes: creation_changes(d, computed),
            diff: None,
            depends_on,
            moved_from: None,
            import_id: None,
        };
    };
    let (action, reason) = match prior.status {
        ResourceStatus::Pending => (
            Some(Action::Create),
            Some(
                "an earlier create was interrupted; apply adopts the resource if it exists"
                    .to_string(),
            ),
        ),
        ResourceStatus::Tainted => (Some(Action::Replace), Some("tainted".to_string())),
        ResourceStatus::Ready if opts.replace.contains(&d.address) => (
            Some(Action::Replace),
            Some("replacement requested with --replace".to_string()),
        ),
        ResourceStatus::Ready => (None, None),
    };
    let mut changes = Vec::new();
    let mut forces = false;
    for (k, before, after) in merge_by_key(&prior.attributes, &d.attributes) {
        if computed.contains(&k.as_str()) {
            continue;
        }
        if before == after || (before.is_none() && after == Some(&Json::Null)) {
            continue;
        }
        let unknown = after.is_some_and(value::json_is_unknown);
        let f = kind.is_some_and(|kd| kd.change_mode(k) == ChangeMode::Replace);
        forces |= f;
        changes.push(AttrChange {
            name: k.clone(),
            before: before.cloned(),
            after: if unknown { None } else { after.cloned() },
            after_unknown: unknown,
            sensitive: false,
            forces_replacement: f,
        });
    }
    for (k, v) in &d.sensitive {
        let changed = match (prior.sensitive_attributes.get(k), v, hasher) {
            (None, _, _) => true,
            (Some(h), Some(plain), Some(hasher)) => !hasher.matches(plain, h),
            // Unset value or no key: cannot compare, so do not claim a change.
            _ => false,
        };
        if changed {
            let f = kind.is_some_and(|kd| kd.change_mode(k) == ChangeMode::Replace);
            forces |= f;
            changes.push(AttrChange {
                name: k.clone(),
                before: None,
                after: None,
                after_unknown: false,
                sensitive: true,
                forces_replacement: f,
            });
        }
    }
    let diff = d.diffable.as_ref().and_then(|new| {
        let old = prior.attributes.get("content").and_then(Json::as_str)?;
        (old != new).then(|| unified_diff(&d.address, old, new))
    });
    let action = action.unwrap_or(if forces {
        Action::Replace
    } else if changes.is_empty() {
        Action::NoOp
    } else {
        Action::Update
    });
    ResourceChange {
        address: d.address.clone(),
        kind: d.kind.to_string(),
        action,
        reason,
        changes,
        diff,
        depends_on,
        moved_from: None,
        import_id: None,
    }
}

/// Every key of two maps in order, with its value in each: a merge of the two sorted maps (a
/// set of keys per resource was a measurable share of a large plan).
fn merge_by_key<'m>(
    before: &'m BTreeMap<String, Json>,
    after: &'m BTreeMap<String, Json>,
) -> impl Iterator<Item = (&'m String, Option<&'m Json>, Option<&'m Json>)> {
    let mut b = before.iter().peekable();
    let mut a = after.iter().peekable();
    std::iter::from_fn(move || {
        let order = match (b.peek(), a.peek()) {
            (None, None) => return None,
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (Some((kb, _)), Some((ka, _))) => kb.cmp(ka),
        };
        Some(match order {
            std::cmp::Ordering::Less => b.next().map(|(k, v)| (k, Some(v), None))?,
            std::cmp::Ordering::Greater => a.next().map(|(k, v)| (k, None, Some(v)))?,
            std::cmp::Ordering::Equal => {
                let (k, vb) = b.next()?;
                let (_, va) = a.next()?;
                (k, Some(vb), Some(va))
            }
        })
    })
}

fn creation_changes(d: &Desired, computed: &[&str]) -> Vec<AttrChange> {
    let mut out: Vec<AttrChange> = d
        .attributes
        .iter()
        .map(|(k, v)| {
            let unknown = value::json_is_unknown(v);
            AttrChange {
                name: k.clone(),
                before: None,
                after: if unknown { None } else { Some(v.clone()) },
                after_unknown: unknown,
                sensitive: false,
                forces_replacement: false,
            }
        })
        .collect();
    out.extend(d.sensitive.keys().map(|k| AttrChange {
        name: k.clone(),
        before: None,
        after: None,
        after_unknown: false,
        sensitive: true,
        forces_replacement: false,
    }));
    out.extend(computed.iter().map(|k| AttrChange {
        name: (*k).to_string(),
        before: None,
        after: None,
        after_unknown: true,
        sensitive: false,
        forces_replacement: false,
    }));
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

fn delete_change(addr: &str, prior: &ResourceState) -> ResourceChange {
    ResourceChange {
        address: addr.to_string(),
        kind: prior.kind.clone(),
        action: Action::Delete,
        reason: None,
        changes: prior
            .attributes
            .iter()
            .filter(|(k, _)| k.as_str() != "content")
            .map(|(k, v)| AttrChange {
                name: k.clone(),
                before: Some(v.clone()),
                after: None,
                after_unknown: false,
                sensitive: false,
                forces_replacement: false,
            })
            .collect(),
        diff: None,
        depends_on: prior.dependencies.clone(),
        moved_from: None,
        import_id: None,
    }
}

/// A replaced server is a new, empty machine: everything sovstack put on it must be put on
/// the new one. Those node resources are planned as creates, with the reason.
fn cascade_node_replacements(desired: &[&Desired], changes: &mut BTreeMap<String, ResourceChange>) {
    let replaced_nodes: BTreeSet<String> = changes
        .values()
        .filter(|c| {
            matches!(c.action, Action::Replace | Action::Create)
                && resources::kind(&c.kind).is_some_and(|k| k.as_node().is_some())
        })
        .map(|c| c.address.clone())
        .collect();
    if replaced_nodes.is_empty() {
        return;
    }
    let on_node = |d: &Desired| -> Option<String> {
        d.attributes
            .get("node")
            .and_then(Json::as_str)
            .map(str::to_string)
    };
    let mut recreate: BTreeSet<String> = BTreeSet::new();
    for d in desired {
        if on_node(d).is_some_and(|n| replaced_nodes.contains(&n)) {
            recreate.insert(d.address.clone());
        }
    }
    // Checks of recreated projects run again too.
    let reruns =
        |d: &&&Desired| resources::kind(d.kind).is_some_and(|k| k.reruns_after_dependencies());
    for d in desired.iter().filter(reruns) {
        if d.dependencies.iter().any(|dep| recreate.contains(dep)) {
            recreate.insert(d.address.clone());
        }
    }
    for addr in recreate {
        if let Some(c) = changes.get_mut(&addr)
            && matches!(c.action, Action::NoOp | Action::Update)
        {
            c.action = Action::Create;
            c.reason = Some("its node is replaced".to_string());
        }
    }
    // Firewalls and volumes attached to a replaced server must be attached to the new one:
    // the attachment attribute is re-applied in place against what the API reports.
    for d in desired {
        let Some(attr) = resources::kind(d.kind).and_then(|k| k.attachment()) else {
            continue;
        };
        if !d
            .dependencies
            .iter()
            .any(|dep| replaced_nodes.contains(dep))
        {
            continue;
        }
        let Some(c) = changes.get_mut(&d.address) else {
            continue;
        };
        if !matches!(c.action, Action::NoOp | Action::Update) {
            continue;
        }
        c.action = Action::Update;
        c.reason = Some("a server it is attached to is replaced".to_string());
        // The names stay; what they resolve to (the server's id) is the new server's, known
        // only once it exists. That is the change: not the names, equal on both sides.
        if !c.changes.iter().any(|a| a.name == attr) {
            c.changes.push(AttrChange {
                name: attr.to_string(),
                before: d.attributes.get(attr).cloned(),
                after: None,
                after_unknown: true,
                sensitive: false,
                forces_replacement: false,
            });
        }
    }
}

/// Keeps the targets, what they depend on (so they can be applied), and deletes of targets.
fn restrict_to_targets(
    changes: &mut BTreeMap<String, ResourceChange>,
    desired: &[&Desired],
    prior: &BTreeMap<String, ResourceState>,
    targets: &[String],
) {
    let deps: BTreeMap<&str, &BTreeSet<String>> = desired
        .iter()
        .map(|d| (d.address.as_str(), &d.dependencies))
        .collect();
    let mut keep: BTreeSet<String> = BTreeSet::new();
    let mut stack: Vec<String> = targets.to_vec();
    while let Some(a) = stack.pop() {
        if keep.insert(a.clone()) {
            if let Some(ds) = deps.get(a.as_str()) {
                stack.extend(ds.iter().cloned());
            } else if let Some(p) = prior.get(&a) {
                stack.extend(p.dependencies.iter().cloned());
            }
        }
    }
    changes.retain(|a, _| keep.contains(a));
}

/// Creates and updates in dependency order, then deletes in reverse dependency order.
fn apply_order(
    changes: &BTreeMap<String, ResourceChange>,
    desired: &[&Desired],
    prior: &BTreeMap<String, ResourceState>,
) -> Result<Vec<String>, PlanError> {
    let live: Vec<(&str, &BTreeSet<String>)> = desired
        .iter()
        .filter(|d| changes.contains_key(&d.address))
        .map(|d| (d.address.as_str(), &d.dependencies))
        .collect();
    let mut order = Graph::build(live).order()?;
    let deletes: Vec<(String, BTreeSet<String>)> = changes
        .values()
        .filter(|c| c.action == Action::Delete)
        .map(|c| {
            let deps = prior
                .get(&c.address)
                .map(|p| p.dependencies.iter().cloned().collect())
                .unwrap_or_default();
            (c.address.clone(), deps)
        })
        .collect();
    let del_graph = Graph::build(deletes.iter().map(|(a, d)| (a.as_str(), d)));
    let mut del_order = del_graph.order()?;
    del_order.reverse();
    order.extend(del_order);
    Ok(order)
}

/// A unified diff with three lines of context, headed by the resource address.
pub fn unified_diff(address: &str, old: &str, new: &str) -> String {
    TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .header(
            &format!("{address} (applied)"),
            &format!("{address} (planned)"),
        )
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::ResourceStatus;

    fn desired(addr: &str, attrs: &[(&str, Json)]) -> Desired {
        let (kind, name) = addr.split_once('.').unwrap();
        let kind: &'static str = resources::KINDS
            .iter()
            .find(|k| k.name() == kind)
            .unwrap()
            .name();
        let mut d = Desired::new(kind, name);
        for (k, v) in attrs {
            d = d.attr(k, v.clone());
        }
        d
    }

    fn recorded(d: &Desired) -> ResourceState {
        ResourceState {
            kind: d.kind.to_string(),
            id: Some("1".into()),
            attributes: d.attributes.clone(),
            sensitive_attributes: BTreeMap::new(),
            dependencies: d.dependencies.iter().cloned().collect(),
            status: ResourceStatus::Ready,
        }
    }

    fn plan(desired: &[Desired], prior: Option<&StateFile>, opts: &PlanOptions) -> Plan {
        compute(
            &PlanInput {
                stack: "t",
                desired,
                prior,
                hasher: None,
                inputs_hash: "h".into(),
                drift: Vec::new(),
            },
            opts,
        )
        .unwrap()
    }

    #[test]
    fn merging_by_key_visits_every_key_once_in_order() {
        let m = |pairs: &[(&str, i32)]| -> BTreeMap<String, Json> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), Json::from(*v)))
                .collect()
        };
        let before = m(&[("a", 1), ("c", 3), ("d", 4)]);
        let after = m(&[("b", 2), ("c", 30), ("e", 5)]);
        let got: Vec<(String, Option<Json>, Option<Json>)> = merge_by_key(&before, &after)
            .map(|(k, b, a)| (k.clone(), b.cloned(), a.cloned()))
            .collect();
        let j = |v: i32| Some(Json::from(v));
        assert_eq!(
            got,
            [
                ("a".to_string(), j(1), None),
                ("b".to_string(), None, j(2)),
                ("c".to_string(), j(3), j(30)),
                ("d".to_string(), j(4), None),
                ("e".to_string(), None, j(5)),
            ]
        );
        assert_eq!(merge_by_key(&m(&[]), &m(&[])).count(), 0);
    }

    #[test]
    fn create_update_replace_delete_noop() {
        let key = desired("ssh_key.a", &[("public_key", "k1".into())]);
        let server = desired(
            "server.s",
            &[
                ("image", "ubuntu-24.04".into()),
                ("server_type", "cx22".into()),
            ],
        )
        .depends_on("ssh_key.a");
        let fw = desired("firewall.f", &[("rules", Json::Array(vec![]))]);
        let mut state = StateFile::new("t");
        state.resources.insert(key.address.clone(), recorded(&key));
        state
            .resources
            .insert(server.address.clone(), recorded(&server));
        state.resources.insert(fw.address.clone(), recorded(&fw));
        state.resources.insert(
            "volume.gone".into(),
            ResourceState {
                kind: "volume".into(),
                id: Some("9".into()),
                attributes: BTreeMap::new(),
                sensitive_attributes: BTreeMap::new(),
                dependencies: vec![],
                status: ResourceStatus::Ready,
            },
        );
        let server2 = desired(
            "server.s",
            &[
                ("image", "debian-12".into()),
                ("server_type", "cx32".into()),
            ],
        )
        .depends_on("ssh_key.a");
        let fw2 = desired(
            "firewall.f",
            &[("rules", serde_json::json!([{"port": "22"}]))],
        );
        let new = desired("volume.v", &[("size", 10.into())]);
        let p = plan(
            &[key.clone(), server2, fw2, new],
            Some(&state),
            &PlanOptions::default(),
        );
        let actions: Vec<(&str, Action)> = p
            .changes
            .iter()
            .map(|c| (c.address.as_str(), c.action))
            .collect();
        assert_eq!(
            actions,
            vec![
                ("firewall.f", Action::Update),
                // The key comes first: the server depends on it.
                ("ssh_key.a", Action::NoOp),
                ("server.s", Action::Replace),
                ("volume.v", Action::Create),
                ("volume.gone", Action::Delete),
            ]
        );
        let s = p.change("server.s").unwrap();
        let image = s.changes.iter().find(|c| c.name == "image").unwrap();
        assert!(image.forces_replacement);
        let st = s.changes.iter().find(|c| c.name == "server_type").unwrap();
        assert!(!st.forces_replacement, "server type changes in place");
        assert_eq!(
            p.summary,
            Summary {
                add: 2,
                change: 1,
                destroy: 2,
                ..Summary::default()
            }
        );
    }

    #[test]
    fn planning_twice_is_byte_identical() {
        let a = desired("server.s", &[("image", "x".into())]);
        let b = desired("firewall.f", &[("rules", Json::Array(vec![]))]).depends_on("server.s");
        let p1 = serde_json::to_string(&plan(
            &[a.clone(), b.clone()],
            None,
            &PlanOptions::default(),
        ))
        .unwrap();
        let p2 = serde_json::to_string(&plan(&[b, a], None, &PlanOptions::default())).unwrap();
        assert_eq!(p1, p2);
    }

    #[test]
    fn unknowns_show_as_known_after_apply_and_targets_keep_dependencies() {
        let a = desired("server.s", &[("image", "x".into())]);
        let f = desired(
            "file.c",
            &[(
                "content",
                value::after_apply("server.s.ipv4_address").into(),
            )],
        )
        .depends_on("server.s");
        let other = desired("volume.v", &[("size", 10.into())]);
        let p = plan(
            &[a, f, other],
            None,
            &PlanOptions {
                targets: vec!["file.c".into()],
                ..Default::default()
            },
        );
        let addrs: Vec<&str> = p.changes.iter().map(|c| c.address.as_str()).collect();
        assert_eq!(addrs, vec!["server.s", "file.c"]);
        let content = p
            .change("file.c")
            .unwrap()
            .changes
            .iter()
            .find(|c| c.name == "content")
            .unwrap();
        assert!(content.after_unknown && content.after.is_none());
    }
}
