//! `ssh_key`: a Hetzner Cloud SSH key. The key material cannot change in place.

mod cloud;

use crate::resources::{
    ApplyContext, ApplyError, ChangeMode, Desired, DesiredContext, Providers, Read, ResourceKind,
    labels_json,
};
use crate::state::ResourceState;

#[derive(Clone, Copy)]
pub struct SshKeyKind;

#[async_trait::async_trait]
impl ResourceKind for SshKeyKind {
    fn name(&self) -> &'static str {
        "ssh_key"
    }

    fn change_mode(&self, attribute: &str) -> ChangeMode {
        match attribute {
            "name" | "labels" => ChangeMode::Update,
            _ => ChangeMode::Replace,
        }
    }

    fn computed(&self) -> &'static [&'static str] {
        &["id", "fingerprint"]
    }

    fn read(&self) -> Read<'_> {
        Read::Cloud(self)
    }

    fn desired(&self, ctx: &DesiredContext<'_>) -> Vec<Desired> {
        let stack = &ctx.stack.name.value;
        ctx.stack
            .ssh_keys
            .iter()
            .map(|k| {
                let d = Desired::new("ssh_key", &k.name);
                let labels = labels_json(stack, &d.address, &k.labels);
                d.attr("name", format!("{stack}-{}", k.name))
                    .attr("public_key", k.public_key.value.trim().to_string())
                    .attr("labels", labels)
            })
            .collect()
    }

    async fn create(
        &self,
        providers: &Providers,
        cx: &ApplyContext,
        desired: &Desired,
    ) -> Result<ResourceState, ApplyError> {
        cloud::create(providers.cloud(&desired.address)?, cx, desired).await
    }

    async fn update(
        &self,
        providers: &Providers,
        cx: &ApplyContext,
        desired: &Desired,
        prior: &ResourceState,
        changed: &[String],
    ) -> Result<ResourceState, ApplyError> {
        crate::resources::cloud::check_in_place(self.name(), &desired.address, changed)?;
        cloud::update(
            providers.cloud(&desired.address)?,
            cx,
            desired,
            prior,
            changed,
        )
        .await
    }

    async fn delete(
        &self,
        providers: &Providers,
        cx: &ApplyContext,
        address: &str,
        prior: &ResourceState,
    ) -> Result<(), ApplyError> {
        crate::resources::cloud::delete(self, providers.cloud(address)?, cx, address, prior).await
    }
}
