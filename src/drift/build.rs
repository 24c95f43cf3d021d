//! From what refresh found to findings: which area each belongs to, one line on what happened,
//! what to do about it, and the policy checks that only the refreshed world can answer.

use super::model::*;
use crate::apply::node::NODE_KINDS;
use crate::config::{Direction, Stack};
use crate::plan::{Action, Drift, DriftKind, Plan};
use crate::state::StateFile;
use serde_json::Value as Json;

const UNDO_OR_ACCEPT: &str = "`sovstack apply` undoes it; `sovstack apply --refresh-only` accepts it into the state (then change stack.hcl to match, or the next apply undoes it)";
const WORLD: [&str; 2] = ["0.0.0.0/0", "::/0"];

/// The kind part of an address (`file` in `file.llm["compose.yaml"]`).
fn kind_of(address: &str) -> &str {
    address.split('.').next().unwrap_or(address)
}

fn area_of(address: &str) -> Area {
    if NODE_KINDS.contains(&kind_of(address)) {
        Area::Node
    } else {
        Area::Cloud
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
    let names: Vec<&str> = d.changes.iter().map(|c| c.name.as_str()).collect();
    let (summary, diff, remedy) = match (d.kind, kind_of(&d.address)) {
        (DriftKind::Policy, _) => (
            d.message.clone().unwrap_or_else(|| "violates the stack's policy".into()),
            None,
            "move it back inside the policy now: recreate it in an allowed location (`sovstack apply` recreates what is deleted), and find out who moved it".to_string(),
        ),
        (DriftKind::Changed, "file") => {
            let secret = d.changes.iter().any(|c| c.sensitive);
            let summary = if secret {
                "secret file edited on the host (compared by keyed hash; its content is never shown)".to_string()
            } else if d.message.is_some() {
                "edited on the host".to_string()
            } else {
                format!("changed on the host: {}", names.join(", "))
            };
            let diff = if secret { None } else { d.message.clone() };
            (summary, diff, UNDO_OR_ACCEPT.to_string())
        }
        (DriftKind::Changed, "compose") => (
            compose_summary(d),
            None,
            "`sovstack apply` recreates exactly the services listed; read their logs first (`docker compose logs`)".to_string(),
        ),
        (DriftKind::Changed, _) => (
            format!("changed outside sovstack: {}", names.join(", ")),
            d.message.clone(),
            UNDO_OR_ACCEPT.to_string(),
        ),
        (DriftKind::Deleted, "file") => (
            "removed from the host".to_string(),
            None,
            "`sovstack apply` uploads it again; `sovstack apply --refresh-only` forgets it".to_string(),
        ),
        (DriftKind::Deleted, "compose") => (
            "compose project missing: no containers on the host".to_string(),
            None,
            "`sovstack apply` starts the project again".to_string(),
        ),
        (DriftKind::Deleted, "bootstrap") => (
            "docker missing: Docker or its compose plugin is not installed or not answering".to_string(),
            None,
            "`sovstack apply` installs Docker where none is installed; a broken installation must be repaired on the host".to_string(),
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
                "delete it (`hcloud {kind} delete <id>`), or add a `{kind}` block with this address to stack.hcl: apply adopts what carries its labels"
            ),
        ),
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

/// Which services are not running, from the `(not running: ...)` markers refresh puts in the
/// compose resource's `services` map.
fn compose_summary(d: &Drift) -> String {
    let mut down = Vec::new();
    for c in d.changes.iter().filter(|c| c.name == "services") {
        let Some(Json::Object(after)) = &c.after else {
            continue;
        };
        for (svc, v) in after {
            if let Some(why) = v
                .as_str()
                .and_then(|s| s.strip_prefix("(not running: "))
                .and_then(|s| s.strip_suffix(')'))
            {
                down.push(format!("{svc} ({why})"));
            }
        }
    }
    if down.is_empty() {
        "compose project changed on the host".to_string()
    } else {
        format!(
            "containers stopped, restarting or unhealthy: {}",
            down.join(", ")
        )
    }
}

/// Inbound firewall rules that actually admit the whole internet while the stack's rule for
/// that port does not say `public = true`.
fn open_to_the_world(stack: &Stack, refreshed: &StateFile) -> Vec<Finding> {
    let mut out = Vec::new();
    for (address, r) in refreshed
        .resources
        .iter()
        .filter(|(_, r)| r.kind == "firewall")
    {
        let Some(Json::Array(rules)) = r.attributes.get("rules") else {
            continue;
        };
        let configured = address
            .strip_prefix("firewall.")
            .and_then(|n| stack.firewalls.iter().find(|f| f.name == n));
        for rule in rules {
            let s = |k: &str| rule.get(k).and_then(Json::as_str).unwrap_or("");
            if s("direction") != "in" {
                continue;
            }
            let open: Vec<&str> = rule
                .get("source_ips")
                .and_then(Json::as_array)
                .into_iter()
                .flatten()
                .filter_map(Json::as_str)
                .filter(|ip| WORLD.contains(ip))
                .collect();
            if open.is_empty() {
                continue;
            }
            let (protocol, port) = (s("protocol"), s("port"));
            let consented = configured.is_some_and(|f| {
                f.rules.iter().any(|c| {
                    c.public
                        && c.direction == Direction::In
                        && c.protocol.as_str() == protocol
                        && c.port
                            .as_ref()
                            .map(|p| p.value.to_hetzner())
                            .unwrap_or_default()
                            == port
                })
            });
            if consented {
                continue;
            }
            let what = if port.is_empty() {
                protocol.to_string()
            } else {
                format!("{protocol} port {port}")
            };
            out.push(Finding {
                area: Area::Policy,
                kind: DriftKind::Policy,
                address: address.clone(),
                summary: format!(
                    "an inbound rule admits {what} from the whole internet ({}) without `public = true` in the stack",
                    open.join(", ")
                ),
                changes: Vec::new(),
                diff: None,
                remedy: "`sovstack apply` restores the configured rules now; if it must be public, say so with `public = true` on that rule".to_string(),
            });
        }
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
