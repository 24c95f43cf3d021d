//! A server as a node: reached at the address the API gave it, with the host key sovstack
//! generated for it and pinned in state.

use super::ServerKind;
use crate::providers::ssh::{HostKeyPolicy, SshEndpoint, SshTarget};
use crate::resources::node::NodeHost;
use crate::resources::node::reach::{auth, fingerprint, precondition};
use crate::resources::{Address, ApplyContext, ApplyError};

impl NodeHost for ServerKind {
    fn endpoint(&self, cx: &ApplyContext, address: &Address) -> Result<SshEndpoint, ApplyError> {
        let (node, name) = (address.to_string(), address.name.as_str());
        let node = node.as_str();
        let server = cx
            .stack
            .server(name)
            .ok_or_else(|| precondition(node, "no such server in the stack".into(), None))?;
        let ip = cx
            .attribute(node, "ipv4_address")
            .and_then(|v| v.as_str().map(str::to_string))
            .ok_or_else(|| {
                precondition(
                    node,
                    "its address is not recorded yet".into(),
                    Some("the server must be created before anything runs on it"),
                )
            })?;
        let fp = cx
                .attribute(node, "host_key_fingerprint")
                .and_then(|v| v.as_str().map(str::to_string))
                .ok_or_else(|| {
                    precondition(
                        node,
                        "no host key fingerprint is recorded for it".into(),
                        Some("servers sovstack creates get their host key through cloud-init; recreate the server or pin its key"),
                    )
                })?;
        Ok(SshEndpoint {
            target: SshTarget::new(ip, server.ssh.port, server.ssh.user.clone()),
            auth: auth(&server.ssh),
            host_key: HostKeyPolicy::Pinned(fingerprint(node, &fp)?),
        })
    }

    fn may_be_booting(&self) -> bool {
        true
    }
}
