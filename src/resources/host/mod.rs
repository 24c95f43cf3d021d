//! `host`: an existing machine. "Creating" it means connecting once, verifying (or, when
//! asked, learning) its host key and pinning that in state. A new address is a new machine.

mod apply;

use crate::providers::ssh::{HostKeyPolicy, SshEndpoint, SshTarget};
use crate::resources::node::NodeHost;
use crate::resources::node::reach::{auth, fingerprint, precondition};
use crate::resources::node::{NodeRead, OnNode};
use crate::resources::{Address, Desired, DesiredContext, ResourceKind};
use crate::resources::{ApplyContext, ApplyError, Facts, InPlace, Operate, Read};
use crate::state::ResourceState;

use serde_json::Value as Json;

#[derive(Clone, Copy)]
pub struct HostKind;

impl ResourceKind for HostKind {
    fn facts(&self) -> &'static Facts {
        &Facts {
            name: "host",
            in_place: InPlace::AllBut(&["address"]),
            computed: &["host_key_fingerprint"],
        }
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

    fn read(&self) -> Read<'_> {
        Read::Node(self)
    }

    fn as_node(&self) -> Option<&dyn NodeHost> {
        Some(self)
    }

    fn operate(&self) -> &dyn Operate {
        &OnNode(HostKind)
    }
}

impl NodeRead for HostKind {
    fn node_of(&self, _cx: &ApplyContext, address: &str, _r: &ResourceState) -> Option<String> {
        Some(address.to_string())
    }
}

impl NodeHost for HostKind {
    fn endpoint(&self, cx: &ApplyContext, address: &Address) -> Result<SshEndpoint, ApplyError> {
        let (node, name) = (address.to_string(), address.name.as_str());
        let node = node.as_str();
        let host = cx
            .stack
            .host(name)
            .ok_or_else(|| precondition(node, "no such host in the stack".into(), None))?;
        let recorded = cx
            .attribute(node, "host_key_fingerprint")
            .and_then(|v| v.as_str().map(str::to_string));
        let policy = match (&host.host_key, recorded) {
            (Some(pinned), _) => HostKeyPolicy::Pinned(fingerprint(node, &pinned.value)?),
            (None, Some(fp)) => HostKeyPolicy::Pinned(fingerprint(node, &fp)?),
            (None, None) if cx.options.trust_new_host_keys => HostKeyPolicy::LearnOnce,
            (None, None) => {
                return Err(precondition(
                    node,
                    "its host key is neither pinned in the stack nor recorded in state".into(),
                    Some(
                        "set `host_key` (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub on the host, read out of band), or run once with --trust-new-host-keys to learn and pin it",
                    ),
                ));
            }
        };
        Ok(SshEndpoint {
            target: SshTarget::new(
                host.address.value.clone(),
                host.ssh.port,
                host.ssh.user.clone(),
            ),
            auth: auth(&host.ssh),
            host_key: policy,
        })
    }
}
