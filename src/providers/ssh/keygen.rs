//! Host keys that sovstack generates for the servers it creates.
//!
//! The private key goes into the server's cloud-init user data (`ssh_keys: ed25519_private`), the
//! fingerprint into state, so the very first connection to a new server is already verified.

use std::fmt;

use ssh_key::rand_core::OsRng;
use ssh_key::{Algorithm, HashAlg, LineEnding, PrivateKey};
use zeroize::Zeroizing;

use super::error::SshError;
use super::host_key::HostKeyFingerprint;

/// A freshly generated ed25519 host key pair. The private half is wiped from memory on drop and
/// never printed by `Debug`.
pub struct GeneratedHostKey {
    private_openssh: Zeroizing<String>,
    public_openssh: String,
    fingerprint: HostKeyFingerprint,
}

impl GeneratedHostKey {
    /// The private key in OpenSSH PEM format (`-----BEGIN OPENSSH PRIVATE KEY-----`), unencrypted,
    /// as sshd and cloud-init expect it. Treat as a secret.
    pub fn private_openssh(&self) -> &str {
        &self.private_openssh
    }

    /// The public key line, `ssh-ed25519 AAAA... sovstack-host-key`.
    pub fn public_openssh(&self) -> &str {
        &self.public_openssh
    }

    /// The fingerprint to pin.
    pub fn fingerprint(&self) -> HostKeyFingerprint {
        self.fingerprint
    }
}

impl fmt::Debug for GeneratedHostKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GeneratedHostKey")
            .field("private_openssh", &"(sensitive)")
            .field("public_openssh", &self.public_openssh)
            .field("fingerprint", &self.fingerprint)
            .finish()
    }
}

/// Generates an ed25519 host key pair from the operating system's random source.
pub fn generate_host_key() -> Result<GeneratedHostKey, SshError> {
    let err = |e: ssh_key::Error| SshError::KeyGeneration {
        message: e.to_string(),
    };
    let mut key = PrivateKey::random(&mut OsRng, Algorithm::Ed25519).map_err(err)?;
    key.set_comment("sovstack-host-key");
    let private_openssh = key.to_openssh(LineEnding::LF).map_err(err)?;
    let public_openssh = key.public_key().to_openssh().map_err(err)?;
    let fingerprint = HostKeyFingerprint::from_public_openssh(&public_openssh)?;
    debug_assert_eq!(
        fingerprint.to_string(),
        key.fingerprint(HashAlg::Sha256).to_string()
    );
    Ok(GeneratedHostKey {
        private_openssh,
        public_openssh,
        fingerprint,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generates_distinct_ed25519_keys() {
        let a = generate_host_key().unwrap();
        let b = generate_host_key().unwrap();
        assert_ne!(a.fingerprint(), b.fingerprint());
        assert!(
            a.public_openssh()
                .starts_with("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5")
        );
        assert!(
            a.private_openssh()
                .starts_with("-----BEGIN OPENSSH PRIVATE KEY-----\n")
        );
        // The private key parses back and carries the same public key.
        let parsed = PrivateKey::from_openssh(a.private_openssh()).unwrap();
        assert_eq!(
            parsed.public_key().to_openssh().unwrap(),
            a.public_openssh()
        );
        assert!(!parsed.is_encrypted());
    }

    #[test]
    fn debug_never_prints_the_private_key() {
        let key = generate_host_key().unwrap();
        let dbg = format!("{key:?}");
        assert!(dbg.contains("(sensitive)"));
        assert!(!dbg.contains("PRIVATE KEY"));
        assert!(dbg.contains(&key.fingerprint().to_string()));
    }
}
