//! The reference `stack.hcl` end to end through the real binary: the Hetzner sandbox for the
//! Cloud server, and two test hosts with real Docker Engines (the GPU host, and the server,
//! whose sshd the sandbox's boot hook starts with the host key sovstack put into the cloud-init
//! user data). The stack's images are the harness's locally built stand-ins under the real tags.
//!
//! One test walks the node layer's done-when lines in order: a full apply in which every
//! container really starts and turns healthy and every check passes (the traced request's span
//! travels from the vLLM stand-in over the compose network to the collector stand-in and its
//! audit file), and a clean plan after it; one changed service environment recreating exactly
//! that service's container (ids read with the real `docker` CLI); one changed collector
//! pipeline recreating only the collector; a container stopped behind sovstack's back, reported
//! by `drift` and started again by `apply`; a host key that does not match stopping the apply
//! before anything runs on that host; a canary secret found only in the node's env file; and
//! destroy running `down` before the server is deleted.
//!
//! A second test runs the stack's init-clickhouse script in the ClickHouse image against the
//! mirror: a release with another digest is refused and nothing is installed.
//!
//! Where the test's copy differs from the reference stack (health checks every second, Debian's
//! engine accepted, ClickHouse's data and open-file limit on this machine, the release from a
//! mirror on the server's host) is said at each `with_*` function and in the harness README.
//! The stack's services come from the modules that ship with sovstack; the test calls a copy of
//! them (`modules/` in its workspace), where its differences inside them are made.
//!
//! Nodes are reached the way the stack says, on port 22 of their own addresses, inside their
//! own network namespaces, with the operator key in an ssh-agent this test starts.

use crate::harness::agent::{Agent, OperatorKey};
use crate::harness::audit::{assert_emitted_by_vllm, audited_span, checked_trace_id};
use crate::harness::dockerd::EngineOptions;
use crate::harness::signoz::{
    HistogramMirror, RELEASE, SIDECAR_MODULE, SIGNOZ_MODULE, call_modules_for_test_hosts,
};
use crate::harness::sshd::{Sshd, fingerprint_by_ssh_keygen};
use crate::harness::test_host::{ContainerFacts, DockerHost};
use sovstack::sandbox::{BootEvent, Sandbox, SandboxConfig, SandboxHandle, ServerIpv4};
use std::collections::BTreeMap;
use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex, OnceLock};

const TOKEN: &str = "stack-e2e-token-never-printed";
const CANARY: &str = "canary-jwt-9f3c2e71-must-stay-on-the-node";
const CH_PASSWORD: &str = "0ddba11c1c0ffee5ca1ab1e0ddba11c1";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The test's other difference: its machines run Debian's `docker.io` 20.10.24+dfsg1, whose
/// security fixes are backports under an older version number, so both nodes accept it
/// (`docker_minimum`; validate warns, as it would for a user).
fn with_debian_engines(stack: &str) -> String {
    let accept = "  bootstrap {\n    docker_minimum = \"20.10.24\"\n  }\n";
    let mut out = stack.to_string();
    for header in ["host \"gpu\" {\n", "server \"observability\" {\n"] {
        assert!(out.contains(header), "the reference stack has {header}");
        out = out.replacen(header, &format!("{header}{accept}"), 1);
    }
    out
}

/// Lets the nodes tell the sandbox that `compose down` is about to run, so the sandbox's request
/// log orders node commands and API calls on one sequence, with no clocks involved. The nodes'
/// `docker` is a wrapper that, for `down`, first sends a request to a unix socket (reachable
/// from inside the hosts' namespaces: they share the file system); this relay forwards it to
/// the sandbox on loopback as `GET /locations?e2e_marker=...` and answers once it is logged.
struct DownMarkers {
    dir: tempfile::TempDir,
    target: Arc<OnceLock<String>>,
}

impl DownMarkers {
    fn start() -> DownMarkers {
        let dir = tempfile::tempdir().unwrap();
        let listener = UnixListener::bind(dir.path().join("markers.sock")).unwrap();
        let target: Arc<OnceLock<String>> = Arc::default();
        let sandbox = target.clone();
        // Ends with the process; it only ever answers this test's nodes.
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let _ = relay(conn, &sandbox);
            }
        });
        DownMarkers { dir, target }
    }

    fn socket(&self) -> PathBuf {
        self.dir.path().join("markers.sock")
    }

    /// Puts the marking `docker` wrapper first on the node's PATH.
    fn install(&self, sshd: &Sshd, node: &str) {
        sshd.install_tool(
            "docker",
            &format!(
                r#"#!/bin/sh
case " $* " in
  *" down "*) curl -s -o /dev/null --unix-socket '{}' 'http://marker/down-{node}' ;;
esac
exec /usr/bin/docker "$@"
"#,
                self.socket().display()
            ),
        );
    }
}

/// Forwards one marker request to the sandbox, then answers the node.
fn relay(conn: std::os::unix::net::UnixStream, sandbox: &OnceLock<String>) -> std::io::Result<()> {
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let marker = request_line
        .split_whitespace()
        .nth(1)
        .unwrap_or("/unknown")
        .trim_start_matches('/')
        .to_string();
    let base = sandbox.get().cloned().unwrap_or_default();
    let rest = base.trim_start_matches("http://");
    let (authority, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    let mut api = std::net::TcpStream::connect(authority)?;
    write!(
        api,
        "GET /{prefix}/locations?e2e_marker={marker} HTTP/1.1\r\nHost: {authority}\r\nAuthorization: Bearer {TOKEN}\r\nConnection: close\r\n\r\n"
    )?;
    let mut ignored = Vec::new();
    api.read_to_end(&mut ignored)?;
    let mut out = conn;
    out.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
}

/// The server's sshd, started by the sandbox's boot hook with the host key from the user data,
/// inside the server machine's namespace (whose address the sandbox hands out).
#[derive(Clone)]
struct BootedServer {
    machine: Arc<DockerHost>,
    sshd: Arc<Mutex<Option<Sshd>>>,
    failures: Arc<Mutex<Vec<String>>>,
    operator_public: Arc<OnceLock<String>>,
}

impl BootedServer {
    fn hook(&self, markers: &Arc<DownMarkers>) -> sovstack::sandbox::BootHook {
        let me = self.clone();
        let markers = markers.clone();
        Arc::new(move |e: BootEvent| {
            let (me, markers) = (me.clone(), markers.clone());
            // Starting sshd takes a moment; the hook runs on the API request's task.
            std::thread::spawn(move || {
                if let Err(why) = me.boot(&e, &markers) {
                    me.failures.lock().unwrap().push(why);
                }
            });
        })
    }

    fn boot(&self, e: &BootEvent, markers: &DownMarkers) -> Result<(), String> {
        let ip = e.ipv4.ok_or("server without IPv4")?;
        if ip != self.machine.ip() {
            return Err(format!(
                "the sandbox gave {ip}, the machine is {}",
                self.machine.ip()
            ));
        }
        let user_data = e.user_data.as_deref().ok_or("server without user data")?;
        let doc: serde_json::Value =
            serde_saphyr::from_str(user_data).map_err(|err| format!("user data: {err}"))?;
        let key = |k: &str| {
            doc["ssh_keys"][k]
                .as_str()
                .map(str::to_string)
                .ok_or(format!("user data has no ssh_keys.{k}"))
        };
        let (private, public) = (key("ed25519_private")?, key("ed25519_public")?);
        let sshd = self
            .machine
            .sshd()
            .host_key(&private, &public)
            .authorize(self.operator_public.get().ok_or("operator key not set")?)
            .start()
            .ok_or("sshd is missing")?;
        markers.install(&sshd, "server");
        *self.sshd.lock().unwrap() = Some(sshd);
        Ok(())
    }

    fn with<T>(&self, f: impl FnOnce(&Sshd) -> T) -> T {
        let failures = self.failures.lock().unwrap().clone();
        assert!(failures.is_empty(), "server boot failed: {failures:?}");
        let guard = self.sshd.lock().unwrap();
        f(guard.as_ref().expect("the server has booted"))
    }
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out
}

struct World {
    sb: SandboxHandle,
    /// Before the server: its file server stops before the server's namespace goes.
    mirror: HistogramMirror,
    host: Sshd,
    server: BootedServer,
    gpu: DockerHost,
    _markers: Arc<DownMarkers>,
    agent: Agent,
    _operator: OperatorKey,
    workspace: tempfile::TempDir,
    deploy: tempfile::TempDir,
    host_key: String,
    transcript: Vec<String>,
}

impl World {
    fn dir(&self) -> PathBuf {
        self.workspace.path().join("ws")
    }

    fn vars(&self, host_key: &str) -> Vec<String> {
        [
            "observability_server_type=cx23".to_string(),
            format!("gpu_host_address={}", self.gpu.ip()),
            format!("gpu_host_key={host_key}"),
            format!("deploy_root={}", self.deploy.path().display()),
        ]
        .into_iter()
        .chain(self.mirror.vars())
        .flat_map(|v| ["--var".to_string(), v])
        .collect()
    }

    async fn run_with_key(&mut self, args: &[&str], host_key: &str) -> Output {
        let mut c = Command::new(env!("CARGO_BIN_EXE_sovstack"));
        c.current_dir(self.dir())
            .args(args)
            .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
            .args(self.vars(host_key))
            .env("HCLOUD_ENDPOINT", self.sb.base_url())
            .env("HCLOUD_TOKEN", TOKEN)
            .env("SOVSTACK_VAR_signoz_jwt_secret", CANARY)
            .env("SOVSTACK_VAR_clickhouse_password", CH_PASSWORD)
            .env("SSH_AUTH_SOCK", &self.agent.socket)
            .env_remove("SOVSTACK_STATE_KEY")
            .stdin(Stdio::null());
        let out = tokio::task::spawn_blocking(move || c.output().expect("run sovstack"))
            .await
            .unwrap();
        self.transcript
            .push(format!("$ sovstack {}\n{}", args.join(" "), text(&out)));
        out
    }

    async fn run(&mut self, args: &[&str]) -> Output {
        let key = self.host_key.clone();
        self.run_with_key(args, &key).await
    }

    fn edit_stack(&self, from: &str, to: &str) {
        self.edit_file("stack.hcl", from, to);
    }

    /// One edit in a file of the workspace (the stack or a module's file).
    fn edit_file(&self, file: &str, from: &str, to: &str) {
        let path = self.dir().join(file);
        let text = fs::read_to_string(&path).unwrap();
        assert_eq!(text.matches(from).count(), 1, "edit anchor {from:?}");
        fs::write(&path, text.replace(from, to)).unwrap();
    }

    async fn count(&self, what: &str) -> usize {
        let body: serde_json::Value = reqwest::Client::new()
            .get(format!("{}/{what}", self.sb.base_url()))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        body[what].as_array().map_or(0, Vec::len)
    }

    /// Container ids per service of both projects, as the engines report them.
    fn container_ids(&self) -> (BTreeMap<String, String>, BTreeMap<String, String>) {
        let ids =
            |m: BTreeMap<String, ContainerFacts>| m.into_iter().map(|(s, c)| (s, c.id)).collect();
        (
            ids(self.gpu.containers("inference")),
            ids(self.server.machine.containers("signoz")),
        )
    }

    /// The commands run with `--force-recreate` on each node since these counts.
    fn recreates_since(&self, host_from: usize, server_from: usize) -> (Vec<String>, Vec<String>) {
        let recreates = |all: Vec<String>, from: usize| -> Vec<String> {
            all[from..]
                .iter()
                .filter(|c| c.contains("--force-recreate"))
                .cloned()
                .collect()
        };
        (
            recreates(self.host.commands_run(), host_from),
            recreates(self.server.with(Sshd::commands_run), server_from),
        )
    }

    /// Applies, and checks what the engines say: a new container for exactly `recreated` on
    /// the GPU host (by one explicit `--force-recreate`), the same containers everywhere else.
    async fn apply_recreating(&mut self, recreated: Option<&str>) -> String {
        let (host_from, server_from) = self.commands_so_far();
        let (host_ids, server_ids) = self.container_ids();
        let out = self.run(&["apply", "--auto-approve"]).await;
        let applied = text(&out);
        assert!(out.status.success(), "{applied}");
        let (host_after, server_after) = self.container_ids();
        let changed: Vec<&str> = recreated.into_iter().collect();
        assert_only_replaced(&host_ids, &host_after, &changed, &applied);
        assert_only_replaced(&server_ids, &server_after, &[], &applied);
        let (host_recreates, server_recreates) = self.recreates_since(host_from, server_from);
        let suffixes: Vec<String> = host_recreates
            .iter()
            .filter_map(|c| {
                c.rsplit_once(" --force-recreate ")
                    .map(|(_, s)| s.to_string())
            })
            .collect();
        assert_eq!(suffixes, changed, "{host_recreates:#?}");
        assert!(server_recreates.is_empty(), "{server_recreates:#?}");
        applied
    }

    fn commands_so_far(&self) -> (usize, usize) {
        (
            self.host.commands_run().len(),
            self.server.with(|s| s.commands_run().len()),
        )
    }
}

/// `after` has a new container for each service in `changed` and the same one for every
/// other; `output` (the apply's) goes into the failure message.
fn assert_only_replaced(
    before: &BTreeMap<String, String>,
    after: &BTreeMap<String, String>,
    changed: &[&str],
    output: &str,
) {
    assert_eq!(
        before.keys().collect::<Vec<_>>(),
        after.keys().collect::<Vec<_>>()
    );
    for (service, id) in before {
        let replaced = after[service] != *id;
        assert_eq!(
            replaced,
            changed.contains(&service.as_str()),
            "{service}: {id} -> {}\n{output}",
            after[service]
        );
    }
}

/// The engine's own versions, as `bootstrap` should report them.
fn engine_versions(machine: &DockerHost) -> (String, String) {
    let read = |args: &[&str]| {
        String::from_utf8(machine.engine().docker(args).stdout)
            .unwrap()
            .trim()
            .to_string()
    };
    (
        read(&["version", "--format", "{{.Server.Version}}"]),
        read(&["compose", "version", "--short"]),
    )
}

async fn world() -> Option<World> {
    let operator = OperatorKey::generate();
    // A missing tool is reported (or fails under CI) by the harness. The GPU host's engine has
    // the NVIDIA runtime stand-in, so vLLM's GPU reservation is accepted as on a GEX44.
    let machines =
        DockerHost::start_all(&[EngineOptions { nvidia: true }, EngineOptions::default()])?;
    let [gpu, server_machine]: [DockerHost; 2] = machines.try_into().ok()?;
    let host = gpu.sshd().authorize(&operator.public).start()?;
    let markers = Arc::new(DownMarkers::start());
    let mirror = HistogramMirror::start(&server_machine);
    let server = BootedServer {
        machine: Arc::new(server_machine),
        sshd: Arc::default(),
        failures: Arc::default(),
        operator_public: Arc::default(),
    };
    server.operator_public.set(operator.public.clone()).unwrap();
    let sb = Sandbox::start(
        SandboxConfig {
            server_ipv4: ServerIpv4::Sequential(server.machine.ip()),
            token: Some(TOKEN.into()),
            boot: Some(server.hook(&markers)),
            ..SandboxConfig::for_tests()
        },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    markers.target.set(sb.base_url()).unwrap();
    markers.install(&host, "host");
    // A GEX44 with a patched NVIDIA Container Toolkit already installed: bootstrap installs
    // nothing (the engine's `nvidia` runtime is the stand-in described in the harness README).
    host.install_tool(
        "nvidia-ctk",
        "#!/bin/sh\necho 'NVIDIA Container Toolkit CLI version 1.20.1'\n",
    );

    let agent = Agent::start();
    agent.add(&operator.private);

    let workspace = tempfile::tempdir().unwrap();
    let ws = workspace.path().join("ws");
    fs::create_dir_all(ws.join("keys")).unwrap();
    // The test's "server" shares this machine's filesystem: the bootstrap must not mount a
    // volume on it (nor edit its fstab). Mounting is tested with fakes
    // (`providers/node/bootstrap_tests.rs`).
    // ClickHouse's data directory, which the stack binds from that mount, is under the test's
    // deploy directory instead of the machine's /mnt.
    let deploy = tempfile::tempdir().unwrap();
    let reference = fs::read_to_string(repo().join("stack.hcl")).unwrap();
    for anchor in [
        "  mount_path = local.clickhouse_mount\n",
        r#"clickhouse_mount = "/mnt/clickhouse""#,
    ] {
        assert_eq!(reference.matches(anchor).count(), 1, "{anchor:?}");
    }
    let without_mount = reference
        .replace("  mount_path = local.clickhouse_mount\n", "")
        .replace(
            r#"clickhouse_mount = "/mnt/clickhouse""#,
            &format!(
                r#"clickhouse_mount = "{}/clickhouse-volume""#,
                deploy.path().display()
            ),
        );

    fs::write(ws.join("stack.hcl"), with_debian_engines(&without_mount)).unwrap();
    call_modules_for_test_hosts(&ws);
    fs::copy(repo().join("keys/admin.pub"), ws.join("keys/admin.pub")).unwrap();
    let host_key = host.host_key_fingerprint().to_string();
    Some(World {
        sb,
        host,
        server,
        gpu,
        _markers: markers,
        mirror,
        agent,
        _operator: operator,
        workspace,
        deploy,
        host_key,
        transcript: Vec::new(),
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reference_stack_end_to_end() {
    let Some(mut w) = world().await else { return };
    let deploy = w.deploy.path().to_path_buf();

    // 1. Everything from nothing: cloud resources, then both nodes, then the checks.
    let out = w.run(&["apply", "--auto-approve"]).await;
    assert!(out.status.success(), "{}", text(&out));
    let applied = text(&out);
    assert!(applied.contains("Apply complete"), "{applied}");
    // The env file holding the secret is planned, but shown only as sensitive.
    let env_plan: String = applied
        .lines()
        .skip_while(|l| !l.contains(r#"+ module.signoz.file.signoz["signoz.env"] {"#))
        .take(3)
        .collect::<Vec<_>>()
        .join("\n");
    assert!(env_plan.contains("content = (sensitive)"), "{applied}");
    for what in ["ssh_keys", "servers", "firewalls", "volumes"] {
        assert_eq!(w.count(what).await, 1, "{what}");
    }
    let listed = text(&w.run(&["state", "list"]).await);
    for address in [
        "ssh_key.admin",
        "server.observability",
        "firewall.edge",
        "volume.clickhouse",
        "host.gpu",
        "bootstrap.gpu",
        "bootstrap.observability",
        // The server's host key, rotated to one generated on it after the first login.
        "host_key.observability",
        // The shipped modules' blocks.
        "module.vllm.file.inference[\"compose.yaml\"]",
        "module.vllm.file.inference[\"files/otel-collector/etc/otelcol-contrib/config.yaml\"]",
        "module.signoz.file.signoz[\"compose.yaml\"]",
        "module.signoz.file.signoz[\"signoz.env\"]",
        "module.vllm.compose.inference",
        "module.signoz.compose.signoz",
        "module.vllm.check.health",
        "module.vllm.check.audit-trail",
        "module.signoz.check.ui",
    ] {
        assert!(
            listed.lines().any(|l| l.trim() == address),
            "{address} not in state:\n{listed}"
        );
    }
    // Bootstrap found the engine, Compose and the NVIDIA runtime in place: no package manager ran.
    let (docker, compose) = engine_versions(&w.gpu);
    for node in ["bootstrap.gpu", "bootstrap.observability"] {
        assert!(
            applied.lines().any(|l| l
                .contains(&format!("{node}: docker {docker} and compose {compose}"))
                && l.ends_with("(already in place)")),
            "{node}: {applied}"
        );
    }
    let gpu_commands = w.host.commands_run();
    assert!(
        gpu_commands
            .iter()
            .any(|c| c.starts_with("sh -s -- ") && c.contains("--nvidia-ctk=1.20.1")),
        "{gpu_commands:#?}"
    );
    // Every service the stack declares runs on its own node, healthy where it has a check.
    let inference = w.gpu.containers("inference");
    assert_eq!(
        inference.keys().collect::<Vec<_>>(),
        ["otel-collector", "vllm"]
    );
    assert_eq!(inference["otel-collector"].status, "running");
    assert_eq!(
        (
            inference["vllm"].status.as_str(),
            inference["vllm"].health.as_str()
        ),
        ("running", "healthy")
    );
    assert!(w.gpu.containers("signoz").is_empty());
    crate::harness::signoz::assert_running(&w.server.machine);
    w.mirror.assert_installed(&w.server.machine);
    assert!(w.server.machine.containers("inference").is_empty());
    // The three checks passed; the traced request's span reached the audit file on the GPU
    // host through the collector, as vLLM emitted it.
    for check in [
        "module.vllm.check.health",
        "module.vllm.check.audit-trail",
        "module.signoz.check.ui",
    ] {
        assert!(
            applied.contains(&format!("{check}: created after")),
            "{check}: {applied}"
        );
    }
    let trace_id = checked_trace_id(applied.lines());
    let audit = fs::read_to_string(deploy.join("inference/audit/spans.jsonl")).unwrap();
    assert_eq!(audit.lines().count(), 1, "{audit}");
    let (resource, span) = audited_span(&audit, &trace_id);
    assert_emitted_by_vllm(&resource, &span, "vllm");
    // The host's collector exports to the server created in the same run (a later wave).
    let collector_config = fs::read_to_string(
        deploy.join("inference/files/otel-collector/etc/otelcol-contrib/config.yaml"),
    )
    .unwrap();
    assert!(
        collector_config.contains(&format!("endpoint: {}:4317", w.server.machine.ip())),
        "{collector_config}"
    );
    let out = w.run(&["plan", "--detailed-exitcode"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    // 2a. One environment variable of one service (given as an input of the `vllm` module):
    // a diff of that compose file, then exactly one recreate, of that service's container.
    w.edit_stack(
        "  collector_image = module.sidecar.image\n",
        "  collector_image = module.sidecar.image\n  service_name    = \"vllm-e2e\"\n",
    );
    let out = w.run(&["plan", "--detailed-exitcode"]).await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let planned = text(&out);
    for line in [
        r#"--- module.vllm.file.inference["compose.yaml"] (applied)"#,
        r#"+++ module.vllm.file.inference["compose.yaml"] (planned)"#,
        "-      OTEL_SERVICE_NAME: vllm",
        "+      OTEL_SERVICE_NAME: vllm-e2e",
    ] {
        assert!(
            planned.lines().any(|l| l.trim_start() == line),
            "{line:?} missing from the plan:\n{planned}"
        );
    }
    assert!(
        planned.contains("~ module.vllm.compose.inference"),
        "{planned}"
    );
    assert!(!planned.contains("signoz"), "{planned}");
    let applied = w.apply_recreating(Some("vllm")).await;
    // The new vLLM container's spans carry the new service name.
    let trace_id = checked_trace_id(applied.lines());
    let audit = fs::read_to_string(deploy.join("inference/audit/spans.jsonl")).unwrap();
    let (resource, span) = audited_span(&audit, &trace_id);
    assert_emitted_by_vllm(&resource, &span, "vllm-e2e");
    let out = w.run(&["plan", "--detailed-exitcode"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    // 2b. The collector pipeline (in the `otel-sidecar` module, as an upgrade of sovstack
    // would change it): only the collector is recreated.
    w.edit_file(
        SIDECAR_MODULE,
        r#"processors = ["memory_limiter", "resource", "batch"]"#,
        r#"processors = ["memory_limiter", "batch"]"#,
    );
    let applied = w.apply_recreating(Some("otel-collector")).await;
    assert!(
        applied
            .lines()
            .any(|l| l.trim_start() == "-      - resource"),
        "{applied}"
    );
    assert!(
        applied
            .contains("module.vllm.compose.inference: recreating otel-collector (inputs changed)"),
        "{applied}"
    );
    let out = w.run(&["plan", "--detailed-exitcode"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    // 2c. The collector stopped behind sovstack's back: `drift` reports it, and `apply` (whose
    // `compose up` starts stopped containers) runs it again, touching nothing else.
    w.gpu
        .engine()
        .docker(&["stop", "inference-otel-collector-1"]);
    let out = w.run(&["drift"]).await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains(
            "module.vllm.compose.inference: containers stopped, restarting or unhealthy: otel-collector (exited (0))"
        ),
        "{}",
        text(&out)
    );
    w.apply_recreating(None).await;
    assert_eq!(
        w.gpu.containers("inference")["otel-collector"].status,
        "running"
    );
    let out = w.run(&["plan", "--detailed-exitcode"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    // 3. The GPU host presents a key other than the pinned one: nothing runs there.
    let other = tempfile::tempdir().unwrap();
    let other_key = other.path().join("other");
    let status = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&other_key)
        .status()
        .unwrap();
    assert!(status.success());
    let wrong = fingerprint_by_ssh_keygen(&other_key.with_extension("pub")).to_string();
    let (commands, containers, logins) = (
        w.host.commands_run(),
        w.gpu.containers("inference"),
        w.host.accepted_logins(),
    );
    let target = format!("root@{}:22", w.gpu.ip());
    // Refresh is the first to connect and stops the run.
    let out = w.run_with_key(&["apply", "--auto-approve"], &wrong).await;
    let refused = text(&out);
    assert_eq!(out.status.code(), Some(1), "{refused}");
    assert!(
        refused.contains(&format!(
            "host key of {target} does not match the pinned fingerprint"
        )),
        "{refused}"
    );
    assert!(refused.contains(&wrong), "{refused}");
    assert!(!refused.contains("Apply complete"), "{refused}");
    // Without refresh, the apply itself connects (the pin is an attribute of host.gpu, and a
    // pending compose change needs the host) and stops there; the rest is skipped.
    w.edit_stack(
        r#"service_name    = "vllm-e2e""#,
        r#"service_name    = "vllm-e2e-2""#,
    );
    let out = w
        .run_with_key(&["apply", "--auto-approve", "--refresh=false"], &wrong)
        .await;
    let refused = text(&out);
    assert_eq!(out.status.code(), Some(1), "{refused}");
    assert!(
        refused.contains(&format!(
            "host key of {target} does not match the pinned fingerprint"
        )),
        "{refused}"
    );
    assert!(refused.contains("Apply stopped with errors"), "{refused}");
    // The operator sees what failed and why: the live line, then the full diagnostic.
    assert!(
        refused.contains(&format!("host.gpu: update FAILED: host key of {target}")),
        "{refused}"
    );
    assert!(refused.contains(&wrong), "{refused}");
    assert!(
        refused.contains("nothing was sent to the host"),
        "{refused}"
    );
    assert_eq!(w.host.commands_run(), commands);
    assert_eq!(w.gpu.containers("inference"), containers);
    assert_eq!(w.host.accepted_logins(), logins);
    // The pinned key is still the recorded one: a plan with the right key has only the
    // pending edit left.
    let out = w.run(&["plan", "--detailed-exitcode"]).await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(!text(&out).contains("host.gpu"), "{}", text(&out));

    // 4. The canary secret reached the node, in its env file (mode 0600).
    let env_file = deploy.join("signoz/signoz.env");
    assert!(fs::read_to_string(&env_file).unwrap().contains(CANARY));
    assert_eq!(
        fs::metadata(&env_file).unwrap().permissions().mode() & 0o777,
        0o600
    );

    // 5. Destroy: `down` on each node, on the server before the server is deleted; then the
    // sandbox, the engines and the state are empty.
    let out = w.run(&["destroy", "--auto-approve"]).await;
    assert!(out.status.success(), "{}", text(&out));
    let log = w.sb.request_log().entries();
    let seq = |pred: &dyn Fn(&sovstack::sandbox::LoggedRequest) -> bool| {
        log.iter().find(|e| pred(e)).map(|e| e.seq)
    };
    let down = seq(&|e| e.query.as_deref() == Some("e2e_marker=down-server"))
        .expect("compose down ran on the server");
    let delete = seq(&|e| e.endpoint == "DELETE /servers/{id}").expect("server deleted");
    assert!(
        down < delete,
        "down (#{down}) after the server delete (#{delete})"
    );
    assert!(
        seq(&|e| e.query.as_deref() == Some("e2e_marker=down-host")).is_some(),
        "compose down never ran on the GPU host"
    );
    let downs = |commands: Vec<String>| -> Vec<String> {
        commands
            .into_iter()
            .filter(|c| c.contains(" down"))
            .collect()
    };
    // Named volumes are kept: the stack does not set destroy_volumes.
    assert_eq!(
        w.server.with(|s| downs(s.commands_run())),
        ["docker compose -p signoz --progress json down --remove-orphans"]
    );
    assert_eq!(
        downs(w.host.commands_run()),
        ["docker compose -p inference --progress json down --remove-orphans"]
    );
    let volumes = w.server.machine.engine().docker(&["volume", "ls", "-q"]);
    let volumes = String::from_utf8_lossy(&volumes.stdout);
    for kept in ["signoz_zookeeper-data", "signoz_clickhouse-user-scripts"] {
        assert!(volumes.lines().any(|v| v == kept), "{kept}: {volumes}");
    }
    for what in ["ssh_keys", "servers", "firewalls", "volumes"] {
        assert_eq!(w.count(what).await, 0, "{what} left after destroy");
    }
    assert!(w.gpu.containers("inference").is_empty());
    assert!(w.server.machine.containers("signoz").is_empty());
    assert!(!env_file.exists(), "destroy left the secret on the node");
    let listed = text(&w.run(&["state", "list"]).await);
    assert!(
        !listed.lines().any(|l| l.contains('.')),
        "left in state: {listed}"
    );

    // The canary, continued: in no output, error, state file, node command, engine log or API
    // request.
    let transcript = w.transcript.join("\n");
    for line in transcript.lines() {
        assert!(!line.contains(CANARY), "secret printed: {line}");
    }
    let mut logs = vec![
        w.host.commands_run().join("\n"),
        w.server.with(|s| s.commands_run().join("\n")),
        w.host.log(),
        w.server.with(Sshd::log),
        w.gpu.engine().log(),
        w.server.machine.engine().log(),
    ];
    logs.extend(log.iter().map(|e| serde_json::to_string(e).unwrap()));
    for l in &logs {
        assert!(!l.contains(CANARY), "secret in a log: {l}");
    }
    let state_files = files_under(&w.dir().join(".sovstack"));
    assert!(!state_files.is_empty());
    for f in state_files {
        let bytes = fs::read(&f).unwrap();
        assert!(
            !String::from_utf8_lossy(&bytes).contains(CANARY),
            "secret in {}",
            f.display()
        );
    }
    w.sb.shutdown().await;
}

/// The reference stack's init-clickhouse script (the shipped `signoz` module's), as its `<<-SH`
/// heredoc gives it (the common indentation removed).
fn install_script() -> String {
    let stack = fs::read_to_string(repo().join(SIGNOZ_MODULE)).unwrap();
    let (_, rest) = stack
        .split_once("install_histogram_quantile = <<-SH\n")
        .expect("the reference stack's init script");
    let (body, _) = rest.split_once("\n  SH\n").expect("its end");
    let indent = body
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.len() - l.trim_start().len())
        .min()
        .unwrap_or(0);
    body.lines()
        .map(|l| l.get(indent..).unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

/// init-clickhouse refuses a release whose digest is not the pinned one and installs nothing;
/// the same download with the right digest installs (so the refusal is the digest's doing).
#[test]
fn init_clickhouse_installs_only_the_release_with_the_pinned_digest() {
    let Some(machine) = DockerHost::start(EngineOptions::default()) else {
        return;
    };
    let mirror = HistogramMirror::start(&machine);
    let script = install_script();
    let url = format!("HISTOGRAM_QUANTILE_URL={}", mirror.server.url(RELEASE));
    let image = "clickhouse/clickhouse-server:25.5.6";
    let volume = "scripts:/var/lib/clickhouse/user_scripts";
    let run = |sha: &str| {
        let sha = format!("HISTOGRAM_QUANTILE_SHA256={sha}");
        let args = ["run", "--rm", "-e", &url, "-e", &sha, "-v", volume, image];
        let out = machine
            .engine()
            .cli()
            .args(args)
            .args(["bash", "-ec", &script])
            .output()
            .unwrap();
        (out.status.success(), text(&out))
    };
    let installed = || {
        let out = machine.engine().docker(&[
            "run",
            "--rm",
            "-v",
            volume,
            image,
            "ls",
            "-A",
            "/var/lib/clickhouse/user_scripts",
        ]);
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    let (ok, out) = run(&"0".repeat(64));
    assert!(!ok, "a release with another digest was accepted: {out}");
    assert!(out.contains("FAILED"), "{out}");
    assert_eq!(installed(), "");
    let (ok, out) = run(&mirror.archive_sha256);
    assert!(ok, "{out}");
    assert_eq!(installed(), "histogramQuantile\nhistogramQuantile.sha256\n");
    assert_eq!(mirror.server.clients_of(RELEASE).len(), 2);
}
