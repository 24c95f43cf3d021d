//! The operator's side of SSH as a person has it: a key pair every node authorizes, held by an
//! ssh-agent of the test's own (sovstack reads `SSH_AUTH_SOCK` when a stack names no key file).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// An ssh-agent of our own holding the harness client keys, like an operator's agent.
pub struct Agent {
    child: Child,
    _dir: tempfile::TempDir,
    pub socket: PathBuf,
}

impl Agent {
    pub fn start() -> Agent {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("agent.sock");
        let child = Command::new("ssh-agent")
            .arg("-D")
            .arg("-a")
            .arg(&socket)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn ssh-agent");
        let deadline = Instant::now() + Duration::from_secs(10);
        while !socket.exists() {
            assert!(
                Instant::now() < deadline,
                "ssh-agent did not create its socket"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        Agent {
            child,
            _dir: dir,
            socket,
        }
    }

    pub fn add(&self, key: &Path) {
        let out = Command::new("ssh-add")
            .arg(key)
            .env("SSH_AUTH_SOCK", &self.socket)
            .stdin(Stdio::null())
            .output()
            .expect("run ssh-add");
        assert!(
            out.status.success(),
            "ssh-add: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The operator's key pair (what `ssh_key.admin` stands for): every node authorizes it, the
/// agent holds it.
pub struct OperatorKey {
    _dir: tempfile::TempDir,
    pub private: PathBuf,
    pub public: String,
}

impl OperatorKey {
    pub fn generate() -> OperatorKey {
        let dir = tempfile::tempdir().unwrap();
        let private = dir.path().join("operator");
        let status = Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-C", "operator", "-f"])
            .arg(&private)
            .stdin(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success());
        let public = fs::read_to_string(private.with_extension("pub")).unwrap();
        OperatorKey {
            _dir: dir,
            private,
            public,
        }
    }
}
