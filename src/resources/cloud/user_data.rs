//! cloud-init user data for one server, carrying the host key generated for it.

use crate::config::instance::block_address;
use crate::config::{Server, Stack};
use crate::providers::ssh::GeneratedHostKey;
use crate::render::{ArtifactKind, HostKeyPair, RenderOptions, render_stack};
use crate::resources::{ApplyContext, ApplyError};

/// Renders the server's cloud-init with `key` (values known from state filled in). The result
/// holds the private key: it goes into the create request and nowhere else.
pub(crate) fn render(
    cx: &ApplyContext,
    server: &Server,
    key: &GeneratedHostKey,
) -> Result<String, ApplyError> {
    // Only this server's cloud-init is wanted: rendering the compose projects too would need
    // their secrets and values of resources that may not exist yet.
    let stack = Stack {
        servers: vec![server.clone()],
        composes: Vec::new(),
        ..(*cx.stack).clone()
    };
    // The digest is never stored from here; a throwaway key keeps the renderer's contract.
    let digest_key: Vec<u8> = (0..32).map(|_| rand::random::<u8>()).collect();
    let opts = RenderOptions::apply(super::attrs::known_values(cx), digest_key).with_host_key(
        server.name.clone(),
        HostKeyPair {
            ed25519_private: key.private_openssh().to_owned(),
            ed25519_public: key.public_openssh().to_owned(),
        },
    );
    let artifacts = render_stack(&stack, &opts)?;
    artifacts
        .into_iter()
        .find(|a| {
            a.kind == ArtifactKind::CloudInit && a.node == block_address("server", &server.name)
        })
        .map(|a| String::from_utf8_lossy(&a.content).into_owned())
        .ok_or_else(|| {
            super::attrs::precondition(
                &block_address("server", &server.name),
                "the renderer produced no cloud-init for this server",
            )
        })
}
