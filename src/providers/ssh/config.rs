//! What to connect to, as whom, and how long to wait for anything.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use zeroize::Zeroizing;

use super::host_key::HostKeyPolicy;

/// `user@host:port`. The pool keys connections by this.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SshTarget {
    pub host: String,
    pub port: u16,
    pub user: String,
}

impl SshTarget {
    pub fn new(host: impl Into<String>, port: u16, user: impl Into<String>) -> Self {
        Self {
            host: host.into(),
            port,
            user: user.into(),
        }
    }
}

impl fmt::Display for SshTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "{}@[{}]:{}", self.user, self.host, self.port)
        } else {
            write!(f, "{}@{}:{}", self.user, self.host, self.port)
        }
    }
}

/// How to prove who we are.
#[derive(Clone)]
pub enum SshAuth {
    /// A private key file (OpenSSH, PEM or PKCS#8 format), optionally passphrase-protected.
    KeyFile {
        path: PathBuf,
        passphrase: Option<Zeroizing<String>>,
    },
    /// Every identity an ssh-agent offers, in its order: the agent at `socket`, or at
    /// `$SSH_AUTH_SOCK` when `None`.
    Agent { socket: Option<PathBuf> },
}

impl SshAuth {
    pub fn key_file(path: impl Into<PathBuf>) -> Self {
        SshAuth::KeyFile {
            path: path.into(),
            passphrase: None,
        }
    }

    /// The agent at `$SSH_AUTH_SOCK`.
    pub fn agent() -> Self {
        SshAuth::Agent { socket: None }
    }
}

impl fmt::Debug for SshAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SshAuth::KeyFile { path, passphrase } => f
                .debug_struct("KeyFile")
                .field("path", path)
                .field("passphrase", &passphrase.as_ref().map(|_| "(sensitive)"))
                .finish(),
            SshAuth::Agent { socket } => f.debug_struct("Agent").field("socket", socket).finish(),
        }
    }
}

/// Everything needed to open a verified, authenticated connection to one host.
#[derive(Debug, Clone)]
pub struct SshEndpoint {
    pub target: SshTarget,
    pub auth: SshAuth,
    pub host_key: HostKeyPolicy,
}

/// Timeouts and limits. Every blocking libssh2 call is bounded by `io_timeout`; commands by
/// `command_timeout` unless a request sets its own.
#[derive(Debug, Clone)]
pub struct SshOptions {
    /// TCP connect, per resolved address.
    pub connect_timeout: Duration,
    /// Handshake, authentication, opening channels and every read/write that should be quick.
    pub io_timeout: Duration,
    /// How often an idle connection (and a long silent command) sends a keepalive.
    pub keepalive_interval: Duration,
    /// Default bound on one remote command, from exec to exit status.
    pub command_timeout: Duration,
    /// Cap on stdout and on stderr of one command, so a runaway command cannot exhaust memory.
    pub max_output_bytes: usize,
}

impl Default for SshOptions {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(10),
            io_timeout: Duration::from_secs(30),
            keepalive_interval: Duration::from_secs(15),
            // `docker compose up --wait` pulling a multi-GB vLLM image takes minutes.
            command_timeout: Duration::from_secs(30 * 60),
            max_output_bytes: 256 * 1024 * 1024,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_display() {
        assert_eq!(
            SshTarget::new("10.0.0.1", 22, "root").to_string(),
            "root@10.0.0.1:22"
        );
        assert_eq!(
            SshTarget::new("::1", 2222, "ops").to_string(),
            "ops@[::1]:2222"
        );
    }

    #[test]
    fn auth_debug_hides_passphrase() {
        let auth = SshAuth::KeyFile {
            path: "/k".into(),
            passphrase: Some(Zeroizing::new("hunter2".into())),
        };
        let dbg = format!("{auth:?}");
        assert!(!dbg.contains("hunter2"), "{dbg}");
        assert!(dbg.contains("(sensitive)"));
    }
}
