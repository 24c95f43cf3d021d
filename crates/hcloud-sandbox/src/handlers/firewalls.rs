//! `/firewalls`: list, create, get, update, delete, and `set_rules`, `apply_to_resources`, `remove_from_resources`.
//!
//! A target added by create or `apply_to_resources` shows up in `applied_to` at once and as `pending` in the
//! server's `public_net.firewalls` until its `apply_firewall` action succeeds; a failed action takes it away again.
//! Removal takes effect when `remove_firewall` succeeds.

use std::collections::BTreeMap;

use axum::Extension;
use axum::body::Bytes;
use axum::extract::State;
use axum::response::Response;
use serde_json::{Value, json};

use super::collection::{Collection, Edit, check_name, find, name_taken, unlocked};
use super::firewall_body::{parse_rules, parse_targets};
use super::start_action::{ActionFn, ActionRequest, ActionTarget, Timing, with_actions};
use super::{ListSpec, created};
use crate::app::{App, Ctx};
use crate::body::Body;
use crate::error::ApiError;
use crate::labels::Selector;
use crate::model::{AppliedTarget, Change, Firewall, Labels, Target};
use crate::store::{NewAction, Store};

pub struct Firewalls;

impl Collection for Firewalls {
    type Record = Firewall;
    const KIND: &'static str = "firewall";
    const NOUN: &'static str = "firewall";
    const LIST: ListSpec<'static> = ListSpec {
        key: "firewalls",
        sort_fields: &["id", "name", "created"],
        label_selector: true,
        exact: &["name"],
        any_of: &[],
    };
    const NAME_TAKEN: &'static str = "firewall name is already used";

    fn records(store: &Store) -> &BTreeMap<u64, Firewall> {
        &store.firewalls
    }

    fn records_mut(store: &mut Store) -> &mut BTreeMap<u64, Firewall> {
        &mut store.firewalls
    }

    fn to_json(store: &Store, firewall: &Firewall) -> Value {
        store.firewall_json(firewall)
    }

    fn name(firewall: &Firewall) -> &str {
        &firewall.name
    }

    fn editable(firewall: &mut Firewall) -> (&mut String, &mut Labels) {
        (&mut firewall.name, &mut firewall.labels)
    }

    fn name_problem(name: &str) -> Option<&'static str> {
        (name.is_empty() || name.chars().count() > 128).then_some("must be 1 to 128 characters")
    }

    fn read_edit(b: &mut Body) -> Edit {
        b.deny_unknown(&["name", "labels"]);
        Edit::read_name_first(b, Self::name_problem)
    }

    fn check_deletable(_: u64, firewall: &Firewall) -> Result<(), ApiError> {
        if firewall.applied_to.is_empty() {
            Ok(())
        } else {
            Err(ApiError::unprocessable(
                "resource_in_use",
                "firewall is still applied to resources; remove it from them first",
            ))
        }
    }
}

impl ActionTarget for Firewalls {
    const ACTIONS: &'static [(&'static str, ActionFn)] = &[
        ("set_rules", set_rules),
        ("apply_to_resources", apply_to_resources),
        ("remove_from_resources", remove_from_resources),
    ];
    const ACTION_NOUN: &'static str = "firewall action";
}

fn target_resources(firewall: u64, target: &Target) -> Vec<(u64, &'static str)> {
    match target {
        Target::Server(id) => vec![(firewall, "firewall"), (*id, "server")],
        Target::LabelSelector(_) => vec![(firewall, "firewall")],
    }
}

/// Adds targets as pending and starts one `apply_firewall` action per target.
fn apply_targets(
    s: &mut Store,
    t: &Timing<'_>,
    firewall: u64,
    targets: Vec<Target>,
) -> Result<Vec<u64>, ApiError> {
    let f = find::<Firewalls>(s, firewall)?;
    for t in &targets {
        if let Target::Server(id) = t
            && !s.servers.contains_key(id)
        {
            return Err(ApiError::new(
                axum::http::StatusCode::NOT_FOUND,
                "firewall_resource_not_found",
                format!("server {id} not found"),
            ));
        }
        if f.applied_to.iter().any(|a| &a.target == t) {
            return Err(ApiError::unprocessable(
                "firewall_already_applied",
                "the firewall is already applied to this resource",
            ));
        }
    }
    let mut actions = Vec::new();
    for target in targets {
        if let Some(f) = s.firewalls.get_mut(&firewall) {
            f.applied_to.push(AppliedTarget {
                target: target.clone(),
                pending: true,
            });
        }
        let apply = NewAction {
            command: "apply_firewall",
            resources: target_resources(firewall, &target),
            on_success: vec![Change::FirewallApplied {
                firewall,
                target: target.clone(),
            }],
            on_error: vec![Change::FirewallRemoved { firewall, target }],
        };
        actions.push(t.start(s, apply));
    }
    Ok(actions)
}

pub async fn create(
    State(app): State<App>,
    Extension(ctx): Extension<Ctx>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let mut b = Body::parse(&body)?;
    b.deny_unknown(&["name", "labels", "rules", "apply_to"]);
    let name = b.required_str("name");
    check_name(&mut b, name.as_deref(), Firewalls::name_problem);
    let labels = b.labels("labels").unwrap_or_default();
    let rules_raw = b.array("rules").unwrap_or_default();
    let rules = parse_rules(&mut b, "rules", &rules_raw);
    let targets_raw = b.array("apply_to").unwrap_or_default();
    let targets = parse_targets(&mut b, "apply_to", &targets_raw);
    b.finish()?;
    let Some(name) = name else {
        return Err(ApiError::invalid_field("name", "is required"));
    };
    with_actions(&app, &ctx, |s, t| {
        if name_taken::<Firewalls>(s, &name, None) {
            return Err(ApiError::uniqueness("name", Firewalls::NAME_TAKEN));
        }
        // Unlike `apply_to_resources` (404), create reports a missing server as 422.
        for target in &targets {
            if let Target::Server(id) = target
                && !s.servers.contains_key(id)
            {
                return Err(ApiError::unprocessable(
                    "firewall_resource_not_found",
                    format!("server {id} not found"),
                ));
            }
        }
        s.counters.firewall += 1;
        let id = s.counters.firewall;
        s.firewalls.insert(
            id,
            Firewall {
                id,
                name,
                labels,
                created: t.now,
                rules,
                applied_to: Vec::new(),
            },
        );
        let actions = apply_targets(s, t, id, targets)?;
        Ok(created(json!({
            "firewall": s.firewall_json(find::<Firewalls>(s, id)?),
            "actions": t.json_all(s, &actions),
        })))
    })
}

fn set_rules(req: &ActionRequest<'_>, mut b: Body) -> Result<Response, ApiError> {
    b.deny_unknown(&["rules"]);
    let raw = b.required_array("rules");
    let rules = parse_rules(&mut b, "rules", &raw);
    b.finish()?;
    let id = req.id;
    req.with_actions(|s, t| {
        unlocked::<Firewalls>(s, id)?;
        let f = s
            .firewalls
            .get_mut(&id)
            .ok_or_else(|| ApiError::not_found("firewall"))?;
        f.rules = rules;
        let targets: Vec<Target> = f.applied_to.iter().map(|a| a.target.clone()).collect();
        let mut actions = vec![t.start(
            s,
            NewAction {
                command: "set_firewall_rules",
                resources: vec![(id, "firewall")],
                on_success: vec![],
                on_error: vec![],
            },
        )];
        // Every server the firewall reaches gets the new rules, once, however many targets reach it.
        let mut servers: Vec<u64> = Vec::new();
        for target in &targets {
            match target {
                Target::Server(sid) => servers.push(*sid),
                Target::LabelSelector(sel) => servers.extend(s.servers_matching(sel)),
            }
        }
        servers.sort_unstable();
        servers.dedup();
        for sid in servers {
            let apply = NewAction {
                command: "apply_firewall",
                resources: vec![(id, "firewall"), (sid, "server")],
                on_success: vec![],
                on_error: vec![],
            };
            actions.push(t.start(s, apply));
        }
        Ok(t.answer_all(s, &actions))
    })
}

fn apply_to_resources(req: &ActionRequest<'_>, mut b: Body) -> Result<Response, ApiError> {
    b.deny_unknown(&["apply_to"]);
    let raw = b.required_array("apply_to");
    let targets = parse_targets(&mut b, "apply_to", &raw);
    b.finish()?;
    let id = req.id;
    req.with_actions(|s, t| {
        unlocked::<Firewalls>(s, id)?;
        let actions = apply_targets(s, t, id, targets)?;
        Ok(t.answer_all(s, &actions))
    })
}

fn remove_from_resources(req: &ActionRequest<'_>, mut b: Body) -> Result<Response, ApiError> {
    b.deny_unknown(&["remove_from"]);
    let raw = b.required_array("remove_from");
    let targets = parse_targets(&mut b, "remove_from", &raw);
    b.finish()?;
    let id = req.id;
    req.with_actions(|s, t| {
        let f = unlocked::<Firewalls>(s, id)?;
        for target in &targets {
            check_removable(s, f, target)?;
        }
        let mut actions = Vec::new();
        for target in targets {
            let remove = NewAction {
                command: "remove_firewall",
                resources: target_resources(id, &target),
                on_success: vec![Change::FirewallRemoved {
                    firewall: id,
                    target,
                }],
                on_error: vec![],
            };
            actions.push(t.start(s, remove));
        }
        Ok(t.answer_all(s, &actions))
    })
}

/// A target can be removed only as it was applied: a server reached through a label selector cannot.
fn check_removable(s: &Store, f: &Firewall, target: &Target) -> Result<(), ApiError> {
    if f.applied_to.iter().any(|a| &a.target == target) {
        return Ok(());
    }
    if let Target::Server(sid) = target
        && let Some(server) = s.servers.get(sid)
    {
        let via_selector = f.applied_to.iter().any(|a| match &a.target {
            Target::LabelSelector(sel) => {
                Selector::parse(sel).is_ok_and(|x| x.matches(&server.labels))
            }
            Target::Server(_) => false,
        });
        if via_selector {
            return Err(ApiError::unprocessable(
                "firewall_managed_by_label_selector",
                format!("server {sid} is attached through a label selector"),
            ));
        }
    }
    Err(ApiError::new(
        axum::http::StatusCode::NOT_FOUND,
        "firewall_resource_not_found",
        "the firewall is not applied to this resource",
    ))
}
