//! The firewall's own policy check on what exists: an inbound rule that admits the whole
//! internet while the stack's rule for that port does not say `public = true`.

use crate::config::{Direction, Stack};
use crate::resources::PolicyFinding;
use crate::state::ResourceState;
use serde_json::Value as Json;

const WORLD: [&str; 2] = ["0.0.0.0/0", "::/0"];

pub(super) fn open_to_the_world(
    stack: &Stack,
    address: &str,
    r: &ResourceState,
) -> Vec<PolicyFinding> {
    let mut out = Vec::new();
    let Some(Json::Array(rules)) = r.attributes.get("rules") else {
        return out;
    };
    let configured = crate::resources::Address::parse(address)
        .ok()
        .and_then(|a| stack.firewalls.iter().find(|f| f.name == a.name));
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
        out.push(PolicyFinding {
                summary: format!(
                    "an inbound rule admits {what} from the whole internet ({}) without `public = true` in the stack",
                    open.join(", ")
                ),
                remedy: "`sovstack apply` restores the configured rules now; if it must be public, say so with `public = true` on that rule".to_string(),
            });
    }
    out
}
