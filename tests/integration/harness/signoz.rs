//! SigNoz (the shipped `signoz` module) on a test host, shared by the tests that apply it
//! (`stack_e2e.rs`, `fleet_e2e.rs`): the copy of the shipped modules they call, with the test
//! hosts' differences, and the mirror init-clickhouse downloads SigNoz's histogram-quantile
//! release from. Where this differs from production is in the harness README.

use super::file_server::FileServer;
use super::test_host::DockerHost;
use sha2::{Digest, Sha256};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

/// The shipped modules' files, as a workspace's copy holds them (under `modules/`).
pub const SIGNOZ_MODULE: &str = "modules/signoz/main.hcl";
pub const VLLM_MODULE: &str = "modules/vllm/main.hcl";
pub const SIDECAR_MODULE: &str = "modules/otel-sidecar/main.hcl";

/// The project the `signoz` module runs (its default `project`).
pub const PROJECT: &str = "signoz";
/// Its services, by name, as `docker inspect` lists them.
pub const SERVICES: [&str; 6] = [
    "clickhouse",
    "init-clickhouse",
    "schema-migrator",
    "signoz",
    "signoz-otel-collector",
    "zookeeper",
];

/// The stack in `ws` calls a copy of the shipped modules (`./modules/<name>` instead of
/// `sovstack/<name>`), with the test hosts' differences made in the modules' files: health
/// checks every second, ClickHouse's open-file limit within this machine's.
pub fn call_modules_for_test_hosts(ws: &Path) {
    crate::harness::cli::call_copied_modules(ws);
    let mut intervals = 0;
    for file in [SIGNOZ_MODULE, VLLM_MODULE] {
        let path = ws.join(file);
        let (text, changed) = with_fast_healthchecks(&fs::read_to_string(&path).unwrap());
        intervals += changed;
        let text = if file == SIGNOZ_MODULE {
            with_machine_limits(&text)
        } else {
            text
        };
        fs::write(&path, text).unwrap();
    }
    assert_eq!(
        intervals, 4,
        "the shipped modules' health checks changed; update this harness"
    );
}

/// The tests' one difference in the shipped `signoz` and `vllm` modules: every
/// `interval = "30s"` health check runs every second. Docker runs a container's
/// first check one interval after it starts, and the SigNoz services wait for each other's
/// health in a chain (ZooKeeper, then ClickHouse, then the migrator and SigNoz), so the real
/// intervals would add minutes of waiting. Nothing else of what sovstack renders changes.
/// Returns the text and how many it changed.
fn with_fast_healthchecks(text: &str) -> (String, usize) {
    let mut changed = 0;
    let lines: Vec<String> = text
        .lines()
        .map(|l| {
            if l.trim_start().starts_with("interval") && l.contains("\"30s\"") {
                changed += 1;
                l.replace("\"30s\"", "\"1s\"")
            } else {
                l.to_string()
            }
        })
        .collect();
    (lines.join("\n") + "\n", changed)
}

/// ClickHouse's open-file limit as the reference stack sets it.
const CLICKHOUSE_NOFILE: &str = "nofile = { soft = 262144, hard = 262144 }";

/// The highest open-file limit a container can be given here: runc sets the container's limits
/// as the engine's user, and without `CAP_SYS_RESOURCE` (some sandboxes that run CI drop it)
/// nothing goes above the hard limit this process inherited. `None` when the stack's own value
/// can be set, as on a real node.
fn nofile_ceiling() -> Option<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain syscalls on a local struct.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return None;
        }
        let wanted = libc::rlimit {
            rlim_cur: limit.rlim_cur,
            rlim_max: limit.rlim_max.max(262_144),
        };
        // Raising our own hard limit succeeds exactly where runc's would.
        if libc::setrlimit(libc::RLIMIT_NOFILE, &wanted) == 0 {
            return None;
        }
    }
    Some(limit.rlim_max)
}

/// The test's third difference, only on machines that cannot grant it: ClickHouse's open-file
/// limit lowered to the ceiling (`nofile_ceiling`), so its container can start at all.
fn with_machine_limits(stack: &str) -> String {
    assert!(
        stack.contains(CLICKHOUSE_NOFILE),
        "the reference stack's ClickHouse ulimits changed; update this test"
    );
    match nofile_ceiling() {
        None => stack.to_string(),
        Some(max) => {
            eprintln!(
                "this machine caps open files at {max}: ClickHouse's nofile is lowered to it"
            );
            stack.replace(
                CLICKHOUSE_NOFILE,
                &format!("nofile = {{ soft = {max}, hard = {max} }}"),
            )
        }
    }
}

/// The mirror init-clickhouse downloads SigNoz's histogram-quantile release from: a release
/// archive of the same shape (a tar.gz holding `histogram-quantile`), served by a file server
/// on the observability server's own address. The test stack names it through the reference
/// stack's variables `histogram_quantile_url` and `histogram_quantile_sha256`, as an operator
/// with a mirror would; the init container's script downloads it, checks the digest and installs
/// it where ClickHouse's function config points. (The binary inside is a script that computes
/// nothing: the ClickHouse stand-in never calls the function.)
pub struct HistogramMirror {
    pub server: FileServer,
    _dir: tempfile::TempDir,
    /// sha256 of the archive, as the variable gives it.
    pub archive_sha256: String,
    /// sha256 of the binary inside.
    binary_sha256: String,
}

pub const RELEASE: &str = "histogram-quantile_linux_amd64.tar.gz";

impl HistogramMirror {
    pub fn start(machine: &DockerHost) -> HistogramMirror {
        let dir = tempfile::tempdir().unwrap();
        let build = dir.path().join("build");
        let www = dir.path().join("www");
        fs::create_dir_all(&build).unwrap();
        fs::create_dir_all(&www).unwrap();
        let binary = build.join("histogram-quantile");
        fs::write(
            &binary,
            "#!/bin/sh\necho 'histogram-quantile from the test mirror: computes nothing' >&2\nexit 1\n",
        )
        .unwrap();
        fs::set_permissions(&binary, fs::Permissions::from_mode(0o755)).unwrap();
        let status = Command::new("tar")
            .arg("-czf")
            .arg(www.join(RELEASE))
            .arg("-C")
            .arg(&build)
            .arg("histogram-quantile")
            .status()
            .unwrap();
        assert!(status.success(), "tar of the mirror's release");
        let digest = |p: &Path| hex::encode(Sha256::digest(fs::read(p).unwrap()));
        HistogramMirror {
            archive_sha256: digest(&www.join(RELEASE)),
            binary_sha256: digest(&binary),
            server: machine.serve_files(&www),
            _dir: dir,
        }
    }

    pub fn vars(&self) -> [String; 2] {
        [
            format!("histogram_quantile_url={}", self.server.url(RELEASE)),
            format!("histogram_quantile_sha256={}", self.archive_sha256),
        ]
    }

    /// The release was fetched from the mirror, and ClickHouse's container sees the binary,
    /// executable, where its function config points, with the digest the script recorded.
    pub fn assert_installed(&self, machine: &DockerHost) {
        // Downloaded once, by a container (from its compose network, not the host's address).
        let clients = self.server.clients_of(RELEASE);
        assert_eq!(clients.len(), 1, "{}", self.server.log());
        assert!(
            !clients[0].starts_with(&format!("{}:", machine.ip())),
            "{clients:?}"
        );
        let exec = |script: &str| {
            let out = machine
                .engine()
                .docker(&["exec", "signoz-clickhouse-1", "sh", "-c", script]);
            assert!(
                out.status.success(),
                "{script}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            String::from_utf8_lossy(&out.stdout).trim().to_string()
        };
        let dir = "/var/lib/clickhouse/user_scripts";
        let installed = exec(&format!(
            "test -x {dir}/histogramQuantile && sha256sum {dir}/histogramQuantile"
        ));
        assert_eq!(
            installed.split_whitespace().next(),
            Some(self.binary_sha256.as_str()),
            "{installed}"
        );
        assert_eq!(
            exec(&format!("cat {dir}/histogramQuantile.sha256")),
            self.archive_sha256
        );
    }
}

/// Every service of the `signoz` module runs on `machine`, healthy where it has a check; the
/// schema migrator and init-clickhouse ran to completion, as `service_completed_successfully`
/// asks.
pub fn assert_running(machine: &DockerHost) {
    let signoz = machine.containers(PROJECT);
    assert_eq!(signoz.keys().collect::<Vec<_>>(), SERVICES);
    for healthy in ["clickhouse", "signoz", "zookeeper"] {
        assert_eq!(
            (
                signoz[healthy].status.as_str(),
                signoz[healthy].health.as_str()
            ),
            ("running", "healthy"),
            "{healthy}"
        );
    }
    assert_eq!(signoz["signoz-otel-collector"].status, "running");
    for once in ["schema-migrator", "init-clickhouse"] {
        assert_eq!(
            (signoz[once].status.as_str(), signoz[once].exit_code),
            ("exited", 0),
            "{once}"
        );
    }
}

/// What SigNoz's collector (its stand-in, see `images.rs`) on `machine` has received so far:
/// one JSON line per trace batch.
pub fn received(machine: &DockerHost) -> String {
    let container = format!("{PROJECT}-signoz-otel-collector-1");
    let out = machine
        .engine()
        .docker(&["exec", &container, "cat", super::images::SIGNOZ_RECEIVED]);
    String::from_utf8_lossy(&out.stdout).into_owned()
}
