//! SSH transport: host-key pinning, exec, atomic upload.
//!
//! - [`Transport`] is what the node layer uses: `exec`, `upload`, `read_file`.
//! - [`SshPool`] hands out one [`SshTransport`] per host per run, reconnecting if one broke.
//! - Host keys are checked right after the key exchange, before authentication, against a
//!   [`HostKeyPolicy`]: a pinned fingerprint, or an explicit learn-once.
//! - [`generate_host_key`] makes the ed25519 host keys injected into servers we create.
//! - [`wait_for_sshd`] waits for a new server's sshd with backoff and a deadline.
//!
//! libssh2 is blocking; every call runs on tokio's blocking pool and is bounded by a timeout.

mod config;
mod connection;
mod error;
mod host_key;
mod keygen;
mod lines;
mod pool;
mod remote_script;
mod ssh_transport;
mod transport;
mod wait;

pub use config::{SshAuth, SshEndpoint, SshOptions, SshTarget};
pub use connection::SshConnection;
pub use error::SshError;
pub use host_key::{HostKeyFingerprint, HostKeyPolicy, HostKeyVerdict};
pub use keygen::{GeneratedHostKey, generate_host_key};
pub use lines::{LineSplitter, OutputLine, OutputStream};
pub use pool::SshPool;
pub use remote_script::shell_quote;
pub use ssh_transport::SshTransport;
pub use transport::{
    BoxFuture, ExecOutput, ExecRequest, LineSink, Transport, UploadReceipt, UploadRequest,
};
pub use wait::wait_for_sshd;
