//! The interface the node layer programs against: run a command, put a file, read a file.
//!
//! It is object-safe (`Arc<dyn Transport>`) so the node layer can be tested with a fake and so an
//! OpenSSH-subprocess transport (ssh_config, ProxyJump, certificates) can be added later.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use sha2::{Digest, Sha256};

use super::error::{SshError, tail};
use super::lines::{LineSplitter, OutputLine, OutputStream};

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Where a streaming exec hands each line of output as it arrives.
pub type LineSink<'a> = &'a (dyn Fn(OutputLine) + Send + Sync);

/// A remote command. The command line is logged and may appear in errors: pass secrets on stdin
/// or in uploaded files, never in the command line.
#[derive(Clone)]
pub struct ExecRequest {
    pub command: String,
    pub stdin: Option<Vec<u8>>,
    /// Overrides the transport's default command timeout.
    pub timeout: Option<Duration>,
}

impl ExecRequest {
    pub fn new(command: impl Into<String>) -> Self {
        Self {
            command: command.into(),
            stdin: None,
            timeout: None,
        }
    }

    pub fn stdin(mut self, bytes: impl Into<Vec<u8>>) -> Self {
        self.stdin = Some(bytes.into());
        self
    }

    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }
}

impl fmt::Debug for ExecRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExecRequest")
            .field("command", &self.command)
            .field("stdin_bytes", &self.stdin.as_ref().map(Vec::len))
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// What a finished command left behind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecOutput {
    /// Exit status; `-1` when the process was killed by a signal (see `signal`).
    pub status: i32,
    /// Signal name without `SIG` (`KILL`, `TERM`) if the process died of one.
    pub signal: Option<String>,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

impl ExecOutput {
    pub fn success(&self) -> bool {
        self.status == 0 && self.signal.is_none()
    }

    pub fn stdout_str(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    pub fn stderr_str(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }

    /// `Ok(self)` if the command succeeded, else `CommandFailed` with the tail of stderr.
    pub fn ensure_success(self, target: &str, command: &str) -> Result<Self, SshError> {
        if self.success() {
            return Ok(self);
        }
        Err(SshError::CommandFailed {
            target: target.to_string(),
            command: abbreviate(command, 300),
            status: match &self.signal {
                Some(sig) => format!("signal {sig}"),
                None => format!("status {}", self.status),
            },
            stderr_tail: tail(&self.stderr, 20, 4000),
        })
    }
}

/// A file to place atomically on the host.
#[derive(Clone)]
pub struct UploadRequest {
    /// Absolute path of the file on the host. Its directory must exist.
    pub path: String,
    pub contents: Vec<u8>,
    /// Permission bits, e.g. `0o600` for secrets.
    pub mode: u32,
    /// `user` or `user:group`; needs the privileges to chown.
    pub owner: Option<String>,
}

impl UploadRequest {
    pub fn new(path: impl Into<String>, contents: impl Into<Vec<u8>>, mode: u32) -> Self {
        Self {
            path: path.into(),
            contents: contents.into(),
            mode,
            owner: None,
        }
    }

    pub fn owner(mut self, owner: impl Into<String>) -> Self {
        self.owner = Some(owner.into());
        self
    }

    /// Lowercase hex sha256 of the contents, what the host must end up with.
    pub fn sha256_hex(&self) -> String {
        hex::encode(Sha256::digest(&self.contents))
    }
}

impl fmt::Debug for UploadRequest {
    // Contents may be a secret (`.env`): show only size and hash.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UploadRequest")
            .field("path", &self.path)
            .field("bytes", &self.contents.len())
            .field("sha256", &self.sha256_hex())
            .field("mode", &format_args!("{:04o}", self.mode))
            .field("owner", &self.owner)
            .finish()
    }
}

/// Proof that a file is in place with the content we sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadReceipt {
    pub path: String,
    /// Lowercase hex sha256 the host reported for the file after the rename.
    pub sha256: String,
    pub bytes: u64,
}

/// A way to reach one host.
pub trait Transport: Send + Sync {
    /// `user@host:port` or similar, for messages.
    fn describe(&self) -> String;

    /// Runs a command to completion. A non-zero exit is not an error here; see `exec_checked`.
    fn exec(&self, request: ExecRequest) -> BoxFuture<'_, Result<ExecOutput, SshError>>;

    /// Runs a command like [`Self::exec`], handing each complete line of its stdout and stderr
    /// to `on_line` while it runs. This default hands them over when the command has ended, for
    /// transports that cannot do better.
    fn exec_streaming<'a>(
        &'a self,
        request: ExecRequest,
        on_line: LineSink<'a>,
    ) -> BoxFuture<'a, Result<ExecOutput, SshError>> {
        Box::pin(async move {
            let output = self.exec(request).await?;
            for (stream, bytes) in [
                (OutputStream::Stdout, &output.stdout),
                (OutputStream::Stderr, &output.stderr),
            ] {
                let mut lines = LineSplitter::new(stream);
                lines.push(bytes).into_iter().for_each(on_line);
                lines.finish().into_iter().for_each(on_line);
            }
            Ok(output)
        })
    }

    /// Writes a file atomically: temp file in the target directory, fsync, chmod/chown, checksum
    /// check, rename, fsync of the directory, checksum of the final file. A reader sees the old
    /// content or the new one, never a mix; a content mismatch leaves the old file in place.
    fn upload(&self, request: UploadRequest) -> BoxFuture<'_, Result<UploadReceipt, SshError>>;

    /// Reads a file; `None` if it does not exist.
    fn read_file(&self, path: &str) -> BoxFuture<'_, Result<Option<Vec<u8>>, SshError>>;

    /// `exec`, turning a non-zero exit into `SshError::CommandFailed`.
    fn exec_checked(&self, request: ExecRequest) -> BoxFuture<'_, Result<ExecOutput, SshError>> {
        Box::pin(async move {
            let command = request.command.clone();
            let output = self.exec(request).await?;
            output.ensure_success(&self.describe(), &command)
        })
    }
}

pub(crate) fn abbreviate(s: &str, max_chars: usize) -> String {
    if s.chars().count() <= max_chars {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max_chars).collect();
    out.push_str("...");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ensure_success_reports_status_and_stderr_tail() {
        let out = ExecOutput {
            status: 2,
            signal: None,
            stdout: b"ignored".to_vec(),
            stderr: b"line1\nline2\nboom\n".to_vec(),
        };
        let err = out.ensure_success("root@h:22", "false").unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("exited with status 2"), "{msg}");
        assert!(msg.contains("boom"), "{msg}");
        assert!(!msg.contains("ignored"), "{msg}");

        let killed = ExecOutput {
            status: -1,
            signal: Some("KILL".into()),
            stdout: vec![],
            stderr: vec![],
        };
        assert!(!killed.success());
        let msg = killed.ensure_success("h", "sleep").unwrap_err().to_string();
        assert!(msg.contains("signal KILL"), "{msg}");
    }

    #[test]
    fn debug_hides_payloads() {
        let up = UploadRequest::new("/etc/app/.env", b"TOKEN=secret".to_vec(), 0o600);
        let dbg = format!("{up:?}");
        assert!(!dbg.contains("secret"), "{dbg}");
        assert!(dbg.contains("0600"), "{dbg}");
        let ex = ExecRequest::new("cat > /x").stdin(b"TOKEN=secret".to_vec());
        let dbg = format!("{ex:?}");
        assert!(!dbg.contains("secret"), "{dbg}");
    }

    /// The node layer holds transports as `Arc<dyn Transport>`; a fake must be enough to drive it.
    struct Fake;

    impl Transport for Fake {
        fn describe(&self) -> String {
            "fake@host:22".into()
        }
        fn exec(&self, request: ExecRequest) -> BoxFuture<'_, Result<ExecOutput, SshError>> {
            Box::pin(async move {
                Ok(ExecOutput {
                    status: if request.command == "fail" { 1 } else { 0 },
                    signal: None,
                    stdout: request.stdin.unwrap_or_default(),
                    stderr: b"fake stderr".to_vec(),
                })
            })
        }
        fn upload(&self, request: UploadRequest) -> BoxFuture<'_, Result<UploadReceipt, SshError>> {
            Box::pin(async move {
                Ok(UploadReceipt {
                    sha256: request.sha256_hex(),
                    bytes: request.contents.len() as u64,
                    path: request.path,
                })
            })
        }
        fn read_file(&self, _path: &str) -> BoxFuture<'_, Result<Option<Vec<u8>>, SshError>> {
            Box::pin(async { Ok(None) })
        }
    }

    #[tokio::test]
    async fn transport_is_usable_as_a_trait_object() {
        let t: std::sync::Arc<dyn Transport> = std::sync::Arc::new(Fake);
        let out = t
            .exec_checked(ExecRequest::new("cat").stdin(b"hi".to_vec()))
            .await
            .unwrap();
        assert_eq!(out.stdout, b"hi");
        let err = t.exec_checked(ExecRequest::new("fail")).await.unwrap_err();
        assert!(
            matches!(&err, SshError::CommandFailed { target, stderr_tail, .. }
                if target == "fake@host:22" && stderr_tail == "fake stderr"),
            "{err:?}"
        );
    }

    #[test]
    fn abbreviate_long_commands() {
        assert_eq!(abbreviate("abc", 5), "abc");
        assert_eq!(abbreviate("abcdef", 3), "abc...");
    }
}
