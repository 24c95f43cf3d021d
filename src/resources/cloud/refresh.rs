//! Reading what exists: one label-selector list call per cloud kind (paged at 50 per page),
//! whatever the number of resources, then matching by recorded id (by the `sovstack.address`
//! label only for a create that never confirmed); a recorded resource the listing missed is
//! read by id.

use std::collections::BTreeMap;

use super::lookup::{ADDRESS_LABEL, stack_params};
use super::{CloudProvider, CloudRead, Listed, ServerNames};
use crate::providers::hcloud::models::Location;
use crate::providers::hcloud::{Labels, ServerId};
use crate::resources::context::{ApplyContext, ApplyError, Observed, Orphan, Refreshed, Violation};
use crate::resources::{Address, KINDS, Read, label_value};
use crate::state::ResourceState;
use crate::validate::knowledge::hetzner::is_eu;

/// The API id state records for a resource, when it records one.
fn recorded_id(state: &ResourceState) -> Option<u64> {
    state.id.as_deref().and_then(|i| i.parse::<u64>().ok())
}

/// Matches listed resources of `kind` to recorded addresses; the rest are orphans.
///
/// A recorded id is the resource's identity: it is matched by id whatever its labels say (a
/// `state mv`, a `moved` block or a renamed stack leaves the old labels until the next apply
/// sets the new ones). Only a create that never confirmed (no id) is found by its labels.
fn match_kind(
    kind: &str,
    listed: Vec<Listed>,
    recorded: &BTreeMap<String, ResourceState>,
    servers: &ServerNames,
    out: &mut Refreshed,
) {
    let mut by_id: BTreeMap<u64, Listed> = listed.into_iter().map(|l| (l.id, l)).collect();
    let of_kind = || recorded.iter().filter(|(_, s)| s.kind == kind);
    for (address, state) in of_kind() {
        let Some(id) = recorded_id(state) else {
            continue;
        };
        let observed = match by_id.remove(&id) {
            Some(l) => Observed::Present(l.observe(state, servers)),
            None => Observed::Missing,
        };
        out.observed.insert(address.clone(), observed);
    }
    for (address, state) in of_kind().filter(|(_, s)| recorded_id(s).is_none()) {
        // A create that never confirmed: what carries its labels is what it made; another
        // resource with the same labels is a duplicate nobody tracks (an orphan).
        let label = label_value(address);
        let found = by_id
            .iter()
            .find(|(_, l)| l.labels.get(ADDRESS_LABEL) == Some(&label))
            .map(|(id, _)| *id);
        let observed = match found.and_then(|id| by_id.remove(&id)) {
            Some(l) => Observed::Present(l.observe(state, servers)),
            None => Observed::Missing,
        };
        out.observed.insert(address.clone(), observed);
    }
    for l in by_id.into_values() {
        out.orphans.push(Orphan {
            kind: kind.to_string(),
            address_label: l.labels.get(ADDRESS_LABEL).cloned(),
            id: l.id.to_string(),
            name: l.name,
        });
    }
}

/// Recorded resources of `kind` that the label listing did not return: fetched one by one by
/// id, so a resource whose labels no longer say it is ours (moved, relabelled by hand, a
/// renamed stack) is never taken for deleted. Only a 404 makes it missing.
async fn fetch_unlisted(
    read: &dyn CloudRead,
    kind: &str,
    app: &CloudProvider,
    listed: &[Listed],
    recorded: &BTreeMap<String, ResourceState>,
) -> Result<Vec<Listed>, ApplyError> {
    let ids: Vec<u64> = recorded
        .values()
        .filter(|s| s.kind == kind)
        .filter_map(recorded_id)
        .filter(|id| !listed.iter().any(|l| l.id == *id))
        .collect();
    let found =
        futures_util::future::try_join_all(ids.into_iter().map(|id| read.get_one(&app.client, id)))
            .await?;
    Ok(found.into_iter().flatten().collect())
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
    let mut lists = futures_util::future::try_join_all(
        kinds.iter().map(|(_, c)| c.list_all(&app.client, &params)),
    )
    .await?;
    for ((kind, read), listed) in kinds.iter().zip(lists.iter_mut()) {
        let unlisted = fetch_unlisted(*read, kind, app, listed, recorded).await?;
        listed.extend(unlisted);
    }
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
