//! Reading what exists: one label-selector list call per resource type (paged at 50 per page),
//! whatever the number of resources, then matching by the `sovstack.address` label.

use std::collections::BTreeMap;

use serde_json::Value as Json;

use super::CloudApplier;
use super::lookup::{ADDRESS_LABEL, stack_params};
use crate::apply::applier::{ApplyContext, ApplyError, Observed, Orphan, Refreshed};
use crate::providers::hcloud::models::Location;
use crate::providers::hcloud::{Labels, ServerId};
use crate::resources::label_value;
use crate::state::ResourceState;
use crate::validate::knowledge::hetzner::is_eu;

/// One listed resource, whatever its type.
struct Listed<'a, T> {
    id: u64,
    name: &'a str,
    labels: &'a Labels,
    item: &'a T,
}

/// Matches listed resources of `kind` to recorded addresses; the rest are orphans.
fn match_kind<'a, T>(
    kind: &str,
    listed: Vec<Listed<'a, T>>,
    recorded: &BTreeMap<String, ResourceState>,
    out: &mut Refreshed,
    observe: impl Fn(&T, &ResourceState) -> ResourceState,
) {
    let mut by_label: BTreeMap<String, Vec<Listed<'a, T>>> = BTreeMap::new();
    let mut unlabelled = Vec::new();
    for l in listed {
        match l.labels.get(ADDRESS_LABEL) {
            Some(a) => by_label.entry(a.clone()).or_default().push(l),
            None => unlabelled.push(l),
        }
    }
    for (address, state) in recorded.iter().filter(|(_, s)| s.kind == kind) {
        let mut candidates = by_label.remove(&label_value(address)).unwrap_or_default();
        let recorded_id = state.id.as_deref().and_then(|i| i.parse::<u64>().ok());
        let pick = match recorded_id {
            Some(id) => candidates.iter().position(|c| c.id == id),
            // A create that never confirmed: what carries its labels is what it made.
            None => (!candidates.is_empty()).then_some(0),
        };
        let observed = match pick {
            Some(i) => {
                let found = candidates.remove(i);
                Observed::Present(observe(found.item, state))
            }
            None => Observed::Missing,
        };
        out.observed.insert(address.clone(), observed);
        // Another resource with the same address label is a duplicate nobody tracks.
        unlabelled.extend(candidates);
    }
    for l in by_label.into_values().flatten().chain(unlabelled) {
        out.orphans.push(Orphan {
            kind: kind.to_string(),
            address_label: l.labels.get(ADDRESS_LABEL).cloned(),
            id: l.id.to_string(),
            name: l.name.to_string(),
        });
    }
}

/// A policy finding when a resource sits outside the allowed locations or outside the EU, as the
/// API's own location object says.
fn location_violation(
    kind: &str,
    id: u64,
    labels: &Labels,
    location: &Location,
    allowed: &[String],
) -> Option<String> {
    let who = match labels.get(ADDRESS_LABEL) {
        Some(a) => format!("{a} ({kind} {id})"),
        None => format!("{kind} {id}"),
    };
    let place = format!(
        "{} ({}, {})",
        location.name, location.city, location.country
    );
    if !is_eu(&location.country) {
        return Some(format!(
            "{who} is in {place}, outside the EU: data residency is violated"
        ));
    }
    if !allowed.iter().any(|a| a == &location.name) {
        return Some(format!(
            "{who} is in {place}, outside the allowed locations ({})",
            allowed.join(", ")
        ));
    }
    None
}

pub(super) async fn refresh(
    app: &CloudApplier,
    cx: &ApplyContext,
    recorded: &BTreeMap<String, ResourceState>,
) -> Result<Refreshed, ApplyError> {
    let params = stack_params(cx.stack_name());
    let c = &app.client;
    // Every type is listed even with nothing recorded of it: that is how orphans are found.
    let (keys, servers, volumes, firewalls) = tokio::try_join!(
        c.list_ssh_keys(&params),
        c.list_servers(&params),
        c.list_volumes(&params),
        c.list_firewalls(&params),
    )?;
    let mut out = Refreshed::default();

    // Server id -> block name, for `volume.server` and `firewall.apply_to`.
    let mut names: BTreeMap<ServerId, String> = BTreeMap::new();
    for s in &servers {
        if let Some(name) = s
            .labels
            .get(ADDRESS_LABEL)
            .and_then(|a| a.strip_prefix("server."))
        {
            names.insert(s.id, name.to_owned());
        }
    }
    for (address, st) in recorded.iter().filter(|(_, s)| s.kind == "server") {
        if let (Some(id), Some(name)) = (
            st.id.as_deref().and_then(|i| i.parse().ok()),
            address.strip_prefix("server."),
        ) {
            names.insert(ServerId(id), name.to_owned());
        }
    }
    // A server outside this stack keeps its id, so the difference still shows.
    let name_of = |id: ServerId| {
        names
            .get(&id)
            .cloned()
            .unwrap_or_else(|| format!("id:{id}"))
    };

    let allowed = &cx.stack.policy.allowed_locations.value;
    for s in &servers {
        out.violations.extend(location_violation(
            "server",
            s.id.0,
            &s.labels,
            &s.location,
            allowed,
        ));
    }
    for v in &volumes {
        out.violations.extend(location_violation(
            "volume",
            v.id.0,
            &v.labels,
            &v.location,
            allowed,
        ));
    }

    match_kind(
        "ssh_key",
        keys.iter()
            .map(|k| Listed {
                id: k.id.0,
                name: &k.name,
                labels: &k.labels,
                item: k,
            })
            .collect(),
        recorded,
        &mut out,
        super::ssh_key::observed,
    );
    match_kind(
        "server",
        servers
            .iter()
            .map(|s| Listed {
                id: s.id.0,
                name: &s.name,
                labels: &s.labels,
                item: s,
            })
            .collect(),
        recorded,
        &mut out,
        super::server::observed,
    );
    match_kind(
        "volume",
        volumes
            .iter()
            .map(|v| Listed {
                id: v.id.0,
                name: &v.name,
                labels: &v.labels,
                item: v,
            })
            .collect(),
        recorded,
        &mut out,
        |v, st| super::volume::observed(v, st, |id| Json::String(name_of(id))),
    );
    match_kind(
        "firewall",
        firewalls
            .iter()
            .map(|f| Listed {
                id: f.id.0,
                name: &f.name,
                labels: &f.labels,
                item: f,
            })
            .collect(),
        recorded,
        &mut out,
        |f, st| super::firewall::observed(f, st, name_of),
    );
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::hcloud::LocationId;

    fn loc(name: &str, country: &str) -> Location {
        Location {
            id: LocationId(1),
            name: name.into(),
            description: String::new(),
            country: country.into(),
            city: "X".into(),
            latitude: 0.0,
            longitude: 0.0,
            network_zone: "z".into(),
        }
    }

    #[test]
    fn locations_outside_the_eu_or_the_allowed_set_are_violations() {
        let allowed = vec!["fsn1".to_string(), "nbg1".to_string()];
        let labels = Labels::from([(ADDRESS_LABEL.to_string(), "server.a".to_string())]);
        assert!(location_violation("server", 1, &labels, &loc("fsn1", "DE"), &allowed).is_none());
        let us = location_violation("server", 1, &labels, &loc("ash", "US"), &allowed).unwrap();
        assert!(
            us.contains("server.a") && us.contains("outside the EU"),
            "{us}"
        );
        let fi =
            location_violation("volume", 2, &Labels::new(), &loc("hel1", "FI"), &allowed).unwrap();
        assert!(fi.contains("volume 2") && fi.contains("allowed"), "{fi}");
    }
}
