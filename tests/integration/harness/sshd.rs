//! A real OpenSSH server on 127.0.0.1, one per test, for the SSH transport and the node layer.
//!
//! Each `Sshd` owns a temp directory with its own host keys (ed25519, whose fingerprint it
//! exposes, plus ecdsa like a real host), client key, `authorized_keys`, config
//! and log, a `bin/` directory (first on PATH for every command run over SSH), and a `remote/`
//! directory tests use as the node's project directory. The server is killed on drop.
//!
//! A test host with a Docker Engine (`test_host.rs`) runs its sshd inside the host's network
//! namespace ([`SshdBuilder::netns`]) with the session variables that point `docker` at that
//! host's engine ([`SshdBuilder::session_env`]).
//!
//! A [`CommandGate`] in the wrapper can hold one command, so a test can kill the client at
//! exactly that point.
//!
//! PATH: the login shell's rc files may prepend their own directories (root's `.bashrc` here
//! does), so `SetEnv PATH=...` is not enough. sshd's `ForceCommand` runs a small wrapper that sets
//! PATH and the session variables, logs the command, then runs `$SSH_ORIGINAL_COMMAND` with
//! `/bin/sh -c`, exactly as a POSIX login shell would.
//!
//! When `/usr/sbin/sshd` is missing, `Sshd::start()` returns `None` after a loud message, or
//! panics when `CI` is set (CI must install openssh-server, see `.ci/run`).

use std::fs;
use std::io::Read;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::command_gate::{self, CommandGate};
use super::netns::NetNs;
use sovstack::providers::ssh::{
    HostKeyFingerprint, HostKeyPolicy, SshAuth, SshEndpoint, SshTarget,
};

pub const SSHD: &str = "/usr/sbin/sshd";
const START_ATTEMPTS: usize = 5;
const READY_TIMEOUT: Duration = Duration::from_secs(15);

pub struct Sshd {
    child: Child,
    dir: tempfile::TempDir,
    ip: Ipv4Addr,
    port: u16,
    user: String,
    host_key: HostKeyFingerprint,
}

#[derive(Default)]
pub struct SshdBuilder<'a> {
    host_key_private: Option<String>,
    host_key_public: Option<String>,
    listen: Option<(Ipv4Addr, u16)>,
    authorized: Vec<String>,
    netns: Option<&'a NetNs>,
    session_env: Vec<(String, String)>,
    links: Vec<(String, PathBuf)>,
}

impl<'a> SshdBuilder<'a> {
    /// Use this host key (OpenSSH format) instead of one made by `ssh-keygen`.
    pub fn host_key(mut self, private_openssh: &str, public_openssh: &str) -> Self {
        self.host_key_private = Some(private_openssh.to_string());
        self.host_key_public = Some(public_openssh.to_string());
        self
    }

    /// Run inside this test host's network namespace, listening on port 22 of its address, as
    /// a real node would.
    pub fn netns(mut self, ns: &'a NetNs) -> Self {
        self.listen = Some((ns.ip(), 22));
        self.netns = Some(ns);
        self
    }

    /// Set this variable for every command run over SSH.
    pub fn session_env(mut self, name: &str, value: &str) -> Self {
        self.session_env.push((name.to_string(), value.to_string()));
        self
    }

    /// Put `name` on the remote PATH (first), a link to `target`.
    pub fn link_tool(mut self, name: &str, target: &Path) -> Self {
        self.links.push((name.to_string(), target.to_path_buf()));
        self
    }

    /// Also accept this public key (an OpenSSH `authorized_keys` line), e.g. one operator key
    /// that several test nodes share, as real nodes share the operator's key.
    pub fn authorize(mut self, public_openssh: &str) -> Self {
        self.authorized.push(public_openssh.trim_end().to_string());
        self
    }

    pub fn start(self) -> Option<Sshd> {
        if !Path::new(SSHD).exists() {
            if std::env::var_os("CI").is_some() {
                panic!("{SSHD} is missing: CI must install openssh-server (see .ci/run)");
            }
            eprintln!(
                "\n=== SKIPPED: {SSHD} is missing; install openssh-server to run the SSH tests ===\n"
            );
            return None;
        }
        // The privilege separation directory; Debian creates it only via systemd.
        let _ = fs::create_dir_all("/run/sshd");

        let mut dir = tempfile::Builder::new()
            .prefix("sovstack-sshd-")
            .tempdir()
            .expect("temp dir");
        let root = dir.path().to_path_buf();
        let user = current_user();

        let host_key = root.join("ssh_host_ed25519_key");
        match (&self.host_key_private, &self.host_key_public) {
            (Some(private), Some(public)) => {
                write_mode(&host_key, private.as_bytes(), 0o600);
                write_mode(
                    &root.join("ssh_host_ed25519_key.pub"),
                    format!("{}\n", public.trim_end()).as_bytes(),
                    0o644,
                );
            }
            _ => keygen(&host_key, "sovstack-test-host"),
        }
        let fingerprint = fingerprint_by_ssh_keygen(&root.join("ssh_host_ed25519_key.pub"));
        // Real hosts have several host keys (cloud-init generates ecdsa and rsa next to the
        // ed25519 key we inject); the client must still get the ed25519 one.
        keygen_type(
            &root.join("ssh_host_ecdsa_key"),
            "ecdsa",
            "sovstack-test-host",
        );

        let client_key = root.join("client_key");
        keygen(&client_key, "sovstack-test-client");
        let mut authorized = fs::read_to_string(root.join("client_key.pub")).expect("client key");
        for line in &self.authorized {
            authorized.push_str(line);
            authorized.push('\n');
        }
        fs::write(root.join("authorized_keys"), authorized).expect("authorized_keys");

        let bin = root.join("bin");
        fs::create_dir(&bin).expect("bin dir");
        for (name, target) in &self.links {
            std::os::unix::fs::symlink(target, bin.join(name)).expect("link tool");
        }
        fs::create_dir(root.join("remote")).expect("remote root");
        write_mode(&root.join("commands.log"), b"", 0o644);
        write_mode(
            &root.join("login-wrapper"),
            wrapper(&root, &self.session_env).as_bytes(),
            0o755,
        );

        let ip = self.listen.map_or(Ipv4Addr::LOCALHOST, |(ip, _)| ip);
        for _ in 0..START_ATTEMPTS {
            let port = self.listen.map_or_else(free_port, |(_, port)| port);
            fs::write(root.join("sshd_config"), config(&root, ip, port, &user)).expect("config");
            let log = fs::File::create(root.join("sshd.log")).expect("sshd log");
            let mut command = match self.netns {
                Some(ns) => ns.command(SSHD),
                None => Command::new(SSHD),
            };
            let child = command
                .arg("-D")
                .arg("-e")
                .arg("-f")
                .arg(root.join("sshd_config"))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log)
                // Own process group, so drop can kill the per-connection children too.
                .process_group(0)
                .spawn()
                .expect("spawn sshd");
            let mut sshd = Sshd {
                child,
                dir,
                ip,
                port,
                user: user.clone(),
                host_key: fingerprint,
            };
            match sshd.wait_ready() {
                Ok(()) => return Some(sshd),
                Err(Retry::PortTaken) if self.listen.is_some() => {
                    panic!("sshd could not bind {ip}:{port}:\n{}", sshd.log())
                }
                Err(Retry::PortTaken) => {
                    // Another test grabbed the port between our probe and sshd's bind.
                    dir = sshd.into_dir();
                    continue;
                }
                Err(Retry::Fatal(why)) => panic!("sshd did not start: {why}\n{}", sshd.log()),
            }
        }
        panic!("sshd could not bind a free port in {START_ATTEMPTS} attempts");
    }
}

enum Retry {
    PortTaken,
    Fatal(String),
}

impl Sshd {
    /// Starts a server with fresh keys, or `None` (after a loud message) where sshd is missing.
    pub fn start() -> Option<Sshd> {
        SshdBuilder::default().start()
    }

    pub fn builder<'a>() -> SshdBuilder<'a> {
        SshdBuilder::default()
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from((self.ip, self.port))
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn user(&self) -> &str {
        &self.user
    }

    /// The server's host key fingerprint, as `ssh-keygen -lf` printed it.
    pub fn host_key_fingerprint(&self) -> HostKeyFingerprint {
        self.host_key
    }

    /// The ed25519 host key file sshd serves (its `.pub` beside it).
    pub fn host_key_path(&self) -> PathBuf {
        self.dir.path().join("ssh_host_ed25519_key")
    }

    /// A private key file that `authorized_keys` accepts.
    pub fn client_key(&self) -> PathBuf {
        self.dir.path().join("client_key")
    }

    pub fn target(&self) -> SshTarget {
        SshTarget::new(self.ip.to_string(), self.port, self.user.clone())
    }

    pub fn endpoint(&self, host_key: HostKeyPolicy) -> SshEndpoint {
        SshEndpoint {
            target: self.target(),
            auth: SshAuth::key_file(self.client_key()),
            host_key,
        }
    }

    /// Endpoint pinned to the server's real host key.
    pub fn pinned_endpoint(&self) -> SshEndpoint {
        self.endpoint(HostKeyPolicy::Pinned(self.host_key))
    }

    /// A directory on "the node" tests can use as the project directory.
    pub fn remote_root(&self) -> PathBuf {
        self.dir.path().join("remote")
    }

    /// First on PATH for commands run over SSH.
    pub fn bin_dir(&self) -> PathBuf {
        self.dir.path().join("bin")
    }

    /// Puts an executable `name` with `script` on the remote PATH, ahead of the system's tools.
    pub fn install_tool(&self, name: &str, script: &str) {
        let path = self.bin_dir().join(name);
        // Never write through a link (e.g. `docker` to the system's CLI): replace it.
        let _ = fs::remove_file(&path);
        write_mode(&path, script.as_bytes(), 0o755);
    }

    /// The gate that can hold one of the commands clients send (`command_gate.rs`).
    pub fn gate(&self) -> CommandGate {
        CommandGate::new(self.dir.path())
    }

    /// Every command sshd ran for a client, one line each (newlines folded to spaces).
    pub fn commands_run(&self) -> Vec<String> {
        fs::read_to_string(self.dir.path().join("commands.log"))
            .expect("commands log")
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// How many clients authenticated, from sshd's own log.
    pub fn accepted_logins(&self) -> usize {
        self.log().matches("Accepted publickey for").count()
    }

    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("sshd.log")).unwrap_or_default()
    }

    fn wait_ready(&mut self) -> Result<(), Retry> {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                let log = self.log();
                if log.contains("Address already in use") || log.contains("Cannot bind any address")
                {
                    return Err(Retry::PortTaken);
                }
                return Err(Retry::Fatal(format!("sshd exited with {status}")));
            }
            if banner(self.addr()).is_some() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(Retry::Fatal(format!(
                    "no SSH banner on {} within {READY_TIMEOUT:?}",
                    self.addr()
                )));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn into_dir(mut self) -> tempfile::TempDir {
        self.kill();
        let placeholder = tempfile::tempdir().expect("temp dir");
        let dir = std::mem::replace(&mut self.dir, placeholder);
        drop(self);
        dir
    }

    fn kill(&mut self) {
        // SAFETY: plain syscall; the negative pid addresses sshd's own process group (set at spawn).
        unsafe {
            libc::kill(-(self.child.id() as libc::pid_t), libc::SIGKILL);
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        self.kill();
    }
}

fn banner(addr: SocketAddr) -> Option<String> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_millis(200)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    let mut buf = [0u8; 256];
    let n = stream.read(&mut buf).ok()?;
    let text = String::from_utf8_lossy(&buf[..n]).to_string();
    text.starts_with("SSH-").then_some(text)
}

fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

fn current_user() -> String {
    let out = Command::new("id").arg("-un").output().expect("run id -un");
    assert!(out.status.success(), "id -un failed");
    String::from_utf8(out.stdout)
        .expect("user name is UTF-8")
        .trim()
        .to_string()
}

fn keygen(path: &Path, comment: &str) {
    keygen_type(path, "ed25519", comment)
}

fn keygen_type(path: &Path, kind: &str, comment: &str) {
    let status = Command::new("ssh-keygen")
        .args(["-q", "-t", kind, "-N", "", "-C", comment, "-f"])
        .arg(path)
        .stdin(Stdio::null())
        .status()
        .expect("run ssh-keygen");
    assert!(status.success(), "ssh-keygen failed for {}", path.display());
}

/// What OpenSSH itself says the fingerprint of a public key file is.
pub fn fingerprint_by_ssh_keygen(public_key: &Path) -> HostKeyFingerprint {
    let out = Command::new("ssh-keygen")
        .args(["-l", "-E", "sha256", "-f"])
        .arg(public_key)
        .output()
        .expect("run ssh-keygen -l");
    assert!(
        out.status.success(),
        "ssh-keygen -l: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // "256 SHA256:... comment (ED25519)"
    let text = String::from_utf8(out.stdout).expect("UTF-8");
    let field = text.split_whitespace().nth(1).expect("fingerprint field");
    field
        .parse()
        .expect("ssh-keygen prints an OpenSSH fingerprint")
}

fn write_mode(path: &Path, contents: &[u8], mode: u32) {
    fs::write(path, contents).expect("write file");
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).expect("chmod");
}

fn config(root: &Path, ip: Ipv4Addr, port: u16, user: &str) -> String {
    let r = root.display();
    format!(
        "Port {port}
ListenAddress {ip}
HostKey {r}/ssh_host_ecdsa_key
HostKey {r}/ssh_host_ed25519_key
PidFile {r}/sshd.pid
AuthorizedKeysFile {r}/authorized_keys
StrictModes no
UsePAM no
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
AllowUsers {user}
ForceCommand {r}/login-wrapper
LogLevel VERBOSE
"
    )
}

fn wrapper(root: &Path, session_env: &[(String, String)]) -> String {
    let r = root.display();
    let mut exports = String::new();
    for (name, value) in session_env {
        exports.push_str(&format!("{name}='{value}'\nexport {name}\n"));
    }
    format!(
        r#"#!/bin/sh
# sshd ForceCommand for the test server: fix PATH after the login shell's rc files, log the
# command, then run it the way sshd would have.
PATH='{r}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
SOVSTACK_TEST_REMOTE_ROOT='{r}/remote'
export PATH SOVSTACK_TEST_REMOTE_ROOT
{exports}{{ printf '%s' "${{SSH_ORIGINAL_COMMAND-}}" | tr '\n' ' '; echo; }} >> '{r}/commands.log'
if [ -z "${{SSH_ORIGINAL_COMMAND-}}" ]; then exec /bin/sh; fi
{gate}exec /bin/sh -c "$SSH_ORIGINAL_COMMAND"
"#,
        gate = command_gate::wrapper_snippet(root),
    )
}
