//! Reading what exists: one label-selector list call per cloud kind (paged at 50 per page),
//! whatever the number of resources, then matching by the `sovstack.address` label.

use std::collections::BTreeMap;

use super::lookup::{ADDRESS_LABEL, stack_params};
use super::{CloudProvider, CloudRead, Listed, ServerNames};
use crate::providers::hcloud::models::Location;
use crate::providers::hcloud::{Labels, ServerId};
use crate::resources::context::{ApplyContext, ApplyError, Observed, Orphan, Refreshed, Violation};
use crate::resources::{Address, KINDS, Read, label_value};
use crate::state::ResourceState;
use crate::validate::knowledge::hetzner::is_eu;

/// Matches listed resources of `kind` to recorded addresses; the rest are orphans.
fn match_kind(
    kind: &str,
    listed: Vec<Listed>,
    recorded: &BTreeMap<String, ResourceState>,
    servers: &ServerNames,
    out: &mut Refreshed,
) {
    let mut by_label: BTreeMap<String, Vec<Listed>> = BTreeMap::new();
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
            Some(i) => Observed::Present(candidates.remove(i).observe(state, servers)),
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
            name: l.name,
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
) -> Option<Violation> {
    let place = format!(
        "{} ({}, {})",
        location.name, location.city, location.country
    );
    let reason = if !is_eu(&location.country) {
        format!("is in {place}, outside the EU: data residency is violated")
    } else if !allowed.iter().any(|a| a == &location.name) {
        format!(
            "is in {place}, outside the allowed locations ({})",
            allowed.join(", ")
        )
    } else {
        return None;
    };
    Some(Violation {
        address: labels.get(ADDRESS_LABEL).cloned(),
        kind: kind.to_string(),
        id: id.to_string(),
        reason,
    })
}

/// The block names of this stack's servers: from their labels, and from state for those
/// recorded (a server whose label was changed by hand keeps its recorded name).
fn server_names(
    kind: &str,
    listed: &[Listed],
    recorded: &BTreeMap<String, ResourceState>,
    names: &mut ServerNames,
) {
    let block_name = |address: &str| Address::parse(address).ok().map(|a| a.name);
    for l in listed {
        if let Some(name) = l.labels.get(ADDRESS_LABEL).and_then(|a| block_name(a)) {
            names.insert(ServerId(l.id), name);
        }
    }
    for (address, st) in recorded.iter().filter(|(_, s)| s.kind == kind) {
        if let (Some(id), Some(name)) = (
            st.id.as_deref().and_then(|i| i.parse().ok()),
            block_name(address),
        ) {
            names.insert(ServerId(id), name);
        }
    }
}

/// Lists every cloud kind of the registry (even with nothing recorded of it: that is how
/// orphans are found) and matches what is listed to what state records.
pub(crate) async fn refresh(
    app: &CloudProvider,
    cx: &ApplyContext,
    recorded: &BTreeMap<String, ResourceState>,
) -> Result<Refreshed, ApplyError> {
    let params = stack_params(cx.stack_name());
    let kinds: Vec<(&'static str, &dyn CloudRead)> = KINDS
        .iter()
        .filter_map(|k| match k.read() {
            Read::Cloud(c) => Some((k.name(), c)),
            Read::Node(_) => None,
        })
        .collect();
    let lists = futures_util::future::try_join_all(
        kinds.iter().map(|(_, c)| c.list_all(&app.client, &params)),
    )
    .await?;
    let mut out = Refreshed::default();
    let mut names = ServerNames::default();
    for ((kind, read), listed) in kinds.iter().zip(&lists) {
        if read.names_servers() {
            server_names(kind, listed, recorded, &mut names);
        }
    }
    let allowed = &cx.stack.policy.allowed_locations.value;
    for ((kind, _), listed) in kinds.iter().zip(&lists) {
        for l in listed {
            if let Some(location) = &l.location {
                out.violations
                    .extend(location_violation(kind, l.id, &l.labels, location, allowed));
            }
        }
    }
    for ((kind, _), listed) in kinds.into_iter().zip(lists) {
        match_kind(kind, listed, recorded, &names, &mut out);
    }
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
        assert_eq!(us.address.as_deref(), Some("server.a"));
        let us = us.to_string();
        assert!(
            us.contains("server.a") && us.contains("outside the EU"),
            "{us}"
        );
        let fi =
            location_violation("volume", 2, &Labels::new(), &loc("hel1", "FI"), &allowed).unwrap();
        assert_eq!(fi.address, None);
        let fi = fi.to_string();
        assert!(fi.contains("volume 2") && fi.contains("allowed"), "{fi}");
    }
}
