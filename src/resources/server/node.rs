//! A server as a node: reached at the address the API gave it, with the host key state pins for
//! it: the one sovstack generated and sent with cloud-init, then the one generated on the server
//! (`host_key.<name>`), and either of the two while the rotation runs.

use super::ServerKind;
use crate::providers::ssh::{SshEndpoint, SshTarget};
use crate::resources::host_key::HostKeyState;
use crate::resources::node::NodeHost;
use crate::resources::node::reach::{auth, precondition};
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
        let keys = HostKeyState::of(cx, node)?.ok_or_else(|| {
            precondition(
                node,
                "no host key fingerprint is recorded for it".into(),
                Some("servers sovstack creates get their host key through cloud-init; recreate the server or pin its key"),
            )
        })?;
        Ok(SshEndpoint {
            target: SshTarget::new(ip, server.ssh.port, server.ssh.user.clone()),
            auth: auth(&server.ssh),
            host_key: keys.policy(),
        })
    }

    fn may_be_booting(&self) -> bool {
        true
    }
}
