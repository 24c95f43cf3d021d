//! `ssh_key`: upload, rename/relabel, delete. The key material never changes in place.

use serde_json::Value as Json;

use super::SshKeyKind;
use crate::providers::hcloud::SshKeyId;
use crate::providers::hcloud::models::{CreateSshKey, SshKey, UpdateResource};
use crate::resources::ResourceKind;
use crate::resources::cloud::CloudProvider;
use crate::resources::cloud::attrs::{ready_state, updated_state};
use crate::resources::cloud::lookup::{Created, gone_ok};
use crate::resources::cloud::{CloudOp, CloudResource, CloudTarget, ServerNames};
use crate::resources::{ApplyError, Recorded};

use crate::state::ResourceState;

fn same_key(a: &str, b: &str) -> bool {
    // The API may drop or keep the comment; the type and base64 body are the key.
    let core = |s: &str| s.split_whitespace().take(2).collect::<Vec<_>>().join(" ");
    core(a) == core(b)
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

#[async_trait::async_trait]
impl CloudResource for SshKeyKind {
    async fn create(&self, op: CloudOp<'_>) -> Recorded {
        let (app, cx, d, a) = (op.app, op.cx, op.desired, &op.a);
        let name = a.str("name")?.to_owned();
        let public_key = a.str("public_key")?.to_owned();
        let labels = a.labels()?;
        let key = match op.find(&SshKeyKind).await? {
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
                match op
                    .create_or_find(&SshKeyKind, || app.client.create_ssh_key(&body))
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
            a,
            key.id.0,
            [("fingerprint", Json::String(key.fingerprint.clone()))],
        ))
    }

    async fn update(&self, op: CloudOp<'_>) -> Recorded {
        // Only the name and labels change in place, and the shared update has set them.
        Ok(updated_state(
            op.desired,
            &op.a,
            op.prior()?,
            SshKeyKind.computed(),
        ))
    }

    type Item = SshKey;

    fn noun(&self) -> &'static str {
        "SSH key"
    }

    /// The actual attributes of a key, in the shape `create` records.
    fn observed(&self, key: &SshKey, recorded: &ResourceState, _: &ServerNames) -> ResourceState {
        let mut s = crate::resources::cloud::observed_base(key, recorded);
        let at = &mut s.attributes;
        // Keep the recorded spelling when it is the same key, so a comment does not read as drift.
        let same = at
            .get("public_key")
            .and_then(Json::as_str)
            .is_some_and(|p| same_key(p, &key.public_key));
        if !same {
            at.insert("public_key".into(), Json::String(key.public_key.clone()));
        }
        at.insert("fingerprint".into(), Json::String(key.fingerprint.clone()));
        s
    }

    async fn delete_id(&self, target: CloudTarget<'_>) -> Result<(), ApplyError> {
        // Nothing holds a key: it is deleted at once, and one already gone is fine.
        gone_ok(target.app.client.delete_ssh_key(SshKeyId(target.id)).await)?;
        Ok(())
    }
}
