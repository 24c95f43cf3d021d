//! The reference `stack.hcl` end to end through the real binary: the Hetzner sandbox for the
//! Cloud server, a real sshd for the server (started by the sandbox's boot hook with the host key
//! sovstack put into the cloud-init user data) and another for the GPU host, the docker shim on
//! both, and OpenAI/SigNoz stand-ins on the ports the checks use.
//!
//! One test walks the node layer's done-when lines in order: a full apply with every check
//! passing and a clean plan after it; one changed service environment recreating exactly that
//! service; one changed collector pipeline recreating only the collector; a host key that does
//! not match stopping the apply before anything runs on that host; a canary secret found only in
//! the node's env file; and destroy running `down` before the server is deleted.
//!
//! Nodes are reached the way the stack says, on port 22 of their own loopback addresses
//! (127.77.0.0/16 is this test's), with the operator key in an ssh-agent this test starts. The
//! fixed ports (22 on those addresses, 8000 and 8080 on 127.0.0.1) are guarded by a file lock,
//! so concurrent runs of this test, in this process or another worktree's, take turns.

use crate::harness::openai_standin::OpenAiStandIn;
use crate::harness::sshd::{Sshd, fingerprint_by_ssh_keygen};
use sovstack::sandbox::{BootEvent, Sandbox, SandboxConfig, SandboxHandle, ServerIpv4};
use std::collections::BTreeMap;
use std::fs;
use std::net::Ipv4Addr;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

const TOKEN: &str = "stack-e2e-token-never-printed";
const CANARY: &str = "canary-jwt-9f3c2e71-must-stay-on-the-node";
const CH_PASSWORD: &str = "0ddba11c1c0ffee5ca1ab1e0ddba11c1";
const HOST_IP: Ipv4Addr = Ipv4Addr::new(127, 77, 1, 1);
const SERVER_IP: Ipv4Addr = Ipv4Addr::new(127, 77, 0, 1);
const LOCK_FILE: &str = "/tmp/sovstack-stack-e2e.lock";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Exclusive use of the fixed addresses and ports; released when dropped (the fd closes).
struct FixedPorts {
    _lock: fs::File,
}

impl FixedPorts {
    fn take() -> FixedPorts {
        let f = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(LOCK_FILE)
            .unwrap();
        // SAFETY: flock on a file descriptor we own; blocks until the other holder is done.
        let rc = unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX) };
        assert_eq!(rc, 0, "flock {LOCK_FILE}");
        FixedPorts { _lock: f }
    }
}

/// An ssh-agent of our own holding the harness client keys, like an operator's agent.
struct Agent {
    child: Child,
    _dir: tempfile::TempDir,
    socket: PathBuf,
}

impl Agent {
    fn start() -> Agent {
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

    fn add(&self, key: &Path) {
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

/// Puts a `docker` in front of the shim that, for `compose ... down`, first sends a marker
/// request to the sandbox: the sandbox's request log then orders node commands and API calls
/// on one sequence, with no clocks involved.
fn mark_downs_in_sandbox_log(sshd: &Sshd, base_url: &str, node: &str) {
    let shim = fs::read_to_string(sshd.bin_dir().join("docker")).unwrap();
    sshd.install_tool("docker-shim", &shim);
    sshd.install_tool(
        "docker",
        &format!(
            r#"#!/bin/sh
case " $* " in
  *" down "*) curl -s -o /dev/null -H 'Authorization: Bearer {TOKEN}' '{base_url}/locations?e2e_marker=down-{node}' ;;
esac
exec "$(dirname "$0")/docker-shim" "$@"
"#
        ),
    );
}

/// The operator's key pair (what `ssh_key.admin` stands for): every node authorizes it, the
/// agent holds it.
struct OperatorKey {
    _dir: tempfile::TempDir,
    private: PathBuf,
    public: String,
}

impl OperatorKey {
    fn generate() -> OperatorKey {
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

/// The server's sshd, started by the sandbox's boot hook with the host key from the user data.
#[derive(Clone, Default)]
struct BootedServer {
    sshd: Arc<Mutex<Option<Sshd>>>,
    failures: Arc<Mutex<Vec<String>>>,
    base_url: Arc<OnceLock<String>>,
    operator_public: Arc<OnceLock<String>>,
}

impl BootedServer {
    fn hook(&self) -> sovstack::sandbox::BootHook {
        let me = self.clone();
        Arc::new(move |e: BootEvent| {
            let me = me.clone();
            // Starting sshd takes a moment; the hook runs on the API request's task.
            std::thread::spawn(move || {
                if let Err(why) = me.boot(&e) {
                    me.failures.lock().unwrap().push(why);
                }
            });
        })
    }

    fn boot(&self, e: &BootEvent) -> Result<(), String> {
        let ip = e.ipv4.ok_or("server without IPv4")?;
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
        let sshd = Sshd::builder()
            .host_key(&private, &public)
            .authorize(self.operator_public.get().ok_or("operator key not set")?)
            .listen(ip, 22)
            .start()
            .ok_or("sshd is missing")?;
        let base = self.base_url.get().ok_or("sandbox URL not set")?;
        mark_downs_in_sandbox_log(&sshd, base, "server");
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

struct World {
    sb: SandboxHandle,
    host: Sshd,
    server: BootedServer,
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
            format!("gpu_host_address={HOST_IP}"),
            format!("gpu_host_key={host_key}"),
            format!("deploy_root={}", self.deploy.path().display()),
        ]
        .into_iter()
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
        let path = self.dir().join("stack.hcl");
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
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn argv(invocation: &serde_json::Value) -> Vec<String> {
    invocation["argv"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

/// The services given `--force-recreate` in these shim invocations, in order.
fn recreated(invocations: &[serde_json::Value]) -> Vec<String> {
    invocations
        .iter()
        .map(argv)
        .filter(|a| a.iter().any(|x| x == "--force-recreate"))
        .map(|a| a.last().unwrap().clone())
        .collect()
}

/// Container generation per service of a project in the shim's state: a recreate bumps it,
/// however it was asked for.
fn generations(state: &serde_json::Value, project: &str) -> BTreeMap<String, u64> {
    state["projects"][project]["services"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(n, c)| (n.clone(), c["generation"].as_u64().unwrap_or(1)))
        .collect()
}

/// `before` with `bumped` one generation higher.
fn bump(before: &BTreeMap<String, u64>, bumped: &str) -> BTreeMap<String, u64> {
    let mut after = before.clone();
    *after.get_mut(bumped).unwrap() += 1;
    after
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

async fn world() -> Option<World> {
    let operator = OperatorKey::generate();
    // A missing sshd is reported (or fails under CI) by the harness.
    let host = Sshd::builder()
        .authorize(&operator.public)
        .listen(HOST_IP, 22)
        .start()?;
    let server = BootedServer::default();
    server.operator_public.set(operator.public.clone()).unwrap();
    let sb = Sandbox::start(
        SandboxConfig {
            server_ipv4: ServerIpv4::Sequential(SERVER_IP),
            token: Some(TOKEN.into()),
            boot: Some(server.hook()),
            ..SandboxConfig::for_tests()
        },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    server.base_url.set(sb.base_url()).unwrap();
    mark_downs_in_sandbox_log(&host, &sb.base_url(), "host");
    // A GEX44 with the NVIDIA container runtime already configured: bootstrap installs nothing.
    host.write_shim_state(&serde_json::json!({"projects": {}, "nvidia_runtime": true}));
    host.install_tool(
        "nvidia-ctk",
        "#!/bin/sh\necho 'NVIDIA Container Toolkit CLI version 1.20.1'\n",
    );

    let agent = Agent::start();
    agent.add(&operator.private);

    let workspace = tempfile::tempdir().unwrap();
    let ws = workspace.path().join("ws");
    fs::create_dir_all(ws.join("keys")).unwrap();
    // The test's "server" is this machine: the bootstrap must not mount a volume on it (nor
    // edit its fstab). Mounting is tested with fakes (`providers/node/bootstrap_tests.rs`).
    let stack = fs::read_to_string(repo().join("stack.hcl")).unwrap();
    let without_mount = stack.replace("  mount_path = local.clickhouse_mount\n", "");
    assert_ne!(
        stack, without_mount,
        "the reference stack mounts its volume"
    );
    fs::write(ws.join("stack.hcl"), without_mount).unwrap();
    fs::copy(repo().join("keys/admin.pub"), ws.join("keys/admin.pub")).unwrap();
    let host_key = host.host_key_fingerprint().to_string();
    Some(World {
        sb,
        host,
        server,
        agent,
        _operator: operator,
        workspace,
        deploy: tempfile::tempdir().unwrap(),
        host_key,
        transcript: Vec::new(),
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reference_stack_end_to_end() {
    // Nodes listen on port 22 as real ones do; only root may bind it.
    // SAFETY: a plain syscall without arguments.
    if unsafe { libc::geteuid() } != 0 {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must run the stack end-to-end test as root (it binds port 22 on loopback)"
        );
        eprintln!("\n=== SKIPPED: the stack end-to-end test needs root to bind port 22 ===\n");
        return;
    }
    let _ports = FixedPorts::take();
    let Some(mut w) = world().await else { return };
    let deploy = w.deploy.path().to_path_buf();
    let _vllm = OpenAiStandIn::start(8000, &deploy.join("inference/audit/spans.jsonl"));
    let _signoz = OpenAiStandIn::start(8080, &deploy.join("signoz/unused.jsonl"));

    // 1. Everything from nothing: cloud resources, then both nodes, then the checks.
    let out = w.run(&["apply", "--auto-approve"]).await;
    assert!(out.status.success(), "{}", text(&out));
    let applied = text(&out);
    assert!(applied.contains("Apply complete"), "{applied}");
    // The env file holding the secret is planned, but shown only as sensitive.
    let env_plan: String = applied
        .lines()
        .skip_while(|l| !l.contains(r#"+ file.signoz["signoz.env"] {"#))
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
        "file.inference[\"compose.yaml\"]",
        "file.inference[\"files/otel-collector/etc/otelcol-contrib/config.yaml\"]",
        "file.signoz[\"compose.yaml\"]",
        "file.signoz[\"signoz.env\"]",
        "compose.inference",
        "compose.signoz",
        "check.vllm-health",
        "check.audit-trail",
        "check.signoz-ui",
    ] {
        assert!(
            listed.lines().any(|l| l.trim() == address),
            "{address} not in state:\n{listed}"
        );
    }
    // Bootstrap found Docker, Compose and the NVIDIA runtime in place: no package manager ran.
    for node in ["bootstrap.gpu", "bootstrap.observability"] {
        assert!(
            applied.lines().any(|l| l
                .contains(&format!("{node}: docker 27.3.1 and compose 2.29.7"))
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
    // Both projects run every service the stack declares, each on its own node.
    let running = |state: &serde_json::Value, project: &str| -> Vec<String> {
        let services = state["projects"][project]["services"].as_object();
        let mut names: Vec<String> = services
            .into_iter()
            .flatten()
            .filter(|(_, c)| c["state"] == "running")
            .map(|(n, _)| n.clone())
            .collect();
        names.sort();
        names
    };
    let host_state = w.host.read_shim_state();
    assert_eq!(
        running(&host_state, "inference"),
        ["otel-collector", "vllm"]
    );
    assert!(host_state["projects"].get("signoz").is_none());
    let server_state = w.server.with(Sshd::read_shim_state);
    assert_eq!(
        running(&server_state, "signoz"),
        [
            "clickhouse",
            "init-clickhouse",
            "schema-migrator",
            "signoz",
            "signoz-otel-collector",
            "zookeeper"
        ]
    );
    assert!(server_state["projects"].get("inference").is_none());
    // The three checks passed; the traced request reached the audit file on the GPU host.
    for check in ["vllm-health", "audit-trail", "signoz-ui"] {
        assert!(
            applied.contains(&format!("check.{check}: created after")),
            "{check}: {applied}"
        );
    }
    // The host's collector exports to the server created in the same run (a later wave).
    let collector_config = fs::read_to_string(
        deploy.join("inference/files/otel-collector/etc/otelcol-contrib/config.yaml"),
    )
    .unwrap();
    assert!(
        collector_config.contains(&format!("endpoint: {SERVER_IP}:4317")),
        "{collector_config}"
    );
    let audit = fs::read_to_string(deploy.join("inference/audit/spans.jsonl")).unwrap();
    assert_eq!(audit.lines().count(), 1, "{audit}");
    let out = w.run(&["plan", "--detailed-exitcode"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    // 2a. One environment variable of one service: a diff of that compose file, then exactly
    // one recreate, of that service.
    w.edit_stack(
        r#"OTEL_SERVICE_NAME                  = "vllm""#,
        r#"OTEL_SERVICE_NAME                  = "vllm-e2e""#,
    );
    let out = w.run(&["plan", "--detailed-exitcode"]).await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let planned = text(&out);
    for line in [
        r#"--- file.inference["compose.yaml"] (applied)"#,
        r#"+++ file.inference["compose.yaml"] (planned)"#,
        "-      OTEL_SERVICE_NAME: vllm",
        "+      OTEL_SERVICE_NAME: vllm-e2e",
    ] {
        assert!(
            planned.lines().any(|l| l.trim_start() == line),
            "{line:?} missing from the plan:\n{planned}"
        );
    }
    assert!(planned.contains("~ compose.inference"), "{planned}");
    assert!(!planned.contains("signoz"), "{planned}");
    let (host_before, server_before) = (
        w.host.shim_invocations().len(),
        w.server.with(|s| s.shim_invocations().len()),
    );
    let (host_gens, server_gens) = (
        generations(&w.host.read_shim_state(), "inference"),
        generations(&w.server.with(Sshd::read_shim_state), "signoz"),
    );
    let out = w.run(&["apply", "--auto-approve"]).await;
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        recreated(&w.host.shim_invocations()[host_before..]),
        ["vllm"]
    );
    assert_eq!(
        generations(&w.host.read_shim_state(), "inference"),
        bump(&host_gens, "vllm")
    );
    assert_eq!(
        generations(&w.server.with(Sshd::read_shim_state), "signoz"),
        server_gens
    );
    assert_eq!(
        recreated(&w.server.with(|s| s.shim_invocations())[server_before..]),
        Vec::<String>::new()
    );
    let out = w.run(&["plan", "--detailed-exitcode"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    // 2b. The collector pipeline: only the collector is recreated.
    w.edit_stack(
        r#"processors = ["memory_limiter", "resource", "batch"]"#,
        r#"processors = ["memory_limiter", "batch"]"#,
    );
    let (host_before, server_before) = (
        w.host.shim_invocations().len(),
        w.server.with(|s| s.shim_invocations().len()),
    );
    let host_gens = generations(&w.host.read_shim_state(), "inference");
    let out = w.run(&["apply", "--auto-approve"]).await;
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        generations(&w.host.read_shim_state(), "inference"),
        bump(&host_gens, "otel-collector")
    );
    assert_eq!(
        generations(&w.server.with(Sshd::read_shim_state), "signoz"),
        server_gens
    );
    let applied = text(&out);
    assert!(
        applied
            .lines()
            .any(|l| l.trim_start() == "-      - resource"),
        "{applied}"
    );
    assert!(
        applied.contains("compose.inference: recreating otel-collector (inputs changed)"),
        "{applied}"
    );
    assert_eq!(
        recreated(&w.host.shim_invocations()[host_before..]),
        ["otel-collector"]
    );
    assert_eq!(
        recreated(&w.server.with(|s| s.shim_invocations())[server_before..]),
        Vec::<String>::new()
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
    let (commands, docker, logins) = (
        w.host.commands_run(),
        w.host.shim_invocations(),
        w.host.accepted_logins(),
    );
    // Refresh is the first to connect and stops the run.
    let out = w.run_with_key(&["apply", "--auto-approve"], &wrong).await;
    let refused = text(&out);
    assert_eq!(out.status.code(), Some(1), "{refused}");
    assert!(
        refused.contains("host key of root@127.77.1.1:22 does not match the pinned fingerprint"),
        "{refused}"
    );
    assert!(refused.contains(&wrong), "{refused}");
    assert!(!refused.contains("Apply complete"), "{refused}");
    // Without refresh, the apply itself connects (the pin is an attribute of host.gpu, and a
    // pending compose change needs the host) and stops there; the rest is skipped.
    w.edit_stack(
        r#"OTEL_SERVICE_NAME                  = "vllm-e2e""#,
        r#"OTEL_SERVICE_NAME                  = "vllm-e2e-2""#,
    );
    let out = w
        .run_with_key(&["apply", "--auto-approve", "--refresh=false"], &wrong)
        .await;
    let refused = text(&out);
    assert_eq!(out.status.code(), Some(1), "{refused}");
    assert!(
        refused.contains("host key of root@127.77.1.1:22 does not match the pinned fingerprint"),
        "{refused}"
    );
    assert!(refused.contains("Apply stopped with errors"), "{refused}");
    // The operator sees what failed and why: the live line, then the full diagnostic.
    assert!(
        refused.contains("host.gpu: update FAILED: host key of root@127.77.1.1:22"),
        "{refused}"
    );
    assert!(refused.contains(&wrong), "{refused}");
    assert!(
        refused.contains("nothing was sent to the host"),
        "{refused}"
    );
    assert_eq!(w.host.commands_run(), commands);
    assert_eq!(w.host.shim_invocations(), docker);
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
    // sandbox, the nodes and the state are empty.
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
    let downs = |invocations: Vec<serde_json::Value>| -> Vec<Vec<String>> {
        invocations
            .iter()
            .map(argv)
            .filter(|a| a.iter().any(|x| x == "down"))
            .collect()
    };
    // Named volumes (ClickHouse's data) are kept: the stack does not set destroy_volumes.
    assert_eq!(
        w.server.with(|s| downs(s.shim_invocations())),
        [[
            "compose",
            "-p",
            "signoz",
            "--progress",
            "json",
            "down",
            "--remove-orphans"
        ]]
    );
    assert_eq!(
        downs(w.host.shim_invocations()),
        [[
            "compose",
            "-p",
            "inference",
            "--progress",
            "json",
            "down",
            "--remove-orphans"
        ]]
    );
    for what in ["ssh_keys", "servers", "firewalls", "volumes"] {
        assert_eq!(w.count(what).await, 0, "{what} left after destroy");
    }
    assert_eq!(w.host.read_shim_state()["projects"], serde_json::json!({}));
    assert_eq!(
        w.server.with(Sshd::read_shim_state)["projects"],
        serde_json::json!({})
    );
    assert!(!env_file.exists(), "destroy left the secret on the node");
    let listed = text(&w.run(&["state", "list"]).await);
    assert!(
        !listed.lines().any(|l| l.contains('.')),
        "left in state: {listed}"
    );

    // The canary, continued: in no output, error, state file, node command or API request.
    let transcript = w.transcript.join("\n");
    for line in transcript.lines() {
        assert!(!line.contains(CANARY), "secret printed: {line}");
    }
    let mut logs = vec![
        w.host.commands_run().join("\n"),
        fs::read_to_string(w.host.shim_log_path()).unwrap(),
        w.server.with(|s| s.commands_run().join("\n")),
        w.server
            .with(|s| fs::read_to_string(s.shim_log_path()))
            .unwrap(),
        w.host.log(),
        w.server.with(Sshd::log),
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
