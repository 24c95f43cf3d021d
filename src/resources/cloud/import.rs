//! Bringing an existing cloud resource under management (`sovstack import`, `import` blocks):
//! read it by id and record it as the block it becomes. Its labels are not ours yet: the plan
//! shows setting them (and whatever else differs from the block) as an update.

use super::lookup::STACK_LABEL;
use super::{CloudProvider, ServerNames};
use crate::providers::hcloud::ServerId;
use crate::resources::{Address, ApplyError, Desired, Read, label_value};
use crate::state::{ResourceState, ResourceStatus, StateFile};

fn refuse(address: &str, message: String, help: &str) -> ApplyError {
    ApplyError::Precondition {
        address: address.to_string(),
        message,
        help: Some(help.to_string()),
    }
}

/// The state to record for the resource with API id `id` becoming `desired`. What the API
/// does not report (a server's user data, the SSH keys it was made with) is taken as the block
/// says: it cannot be read back, and re-creating a running resource because of it would be
/// worse than trusting it.
pub async fn read_for_import(
    app: &CloudProvider,
    desired: &Desired,
    id: &str,
    stack: &str,
    state: &StateFile,
) -> Result<ResourceState, ApplyError> {
    let address = desired.address.as_str();
    let read = match crate::resources::kind(desired.kind).map(|k| k.read()) {
        Some(Read::Cloud(read)) => read,
        _ => {
            return Err(refuse(
                address,
                format!(
                    "{address} is not a cloud resource; only servers, volumes, firewalls and SSH keys can be imported"
                ),
                "remove the import",
            ));
        }
    };
    let numeric: u64 = id.parse().map_err(|_| {
        refuse(
            address,
            format!("`{id}` is not a Hetzner Cloud id"),
            "ids are numbers, as `hcloud <kind> list` shows them",
        )
    })?;
    if let Some((other, _)) = state
        .resources
        .iter()
        .find(|(_, r)| r.kind == desired.kind && r.id.as_deref() == Some(id))
    {
        return Err(refuse(
            address,
            format!("{} {id} is already managed as {other}", desired.kind),
            "to give it a new address, use `sovstack state mv` or a moved block",
        ));
    }
    let Some(listed) = read.get_one(&app.client, numeric).await? else {
        return Err(refuse(
            address,
            format!("there is no {} with id {id}", desired.kind),
            "check the id in the Hetzner console or with the hcloud CLI",
        ));
    };
    if let Some(owner) = listed.labels.get(STACK_LABEL)
        && *owner != label_value(stack)
    {
        return Err(refuse(
            address,
            format!("{} {id} belongs to stack `{owner}`", desired.kind),
            "a resource is managed by one stack; remove it from the other stack's state first (`sovstack state rm`)",
        ));
    }
    let base = ResourceState {
        kind: desired.kind.to_string(),
        id: Some(id.to_string()),
        attributes: desired.attributes.clone(),
        sensitive_attributes: Default::default(),
        dependencies: desired.dependencies.iter().cloned().collect(),
        status: ResourceStatus::Ready,
    };
    Ok(listed.observe(&base, &server_names(state)))
}

/// The servers state knows, by id, for the attachments of an imported volume or firewall.
fn server_names(state: &StateFile) -> ServerNames {
    let mut names = ServerNames::default();
    for (address, r) in state.resources.iter().filter(|(_, r)| r.kind == "server") {
        if let (Some(id), Ok(a)) = (
            r.id.as_deref().and_then(|i| i.parse().ok()),
            Address::parse(address),
        ) {
            names.insert(ServerId(id), a.name);
        }
    }
    names
}
