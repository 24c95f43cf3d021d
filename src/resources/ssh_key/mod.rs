//! `ssh_key`: a Hetzner Cloud SSH key. The key material cannot change in place.

mod cloud;

use crate::resources::cloud::Cloud;
use crate::resources::{
    Desired, DesiredContext, Facts, InPlace, Operate, Read, ResourceKind, labels_json,
};

#[derive(Clone, Copy)]
pub struct SshKeyKind;

impl ResourceKind for SshKeyKind {
    fn facts(&self) -> &'static Facts {
        &Facts {
            name: "ssh_key",
            in_place: InPlace::Only(&["name", "labels"]),
            computed: &["id", "fingerprint"],
        }
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
                d.attr(
                    "name",
                    crate::config::instance::resource_name(stack, &k.name),
                )
                .attr("public_key", k.public_key.value.trim().to_string())
                .attr("labels", labels)
            })
            .collect()
    }

    fn operate(&self) -> &dyn Operate {
        &Cloud(SshKeyKind)
    }
}
