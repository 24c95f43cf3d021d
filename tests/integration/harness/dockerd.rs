//! A real Docker Engine (Debian's `docker.io`: dockerd 20.10 and its CLI) per test host, inside
//! the host's network namespace, with everything of its own under the host's directory: data
//! root, exec root (which holds its containerd), pid file and API socket. Started and stopped
//! with deadlines; dropping it stops the engine (its containers with it) and unmounts what it
//! left mounted, also when the test failed.
//!
//! With [`EngineOptions::nvidia`], the engine gets an NVIDIA runtime stand-in (see the harness
//! README): a `nvidia` runtime that is plain runc, and a no-op `nvidia-container-runtime-hook`
//! on dockerd's PATH, which is what makes dockerd 20.10 accept GPU device requests. Containers
//! then start as on a GPU host, only without a GPU.

use super::netns::NetNs;
use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub const DOCKERD: &str = "/usr/sbin/dockerd";
/// Debian's CLI; `/usr/local/bin/docker` may be another client, so never rely on PATH.
pub const DOCKER_CLI: &str = "/usr/bin/docker";
const RUNC: &str = "/usr/sbin/runc";
const READY_TIMEOUT: Duration = Duration::from_secs(60);
const STOP_TIMEOUT: Duration = Duration::from_secs(30);
const POLL: Duration = Duration::from_millis(25);

#[derive(Debug, Clone, Copy, Default)]
pub struct EngineOptions {
    /// Register the NVIDIA runtime stand-in.
    pub nvidia: bool,
}

pub struct Dockerd {
    child: Option<Child>,
    root: PathBuf,
    netns_name: String,
    options: EngineOptions,
}

impl Dockerd {
    /// Starts an engine in `ns` with its files under `root` (which must exist).
    pub fn start(ns: &NetNs, root: &Path, options: EngineOptions) -> Result<Dockerd, String> {
        let mut d = Dockerd {
            child: None,
            root: root.to_path_buf(),
            netns_name: ns.name().to_string(),
            options,
        };
        d.spawn(ns)?;
        Ok(d)
    }

    pub fn socket(&self) -> PathBuf {
        self.root.join("docker.sock")
    }

    /// `unix://...`, for `DOCKER_HOST`.
    pub fn host_url(&self) -> String {
        format!("unix://{}", self.socket().display())
    }

    fn log_path(&self) -> PathBuf {
        self.root.join("dockerd.log")
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// A directory holding the NVIDIA hook stand-in, put first on dockerd's PATH.
    fn nvidia_dir(&self) -> Result<PathBuf, String> {
        let dir = self.root.join("nvidia");
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        let hook = dir.join("nvidia-container-runtime-hook");
        std::fs::write(
            &hook,
            "#!/bin/sh\n# NVIDIA hook stand-in: the test hosts have no GPU to hand to the container.\ncat >/dev/null\nexit 0\n",
        )
        .map_err(|e| e.to_string())?;
        std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755))
            .map_err(|e| e.to_string())?;
        Ok(dir)
    }

    fn spawn(&mut self, ns: &NetNs) -> Result<(), String> {
        let r = &self.root;
        let mut path = String::from("/usr/sbin:/usr/bin:/sbin:/bin");
        let mut cmd = ns.command(DOCKERD);
        cmd.arg("--data-root")
            .arg(r.join("data"))
            .arg("--exec-root")
            .arg(r.join("exec"))
            .arg("--pidfile")
            .arg(r.join("docker.pid"))
            .arg("--host")
            .arg(self.host_url())
            // Our stand-ins stop on SIGTERM at once; anything else is not waited for long.
            .arg("--shutdown-timeout")
            .arg("2");
        if self.options.nvidia {
            path = format!("{}:{path}", self.nvidia_dir()?.display());
            cmd.arg("--add-runtime").arg(format!("nvidia={RUNC}"));
        }
        let log = std::fs::File::create(self.log_path()).map_err(|e| e.to_string())?;
        let child = cmd
            .env_clear()
            .env("PATH", path)
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(|e| e.to_string())?)
            .stderr(log)
            .spawn()
            .map_err(|e| format!("cannot start {DOCKERD}: {e}"))?;
        self.child = Some(child);
        self.wait_ready()
    }

    /// Polls the API's `/_ping` until it answers `OK`, the daemon exits, or the deadline.
    fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                return Err(format!("dockerd exited with {status}:\n{}", self.log()));
            }
            if ping(&self.socket()).is_some_and(|body| body == "OK") {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "dockerd did not answer on {} within {READY_TIMEOUT:?}:\n{}",
                    self.socket().display(),
                    self.log()
                ));
            }
            std::thread::sleep(POLL);
        }
    }

    /// The real CLI, talking to this engine.
    pub fn cli(&self) -> Command {
        let mut c = Command::new(DOCKER_CLI);
        c.env("DOCKER_HOST", self.host_url())
            .env("DOCKER_CONFIG", self.root.join("docker-config"))
            .stdin(Stdio::null());
        c
    }

    /// Runs `docker args...` against this engine; panics with its stderr when it fails.
    pub fn docker(&self, args: &[&str]) -> Output {
        let out = self.cli().args(args).output().expect("run docker");
        assert!(
            out.status.success(),
            "docker {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// Loads images from a `docker save` archive.
    pub fn load(&self, archive: &Path) -> Result<(), String> {
        let out = self
            .cli()
            .arg("load")
            .arg("--quiet")
            .arg("--input")
            .arg(archive)
            .output()
            .map_err(|e| e.to_string())?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "docker load: {}",
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    }

    /// Stops the engine as `systemctl stop docker` would (its containers stop with it); `up`
    /// starts it again.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let pid = std::fs::read_to_string(self.root.join("docker.pid"))
            .ok()
            .and_then(|p| p.trim().parse::<libc::pid_t>().ok());
        // SAFETY: plain syscalls on the daemon's pid (from its pid file, else nsenter's child).
        unsafe {
            libc::kill(pid.unwrap_or(child.id() as libc::pid_t), libc::SIGTERM);
        }
        let deadline = Instant::now() + STOP_TIMEOUT;
        while child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
            std::thread::sleep(POLL);
        }
        if child.try_wait().ok().flatten().is_none() {
            eprintln!(
                "dockerd in {} did not stop in time; killing it",
                self.netns_name
            );
            if let Some(pid) = pid {
                // SAFETY: as above.
                unsafe {
                    libc::kill(pid, libc::SIGKILL);
                }
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the engine again after [`Self::stop`].
    pub fn up(&mut self, ns: &NetNs) -> Result<(), String> {
        if self.child.is_none() {
            self.spawn(ns)?;
        }
        Ok(())
    }
}

impl Drop for Dockerd {
    fn drop(&mut self) {
        self.stop();
        unmount_under(&self.root);
    }
}

/// `GET /_ping` on the engine's socket; the body, or `None` while it does not answer.
fn ping(socket: &Path) -> Option<String> {
    let mut s = UnixStream::connect(socket).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    s.write_all(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
        .ok()?;
    let mut reply = String::new();
    s.read_to_string(&mut reply).ok()?;
    reply
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_string())
}

/// Detaches every mount below `root` (deepest first): the engine bind-mounts its data root
/// and may leave container mounts behind when it was killed.
fn unmount_under(root: &Path) {
    let Ok(table) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return;
    };
    let prefix = root.to_string_lossy().to_string();
    let mut points: Vec<&str> = table
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .filter(|p| p.starts_with(&prefix))
        .collect();
    points.sort_by_key(|p| std::cmp::Reverse(p.len()));
    for p in points {
        if let Ok(c) = std::ffi::CString::new(p) {
            // SAFETY: a valid NUL-terminated path; MNT_DETACH never blocks.
            unsafe {
                libc::umount2(c.as_ptr(), libc::MNT_DETACH);
            }
        }
    }
}
