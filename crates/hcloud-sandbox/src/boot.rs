//! "The server boots": a hook the simulator calls when a server it created first starts running,
//! so tests of the node layer can bring up what a real server would run (an sshd with the host key
//! from the user data, a docker shim) at the server's loopback address.
//!
//! The event fires once per created server, when the `start_server` action that `POST /servers`
//! queued (with `start_after_create`, the default) succeeds. A server created stopped does not
//! boot; power actions after that do not fire again. The hook runs after the request's store
//! update, outside the store lock, on the request's task: keep an in-process hook quick (spawn
//! work that takes long). The command form (`sovstack sandbox --boot-command CMD`) runs `sh -c CMD`
//! on its own thread and never delays the API.

use std::io::Write;
use std::net::Ipv4Addr;
use std::process::Command;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// A simulated server finished booting.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BootEvent {
    pub server_id: u64,
    pub name: String,
    /// `None` for a server created without a public IPv4.
    pub ipv4: Option<Ipv4Addr>,
    /// The user data sent with `POST /servers` (cloud-init; holds the host private key).
    pub user_data: Option<String>,
}

impl std::fmt::Debug for BootEvent {
    // The user data carries a private host key: never print it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BootEvent")
            .field("server_id", &self.server_id)
            .field("name", &self.name)
            .field("ipv4", &self.ipv4)
            .field("user_data_bytes", &self.user_data.as_ref().map(String::len))
            .finish()
    }
}

/// Called once per booted server.
pub type BootHook = Arc<dyn Fn(BootEvent) + Send + Sync>;

/// A hook that runs `sh -c command` with `SANDBOX_SERVER_ID`, `SANDBOX_SERVER_NAME`,
/// `SANDBOX_SERVER_IPV4` (empty when none) and `SANDBOX_USER_DATA` (path of a temporary file,
/// mode 0600, holding the user data; removed when the command exits). Failures are logged.
pub fn command_hook(command: String) -> BootHook {
    Arc::new(move |event: BootEvent| {
        let command = command.clone();
        std::thread::spawn(move || {
            if let Err(e) = run_command(&command, &event) {
                tracing::error!(server = event.server_id, error = %e, "boot command failed");
            }
        });
    })
}

fn run_command(command: &str, event: &BootEvent) -> std::io::Result<()> {
    let path = std::env::temp_dir().join(format!(
        "sovstack-sandbox-user-data-{}",
        uuid::Uuid::new_v4().simple()
    ));
    let result = write_private(&path, event.user_data.as_deref().unwrap_or("")).and_then(|()| {
        Command::new("sh")
            .arg("-c")
            .arg(command)
            .env("SANDBOX_SERVER_ID", event.server_id.to_string())
            .env("SANDBOX_SERVER_NAME", &event.name)
            .env(
                "SANDBOX_SERVER_IPV4",
                event.ipv4.map(|ip| ip.to_string()).unwrap_or_default(),
            )
            .env("SANDBOX_USER_DATA", &path)
            .status()
    });
    let _ = std::fs::remove_file(&path);
    let status = result?;
    if !status.success() {
        tracing::warn!(server = event.server_id, %status, "boot command exited unsuccessfully");
    }
    Ok(())
}

/// Mode 0600 from the start: the user data holds a private key.
fn write_private(path: &std::path::Path, content: &str) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(content.as_bytes())?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[test]
    fn command_hook_passes_event_through_env_and_file() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let hook = command_hook(format!(
            "printf '%s|%s|%s|' \"$SANDBOX_SERVER_ID\" \"$SANDBOX_SERVER_NAME\" \"$SANDBOX_SERVER_IPV4\" > {0}.tmp && cat \"$SANDBOX_USER_DATA\" >> {0}.tmp && mv {0}.tmp {0}",
            out.display()
        ));
        hook(BootEvent {
            server_id: 7,
            name: "web".into(),
            ipv4: Some(Ipv4Addr::new(127, 0, 1, 3)),
            user_data: Some("#cloud-config\n".into()),
        });
        let deadline = Instant::now() + Duration::from_secs(10);
        while !out.exists() {
            assert!(Instant::now() < deadline, "boot command did not run");
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(
            std::fs::read_to_string(&out).unwrap(),
            "7|web|127.0.1.3|#cloud-config\n"
        );
    }

    #[test]
    fn debug_hides_user_data() {
        let e = BootEvent {
            server_id: 1,
            name: "x".into(),
            ipv4: None,
            user_data: Some("SECRET-KEY".into()),
        };
        assert!(!format!("{e:?}").contains("SECRET"));
    }
}
