//! `firewall`: a Hetzner Cloud firewall. Rules change in place (`set_rules`), and so do the
//! servers it applies to (`apply_to_resources` / `remove_from_resources`).

mod cloud;
mod policy;

use crate::config::Stack;
use crate::config::instance::block_address;
use crate::config::{Direction, FirewallRule};
use crate::resources::PolicyFinding;
use crate::resources::cloud::Cloud;
use crate::resources::{
    Desired, DesiredContext, Facts, InPlace, Operate, Read, ResourceKind, labels_json,
};
use crate::state::ResourceState;
use serde_json::{Value as Json, json};

#[derive(Clone, Copy)]
pub struct FirewallKind;

impl ResourceKind for FirewallKind {
    fn facts(&self) -> &'static Facts {
        &Facts {
            name: "firewall",
            in_place: InPlace::AllBut(&[]),
            computed: &["id"],
        }
    }
    fn policy_findings(
        &self,
        stack: &Stack,
        address: &str,
        refreshed: &ResourceState,
    ) -> Vec<PolicyFinding> {
        policy::open_to_the_world(stack, address, refreshed)
    }

    fn read(&self) -> Read<'_> {
        Read::Cloud(self)
    }

    fn attachment(&self) -> Option<&'static str> {
        Some("apply_to")
    }

    fn desired(&self, ctx: &DesiredContext<'_>) -> Vec<Desired> {
        let stack = &ctx.stack.name.value;
        ctx.stack
            .firewalls
            .iter()
            .map(|f| {
                let mut d = Desired::new("firewall", &f.name);
                let labels = labels_json(stack, &d.address, &f.labels);
                let mut servers: Vec<String> = f.apply_to.iter().map(|s| s.value.clone()).collect();
                servers.sort();
                for s in &servers {
                    d = d.depends_on(block_address("server", s));
                }
                let rules: Vec<Json> = f.rules.iter().map(rule_json).collect();
                d.attr(
                    "name",
                    crate::config::instance::resource_name(stack, &f.name),
                )
                .attr("rules", rules)
                .attr("apply_to", servers)
                .attr("labels", labels)
            })
            .collect()
    }

    fn operate(&self) -> &dyn Operate {
        &Cloud(FirewallKind)
    }
}

/// A rule in the API's shape (`direction`, `protocol`, `port`, `source_ips`...).
pub fn rule_json(r: &FirewallRule) -> Json {
    let mut o = serde_json::Map::new();
    o.insert(
        "direction".into(),
        json!(if r.direction == Direction::In {
            "in"
        } else {
            "out"
        }),
    );
    o.insert("protocol".into(), json!(r.protocol.as_str()));
    if let Some(p) = &r.port {
        o.insert("port".into(), json!(p.value.to_hetzner()));
    }
    match r.direction {
        Direction::In => o.insert("source_ips".into(), json!(r.source_ips.value)),
        Direction::Out => o.insert("destination_ips".into(), json!(r.destination_ips.value)),
    };
    if let Some(desc) = &r.description {
        o.insert("description".into(), json!(desc));
    }
    Json::Object(o)
}
