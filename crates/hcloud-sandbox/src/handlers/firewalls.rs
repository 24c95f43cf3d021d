//! `/firewalls`: list, create, get, update, delete, and `set_rules`, `apply_to_resources`, `remove_from_resources`.
//!
//! A target added by create or `apply_to_resources` shows up in `applied_to` at once and as `pending` in the
//! server's `public_net.firewalls` until its `apply_firewall` action succeeds; a failed action takes it away again.
//! Removal takes effect when `remove_firewall` succeeds.

use std::collections::BTreeMap;
use std::net::IpAddr;

use axum::Extension;
use axum::body::Bytes;
use axum::extract::State;
use axum::response::Response;
use serde_json::{Value, json};

use super::collection::{Collection, Edit, check_name, find, name_taken, unlocked};
use super::start_action::{ActionRequest, ActionTarget, Timing, with_actions};
use super::{ListSpec, created};
use crate::app::{App, Ctx};
use crate::body::Body;
use crate::error::ApiError;
use crate::labels::Selector;
use crate::model::{AppliedTarget, Change, Firewall, Labels, Rule, Target};
use crate::store::{NewAction, Store};

const MAX_RULES: usize = 50;
const MAX_IPS: usize = 100;

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

    fn check_unused(firewall: &Firewall) -> Result<(), ApiError> {
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
    fn run(req: &ActionRequest<'_>) -> Result<Response, ApiError> {
        // The body is read before the name is known: a malformed one is refused even for an unknown action.
        let b = Body::parse(req.body)?;
        match req.name {
            "set_rules" => set_rules(req, b),
            "apply_to_resources" => apply_to_resources(req, b),
            "remove_from_resources" => remove_from_resources(req, b),
            _ => Err(ApiError::not_found("firewall action")),
        }
    }
}

/// A CIDR as the API accepts it; IPv6 comes back in canonical (RFC 5952) form.
fn canonical_cidr(s: &str) -> Option<String> {
    let (ip, prefix) = s.split_once('/')?;
    let ip: IpAddr = ip.parse().ok()?;
    let prefix: u8 = prefix.parse().ok()?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    (prefix <= max).then(|| format!("{ip}/{prefix}"))
}

fn valid_port(p: &str) -> bool {
    let ok = |s: &str| s.parse::<u16>().is_ok_and(|n| n >= 1);
    match p.split_once('-') {
        Some((a, b)) => ok(a) && ok(b) && a.parse::<u16>().ok() <= b.parse::<u16>().ok(),
        None => ok(p),
    }
}

fn parse_ips(b: &mut Body, field: &str, v: Option<&Value>) -> Vec<String> {
    let Some(v) = v.filter(|v| !v.is_null()) else {
        return Vec::new();
    };
    let Some(arr) = v.as_array() else {
        b.error(field, "must be an array of CIDRs");
        return Vec::new();
    };
    if arr.len() > MAX_IPS {
        b.error(field, "must have at most 100 entries");
    }
    let mut out = Vec::new();
    for ip in arr {
        match ip.as_str().and_then(canonical_cidr) {
            Some(c) => out.push(c),
            None => b.error(field, format!("{ip} is not a valid CIDR")),
        }
    }
    out
}

fn parse_rules(b: &mut Body, field: &str, rules: &[Value]) -> Vec<Rule> {
    if rules.len() > MAX_RULES {
        b.error(field, "must have at most 50 rules");
    }
    let mut out = Vec::new();
    for (i, r) in rules.iter().enumerate() {
        let f = format!("{field}[{i}]");
        let Some(obj) = r.as_object() else {
            b.error(&f, "must be an object");
            continue;
        };
        for k in obj.keys() {
            if ![
                "description",
                "direction",
                "source_ips",
                "destination_ips",
                "protocol",
                "port",
            ]
            .contains(&k.as_str())
            {
                b.error(&format!("{f}.{k}"), "is not allowed");
            }
        }
        let direction = obj
            .get("direction")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        if !["in", "out"].contains(&direction.as_str()) {
            b.error(&format!("{f}.direction"), "must be in or out");
        }
        let protocol = obj
            .get("protocol")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        if !["tcp", "udp", "icmp", "esp", "gre"].contains(&protocol.as_str()) {
            b.error(
                &format!("{f}.protocol"),
                "must be one of tcp, udp, icmp, esp, gre",
            );
        }
        let port = obj
            .get("port")
            .filter(|p| !p.is_null())
            .map(|p| p.as_str().unwrap_or("").to_owned());
        match (protocol.as_str(), &port) {
            ("tcp" | "udp", None) => b.error(&format!("{f}.port"), "is required for tcp and udp"),
            ("tcp" | "udp", Some(p)) if !valid_port(p) => b.error(
                &format!("{f}.port"),
                "must be a port or a range like 1024-5000",
            ),
            ("icmp" | "esp" | "gre", Some(_)) => {
                b.error(&format!("{f}.port"), "is only allowed for tcp and udp")
            }
            _ => {}
        }
        let source_ips = parse_ips(b, &format!("{f}.source_ips"), obj.get("source_ips"));
        let destination_ips = parse_ips(
            b,
            &format!("{f}.destination_ips"),
            obj.get("destination_ips"),
        );
        if direction == "in" && source_ips.is_empty() {
            b.error(&format!("{f}.source_ips"), "is required for inbound rules");
        }
        if direction == "out" && destination_ips.is_empty() {
            b.error(
                &format!("{f}.destination_ips"),
                "is required for outbound rules",
            );
        }
        let description = match obj.get("description") {
            None | Some(Value::Null) => None,
            Some(Value::String(d)) if d.chars().count() <= 255 => Some(d.clone()),
            Some(_) => {
                b.error(
                    &format!("{f}.description"),
                    "must be a string of at most 255 characters",
                );
                None
            }
        };
        out.push(Rule {
            direction,
            protocol,
            port,
            source_ips,
            destination_ips,
            description,
        });
    }
    out
}

fn parse_targets(b: &mut Body, field: &str, items: &[Value]) -> Vec<Target> {
    let mut out = Vec::new();
    for (i, t) in items.iter().enumerate() {
        let f = format!("{field}[{i}]");
        match t.get("type").and_then(Value::as_str) {
            Some("server") => match t
                .get("server")
                .and_then(|s| s.get("id"))
                .and_then(Value::as_u64)
            {
                Some(id) => out.push(Target::Server(id)),
                None => b.error(&format!("{f}.server.id"), "is required for type server"),
            },
            Some("label_selector") => match t
                .get("label_selector")
                .and_then(|s| s.get("selector"))
                .and_then(Value::as_str)
            {
                Some(sel) => match Selector::parse(sel) {
                    Ok(_) => out.push(Target::LabelSelector(sel.to_owned())),
                    Err(e) => b.error(&format!("{f}.label_selector.selector"), e.reason),
                },
                None => b.error(
                    &format!("{f}.label_selector.selector"),
                    "is required for type label_selector",
                ),
            },
            _ => b.error(&format!("{f}.type"), "must be server or label_selector"),
        }
    }
    out
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidrs_and_ports() {
        assert_eq!(canonical_cidr("0.0.0.0/0").as_deref(), Some("0.0.0.0/0"));
        assert_eq!(
            canonical_cidr("2001:DB8:0:0::1/64").as_deref(),
            Some("2001:db8::1/64")
        );
        assert_eq!(canonical_cidr("10.0.0.1"), None);
        assert_eq!(canonical_cidr("10.0.0.1/33"), None);
        assert!(valid_port("22"));
        assert!(valid_port("1024-5000"));
        assert!(!valid_port("5000-1024"));
        assert!(!valid_port("0"));
        assert!(!valid_port("http"));
    }
}
