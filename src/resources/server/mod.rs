//! `server`: a Hetzner Cloud server. Its type changes in place (power off, change type,
//! power on); image, location, SSH keys and user data need a new server.

mod cloud;
mod node;

use crate::config::instance::block_address;
use crate::config::value;
use crate::resources::cloud::Cloud;
use crate::resources::node::NodeHost;
use crate::resources::{
    Desired, DesiredContext, Facts, InPlace, Operate, Read, ResourceKind, labels_json,
};
use sha2::{Digest, Sha256};

#[derive(Clone, Copy)]
pub struct ServerKind;

/// The name of a key a `data "ssh_key"` block finds: as given, or as reading found it.
fn data_key_name(ctx: &DesiredContext<'_>, name: &str) -> String {
    let data = ctx
        .stack
        .data
        .iter()
        .find(|d| d.kind == "ssh_key" && d.name == name);
    match data {
        Some(d) => match (&d.selector, d.found.get("name")) {
            (_, Some(found)) => found.clone(),
            (crate::config::model::DataSelector::Name(n), None) => n.clone(),
            (_, None) => crate::config::value::after_apply(&format!("{}.name", d.address())),
        },
        None => crate::config::value::after_apply(&format!("data.ssh_key.{name}.name")),
    }
}

impl ResourceKind for ServerKind {
    // `status` (running, off...) is reported by the API; sovstack does not set it.
    fn facts(&self) -> &'static Facts {
        &Facts {
            name: "server",
            in_place: InPlace::Only(&["name", "labels", "server_type"]),
            computed: &[
                "id",
                "ipv4_address",
                "ipv6_address",
                "host_key_fingerprint",
                "status",
            ],
        }
    }

    fn read(&self) -> Read<'_> {
        Read::Cloud(self)
    }

    fn as_node(&self) -> Option<&dyn NodeHost> {
        Some(self)
    }

    fn desired(&self, ctx: &DesiredContext<'_>) -> Vec<Desired> {
        let stack = &ctx.stack.name.value;
        ctx.stack
            .servers
            .iter()
            .map(|s| {
                let mut d = Desired::new("server", &s.name);
                let labels = labels_json(stack, &d.address, &s.labels);
                let mut ssh_keys: Vec<String> = s
                    .ssh_keys
                    .iter()
                    .map(|k| crate::config::instance::resource_name(stack, &k.value))
                    .collect();
                ssh_keys.extend(s.data_ssh_keys.iter().map(|k| data_key_name(ctx, &k.value)));
                for k in &s.ssh_keys {
                    d = d.depends_on(block_address("ssh_key", &k.value));
                }
                // The host key is generated at create time and is not part of this hash: what
                // is hashed is everything else cloud-init is told, so changing it replaces.
                // Commands naming a value known only after apply have no hash yet: a hash of
                // the placeholder would be recorded, and replace the server on the next plan.
                let runcmd = s.user_data_runcmd.join("\n");
                let user_data = if value::is_unknown(&runcmd) {
                    value::markers_only(&runcmd)
                } else {
                    hex::encode(Sha256::digest(runcmd.as_bytes()))
                };
                d.attr(
                    "name",
                    crate::config::instance::resource_name(stack, &s.name),
                )
                .attr("server_type", s.server_type.value.clone())
                .attr("location", s.location.value.clone())
                .attr("image", s.image.value.clone())
                .attr("ssh_keys", ssh_keys)
                .attr("user_data_sha256", user_data)
                .attr("labels", labels)
            })
            .collect()
    }

    fn operate(&self) -> &dyn Operate {
        &Cloud(ServerKind)
    }
}
