//! One blocking, verified, authenticated SSH connection (libssh2 via `ssh2`).
//!
//! Call these methods only from blocking contexts (`spawn_blocking`); `SshTransport` does that.
//! Operations on one connection are serialised by a mutex: libssh2 sessions are not safe for
//! concurrent channel I/O, and one host's steps run in order anyway.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::thread;
use std::time::{Duration, Instant};

use ssh2::{BlockDirections, Channel, DisconnectCode, ErrorCode, HostKeyType, MethodType, Session};

use super::config::{SshAuth, SshEndpoint, SshOptions, SshTarget};
use super::error::SshError;
use super::host_key::{HostKeyFingerprint, HostKeyVerdict};
use super::lines::{LineSplitter, OutputLine, OutputStream};
use super::remote_script;
use super::transport::{ExecOutput, ExecRequest, UploadReceipt, UploadRequest, abbreviate};

/// libssh2's LIBSSH2_ERROR_TIMEOUT: a blocking call hit `Session::set_timeout`.
const LIBSSH2_ERROR_TIMEOUT: i32 = -9;
/// libssh2's LIBSSH2_ERROR_EAGAIN: a non-blocking call would block.
const LIBSSH2_ERROR_EAGAIN: i32 = -37;
const CHUNK: usize = 32 * 1024;

/// Plain host keys only, ed25519 first (OpenSSH's own order). Without this a host with a host
/// certificate would present the certificate, whose fingerprint is not the key's; and the key we
/// pin for servers we create is the ed25519 one, next to the ecdsa/rsa keys cloud-init generates.
const HOST_KEY_PREFERENCE: &[&str] = &[
    "ssh-ed25519",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "rsa-sha2-512",
    "rsa-sha2-256",
];

pub struct SshConnection {
    target: SshTarget,
    label: String,
    verdict: HostKeyVerdict,
    options: SshOptions,
    shared: Arc<Shared>,
    /// Dropping it stops the keepalive thread.
    _keepalive_stop: mpsc::Sender<()>,
}

struct Shared {
    live: Mutex<Live>,
    broken: AtomicBool,
}

struct Live {
    session: Session,
    fd: RawFd,
}

impl Drop for Live {
    fn drop(&mut self) {
        // A polite goodbye so sshd logs a clean disconnect; bounded, never fatal.
        self.session.set_blocking(true);
        self.session.set_timeout(2000);
        let _ = self
            .session
            .disconnect(Some(DisconnectCode::ByApplication), "sovstack done", None);
    }
}

impl std::fmt::Debug for SshConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SshConnection")
            .field("target", &self.label)
            .field("host_key", &self.verdict)
            .field("broken", &self.is_broken())
            .finish()
    }
}

impl SshConnection {
    /// Connects, checks the host key against the endpoint's policy (before authenticating), then
    /// authenticates.
    pub fn connect(endpoint: &SshEndpoint, options: &SshOptions) -> Result<Self, SshError> {
        let target = endpoint.target.clone();
        let label = target.to_string();
        let stream = tcp_connect(&target, options.connect_timeout)?;
        // Small request/response exchanges dominate; Nagle only adds latency.
        let _ = stream.set_nodelay(true);
        let fd = stream.as_raw_fd();

        let mut session = Session::new().map_err(|e| session_err(&label, "session setup", e))?;
        session.set_tcp_stream(stream);
        session.set_blocking(true);
        session.set_timeout(millis(options.io_timeout));
        let supported = session
            .supported_algs(MethodType::HostKey)
            .unwrap_or_default();
        let preferred: Vec<&str> = HOST_KEY_PREFERENCE
            .iter()
            .copied()
            .filter(|alg| supported.contains(alg))
            .collect();
        if !preferred.is_empty() {
            session
                .method_pref(MethodType::HostKey, &preferred.join(","))
                .map_err(|e| session_err(&label, "session setup", e))?;
        }
        session.handshake().map_err(|e| {
            if is_timeout(&e) {
                SshError::Timeout {
                    target: label.clone(),
                    op: "handshake",
                    after: options.io_timeout,
                }
            } else {
                SshError::Handshake {
                    target: label.clone(),
                    message: e.message().to_string(),
                }
            }
        })?;

        let (presented, key_type) = session
            .host_key()
            .map(|(blob, kind)| (HostKeyFingerprint::from_key_blob(blob), key_type_name(kind)))
            .ok_or_else(|| SshError::HostKeyMissing {
                target: label.clone(),
            })?;
        let verdict = match endpoint.host_key.verify(&label, presented) {
            Ok(v) => v,
            Err(mut e) => {
                if let SshError::HostKeyMismatch { key_type: kt, .. } = &mut e {
                    *kt = Some(key_type.to_string());
                }
                let _ = session.disconnect(
                    Some(DisconnectCode::HostKeyNotVerifiable),
                    "host key mismatch",
                    None,
                );
                return Err(e);
            }
        };
        tracing::debug!(target: "sovstack::ssh", host = %label, fingerprint = %presented, "host key verified");

        authenticate(&session, &label, &target.user, &endpoint.auth, options)?;
        tracing::debug!(target: "sovstack::ssh", host = %label, "authenticated");

        let keepalive_secs = options
            .keepalive_interval
            .as_secs()
            .clamp(1, u32::MAX as u64) as u32;
        session.set_keepalive(true, keepalive_secs);

        let shared = Arc::new(Shared {
            live: Mutex::new(Live { session, fd }),
            broken: AtomicBool::new(false),
        });
        let stop = spawn_keepalive(Arc::downgrade(&shared), options.keepalive_interval);
        Ok(Self {
            target,
            label,
            verdict,
            options: options.clone(),
            shared,
            _keepalive_stop: stop,
        })
    }

    pub fn target(&self) -> &SshTarget {
        &self.target
    }

    /// Whether the host key matched a pin or was learned in this connection.
    pub fn host_key(&self) -> HostKeyVerdict {
        self.verdict
    }

    /// A connection that timed out or lost its transport is not reused.
    pub fn is_broken(&self) -> bool {
        self.shared.broken.load(Ordering::SeqCst)
    }

    pub fn exec(&self, request: &ExecRequest) -> Result<ExecOutput, SshError> {
        self.exec_streaming(request, &mut |_| {})
    }

    /// Like [`Self::exec`], handing each complete line of stdout and stderr to `on_line` as it
    /// arrives (the whole output is still returned at the end).
    pub fn exec_streaming(
        &self,
        request: &ExecRequest,
        on_line: &mut dyn FnMut(OutputLine),
    ) -> Result<ExecOutput, SshError> {
        self.with_live("exec", |live| {
            live.run(&self.label, request, &self.options, on_line)
        })
    }

    pub fn upload(&self, request: &UploadRequest) -> Result<UploadReceipt, SshError> {
        remote_script::validate_upload(request)?;
        let command = remote_script::upload_command(request);
        let exec = ExecRequest {
            command: command.clone(),
            stdin: Some(request.contents.clone()),
            timeout: None,
        };
        let output = self.exec(&exec)?;
        let sha256 = remote_script::parse_upload_result(&self.label, request, &command, output)?;
        Ok(UploadReceipt {
            path: request.path.clone(),
            sha256,
            bytes: request.contents.len() as u64,
        })
    }

    pub fn read_file(&self, path: &str) -> Result<Option<Vec<u8>>, SshError> {
        remote_script::validate_remote_path(path)?;
        let command = remote_script::read_command(path);
        let output = self.exec(&ExecRequest::new(command.clone()))?;
        remote_script::parse_read_result(&self.label, &command, output)
    }

    fn with_live<T>(
        &self,
        op: &'static str,
        f: impl FnOnce(&mut Live) -> Result<T, SshError>,
    ) -> Result<T, SshError> {
        let mut live = self.lock();
        if self.is_broken() {
            return Err(SshError::Session {
                target: self.label.clone(),
                op,
                message: "connection was broken by an earlier failure".into(),
            });
        }
        let result = f(&mut live);
        if let Err(e) = &result
            && e.breaks_connection()
        {
            self.shared.broken.store(true, Ordering::SeqCst);
        }
        result
    }

    fn lock(&self) -> MutexGuard<'_, Live> {
        // A panic while holding the lock leaves libssh2 in an unknown state: never reuse it.
        self.shared.live.lock().unwrap_or_else(|poisoned| {
            self.shared.broken.store(true, Ordering::SeqCst);
            poisoned.into_inner()
        })
    }
}

fn spawn_keepalive(shared: Weak<Shared>, interval: Duration) -> mpsc::Sender<()> {
    let (stop_tx, stop_rx) = mpsc::channel::<()>();
    let interval = interval.max(Duration::from_secs(1));
    let spawned = thread::Builder::new()
        .name("sovstack-ssh-keepalive".into())
        .spawn(move || {
            loop {
                match stop_rx.recv_timeout(interval) {
                    Err(RecvTimeoutError::Timeout) => {}
                    _ => return,
                }
                let Some(shared) = shared.upgrade() else {
                    return;
                };
                // Busy means a command is running, and the command loop sends keepalives itself.
                let Ok(live) = shared.live.try_lock() else {
                    continue;
                };
                if live.session.keepalive_send().is_err() {
                    shared.broken.store(true, Ordering::SeqCst);
                    return;
                }
            }
        });
    if let Err(e) = spawned {
        // Without the thread, keepalives still go out during commands; idle links may drop.
        tracing::warn!(target: "sovstack::ssh", error = %e, "cannot start keepalive thread");
    }
    stop_tx
}

fn tcp_connect(target: &SshTarget, timeout: Duration) -> Result<TcpStream, SshError> {
    let addrs: Vec<SocketAddr> = (target.host.as_str(), target.port)
        .to_socket_addrs()
        .map_err(|source| SshError::Resolve {
            host: target.host.clone(),
            source,
        })?
        .collect();
    let mut last = None;
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, timeout) {
            Ok(stream) => return Ok(stream),
            Err(e) => {
                last = Some(match e.kind() {
                    ErrorKind::ConnectionRefused => SshError::ConnectRefused { addr },
                    ErrorKind::TimedOut | ErrorKind::WouldBlock => SshError::ConnectTimeout {
                        addr,
                        after: timeout,
                    },
                    _ => SshError::Connect { addr, source: e },
                })
            }
        }
    }
    Err(last.unwrap_or_else(|| SshError::Resolve {
        host: target.host.clone(),
        source: std::io::Error::new(ErrorKind::NotFound, "no addresses"),
    }))
}

fn authenticate(
    session: &Session,
    label: &str,
    user: &str,
    auth: &SshAuth,
    options: &SshOptions,
) -> Result<(), SshError> {
    // Asking for the methods sends the `none` request; some servers accept it outright.
    let server_methods = match session.auth_methods(user) {
        Ok(methods) => methods.to_string(),
        Err(e) if is_timeout(&e) => {
            return Err(SshError::Timeout {
                target: label.to_string(),
                op: "authentication",
                after: options.io_timeout,
            });
        }
        Err(_) if session.authenticated() => return Ok(()),
        Err(e) => return Err(session_err(label, "authentication", e)),
    };
    let mut tried = Vec::new();
    match auth {
        SshAuth::KeyFile { path, passphrase } => {
            // Checked here so a missing file is reported as such, not as "auth failed".
            std::fs::File::open(path).map_err(|source| SshError::KeyFile {
                path: path.clone(),
                source,
            })?;
            match session.userauth_pubkey_file(
                user,
                None,
                path,
                passphrase.as_deref().map(|s| s.as_str()),
            ) {
                Ok(()) if session.authenticated() => return Ok(()),
                Ok(()) => tried.push(format!(
                    "publickey {} (partial success only)",
                    path.display()
                )),
                Err(e) if is_timeout(&e) => {
                    return Err(SshError::Timeout {
                        target: label.to_string(),
                        op: "authentication",
                        after: options.io_timeout,
                    });
                }
                Err(e) => tried.push(format!("publickey {} ({})", path.display(), e.message())),
            }
        }
        SshAuth::Agent { socket } => {
            let agent_err = |e: ssh2::Error| SshError::Agent {
                message: e.message().to_string(),
            };
            let mut agent = session.agent().map_err(agent_err)?;
            if let Some(socket) = socket {
                agent.set_identity_path(socket).map_err(agent_err)?;
            }
            agent.connect().map_err(agent_err)?;
            agent.list_identities().map_err(agent_err)?;
            let identities = agent.identities().map_err(agent_err)?;
            if identities.is_empty() {
                tried.push("ssh-agent (holds no keys)".into());
            }
            for identity in identities {
                let name = if identity.comment().is_empty() {
                    HostKeyFingerprint::from_key_blob(identity.blob()).to_string()
                } else {
                    identity.comment().to_string()
                };
                match agent.userauth(user, &identity) {
                    Ok(()) if session.authenticated() => {
                        let _ = agent.disconnect();
                        return Ok(());
                    }
                    Ok(()) => tried.push(format!("agent key {name} (partial success only)")),
                    Err(e) if is_timeout(&e) => {
                        return Err(SshError::Timeout {
                            target: label.to_string(),
                            op: "authentication",
                            after: options.io_timeout,
                        });
                    }
                    Err(_) => tried.push(format!("agent key {name}")),
                }
            }
            let _ = agent.disconnect();
        }
    }
    Err(SshError::AuthFailed {
        target: label.to_string(),
        user: user.to_string(),
        tried,
        server_methods,
    })
}

impl Live {
    fn run(
        &mut self,
        label: &str,
        request: &ExecRequest,
        options: &SshOptions,
        on_line: &mut dyn FnMut(OutputLine),
    ) -> Result<ExecOutput, SshError> {
        let limit = request.timeout.unwrap_or(options.command_timeout);
        let deadline = Instant::now() + limit;
        let session = &self.session;
        session.set_blocking(true);
        session.set_timeout(millis(options.io_timeout));
        let io_err = |op: &'static str, e: ssh2::Error| {
            if is_timeout(&e) {
                SshError::Timeout {
                    target: label.to_string(),
                    op,
                    after: options.io_timeout,
                }
            } else {
                session_err(label, op, e)
            }
        };
        let mut channel = session
            .channel_session()
            .map_err(|e| io_err("opening a channel", e))?;
        channel
            .exec(&request.command)
            .map_err(|e| io_err("starting a command", e))?;

        session.set_blocking(false);
        let pumped = pump(
            session,
            self.fd,
            &mut channel,
            request.stdin.as_deref(),
            deadline,
            options,
            on_line,
        );
        let (stdout, stderr) = match pumped {
            Ok(out) => {
                session.set_blocking(true);
                out
            }
            Err(failure) => {
                // Still non-blocking: a remote that stopped answering must not hold us for another
                // io_timeout while closing. The connection is not reused after this.
                let _ = channel.close();
                drop(channel);
                session.set_blocking(true);
                return Err(match failure {
                    PumpError::Deadline => SshError::CommandTimedOut {
                        target: label.to_string(),
                        command: abbreviate(&request.command, 300),
                        after: limit,
                    },
                    PumpError::TooLarge => SshError::OutputTooLarge {
                        target: label.to_string(),
                        command: abbreviate(&request.command, 300),
                        limit: options.max_output_bytes,
                    },
                    PumpError::Io(op, e) => SshError::Session {
                        target: label.to_string(),
                        op,
                        message: e.to_string(),
                    },
                });
            }
        };

        // The exit status is only valid once the channel is closed (ssh2-rs PR #66).
        channel
            .close()
            .map_err(|e| io_err("closing a channel", e))?;
        channel
            .wait_close()
            .map_err(|e| io_err("closing a channel", e))?;
        let signal = channel.exit_signal().ok().and_then(|s| s.exit_signal);
        let status = if signal.is_some() {
            -1
        } else {
            channel
                .exit_status()
                .map_err(|e| io_err("reading the exit status", e))?
        };
        Ok(ExecOutput {
            status,
            signal,
            stdout,
            stderr,
        })
    }
}

enum PumpError {
    Deadline,
    TooLarge,
    Io(&'static str, std::io::Error),
}

/// Feeds stdin and drains stdout and stderr together until the remote side sends EOF.
///
/// Non-blocking on purpose: a blocking read of stdout while the command fills stderr (or a
/// blocking write of stdin while it fills stdout) deadlocks once the SSH window is full.
fn pump(
    session: &Session,
    fd: RawFd,
    channel: &mut Channel,
    stdin: Option<&[u8]>,
    deadline: Instant,
    options: &SshOptions,
    on_line: &mut dyn FnMut(OutputLine),
) -> Result<(Vec<u8>, Vec<u8>), PumpError> {
    let mut stdout = Output::new(OutputStream::Stdout);
    let mut stderr = Output::new(OutputStream::Stderr);
    let stdin = stdin.unwrap_or_default();
    let mut written = 0;
    let mut stdin_closed = false;
    let mut stderr_stream = channel.stderr();
    let mut buf = vec![0u8; CHUNK];
    loop {
        let mut progressed = false;

        if !stdin_closed {
            if written < stdin.len() {
                let end = (written + CHUNK).min(stdin.len());
                match channel.write(&stdin[written..end]) {
                    Ok(n) => {
                        written += n;
                        progressed |= n > 0;
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                    // The command exited or closed stdin without reading everything; its exit
                    // status tells what happened.
                    Err(_) if channel.eof() => stdin_closed = true,
                    Err(e) => return Err(PumpError::Io("writing stdin", e)),
                }
            } else {
                match channel.send_eof() {
                    Ok(()) => {
                        stdin_closed = true;
                        progressed = true;
                    }
                    Err(e) if is_would_block(&e) => {}
                    Err(_) if channel.eof() => stdin_closed = true,
                    Err(e) => return Err(PumpError::Io("closing stdin", e.into())),
                }
            }
        }

        let limit = options.max_output_bytes;
        progressed |= drain(channel, &mut buf, &mut stdout, limit, on_line)?;
        progressed |= drain(&mut stderr_stream, &mut buf, &mut stderr, limit, on_line)?;

        // True only once the remote sent EOF and nothing is left queued on any stream.
        if channel.eof() {
            return Ok((stdout.finish(on_line), stderr.finish(on_line)));
        }
        if !progressed {
            let now = Instant::now();
            if now >= deadline {
                return Err(PumpError::Deadline);
            }
            // Long silent commands (compose waiting for health) must not let NATs drop us.
            let _ = session.keepalive_send();
            let wait = (deadline - now).min(options.keepalive_interval);
            wait_for_socket(fd, session.block_directions(), wait);
        }
    }
}

/// One stream's bytes so far, and its lines for the streaming callback.
struct Output {
    bytes: Vec<u8>,
    lines: LineSplitter,
    op: &'static str,
}

impl Output {
    fn new(stream: OutputStream) -> Self {
        Self {
            bytes: Vec::new(),
            lines: LineSplitter::new(stream),
            op: match stream {
                OutputStream::Stdout => "reading stdout",
                OutputStream::Stderr => "reading stderr",
            },
        }
    }

    /// Hands out the last line (one without a newline) and returns the whole output.
    fn finish(mut self, on_line: &mut dyn FnMut(OutputLine)) -> Vec<u8> {
        if let Some(last) = self.lines.finish() {
            on_line(last);
        }
        self.bytes
    }
}

fn drain(
    reader: &mut impl Read,
    buf: &mut [u8],
    into: &mut Output,
    limit: usize,
    on_line: &mut dyn FnMut(OutputLine),
) -> Result<bool, PumpError> {
    let mut progressed = false;
    loop {
        match reader.read(buf) {
            Ok(0) => return Ok(progressed),
            Ok(n) => {
                if into.bytes.len() + n > limit {
                    return Err(PumpError::TooLarge);
                }
                into.bytes.extend_from_slice(&buf[..n]);
                into.lines
                    .push(&buf[..n])
                    .into_iter()
                    .for_each(&mut *on_line);
                progressed = true;
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(progressed),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(PumpError::Io(into.op, e)),
        }
    }
}

/// Sleeps until the socket is ready in the direction libssh2 is waiting for, or `timeout`.
fn wait_for_socket(fd: RawFd, directions: BlockDirections, timeout: Duration) {
    let events = match directions {
        BlockDirections::Outbound => libc::POLLOUT,
        BlockDirections::Both => libc::POLLIN | libc::POLLOUT,
        BlockDirections::Inbound | BlockDirections::None => libc::POLLIN,
    };
    let mut pfd = libc::pollfd {
        fd,
        events,
        revents: 0,
    };
    let ms = timeout.as_millis().clamp(1, i32::MAX as u128) as libc::c_int;
    // SAFETY: `pfd` is a valid, initialised pollfd for the duration of the call, and the count
    // is 1. `fd` stays open because the session owning the socket outlives this call. A failed
    // or interrupted poll just means another loop iteration.
    unsafe {
        libc::poll(&mut pfd, 1, ms);
    }
}

fn key_type_name(kind: HostKeyType) -> &'static str {
    match kind {
        HostKeyType::Ed25519 => "ssh-ed25519",
        HostKeyType::Ecdsa256 => "ecdsa-sha2-nistp256",
        HostKeyType::Ecdsa384 => "ecdsa-sha2-nistp384",
        HostKeyType::Ecdsa521 => "ecdsa-sha2-nistp521",
        HostKeyType::Rsa => "ssh-rsa",
        HostKeyType::Dss => "ssh-dss",
        HostKeyType::Unknown => "unknown",
    }
}

fn is_timeout(e: &ssh2::Error) -> bool {
    e.code() == ErrorCode::Session(LIBSSH2_ERROR_TIMEOUT)
}

fn is_would_block(e: &ssh2::Error) -> bool {
    e.code() == ErrorCode::Session(LIBSSH2_ERROR_EAGAIN)
}

fn session_err(label: &str, op: &'static str, e: ssh2::Error) -> SshError {
    SshError::Session {
        target: label.to_string(),
        op,
        message: e.message().to_string(),
    }
}

fn millis(d: Duration) -> u32 {
    d.as_millis().clamp(1, u32::MAX as u128) as u32
}
