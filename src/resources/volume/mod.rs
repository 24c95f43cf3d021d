//! `volume`: a Hetzner Cloud volume. It grows in place and moves between servers by
//! detach/attach; its location and filesystem are fixed at creation.

mod cloud;

use crate::config::instance::block_address;
use crate::resources::cloud::Cloud;
use crate::resources::{
    Desired, DesiredContext, Facts, InPlace, Operate, Read, ResourceKind, labels_json,
};

#[derive(Clone, Copy)]
pub struct VolumeKind;

impl ResourceKind for VolumeKind {
    fn facts(&self) -> &'static Facts {
        &Facts {
            name: "volume",
            in_place: InPlace::Only(&["name", "labels", "size", "server", "automount"]),
            computed: &["id", "linux_device"],
        }
    }

    fn read(&self) -> Read<'_> {
        Read::Cloud(self)
    }

    fn attachment(&self) -> Option<&'static str> {
        Some("server")
    }

    fn desired(&self, ctx: &DesiredContext<'_>) -> Vec<Desired> {
        let stack = &ctx.stack.name.value;
        // Looked up once per volume: a scan of the servers each time made this quadratic.
        let server_locations: std::collections::HashMap<&str, &str> = ctx
            .stack
            .servers
            .iter()
            .map(|s| (s.name.as_str(), s.location.value.as_str()))
            .collect();
        ctx.stack
            .volumes
            .iter()
            .map(|v| {
                let mut d = Desired::new("volume", &v.name);
                let labels = labels_json(stack, &d.address, &v.labels);
                let server = v.server.as_ref().map(|s| s.value.clone());
                let location = v.location.as_ref().map(|l| l.value.clone()).or_else(|| {
                    server
                        .as_deref()
                        .and_then(|s| server_locations.get(s))
                        .map(|l| (*l).to_string())
                });
                if let Some(s) = &server {
                    d = d.depends_on(block_address("server", s));
                }
                d.attr(
                    "name",
                    crate::config::instance::resource_name(stack, &v.name),
                )
                .attr("size", v.size_gb.value)
                .attr(
                    "location",
                    location.map_or(serde_json::Value::Null, Into::into),
                )
                .attr("server", server.map_or(serde_json::Value::Null, Into::into))
                .attr(
                    "format",
                    v.format.clone().map_or(serde_json::Value::Null, Into::into),
                )
                .attr("automount", v.automount)
                .attr("labels", labels)
            })
            .collect()
    }

    fn operate(&self) -> &dyn Operate {
        &Cloud(VolumeKind)
    }
}
