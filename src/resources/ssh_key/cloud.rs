//! `ssh_key`: upload, rename/relabel, delete. The key material never changes in place.

use serde_json::Value as Json;

use super::SshKeyKind;
use crate::providers::hcloud::SshKeyId;
use crate::providers::hcloud::models::{CreateSshKey, SshKey, UpdateResource};
use crate::providers::hcloud::{HcloudClient, HcloudError, Labels, ListParams};
use crate::resources::Desired;
use crate::resources::cloud::CloudProvider;
use crate::resources::cloud::attrs::{Attrs, prior_id, ready_state, updated_state};
use crate::resources::cloud::lookup::{Created, create_or_find, gone_ok};
use crate::resources::cloud::{CloudResource, ServerNames};
use crate::resources::{ApplyContext, ApplyError};

use crate::state::ResourceState;

async fn find(
    app: &CloudProvider,
    cx: &ApplyContext,
    address: &str,
) -> Result<Option<<SshKeyKind as CloudResource>::Item>, ApplyError> {
    crate::resources::cloud::find(&SshKeyKind, app, cx, address).await
}

fn same_key(a: &str, b: &str) -> bool {
    // The API may drop or keep the comment; the type and base64 body are the key.
    let core = |s: &str| s.split_whitespace().take(2).collect::<Vec<_>>().join(" ");
    core(a) == core(b)
}

pub(super) async fn create(
    app: &CloudProvider,
    cx: &ApplyContext,
    d: &Desired,
) -> Result<ResourceState, ApplyError> {
    let a = Attrs::resolve(cx, d)?;
    let name = a.str("name")?.to_owned();
    let public_key = a.str("public_key")?.to_owned();
    let labels = a.labels()?;
    let key = match find(app, cx, &d.address).await? {
        Some(existing) => {
            cx.events.progress(
                &d.address,
                format!("adopting SSH key {} ({})", existing.name, existing.id),
            );
            existing
        }
        None => {
            let body = CreateSshKey {
                name: name.clone(),
                public_key: public_key.clone(),
                labels: labels.clone(),
            };
            match create_or_find(
                cx,
                &d.address,
                || app.client.create_ssh_key(&body),
                || find(app, cx, &d.address),
            )
            .await?
            {
                Created::New(k) | Created::Found(k) => k,
            }
        }
    };
    if !same_key(&key.public_key, &public_key) {
        return Err(ApplyError::Precondition {
            address: d.address.clone(),
            message: format!(
                "SSH key {} carries this stack's labels but holds a different public key",
                key.id
            ),
            help: Some(
                "delete that key in the Hetzner console (or remove its sovstack labels) and apply again"
                    .into(),
            ),
        });
    }
    let key = bring_in_line(app, key, &name, &labels).await?;
    Ok(ready_state(
        d,
        &a,
        key.id.0,
        [("fingerprint", Json::String(key.fingerprint.clone()))],
    ))
}

/// One PUT when the name or labels differ.
async fn bring_in_line(
    app: &CloudProvider,
    key: SshKey,
    name: &str,
    labels: &crate::providers::hcloud::Labels,
) -> Result<SshKey, ApplyError> {
    let mut body = UpdateResource::default();
    if key.name != name {
        body.name = Some(name.to_owned());
    }
    if &key.labels != labels {
        body.labels = Some(labels.clone());
    }
    if body == UpdateResource::default() {
        return Ok(key);
    }
    Ok(app.client.update_ssh_key(key.id, &body).await?)
}

pub(super) async fn update(
    app: &CloudProvider,
    cx: &ApplyContext,
    d: &Desired,
    prior: &ResourceState,
    changed: &[String],
) -> Result<ResourceState, ApplyError> {
    let a = Attrs::resolve(cx, d)?;
    let id = SshKeyId(prior_id(&d.address, prior)?);
    let mut body = UpdateResource::default();
    if changed.iter().any(|c| c == "name") {
        body.name = Some(a.str("name")?.to_owned());
    }
    if changed.iter().any(|c| c == "labels") {
        body.labels = Some(a.labels()?);
    }
    if body != UpdateResource::default() {
        app.client.update_ssh_key(id, &body).await?;
    }
    Ok(updated_state(d, &a, prior, &["id", "fingerprint"]))
}

#[async_trait::async_trait]
impl CloudResource for SshKeyKind {
    type Item = SshKey;

    fn kind_name(&self) -> &'static str {
        "ssh_key"
    }
    fn noun(&self) -> &'static str {
        "SSH key"
    }
    fn id(&self, item: &SshKey) -> u64 {
        item.id.0
    }
    fn name<'a>(&self, item: &'a SshKey) -> &'a str {
        &item.name
    }
    fn labels<'a>(&self, item: &'a SshKey) -> &'a Labels {
        &item.labels
    }

    async fn list(
        &self,
        client: &HcloudClient,
        params: &ListParams,
    ) -> Result<Vec<SshKey>, HcloudError> {
        client.list_ssh_keys(params).await
    }

    /// The actual attributes of a key, in the shape `create` records.
    fn observed(&self, key: &SshKey, recorded: &ResourceState, _: &ServerNames) -> ResourceState {
        let mut s = recorded.clone();
        s.id = Some(key.id.to_string());
        let at = &mut s.attributes;
        at.insert("id".into(), Json::String(key.id.to_string()));
        at.insert("name".into(), Json::String(key.name.clone()));
        // Keep the recorded spelling when it is the same key, so a comment does not read as drift.
        let same = at
            .get("public_key")
            .and_then(Json::as_str)
            .is_some_and(|p| same_key(p, &key.public_key));
        if !same {
            at.insert("public_key".into(), Json::String(key.public_key.clone()));
        }
        at.insert(
            "labels".into(),
            crate::resources::cloud::attrs::labels_json(&key.labels),
        );
        at.insert("fingerprint".into(), Json::String(key.fingerprint.clone()));
        s
    }

    async fn delete_id(
        &self,
        app: &CloudProvider,
        cx: &ApplyContext,
        address: &str,
        id: u64,
    ) -> Result<(), ApplyError> {
        gone_ok(app.client.delete_ssh_key(SshKeyId(id)).await)?;
        let _ = (cx, address);
        Ok(())
    }
}
