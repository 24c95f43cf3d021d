//! The SSH transport against a real OpenSSH server on loopback.

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use sovstack::providers::ssh::{
    ExecRequest, HostKeyPolicy, HostKeyVerdict, SshAuth, SshError, SshOptions, SshPool, SshTarget,
    SshTransport, Transport, UploadRequest, generate_host_key, wait_for_sshd,
};
use tokio::time::Instant;

use crate::harness::agent::Agent;
use crate::harness::sshd::{Sshd, fingerprint_by_ssh_keygen};

fn options() -> SshOptions {
    SshOptions {
        connect_timeout: Duration::from_secs(5),
        io_timeout: Duration::from_secs(10),
        keepalive_interval: Duration::from_secs(2),
        command_timeout: Duration::from_secs(60),
        max_output_bytes: 64 * 1024 * 1024,
    }
}

async fn connect(sshd: &Sshd) -> SshTransport {
    SshTransport::connect(sshd.pinned_endpoint(), options())
        .await
        .expect("connect to test sshd")
}

#[tokio::test]
async fn exec_separates_streams_and_reports_exit_status() {
    let Some(sshd) = Sshd::start() else { return };
    let t = connect(&sshd).await;

    let out = t
        .exec(ExecRequest::new("echo out; echo err >&2; exit 7"))
        .await
        .unwrap();
    assert_eq!(out.status, 7);
    assert_eq!(out.stdout, b"out\n");
    assert_eq!(out.stderr, b"err\n");
    assert!(!out.success());

    let err = t
        .exec_checked(ExecRequest::new("echo first >&2; echo boom >&2; exit 3"))
        .await
        .unwrap_err();
    match &err {
        SshError::CommandFailed {
            status,
            stderr_tail,
            target,
            ..
        } => {
            assert_eq!(status, "status 3");
            assert_eq!(stderr_tail, "first\nboom");
            assert_eq!(target, &sshd.target().to_string());
        }
        e => panic!("expected CommandFailed, got {e:?}"),
    }

    let ok = t.exec_checked(ExecRequest::new("true")).await.unwrap();
    assert!(ok.success());

    // The test's bin directory comes first on PATH, whatever the login shell's rc files do.
    sshd.install_tool("sovstack-path-probe", "#!/bin/sh\ntrue\n");
    let which = t
        .exec(ExecRequest::new("command -v sovstack-path-probe"))
        .await
        .unwrap();
    assert_eq!(
        which.stdout_str().trim(),
        sshd.bin_dir().join("sovstack-path-probe").to_str().unwrap()
    );

    let killed = t.exec(ExecRequest::new("kill -KILL $$")).await.unwrap();
    assert_eq!(killed.signal.as_deref(), Some("KILL"));
    assert!(!killed.success());
}

#[tokio::test]
async fn exec_streams_large_stdin_stdout_and_stderr_without_deadlock() {
    let Some(sshd) = Sshd::start() else { return };
    let t = connect(&sshd).await;

    // 4 MiB through cat: more than the SSH window in both directions at once.
    let input: Vec<u8> = (0..4 * 1024 * 1024u32)
        .map(|i| (i * 7 % 251) as u8)
        .collect();
    let out = t
        .exec(ExecRequest::new("cat").stdin(input.clone()))
        .await
        .unwrap();
    assert_eq!(out.status, 0);
    assert_eq!(out.stdout.len(), input.len());
    assert!(out.stdout == input, "stdout differs from stdin");

    // 3 MiB on stderr while stdout waits: would block forever with a stdout-first reader.
    let out = t
        .exec(ExecRequest::new("head -c 3145728 /dev/zero >&2; echo done"))
        .await
        .unwrap();
    assert_eq!(out.stderr.len(), 3 * 1024 * 1024);
    assert_eq!(out.stdout, b"done\n");

    // Empty stdin still gets EOF, so a reader terminates.
    let out = t.exec(ExecRequest::new("wc -c")).await.unwrap();
    assert_eq!(out.stdout_str().trim(), "0");
}

#[tokio::test]
async fn upload_is_atomic_with_mode_and_verified_checksum() {
    let Some(sshd) = Sshd::start() else { return };
    let t = connect(&sshd).await;
    let path = sshd.remote_root().join(".env");
    let remote = path.to_str().unwrap().to_string();

    let contents = b"HF_TOKEN=secret-value\n".to_vec();
    let receipt = t
        .upload(UploadRequest::new(&remote, contents.clone(), 0o600).owner(sshd.user()))
        .await
        .unwrap();
    assert_eq!(receipt.path, remote);
    assert_eq!(receipt.bytes, contents.len() as u64);
    assert_eq!(
        receipt.sha256,
        UploadRequest::new("/x", contents.clone(), 0).sha256_hex()
    );
    // The remote root is on this machine, so check the real file.
    assert_eq!(std::fs::read(&path).unwrap(), contents);
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode, 0o600);

    // Overwrite with a new mode; no temp files are left behind.
    let receipt = t
        .upload(UploadRequest::new(&remote, b"A=2\n".to_vec(), 0o640))
        .await
        .unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), b"A=2\n");
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o7777,
        0o640
    );
    assert_eq!(receipt.sha256.len(), 64);
    let entries: Vec<_> = std::fs::read_dir(sshd.remote_root())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(entries, vec![".env".to_string()]);

    // read_file returns exactly what is there, and None for a missing file.
    assert_eq!(
        t.read_file(&remote).await.unwrap().as_deref(),
        Some(&b"A=2\n"[..])
    );
    let missing = sshd.remote_root().join("missing.yaml");
    assert_eq!(t.read_file(missing.to_str().unwrap()).await.unwrap(), None);

    // Binary content with every byte value survives.
    let binary: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
    let bin_path = sshd.remote_root().join("blob.bin");
    t.upload(UploadRequest::new(
        bin_path.to_str().unwrap(),
        binary.clone(),
        0o644,
    ))
    .await
    .unwrap();
    assert_eq!(std::fs::read(&bin_path).unwrap(), binary);
}

#[tokio::test]
async fn upload_refuses_content_that_does_not_match_and_keeps_the_old_file() {
    let Some(sshd) = Sshd::start() else { return };
    let t = connect(&sshd).await;
    let path = sshd.remote_root().join("compose.yaml");
    let remote = path.to_str().unwrap().to_string();
    t.upload(UploadRequest::new(&remote, b"old\n".to_vec(), 0o644))
        .await
        .unwrap();

    // A host whose storage corrupts what we write: its sha256sum sees different bytes.
    sshd.install_tool(
        "sha256sum",
        "#!/bin/sh\necho 0000000000000000000000000000000000000000000000000000000000000000  \"$2\"\n",
    );
    let err = t
        .upload(UploadRequest::new(&remote, b"new\n".to_vec(), 0o644))
        .await
        .unwrap_err();
    match &err {
        SshError::UploadVerification {
            expected,
            actual,
            replaced,
            path: p,
            ..
        } => {
            assert_eq!(actual, &"0".repeat(64));
            assert_ne!(expected, actual);
            assert!(!replaced);
            assert_eq!(p, &remote);
        }
        e => panic!("expected UploadVerification, got {e:?}"),
    }
    assert!(err.to_string().contains("was not verified"), "{err}");
    assert_eq!(std::fs::read(&path).unwrap(), b"old\n");
    assert_eq!(std::fs::read_dir(sshd.remote_root()).unwrap().count(), 1);

    // A failing chown leaves the old file too (and is reported with stderr).
    std::fs::remove_file(sshd.bin_dir().join("sha256sum")).unwrap();
    let err = t
        .upload(UploadRequest::new(&remote, b"new\n".to_vec(), 0o644).owner("no-such-user-x"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, SshError::CommandFailed { stderr_tail, .. } if stderr_tail.contains("no-such-user-x")),
        "{err:?}"
    );
    assert_eq!(std::fs::read(&path).unwrap(), b"old\n");

    // A missing directory is reported, not created.
    let nowhere = sshd.remote_root().join("nope/compose.yaml");
    let err = t
        .upload(UploadRequest::new(
            nowhere.to_str().unwrap(),
            b"x".to_vec(),
            0o644,
        ))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("does not exist"), "{err}");

    // Relative paths never reach the host.
    let before = sshd.commands_run().len();
    let err = t
        .upload(UploadRequest::new("relative/path", b"x".to_vec(), 0o644))
        .await
        .unwrap_err();
    assert!(matches!(err, SshError::InvalidRemotePath { .. }), "{err:?}");
    assert_eq!(sshd.commands_run().len(), before);
}

#[tokio::test]
async fn pool_reuses_one_connection_per_host() {
    let Some(sshd) = Sshd::start() else { return };
    let pool = SshPool::new(options());
    let endpoint = sshd.pinned_endpoint();

    let a = pool.get(&endpoint).await.unwrap();
    let b = pool.get(&endpoint).await.unwrap();
    assert!(a.same_connection(&b));
    for i in 0..5 {
        let out = a
            .exec_checked(ExecRequest::new(format!("echo {i}")))
            .await
            .unwrap();
        assert_eq!(out.stdout_str(), format!("{i}\n"));
    }
    b.read_file("/etc/hostname").await.unwrap();

    // Concurrent callers for the same host share the first connect.
    let (c, d) = tokio::join!(pool.get(&endpoint), pool.get(&endpoint));
    assert!(c.unwrap().same_connection(&d.unwrap()));

    assert_eq!(pool.connections_opened(), 1);
    assert_eq!(sshd.accepted_logins(), 1, "sshd log:\n{}", sshd.log());
    assert_eq!(sshd.commands_run().len(), 6);
}

#[tokio::test]
async fn a_timed_out_command_breaks_the_connection_and_the_pool_reconnects() {
    let Some(sshd) = Sshd::start() else { return };
    let pool = SshPool::new(options());
    let endpoint = sshd.pinned_endpoint();
    let t = pool.get(&endpoint).await.unwrap();

    let started = std::time::Instant::now();
    let err = t
        .exec(ExecRequest::new("sleep 30").timeout(Duration::from_millis(500)))
        .await
        .unwrap_err();
    assert!(matches!(err, SshError::CommandTimedOut { .. }), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(t.is_broken());

    let fresh = pool.get(&endpoint).await.unwrap();
    assert!(!fresh.same_connection(&t));
    fresh.exec_checked(ExecRequest::new("true")).await.unwrap();
    assert_eq!(pool.connections_opened(), 2);
}

#[tokio::test]
async fn pinned_host_key_is_accepted() {
    let Some(sshd) = Sshd::start() else { return };
    let t = connect(&sshd).await;
    assert_eq!(
        t.host_key(),
        HostKeyVerdict::Matched(sshd.host_key_fingerprint())
    );
    assert_eq!(t.host_key().learned(), None);
    assert_eq!(t.target().port, sshd.port());
    assert_eq!(
        t.describe(),
        format!("{}@127.0.0.1:{}", sshd.user(), sshd.port())
    );
}

#[tokio::test]
async fn mismatched_host_key_fails_before_authentication_or_any_command() {
    let Some(sshd) = Sshd::start() else { return };
    let wrong = generate_host_key().unwrap().fingerprint();
    let err = SshTransport::connect(sshd.endpoint(HostKeyPolicy::Pinned(wrong)), options())
        .await
        .unwrap_err();
    match &err {
        SshError::HostKeyMismatch {
            expected,
            presented,
            target,
            key_type,
        } => {
            assert_eq!(key_type.as_deref(), Some("ssh-ed25519"));
            assert_eq!(*expected, wrong);
            assert_eq!(*presented, sshd.host_key_fingerprint());
            assert_eq!(target, &sshd.target().to_string());
        }
        e => panic!("expected HostKeyMismatch, got {e:?}"),
    }
    let rendered = err.to_string();
    assert!(rendered.contains(&wrong.to_string()), "{rendered}");
    assert!(
        rendered.contains(&sshd.host_key_fingerprint().to_string()),
        "{rendered}"
    );
    assert!(miette::Diagnostic::help(&err).is_some());

    // Nothing ran and nobody logged in: the check happened before authentication.
    assert!(sshd.commands_run().is_empty());
    assert_eq!(sshd.accepted_logins(), 0, "sshd log:\n{}", sshd.log());
    assert!(
        !sshd.log().contains("Postponed publickey"),
        "a public key was offered:\n{}",
        sshd.log()
    );

    // A pool holding a connection verified earlier also refuses a different pin.
    let pool = SshPool::new(options());
    pool.get(&sshd.pinned_endpoint()).await.unwrap();
    let err = pool
        .get(&sshd.endpoint(HostKeyPolicy::Pinned(wrong)))
        .await
        .unwrap_err();
    assert!(matches!(err, SshError::HostKeyMismatch { .. }), "{err:?}");
}

#[tokio::test]
async fn learn_once_returns_the_presented_fingerprint_for_pinning() {
    let Some(sshd) = Sshd::start() else { return };
    let pool = SshPool::new(options());
    let t = pool
        .get(&sshd.endpoint(HostKeyPolicy::LearnOnce))
        .await
        .unwrap();
    assert_eq!(
        t.host_key(),
        HostKeyVerdict::Learned(sshd.host_key_fingerprint())
    );
    assert_eq!(
        pool.learned_host_keys(),
        vec![(sshd.target(), sshd.host_key_fingerprint())]
    );
    // The learned key works as a pin.
    let pinned = SshTransport::connect(
        sshd.endpoint(HostKeyPolicy::Pinned(t.host_key().fingerprint())),
        options(),
    )
    .await
    .unwrap();
    assert_eq!(
        pinned.host_key(),
        HostKeyVerdict::Matched(sshd.host_key_fingerprint())
    );
}

#[tokio::test]
async fn generated_host_key_is_served_by_openssh_with_the_same_fingerprint() {
    let key = generate_host_key().unwrap();
    let Some(sshd) = Sshd::builder()
        .host_key(key.private_openssh(), key.public_openssh())
        .start()
    else {
        return;
    };
    // OpenSSH's own fingerprint of our public key equals ours (the harness asked ssh-keygen).
    assert_eq!(sshd.host_key_fingerprint(), key.fingerprint());
    // And sshd really serves the private half: a pinned connection succeeds.
    let t = SshTransport::connect(
        sshd.endpoint(HostKeyPolicy::Pinned(key.fingerprint())),
        options(),
    )
    .await
    .unwrap();
    assert_eq!(t.host_key(), HostKeyVerdict::Matched(key.fingerprint()));
}

#[test]
fn generated_fingerprint_matches_ssh_keygen() {
    if which("ssh-keygen").is_none() {
        eprintln!("=== SKIPPED: ssh-keygen is missing ===");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for _ in 0..3 {
        let key = generate_host_key().unwrap();
        let path = dir.path().join("key.pub");
        std::fs::write(&path, key.public_openssh()).unwrap();
        assert_eq!(fingerprint_by_ssh_keygen(&path), key.fingerprint());
        // ssh-keygen also reads the private key we produce (derives the public key from it).
        let private = dir.path().join("key");
        std::fs::write(&private, key.private_openssh()).unwrap();
        std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o600)).unwrap();
        let out = std::process::Command::new("ssh-keygen")
            .arg("-y")
            .arg("-f")
            .arg(&private)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let derived = String::from_utf8(out.stdout).unwrap();
        assert_eq!(
            derived.split_whitespace().take(2).collect::<Vec<_>>(),
            key.public_openssh()
                .split_whitespace()
                .take(2)
                .collect::<Vec<_>>()
        );
    }
}

#[tokio::test]
async fn authentication_failure_names_what_was_tried() {
    let Some(sshd) = Sshd::start() else { return };
    // A valid key that authorized_keys does not list.
    let stranger = generate_host_key().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let key_path = dir.path().join("id_stranger");
    std::fs::write(&key_path, stranger.private_openssh()).unwrap();
    std::fs::set_permissions(&key_path, std::fs::Permissions::from_mode(0o600)).unwrap();

    let mut endpoint = sshd.pinned_endpoint();
    endpoint.auth = SshAuth::key_file(&key_path);
    let err = SshTransport::connect(endpoint.clone(), options())
        .await
        .unwrap_err();
    match &err {
        SshError::AuthFailed {
            user,
            tried,
            server_methods,
            ..
        } => {
            assert_eq!(user, sshd.user());
            assert_eq!(tried.len(), 1);
            assert!(tried[0].contains("id_stranger"), "{tried:?}");
            assert!(server_methods.contains("publickey"), "{server_methods}");
        }
        e => panic!("expected AuthFailed, got {e:?}"),
    }
    // The message never contains key material.
    let rendered = format!("{err} {err:?}");
    assert!(!rendered.contains("PRIVATE KEY"));
    assert!(sshd.commands_run().is_empty());

    endpoint.auth = SshAuth::key_file(dir.path().join("missing_key"));
    let err = SshTransport::connect(endpoint, options())
        .await
        .unwrap_err();
    assert!(matches!(err, SshError::KeyFile { .. }), "{err:?}");
}

#[tokio::test]
async fn connect_to_a_closed_port_is_refused() {
    let closed = ClosedPort::new();
    let endpoint = sovstack::providers::ssh::SshEndpoint {
        target: SshTarget::new("127.0.0.1", closed.port, "root"),
        auth: SshAuth::agent(),
        host_key: HostKeyPolicy::LearnOnce,
    };
    let err = SshTransport::connect(endpoint, options())
        .await
        .unwrap_err();
    assert!(matches!(err, SshError::ConnectRefused { .. }), "{err:?}");
}

#[tokio::test]
async fn wait_for_sshd_gives_up_at_the_deadline() {
    let closed = ClosedPort::new();
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], closed.port));
    let started = Instant::now();
    let err = wait_for_sshd(addr, started + Duration::from_millis(1500))
        .await
        .unwrap_err();
    let waited = started.elapsed();
    assert!(
        matches!(&err, SshError::SshdNotReady { last_error, .. } if last_error.contains("connect")),
        "{err:?}"
    );
    assert!(waited >= Duration::from_millis(1500), "{waited:?}");
    assert!(waited < Duration::from_secs(4), "overshot: {waited:?}");
}

#[tokio::test]
async fn wait_for_sshd_returns_the_banner_of_a_live_server() {
    let Some(sshd) = Sshd::start() else { return };
    let banner = wait_for_sshd(sshd.addr(), Instant::now() + Duration::from_secs(10))
        .await
        .unwrap();
    assert!(banner.starts_with("SSH-2.0-OpenSSH"), "{banner}");
}

#[tokio::test]
async fn agent_authentication_uses_the_agents_keys() {
    let Some(sshd) = Sshd::start() else { return };
    if which("ssh-agent").is_none() {
        eprintln!("=== SKIPPED: ssh-agent is missing ===");
        return;
    }
    let agent = Agent::start();
    let mut endpoint = sshd.pinned_endpoint();
    endpoint.auth = SshAuth::Agent {
        socket: Some(agent.socket.clone()),
    };

    // An empty agent: the error says so.
    let err = SshTransport::connect(endpoint.clone(), options())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, SshError::AuthFailed { tried, .. } if tried == &vec!["ssh-agent (holds no keys)".to_string()]),
        "{err:?}"
    );

    agent.add(&sshd.client_key());
    let t = SshTransport::connect(endpoint, options()).await.unwrap();
    let out = t
        .exec_checked(ExecRequest::new("echo via-agent"))
        .await
        .unwrap();
    assert_eq!(out.stdout, b"via-agent\n");
}

#[tokio::test]
async fn a_silent_command_outlives_the_io_timeout() {
    let Some(sshd) = Sshd::start() else { return };
    // io_timeout bounds single protocol steps, not commands: `compose up --wait` can be silent
    // for minutes while keepalives keep the connection alive.
    let opts = SshOptions {
        io_timeout: Duration::from_millis(500),
        keepalive_interval: Duration::from_millis(300),
        ..options()
    };
    let t = SshTransport::connect(sshd.pinned_endpoint(), opts)
        .await
        .unwrap();
    let out = t
        .exec_checked(ExecRequest::new("sleep 2; echo awake"))
        .await
        .unwrap();
    assert_eq!(out.stdout, b"awake\n");
    assert!(!t.is_broken());
}

/// A loopback port that refuses connections for as long as the guard lives: bound but never
/// listening, so no other test (or sshd) can take it meanwhile.
struct ClosedPort {
    fd: libc::c_int,
    port: u16,
}

impl ClosedPort {
    fn new() -> Self {
        // SAFETY: plain socket syscalls on a fresh descriptor we own; the structs are fully
        // initialised and their sizes passed correctly.
        unsafe {
            let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0);
            assert!(fd >= 0, "socket()");
            let mut addr: libc::sockaddr_in = std::mem::zeroed();
            addr.sin_family = libc::AF_INET as libc::sa_family_t;
            addr.sin_addr.s_addr = u32::from(std::net::Ipv4Addr::LOCALHOST).to_be();
            addr.sin_port = 0;
            let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
            assert_eq!(
                libc::bind(fd, &addr as *const _ as *const libc::sockaddr, len),
                0,
                "bind()"
            );
            let mut bound: libc::sockaddr_in = std::mem::zeroed();
            let mut bound_len = len;
            assert_eq!(
                libc::getsockname(
                    fd,
                    &mut bound as *mut _ as *mut libc::sockaddr,
                    &mut bound_len
                ),
                0
            );
            ClosedPort {
                fd,
                port: u16::from_be(bound.sin_port),
            }
        }
    }
}

impl Drop for ClosedPort {
    fn drop(&mut self) {
        // SAFETY: closing the descriptor this guard owns, once.
        unsafe {
            libc::close(self.fd);
        }
    }
}

fn which(tool: &str) -> Option<std::path::PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(tool))
            .find(|p| p.is_file())
    })
}
