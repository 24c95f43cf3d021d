//! `host`: an existing machine. "Creating" it means connecting once, verifying (or, when
//! asked, learning) its host key and pinning that in state. A new address is a new machine.

use super::{ChangeMode, Desired, DesiredContext, ResourceKind};
use serde_json::Value as Json;

pub struct HostKind;

impl ResourceKind for HostKind {
    fn kind(&self) -> &'static str {
        "host"
    }

    fn change_mode(&self, attribute: &str) -> ChangeMode {
        match attribute {
            "address" => ChangeMode::Replace,
            _ => ChangeMode::Update,
        }
    }

    fn computed(&self) -> &'static [&'static str] {
        &["host_key_fingerprint"]
    }

    fn desired(&self, ctx: &DesiredContext<'_>) -> Vec<Desired> {
        ctx.stack
            .hosts
            .iter()
            .map(|h| {
                Desired::new("host", &h.name)
                    .attr("address", h.address.value.clone())
                    .attr("user", h.ssh.user.clone())
                    .attr("port", h.ssh.port)
                    .attr(
                        "host_key",
                        h.host_key
                            .as_ref()
                            .map_or(Json::Null, |k| Json::String(k.value.clone())),
                    )
            })
            .collect()
    }
}
