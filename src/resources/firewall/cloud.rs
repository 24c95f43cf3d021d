//! `firewall`: create (applied to its servers at once), rules via one `set_rules`, servers via
//! `apply_to_resources` / `remove_from_resources`, rename/relabel, delete (removed from
//! everything first, as the API requires).

use crate::config::instance::block_address;
use std::collections::BTreeSet;

use serde_json::Value as Json;

use super::FirewallKind;
use crate::providers::hcloud::HcloudError;
use crate::providers::hcloud::models::{
    CreateFirewall, Firewall, FirewallResource, FirewallRule, UpdateResource,
};
use crate::providers::hcloud::{FirewallId, ServerId};
use crate::resources::ResourceKind;
use crate::resources::cloud::CloudProvider;
use crate::resources::cloud::attrs::{Attrs, dependency_id, ready_state, updated_state};
use crate::resources::cloud::converge::unless_done;
use crate::resources::cloud::lookup::{Created, gone_ok};
use crate::resources::cloud::{CloudOp, CloudResource, CloudTarget, ServerNames};
use crate::resources::{ApplyContext, ApplyError, Recorded};

use crate::state::ResourceState;

fn rules_of(a: &Attrs) -> Result<Vec<FirewallRule>, ApplyError> {
    match a.get("rules") {
        None => Ok(Vec::new()),
        Some(v) => serde_json::from_value(v.clone()).map_err(|e| {
            crate::resources::cloud::attrs::precondition(
                &a.address,
                format!("attribute `rules` is invalid: {e}"),
            )
        }),
    }
}

/// Rules as state records them (the request shape: no empty lists, no null port).
pub(super) fn rules_json(rules: &[FirewallRule]) -> Json {
    serde_json::to_value(rules).unwrap_or(Json::Null)
}

/// Server ids the firewall applies to directly (label-selector targets are not ours to manage).
pub(super) fn applied_servers(f: &Firewall) -> BTreeSet<ServerId> {
    f.applied_to
        .iter()
        .filter_map(|r| match r {
            FirewallResource::Server { server } => Some(server.id),
            FirewallResource::LabelSelector { .. } => None,
        })
        .collect()
}

fn desired_servers(cx: &ApplyContext, a: &Attrs) -> Result<BTreeSet<ServerId>, ApplyError> {
    a.strings("apply_to")?
        .iter()
        .map(|name| dependency_id(cx, &a.address, &block_address("server", name)).map(ServerId))
        .collect()
}

async fn adopt(
    app: &CloudProvider,
    cx: &ApplyContext,
    a: &Attrs,
    firewall: Firewall,
    rules: &[FirewallRule],
    servers: &BTreeSet<ServerId>,
) -> Result<FirewallId, ApplyError> {
    cx.events.progress(
        &a.address,
        format!("adopting firewall {} ({})", firewall.name, firewall.id),
    );
    let name = a.str("name")?;
    let labels = a.labels()?;
    let body = UpdateResource {
        name: (firewall.name != name).then(|| name.to_owned()),
        labels: (firewall.labels != labels).then_some(labels),
    };
    if body != UpdateResource::default() {
        app.client.update_firewall(firewall.id, &body).await?;
    }
    if rules_json(&firewall.rules) != rules_json(rules) {
        set_rules(app, cx, &a.address, firewall.id, rules).await?;
    }
    reconcile_servers(app, cx, &a.address, &firewall, servers).await?;
    Ok(firewall.id)
}

async fn set_rules(
    app: &CloudProvider,
    cx: &ApplyContext,
    address: &str,
    id: FirewallId,
    rules: &[FirewallRule],
) -> Result<(), ApplyError> {
    cx.events.progress(
        address,
        format!("setting {} rules on firewall {id}", rules.len()),
    );
    let actions = app.client.set_firewall_rules(id, rules).await?;
    app.wait(cx, address, &actions.iter().collect::<Vec<_>>())
        .await
}

/// Applies to the servers missing first, then removes the extra ones, so a server moving
/// between firewalls is never left without one.
async fn reconcile_servers(
    app: &CloudProvider,
    cx: &ApplyContext,
    address: &str,
    firewall: &Firewall,
    desired: &BTreeSet<ServerId>,
) -> Result<(), ApplyError> {
    let actual = applied_servers(firewall);
    let add: Vec<FirewallResource> = desired
        .difference(&actual)
        .map(|s| FirewallResource::server(*s))
        .collect();
    let remove: Vec<FirewallResource> = actual
        .difference(desired)
        .map(|s| FirewallResource::server(*s))
        .collect();
    if !add.is_empty() {
        cx.events.progress(
            address,
            format!(
                "applying firewall {} to {} server(s)",
                firewall.id,
                add.len()
            ),
        );
        let apply = app.client.apply_firewall_to_resources(firewall.id, &add);
        let applied = || applied_to_all(app, firewall.id, desired);
        if let Some(actions) = unless_done(cx, address, "apply", apply, applied).await? {
            app.wait(cx, address, &actions.iter().collect::<Vec<_>>())
                .await?;
        }
    }
    if !remove.is_empty() {
        cx.events.progress(
            address,
            format!(
                "removing firewall {} from {} server(s)",
                firewall.id,
                remove.len()
            ),
        );
        remove_from(app, cx, address, firewall.id, &remove).await?;
    }
    Ok(())
}

/// Whether the firewall applies to every server of `servers` now.
async fn applied_to_all(
    app: &CloudProvider,
    id: FirewallId,
    servers: &BTreeSet<ServerId>,
) -> Result<bool, HcloudError> {
    let now = applied_servers(&app.client.get_firewall(id).await?);
    Ok(servers.is_subset(&now))
}

/// Removes the firewall from `remove`; a removal found already made (the firewall, or the
/// server, gone too) is done.
async fn remove_from(
    app: &CloudProvider,
    cx: &ApplyContext,
    address: &str,
    id: FirewallId,
    remove: &[FirewallResource],
) -> Result<(), ApplyError> {
    let removed = || async {
        let now = match app.client.get_firewall(id).await {
            Ok(f) => f.applied_to,
            Err(e) if e.is_not_found() => return Ok(true),
            Err(e) => return Err(e),
        };
        Ok(!remove.iter().any(|r| now.iter().any(|n| same_target(n, r))))
    };
    let request = app.client.remove_firewall_from_resources(id, remove);
    if let Some(actions) = unless_done(cx, address, "remove", request, removed).await? {
        app.wait(cx, address, &actions.iter().collect::<Vec<_>>())
            .await?;
    }
    Ok(())
}

/// One target of a firewall, as the API reports it and as a request names it.
fn same_target(a: &FirewallResource, b: &FirewallResource) -> bool {
    match (a, b) {
        (FirewallResource::Server { server: x }, FirewallResource::Server { server: y }) => {
            x.id == y.id
        }
        (
            FirewallResource::LabelSelector {
                label_selector: x, ..
            },
            FirewallResource::LabelSelector {
                label_selector: y, ..
            },
        ) => x.selector == y.selector,
        _ => false,
    }
}

#[async_trait::async_trait]
impl CloudResource for FirewallKind {
    async fn create(&self, op: CloudOp<'_>) -> Recorded {
        let (app, cx, d, a) = (op.app, op.cx, op.desired, &op.a);
        let name = a.str("name")?.to_owned();
        let labels = a.labels()?;
        let rules = rules_of(a)?;
        let servers = desired_servers(cx, a)?;

        let id = match op.find(&FirewallKind).await? {
            Some(existing) => adopt(app, cx, a, existing, &rules, &servers).await?,
            None => {
                let body = CreateFirewall {
                    name: name.clone(),
                    labels,
                    rules: rules.clone(),
                    apply_to: servers
                        .iter()
                        .map(|s| FirewallResource::server(*s))
                        .collect(),
                };
                cx.events
                    .progress(&d.address, format!("creating firewall {name}"));
                match op
                    .create_or_find(&FirewallKind, || app.client.create_firewall(&body))
                    .await?
                {
                    Created::New(resp) => {
                        let actions: Vec<_> = resp.actions.iter().collect();
                        app.wait(cx, &d.address, &actions).await?;
                        resp.firewall.id
                    }
                    Created::Found(f) => adopt(app, cx, a, f, &rules, &servers).await?,
                }
            }
        };
        Ok(ready_state(d, a, id.0, []))
    }

    async fn update(&self, op: CloudOp<'_>) -> Recorded {
        let (app, cx, d, a) = (op.app, op.cx, op.desired, &op.a);
        let prior = op.prior()?;
        let id = FirewallId(op.prior_id()?);
        if op.has("rules") {
            set_rules(app, cx, &d.address, id, &rules_of(a)?).await?;
        }
        if op.has("apply_to") {
            // What it is applied to now, not what state remembers: servers may have been replaced.
            let firewall = app.client.get_firewall(id).await?;
            reconcile_servers(app, cx, &d.address, &firewall, &desired_servers(cx, a)?).await?;
        }
        Ok(updated_state(d, a, prior, FirewallKind.computed()))
    }

    type Item = Firewall;

    fn noun(&self) -> &'static str {
        "firewall"
    }

    /// The actual attributes of a firewall, in the shape `create` records, servers by block name.
    fn observed(
        &self,
        firewall: &Firewall,
        recorded: &ResourceState,
        servers_by_id: &ServerNames,
    ) -> ResourceState {
        let mut s = crate::resources::cloud::observed_base(firewall, recorded);
        let at = &mut s.attributes;
        at.insert("rules".into(), rules_json(&firewall.rules));
        let mut servers: Vec<String> = applied_servers(firewall)
            .into_iter()
            .map(|id| servers_by_id.name_of(id))
            .collect();
        servers.sort();
        at.insert(
            "apply_to".into(),
            Json::Array(servers.into_iter().map(Json::String).collect()),
        );
        s
    }

    async fn delete_id(&self, target: CloudTarget<'_>) -> Result<(), ApplyError> {
        let (app, cx, address, id) = (target.app, target.cx, target.address, target.id);
        let Some(firewall) = gone_ok(app.client.get_firewall(FirewallId(id)).await)? else {
            return Ok(());
        };
        // The API refuses to delete a firewall that is still applied (`resource_in_use`).
        let remove: Vec<FirewallResource> = firewall
            .applied_to
            .iter()
            .map(|r| match r {
                FirewallResource::Server { server } => FirewallResource::server(server.id),
                FirewallResource::LabelSelector { label_selector, .. } => {
                    FirewallResource::label_selector(label_selector.selector.clone())
                }
            })
            .collect();
        if !remove.is_empty() {
            cx.events.progress(
                address,
                format!(
                    "removing firewall {} from {} resource(s)",
                    firewall.id,
                    remove.len()
                ),
            );
            remove_from(app, cx, address, firewall.id, &remove).await?;
        }
        cx.events
            .progress(address, format!("deleting firewall {}", firewall.id));
        gone_ok(app.client.delete_firewall(firewall.id).await)?;
        Ok(())
    }
}
