//! How a node is reached: address, SSH access and the host-key policy, from the stack and
//! what state recorded. A key that does not match stops the connection before authentication,
//! so before any command runs.

use super::NodeProvider;
use crate::config::SshAccess;
use crate::progress::heartbeat;
use crate::providers::ssh::{
    HostKeyFingerprint, SshAuth, SshEndpoint, SshTransport, wait_for_sshd,
};
use crate::resources::{Address, ApplyContext, ApplyError};
use std::net::{IpAddr, SocketAddr};

pub(crate) fn precondition(address: &str, message: String, help: Option<&str>) -> ApplyError {
    ApplyError::Precondition {
        address: address.to_string(),
        message,
        help: help.map(str::to_string),
    }
}

pub(crate) fn auth(access: &SshAccess) -> SshAuth {
    match &access.private_key_file {
        Some(path) => SshAuth::key_file(path),
        None => SshAuth::agent(),
    }
}

pub(crate) fn fingerprint(node: &str, text: &str) -> Result<HostKeyFingerprint, ApplyError> {
    text.parse().map_err(|e: crate::providers::ssh::SshError| {
        precondition(node, format!("host key fingerprint: {e}"), None)
    })
}

/// The endpoint of `node` (`server.<n>` or `host.<n>`), from the kind that hosts it.
pub(crate) fn endpoint(cx: &ApplyContext, node: &str) -> Result<SshEndpoint, ApplyError> {
    let not_a_node = || precondition(node, "not a node address".into(), None);
    let address = Address::parse(node).map_err(|_| not_a_node())?;
    let host = address.kind.get().as_node().ok_or_else(not_a_node)?;
    host.endpoint(cx, &address)
}

impl NodeProvider {
    /// The run's connection to `node`. A server is waited for (its sshd may still be booting)
    /// before the first connection of the run, unless the provider waits for nothing (reading
    /// what exists: a server recorded in state has booted).
    pub(crate) async fn connect(
        &self,
        cx: &ApplyContext,
        address: &str,
        node: &str,
    ) -> Result<SshTransport, ApplyError> {
        let ep = endpoint(cx, node)?;
        let booting = Address::parse(node)
            .ok()
            .and_then(|a| a.kind.get().as_node())
            .is_some_and(|h| h.may_be_booting());
        if booting
            && !self.sshd_wait.is_zero()
            && self.first_contact(node)
            && let Ok(ip) = ep.target.host.parse::<IpAddr>()
        {
            let what = format!("sshd on {}", ep.target);
            cx.events.progress(
                address,
                format!("waiting for {what} (at most {}s)", self.sshd_wait.as_secs()),
            );
            let deadline = tokio::time::Instant::now() + self.sshd_wait;
            let wait = wait_for_sshd(SocketAddr::new(ip, ep.target.port), deadline);
            let (limit, every) = (self.sshd_wait, heartbeat::EVERY);
            heartbeat::while_waiting(&cx.events, address, &what, limit, every, wait).await?;
        }
        Ok(self.pool.get(&ep).await?)
    }
}
