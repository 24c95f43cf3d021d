//! How a node is reached: address, SSH access and the host-key policy, from the stack and
//! what state recorded. A key that does not match stops the connection before authentication,
//! so before any command runs.

use super::NodeApplier;
use crate::apply::{ApplyContext, ApplyError};
use crate::config::SshAccess;
use crate::providers::ssh::{
    HostKeyFingerprint, HostKeyPolicy, SshAuth, SshEndpoint, SshTarget, SshTransport, wait_for_sshd,
};
use std::net::{IpAddr, SocketAddr};

fn precondition(address: &str, message: String, help: Option<&str>) -> ApplyError {
    ApplyError::Precondition {
        address: address.to_string(),
        message,
        help: help.map(str::to_string),
    }
}

fn auth(access: &SshAccess) -> SshAuth {
    match &access.private_key_file {
        Some(path) => SshAuth::key_file(path),
        None => SshAuth::agent(),
    }
}

fn fingerprint(node: &str, text: &str) -> Result<HostKeyFingerprint, ApplyError> {
    text.parse().map_err(|e: crate::providers::ssh::SshError| {
        precondition(node, format!("host key fingerprint: {e}"), None)
    })
}

/// The endpoint of `node` (`server.<n>` or `host.<n>`).
pub(crate) fn endpoint(cx: &ApplyContext, node: &str) -> Result<SshEndpoint, ApplyError> {
    let (kind, name) = node
        .split_once('.')
        .ok_or_else(|| precondition(node, "not a node address".into(), None))?;
    match kind {
        "server" => {
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
        "host" => {
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
        _ => Err(precondition(node, "not a node address".into(), None)),
    }
}

impl NodeApplier {
    /// The run's connection to `node`. A server is waited for (its sshd may still be booting)
    /// before the first connection of the run.
    pub(crate) async fn connect(
        &self,
        cx: &ApplyContext,
        address: &str,
        node: &str,
    ) -> Result<SshTransport, ApplyError> {
        let ep = endpoint(cx, node)?;
        if node.starts_with("server.")
            && self.first_contact(node)
            && let Ok(ip) = ep.target.host.parse::<IpAddr>()
        {
            cx.events
                .progress(address, format!("waiting for sshd on {}", ep.target));
            let deadline = tokio::time::Instant::now() + self.sshd_wait;
            wait_for_sshd(SocketAddr::new(ip, ep.target.port), deadline).await?;
        }
        Ok(self.pool.get(&ep).await?)
    }
}
