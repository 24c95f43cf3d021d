//! `data` blocks: an existing resource sovstack does not manage, found by name or by a label
//! selector, reported as the attributes a stack may reference.

use super::{CloudProvider, ServerNames};
use crate::config::model::{DATA_KINDS, DataSelector, DataSource};
use crate::providers::hcloud::{LabelSelector, ListParams};
use crate::resources::{ApplyError, Read};
use crate::state::{ResourceState, ResourceStatus};
use std::collections::BTreeMap;

/// What `data` found: `data.<kind>.<name>.<attribute>` -> value, for the stack's references.
pub async fn look_up(
    app: &CloudProvider,
    data: &DataSource,
) -> Result<BTreeMap<String, String>, ApplyError> {
    let address = data.address();
    let fail = |message: String, help: &str| ApplyError::Precondition {
        address: address.clone(),
        message,
        help: Some(help.to_string()),
    };
    let Some(Read::Cloud(read)) = crate::resources::kind(&data.kind).map(|k| k.read()) else {
        return Err(fail(
            format!("`{}` cannot be looked up", data.kind),
            "use data \"ssh_key\" or data \"firewall\"",
        ));
    };
    let params = match &data.selector {
        DataSelector::Name(n) => ListParams::new().with_name(n.clone()),
        DataSelector::Labels(labels) => ListParams::selector(
            labels
                .iter()
                .fold(LabelSelector::new(), |s, (k, v)| s.eq(k.clone(), v.clone())),
        ),
    };
    let mut found = read.list_all(&app.client, &params).await?;
    let one = match found.len() {
        1 => found.remove(0),
        0 => {
            return Err(fail(
                format!("no {} matches {:?}", data.kind, data.selector),
                "check the name or labels in the Hetzner console or with the hcloud CLI",
            ));
        }
        n => {
            return Err(fail(
                format!(
                    "{n} {}s match {:?}; a data block must find exactly one",
                    data.kind, data.selector
                ),
                "narrow the label selector, or find it by name",
            ));
        }
    };
    let blank = ResourceState {
        kind: data.kind.clone(),
        id: None,
        attributes: BTreeMap::new(),
        sensitive_attributes: BTreeMap::new(),
        dependencies: Vec::new(),
        status: ResourceStatus::Ready,
    };
    let observed = one.observe(&blank, &ServerNames::default());
    let attrs = DATA_KINDS
        .iter()
        .find(|(k, _)| *k == data.kind)
        .map_or(&[][..], |(_, a)| *a);
    Ok(attrs
        .iter()
        .filter_map(|a| {
            let v = observed.attributes.get(*a)?;
            let text = v.as_str().map_or_else(|| v.to_string(), str::to_owned);
            Some((format!("{address}.{a}"), text))
        })
        .collect())
}
