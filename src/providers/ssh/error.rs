//! Everything that can go wrong between us and a host's sshd.
//!
//! Messages name the host and what we were doing, never key material or file contents: an error
//! may end up in a CI log, the apply journal or a bug report.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use miette::Diagnostic;
use thiserror::Error;

use super::host_key::HostKeyFingerprint;

/// Errors of the SSH transport. `target` fields read `user@host:port`.
#[derive(Debug, Error, Diagnostic)]
pub enum SshError {
    #[error("cannot resolve `{host}`: {source}")]
    #[diagnostic(
        code(sovstack::ssh::resolve),
        help("check the host name or use the IP address")
    )]
    Resolve {
        host: String,
        #[source]
        source: std::io::Error,
    },

    #[error("connection to {addr} refused")]
    #[diagnostic(
        code(sovstack::ssh::connect_refused),
        help(
            "nothing listens on that port: is sshd running, is the port right, does a firewall reject it? \
             For a server that was just created, sshd may still be starting: wait for it first"
        )
    )]
    ConnectRefused { addr: SocketAddr },

    #[error("connection to {addr} timed out after {}", humanize(*after))]
    #[diagnostic(
        code(sovstack::ssh::connect_timeout),
        help(
            "the host did not answer: check the address, that the host is up and that a firewall lets \
             port 22 (or the configured port) in from this machine"
        )
    )]
    ConnectTimeout { addr: SocketAddr, after: Duration },

    #[error("cannot connect to {addr}: {source}")]
    #[diagnostic(code(sovstack::ssh::connect))]
    Connect {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },

    #[error("SSH handshake with {target} failed: {message}")]
    #[diagnostic(
        code(sovstack::ssh::handshake),
        help("the peer may not be an SSH server, or it offers no algorithm we support")
    )]
    Handshake { target: String, message: String },

    #[error(
        "host key of {target} does not match the pinned fingerprint\n  expected:  {expected}\n  presented: {presented}{}",
        key_type.as_deref().map(|t| format!(" ({t})")).unwrap_or_default()
    )]
    #[diagnostic(
        code(sovstack::ssh::host_key_mismatch),
        help(
            "nothing was sent to the host: we stopped before authenticating. If the host was reinstalled \
             or its key rotated on purpose, verify the new fingerprint out of band (e.g. the provider's \
             console: `ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub`; the ed25519 key is used \
             when the host has one) and update the pinned fingerprint. Otherwise someone may be \
             intercepting the connection"
        )
    )]
    HostKeyMismatch {
        target: String,
        expected: HostKeyFingerprint,
        presented: HostKeyFingerprint,
        /// The algorithm of the presented key (`ssh-ed25519`), when known.
        key_type: Option<String>,
    },

    #[error("{target} presented no host key")]
    #[diagnostic(code(sovstack::ssh::host_key_missing))]
    HostKeyMissing { target: String },

    #[error("`{input}` is not an OpenSSH SHA256 fingerprint")]
    #[diagnostic(
        code(sovstack::ssh::fingerprint_syntax),
        help(
            "expected `SHA256:` followed by 43 base64 characters, as printed by \
             `ssh-keygen -lf <key>.pub -E sha256`"
        )
    )]
    InvalidFingerprint { input: String },

    #[error("authentication as `{user}` on {target} failed (tried: {})", tried.join(", "))]
    #[diagnostic(
        code(sovstack::ssh::auth_failed),
        help(
            "the server accepts: {server_methods}. Check that the public key is in the user's \
             authorized_keys (for created servers: the `ssh_key` resource), that the private key file \
             is the right one, or that ssh-agent holds it (`ssh-add -l`)"
        )
    )]
    AuthFailed {
        target: String,
        user: String,
        tried: Vec<String>,
        server_methods: String,
    },

    #[error("private key file {path} is not readable: {source}")]
    #[diagnostic(code(sovstack::ssh::key_file))]
    KeyFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("ssh-agent is not usable: {message}")]
    #[diagnostic(
        code(sovstack::ssh::agent),
        help(
            "start an agent and add the key (`eval $(ssh-agent) && ssh-add <key>`), or configure a key file"
        )
    )]
    Agent { message: String },

    #[error("{op} on {target} timed out after {}", humanize(*after))]
    #[diagnostic(
        code(sovstack::ssh::timeout),
        help(
            "the host or the network stalled; the connection is dropped and re-opened on next use"
        )
    )]
    Timeout {
        target: String,
        op: &'static str,
        after: Duration,
    },

    #[error("{op} on {target} failed: {message}")]
    #[diagnostic(
        code(sovstack::ssh::session),
        help("the connection is dropped and re-opened on next use")
    )]
    Session {
        target: String,
        op: &'static str,
        message: String,
    },

    #[error("command on {target} exited with {status}: `{command}`\n{stderr_tail}")]
    #[diagnostic(code(sovstack::ssh::command_failed))]
    CommandFailed {
        target: String,
        command: String,
        /// `status 3` or `signal KILL`.
        status: String,
        /// The last lines of stderr, lossily decoded.
        stderr_tail: String,
    },

    #[error("command on {target} did not finish within {}: `{command}`", humanize(*after))]
    #[diagnostic(
        code(sovstack::ssh::command_timeout),
        help(
            "the remote process may still be running; raise the command timeout if it is expected to take longer"
        )
    )]
    CommandTimedOut {
        target: String,
        command: String,
        after: Duration,
    },

    #[error("output of `{command}` on {target} exceeds {limit} bytes")]
    #[diagnostic(code(sovstack::ssh::output_too_large))]
    OutputTooLarge {
        target: String,
        command: String,
        limit: usize,
    },

    #[error(
        "upload of {path} to {target} was not verified: sha256 expected {expected}, remote has {actual}"
    )]
    #[diagnostic(
        code(sovstack::ssh::upload_verification),
        help(
            "the remote file was {}; check the remote disk (full? read-only?) and whether something else writes that path",
            if *replaced { "replaced, but differs now" } else { "left untouched" }
        )
    )]
    UploadVerification {
        target: String,
        path: String,
        expected: String,
        actual: String,
        /// Whether the rename had already happened when the mismatch was seen.
        replaced: bool,
    },

    #[error("invalid remote path `{path}`: {reason}")]
    #[diagnostic(code(sovstack::ssh::remote_path))]
    InvalidRemotePath { path: String, reason: &'static str },

    #[error("invalid upload parameter: {reason}")]
    #[diagnostic(code(sovstack::ssh::upload_parameter))]
    InvalidUpload { reason: String },

    #[error("sshd on {addr} not ready after {}: {last_error}", humanize(*waited))]
    #[diagnostic(
        code(sovstack::ssh::sshd_not_ready),
        help(
            "a new server can take a minute to boot and run cloud-init; if this persists, check the \
             server's console and that the firewall allows SSH from this machine"
        )
    )]
    SshdNotReady {
        addr: SocketAddr,
        waited: Duration,
        last_error: String,
    },

    #[error("cannot generate an SSH host key: {message}")]
    #[diagnostic(code(sovstack::ssh::keygen))]
    KeyGeneration { message: String },

    #[error("SSH worker task failed: {message}")]
    #[diagnostic(code(sovstack::ssh::worker))]
    Worker { message: String },
}

impl SshError {
    /// Whether the connection that produced this error must not be reused.
    pub fn breaks_connection(&self) -> bool {
        matches!(
            self,
            SshError::Timeout { .. }
                | SshError::Session { .. }
                | SshError::CommandTimedOut { .. }
                | SshError::OutputTooLarge { .. }
                | SshError::Worker { .. }
        )
    }
}

pub(crate) fn humanize(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        format!("{ms}ms")
    } else if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{:.1}s", d.as_secs_f64())
    }
}

/// The last `max_lines` lines of `bytes`, at most `max_bytes` long, for error messages.
pub(crate) fn tail(bytes: &[u8], max_lines: usize, max_bytes: usize) -> String {
    let text = String::from_utf8_lossy(bytes);
    let lines: Vec<&str> = text.trim_end().lines().collect();
    let skip = lines.len().saturating_sub(max_lines);
    let mut out = lines[skip..].join("\n");
    let mut truncated = skip > 0;
    if out.len() > max_bytes {
        let mut cut = out.len() - max_bytes;
        while !out.is_char_boundary(cut) {
            cut += 1;
        }
        out = out[cut..].to_string();
        truncated = true;
    }
    if truncated {
        format!("[...]\n{out}")
    } else {
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_keeps_last_lines() {
        assert_eq!(tail(b"a\nb\nc\n", 5, 100), "a\nb\nc");
        assert_eq!(tail(b"a\nb\nc\nd", 2, 100), "[...]\nc\nd");
        assert_eq!(tail(b"", 3, 100), "");
        assert_eq!(tail(b"0123456789", 3, 4), "[...]\n6789");
    }

    #[test]
    fn humanize_durations() {
        assert_eq!(humanize(Duration::from_millis(250)), "250ms");
        assert_eq!(humanize(Duration::from_secs(30)), "30s");
        assert_eq!(humanize(Duration::from_millis(1500)), "1.5s");
    }
}
