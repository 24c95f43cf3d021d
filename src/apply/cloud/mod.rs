//! Hetzner Cloud resources (`ssh_key`, `server`, `volume`, `firewall`) behind the executor's
//! [`Applier`] contract.
//!
//! - **create adopts first**: one label-selector list call (`sovstack.stack`, `sovstack.address`)
//!   finds a resource an interrupted run already made; it is adopted and brought in line instead
//!   of duplicated. A create whose response was lost (`OutcomeUnknown`) is followed by the same
//!   lookup, and sent again only when the lookup proves it did not take effect.
//! - **servers get a host key we generated**: its fingerprint is checkpointed (status `Pending`)
//!   before the create request, so a crash right after still leaves the key to pin in state; the
//!   private half only ever travels inside the user data.
//! - **every action is waited for**, with a progress event while waiting.
//! - **refresh costs one list call per resource type** (paged), whatever the number of resources.

mod attrs;
mod firewall;
mod lookup;
mod refresh;
mod server;
mod ssh_key;
mod user_data;
mod volume;

use std::collections::BTreeMap;

use super::applier::{Applier, ApplyContext, ApplyError, Refreshed};
use crate::providers::hcloud::HcloudClient;
use crate::providers::hcloud::models::Action;
use crate::resources::{ChangeMode, Desired};
use crate::state::ResourceState;

/// The resource kinds this applier handles.
pub const CLOUD_KINDS: &[&str] = &["ssh_key", "server", "volume", "firewall"];

/// Creates, changes, deletes and reads Hetzner Cloud resources for the executor.
#[derive(Debug, Clone)]
pub struct CloudApplier {
    client: HcloudClient,
}

impl CloudApplier {
    pub fn new(client: HcloudClient) -> Self {
        Self { client }
    }

    pub fn client(&self) -> &HcloudClient {
        &self.client
    }

    /// Waits until every action has finished, telling the renderer what it waits for.
    async fn wait(
        &self,
        cx: &ApplyContext,
        address: &str,
        actions: &[&Action],
    ) -> Result<(), ApplyError> {
        let running: Vec<String> = actions
            .iter()
            .filter(|a| !a.is_finished())
            .map(|a| format!("{} ({})", a.command, a.id))
            .collect();
        if !running.is_empty() {
            cx.events
                .progress(address, format!("waiting for {}", running.join(", ")));
        }
        self.client.wait_for(actions.iter().copied()).await?;
        Ok(())
    }
}

/// Refuses an in-place update of an attribute that needs a new resource: the planner must have
/// planned a replacement, so reaching here is a bug, not something to paper over.
fn check_in_place(kind: &str, address: &str, changed: &[String]) -> Result<(), ApplyError> {
    let Some(k) = crate::resources::kind(kind) else {
        return Err(attrs::precondition(
            address,
            format!("unknown resource kind `{kind}`"),
        ));
    };
    let forced: Vec<&str> = changed
        .iter()
        .filter(|a| k.change_mode(a) == ChangeMode::Replace)
        .map(String::as_str)
        .collect();
    if forced.is_empty() {
        return Ok(());
    }
    Err(ApplyError::Precondition {
        address: address.to_string(),
        message: format!(
            "cannot change {} in place: {} a new {kind}",
            forced.join(", "),
            if forced.len() == 1 {
                "it needs"
            } else {
                "they need"
            }
        ),
        help: Some("the plan must replace this resource; plan again".into()),
    })
}

#[async_trait::async_trait]
impl Applier for CloudApplier {
    fn handles(&self, kind: &str) -> bool {
        CLOUD_KINDS.contains(&kind)
    }

    async fn create(
        &self,
        cx: &ApplyContext,
        desired: &Desired,
    ) -> Result<ResourceState, ApplyError> {
        match desired.kind {
            "ssh_key" => ssh_key::create(self, cx, desired).await,
            "server" => server::create(self, cx, desired).await,
            "volume" => volume::create(self, cx, desired).await,
            "firewall" => firewall::create(self, cx, desired).await,
            other => Err(not_ours(&desired.address, other)),
        }
    }

    async fn update(
        &self,
        cx: &ApplyContext,
        desired: &Desired,
        prior: &ResourceState,
        changed: &[String],
    ) -> Result<ResourceState, ApplyError> {
        check_in_place(desired.kind, &desired.address, changed)?;
        match desired.kind {
            "ssh_key" => ssh_key::update(self, cx, desired, prior, changed).await,
            "server" => server::update(self, cx, desired, prior, changed).await,
            "volume" => volume::update(self, cx, desired, prior, changed).await,
            "firewall" => firewall::update(self, cx, desired, prior, changed).await,
            other => Err(not_ours(&desired.address, other)),
        }
    }

    async fn delete(
        &self,
        cx: &ApplyContext,
        address: &str,
        prior: &ResourceState,
    ) -> Result<(), ApplyError> {
        match prior.kind.as_str() {
            "ssh_key" => ssh_key::delete(self, cx, address, prior).await,
            "server" => server::delete(self, cx, address, prior).await,
            "volume" => volume::delete(self, cx, address, prior).await,
            "firewall" => firewall::delete(self, cx, address, prior).await,
            other => Err(not_ours(address, other)),
        }
    }

    async fn refresh(
        &self,
        cx: &ApplyContext,
        recorded: &BTreeMap<String, ResourceState>,
    ) -> Result<Refreshed, ApplyError> {
        refresh::refresh(self, cx, recorded).await
    }
}

fn not_ours(address: &str, kind: &str) -> ApplyError {
    attrs::precondition(
        address,
        format!("the cloud applier does not handle `{kind}` resources"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replacement_attributes_never_update_in_place() {
        assert!(check_in_place("server", "server.a", &["server_type".into()]).is_ok());
        let err = check_in_place("server", "server.a", &["name".into(), "image".into()])
            .unwrap_err()
            .to_string();
        assert!(err.contains("image"), "{err}");
        assert!(!err.contains("name,"), "{err}");
        assert!(check_in_place("volume", "volume.d", &["location".into()]).is_err());
        assert!(check_in_place("volume", "volume.d", &["size".into()]).is_ok());
        assert!(check_in_place("ssh_key", "ssh_key.k", &["public_key".into()]).is_err());
        assert!(check_in_place("firewall", "firewall.f", &["rules".into()]).is_ok());
    }
}
