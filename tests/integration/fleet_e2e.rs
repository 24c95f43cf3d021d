//! `examples/gex-fleet` applied end to end through the real binary, with the example's own stack
//! file, against five test hosts (network namespaces with their own sshd and Docker Engine, the
//! GPU machines' engines with the NVIDIA runtime stand-in, as on a GEX44; see the harness
//! README): four GEX machines and the observability machine SigNoz runs on, each GEX machine
//! linked to it as by a vSwitch.
//!
//! The test hosts' addresses and host keys reach the example through a variable file
//! (`--var-file`), as an operator's would, and SigNoz's secrets through `SOVSTACK_VAR_`. What
//! the test sets besides is what a test machine differs in, each a variable of the example with
//! the real default: `docker_minimum` (Debian's engine 20.10, fixes backported), `deploy_root`
//! and `clickhouse_data` (the hosts share this machine's file system, so each test has its own
//! directory), and the histogram-quantile release from a mirror on the observability host. The
//! example calls the test hosts' copy of the shipped modules
//! (`harness::signoz::call_modules_for_test_hosts`): health checks every second, as in the
//! reference stack's test. With the real 30 s the SigNoz chain (ZooKeeper, ClickHouse, SigNoz,
//! then its collector) takes about two minutes to accept spans, longer than a sidecar retries
//! an export, and the test would wait minutes on vLLM's first check.
//!
//! Per GEX machine: vLLM and its collector sidecar running (vLLM healthy, by the real `docker
//! inspect`), both checks passing, the traced request's span found in the audit file of that
//! host's sidecar and no other, and sent on by that sidecar to SigNoz's collector on the
//! observability host. SigNoz's services run there, healthy. Then the plan is empty; a second
//! variable file without one key destroys exactly that machine's instances (its compose project
//! gone from its host, every other host's containers, SigNoz's included, the same); the first
//! file alone adds it again.
//!
//! SigNoz's services are the harness's stand-ins (`images.rs`): its collector receives OTLP and
//! keeps what it received in a file, but stores nothing in ClickHouse, and no UI or query service
//! answers more than a health check.

use crate::harness::agent::{Agent, OperatorKey};
use crate::harness::audit::{assert_emitted_by_vllm, audited_span, checked_trace_id};
use crate::harness::cli::{copy_stack_dir, repo_root};
use crate::harness::dockerd::EngineOptions;
use crate::harness::netns::Link;
use crate::harness::signoz::{self, HistogramMirror};
use crate::harness::sshd::Sshd;
use crate::harness::test_host::ContainerFacts;
use crate::harness::test_host::DockerHost;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The machines, as the example's map names them.
const KEYS: [&str; 4] = ["gex-a", "gex-b", "gex-c", "gex-d"];
/// The machine the test removes from the map and adds again.
const REMOVED: &str = "gex-c";
/// SigNoz's secrets, as an operator passes them (`SOVSTACK_VAR_`).
const JWT_SECRET: &str = "fleet-e2e-jwt-secret-not-secret";
const CH_PASSWORD: &str = "0ddba11c1c0ffee5ca1ab1e0ddba11c1";

/// Every address and name the assertions use, in one place: what the example's calls of the
/// shipped modules (`module "llm" { for_each = var.gex  source = "sovstack/vllm" ... }`) make.
mod example {
    pub const DIR: &str = "examples/gex-fleet";
    pub const VLLM_SERVICE: &str = "vllm";
    pub const SIDECAR_SERVICE: &str = "otel-collector";
    /// The `service.name` vLLM's spans carry.
    pub const VLLM_OTEL_NAME: &str = "vllm";
    /// The audit file, relative to the project directory.
    pub const AUDIT_FILE: &str = "audit/spans.jsonl";

    fn module(key: &str) -> String {
        format!("module.llm[\"{key}\"]")
    }

    pub fn compose(key: &str) -> String {
        format!("{}.compose.inference", module(key))
    }

    /// The compose project on the machine (`-p`).
    pub fn project(key: &str) -> String {
        format!("llm-{key}")
    }

    /// The project directory under `deploy_root`.
    pub fn directory(deploy_root: &std::path::Path, key: &str) -> std::path::PathBuf {
        deploy_root.join(project(key))
    }

    pub fn health_check(key: &str) -> String {
        format!("{}.check.health", module(key))
    }

    pub fn roundtrip_check(key: &str) -> String {
        format!("{}.check.audit-trail", module(key))
    }

    /// Whether a state address belongs to machine `key` (its host, or its module instance).
    pub fn is_instance_of(address: &str, key: &str) -> bool {
        address.starts_with(&format!("host.gpu[\"{key}\"]"))
            || address.starts_with(&format!("bootstrap.gpu[\"{key}\"]"))
            || address.starts_with(&module(key))
    }
}

/// One machine of the fleet: a test host and its sshd, which admits the operator's key.
struct Machine {
    key: &'static str,
    sshd: Sshd,
    host: DockerHost,
}

/// The observability machine: SigNoz's host, and the mirror on it init-clickhouse downloads from.
struct Observability {
    /// Before the host: the file server and sshd stop before its namespace goes.
    mirror: HistogramMirror,
    sshd: Sshd,
    host: DockerHost,
}

struct Fleet {
    /// Before the hosts: each sshd stops before its namespace goes.
    machines: Vec<Machine>,
    observability: Observability,
    /// Every GEX machine's link to the observability machine (its vSwitch).
    _links: Vec<Link>,
    agent: Agent,
    _operator: OperatorKey,
    workspace: tempfile::TempDir,
    deploy: tempfile::TempDir,
}

/// A GEX44 with the NVIDIA Container Toolkit installed: bootstrap installs nothing.
const NVIDIA_CTK: &str = "#!/bin/sh\necho 'NVIDIA Container Toolkit CLI version 1.20.1'\n";

fn start_fleet() -> Option<Fleet> {
    let started = Instant::now();
    let operator = OperatorKey::generate();
    let mut options = vec![EngineOptions { nvidia: true }; KEYS.len()];
    options.push(EngineOptions::default());
    let mut hosts = DockerHost::start_all(&options)?;
    let observability = hosts.pop()?;
    let mut machines = Vec::new();
    let mut links = Vec::new();
    for (key, host) in KEYS.into_iter().zip(hosts) {
        let sshd = host.sshd().authorize(&operator.public).start()?;
        sshd.install_tool("nvidia-ctk", NVIDIA_CTK);
        let link = host.netns().link_to(observability.netns());
        links.push(link.unwrap_or_else(|e| panic!("linking {key} to SigNoz's host: {e}")));
        machines.push(Machine { key, sshd, host });
    }
    let observability = Observability {
        mirror: HistogramMirror::start(&observability),
        sshd: observability.sshd().authorize(&operator.public).start()?,
        host: observability,
    };
    eprintln!(
        "fleet: {} test hosts up in {:.1}s",
        machines.len() + 1,
        started.elapsed().as_secs_f64()
    );
    let agent = Agent::start();
    agent.add(&operator.private);
    let workspace = copy_stack_dir(&repo_root().join(example::DIR));
    signoz::call_modules_for_test_hosts(workspace.path());
    Some(Fleet {
        machines,
        observability,
        _links: links,
        agent,
        _operator: operator,
        workspace,
        deploy: tempfile::tempdir().unwrap(),
    })
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The variable file giving `machines` (by key), the observability machine, and what a test
/// machine differs in.
fn var_file(machines: &[&Machine], observability: &Observability, deploy_root: &Path) -> String {
    let entries: String = machines
        .iter()
        .map(|m| {
            format!(
                "  \"{}\" = {{ address = \"{}\", host_key = \"{}\" }}\n",
                m.key,
                m.host.ip(),
                m.sshd.host_key_fingerprint()
            )
        })
        .collect();
    let ip = observability.host.ip();
    let mirror: String = observability
        .mirror
        .vars()
        .iter()
        .filter_map(|v| v.split_once('='))
        .map(|(name, value)| format!("{name} = \"{value}\"\n"))
        .collect();
    format!(
        "gex = {{\n{entries}}}\n\
         observability = {{ address = \"{ip}\", host_key = \"{}\", vswitch_address = \"{ip}\" }}\n\
         deploy_root     = \"{root}\"\n\
         clickhouse_data = \"{root}/clickhouse-data\"\n\
         docker_minimum  = \"20.10.24\"\n{mirror}",
        observability.sshd.host_key_fingerprint(),
        root = deploy_root.display()
    )
}

/// The variable file of the whole fleet, and one that names the machines without [`REMOVED`].
const ALL: &str = "fleet.vars.hcl";
const WITHOUT_ONE: &str = "fleet-without-one.vars.hcl";

impl Fleet {
    fn dir(&self) -> &Path {
        self.workspace.path()
    }

    fn write_var_files(&self) {
        let all: Vec<&Machine> = self.machines.iter().collect();
        let kept: Vec<&Machine> = all.iter().copied().filter(|m| m.key != REMOVED).collect();
        let write = |name: &str, machines: &[&Machine]| {
            let text = var_file(machines, &self.observability, self.deploy.path());
            std::fs::write(self.dir().join(name), text).unwrap();
        };
        write(ALL, &all);
        write(WITHOUT_ONE, &kept);
    }

    /// The real binary in the workspace, with the operator's agent, given these var files.
    fn run(&self, args: &[&str], var_files: &[&str]) -> Output {
        let started = Instant::now();
        let out = Command::new(env!("CARGO_BIN_EXE_sovstack"))
            .current_dir(self.dir())
            .args(args)
            .args(var_files.iter().flat_map(|f| ["--var-file", f]))
            .env("SSH_AUTH_SOCK", &self.agent.socket)
            .env("SOVSTACK_VAR_signoz_jwt_secret", JWT_SECRET)
            .env("SOVSTACK_VAR_clickhouse_password", CH_PASSWORD)
            .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
            .env_remove("SOVSTACK_STATE_KEY")
            .stdin(Stdio::null())
            .output()
            .expect("run sovstack");
        eprintln!(
            "fleet: sovstack {} took {:.1}s",
            args.join(" "),
            started.elapsed().as_secs_f64()
        );
        out
    }

    fn apply(&self, var_files: &[&str]) -> String {
        let out = self.run(&["apply", "--auto-approve"], var_files);
        let applied = text(&out);
        assert!(out.status.success(), "{applied}");
        assert!(applied.contains("Apply complete"), "{applied}");
        applied
    }

    fn assert_plan_empty(&self, var_files: &[&str]) {
        let out = self.run(&["plan", "--detailed-exitcode"], var_files);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    }

    fn state_addresses(&self) -> Vec<String> {
        let out = self.run(&["state", "list"], &[ALL]);
        assert!(out.status.success(), "{}", text(&out));
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| l.trim().to_string())
            .filter(|l| l.contains('.'))
            .collect()
    }

    fn machine(&self, key: &str) -> &Machine {
        self.machines.iter().find(|m| m.key == key).unwrap()
    }

    /// Container ids by service, per machine, as each engine reports them.
    fn container_ids(&self) -> BTreeMap<&'static str, BTreeMap<String, String>> {
        self.machines
            .iter()
            .map(|m| {
                let ids = m
                    .host
                    .containers(&example::project(m.key))
                    .into_iter()
                    .map(|(service, c)| (service, c.id))
                    .collect();
                (m.key, ids)
            })
            .collect()
    }

    /// Machine `key` runs vLLM (healthy) and its sidecar, both checks passed in `applied`, and
    /// the traced request's span is in that machine's audit file and in no other.
    fn assert_serving(&self, key: &str, applied: &str) {
        let machine = self.machine(key);
        let containers = machine.host.containers(&example::project(key));
        assert_eq!(
            containers.keys().collect::<Vec<_>>(),
            [example::SIDECAR_SERVICE, example::VLLM_SERVICE],
            "{key}"
        );
        let vllm = &containers[example::VLLM_SERVICE];
        assert_eq!(
            (vllm.status.as_str(), vllm.health.as_str()),
            ("running", "healthy"),
            "{key}"
        );
        assert_eq!(
            containers[example::SIDECAR_SERVICE].status,
            "running",
            "{key}"
        );
        for check in [example::health_check(key), example::roundtrip_check(key)] {
            assert!(
                applied.contains(&format!("{check}: created after")),
                "{check}: {applied}"
            );
        }
        let roundtrip = example::roundtrip_check(key);
        let trace_id = checked_trace_id(applied.lines().filter(|l| l.contains(&roundtrip)));
        for other in &self.machines {
            let audit = std::fs::read_to_string(
                example::directory(self.deploy.path(), other.key).join(example::AUDIT_FILE),
            )
            .unwrap_or_default();
            if other.key == key {
                let (resource, span) = audited_span(&audit, &trace_id);
                assert_emitted_by_vllm(&resource, &span, example::VLLM_OTEL_NAME);
            } else {
                assert!(
                    !audit.contains(&trace_id),
                    "{key}'s trace in {}'s audit file",
                    other.key
                );
            }
        }
        // The sidecar sent it on to SigNoz's collector, on the observability machine.
        let deadline = Instant::now() + Duration::from_secs(30);
        let received = loop {
            let received = signoz::received(&self.observability.host);
            if received.contains(&trace_id) {
                break received;
            }
            assert!(
                Instant::now() < deadline,
                "{key}'s span never reached SigNoz's collector: {received}"
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        let (resource, span) = audited_span(&received, &trace_id);
        assert_emitted_by_vllm(&resource, &span, example::VLLM_OTEL_NAME);
    }

    /// SigNoz's containers, by service.
    fn signoz_ids(&self) -> BTreeMap<String, String> {
        let ids = self.observability.host.containers(signoz::PROJECT);
        ids.into_iter()
            .map(|(service, c): (String, ContainerFacts)| (service, c.id))
            .collect()
    }
}

/// The ids of every machine but `changed` are the same in `after` as in `before`.
fn assert_untouched_except(
    before: &BTreeMap<&str, BTreeMap<String, String>>,
    after: &BTreeMap<&str, BTreeMap<String, String>>,
    changed: &str,
) {
    for key in KEYS.iter().filter(|k| **k != changed) {
        assert!(!before[key].is_empty(), "{key} ran nothing");
        assert_eq!(before[key], after[key], "{key}'s containers changed");
    }
}

#[test]
fn the_gex_fleet_example_applies_end_to_end() {
    let Some(fleet) = start_fleet() else { return };
    let started = Instant::now();
    fleet.write_var_files();

    // 1. The whole fleet from nothing: SigNoz running on its machine, every GEX machine
    // serving, checked, traced to its own audit file and on to SigNoz's collector.
    let applied = fleet.apply(&[ALL]);
    signoz::assert_running(&fleet.observability.host);
    assert!(
        applied.contains("module.signoz.check.ui: created after"),
        "{applied}"
    );
    fleet
        .observability
        .mirror
        .assert_installed(&fleet.observability.host);
    for key in KEYS {
        fleet.assert_serving(key, &applied);
    }
    fleet.assert_plan_empty(&[ALL]);
    let everything = fleet.state_addresses();
    let of_removed: Vec<&String> = everything
        .iter()
        .filter(|a| example::is_instance_of(a, REMOVED))
        .collect();
    assert!(
        of_removed.contains(&&example::compose(REMOVED)),
        "{everything:#?}"
    );

    // 2. One key removed: exactly that machine's instances are destroyed, and its project is
    // gone from its host; the other hosts keep their containers, SigNoz its own.
    let before = fleet.container_ids();
    let signoz_before = fleet.signoz_ids();
    let applied = fleet.apply(&[ALL, WITHOUT_ONE]);
    assert!(
        applied.contains(&format!(
            "Plan: 0 to add, 0 to change, {} to destroy",
            of_removed.len()
        )),
        "{applied}"
    );
    let after = fleet.container_ids();
    assert!(after[REMOVED].is_empty(), "{:?}", after[REMOVED]);
    assert_untouched_except(&before, &after, REMOVED);
    assert_eq!(fleet.signoz_ids(), signoz_before);
    let left = fleet.state_addresses();
    let expected: Vec<&String> = everything
        .iter()
        .filter(|a| !example::is_instance_of(a, REMOVED))
        .collect();
    assert_eq!(left.iter().collect::<Vec<_>>(), expected);
    assert!(
        !example::directory(fleet.deploy.path(), REMOVED)
            .join("compose.yaml")
            .exists(),
        "{REMOVED}'s compose file left on its host"
    );
    fleet.assert_plan_empty(&[ALL, WITHOUT_ONE]);

    // 3. The key again: the machine is set up anew, the others untouched.
    let applied = fleet.apply(&[ALL]);
    assert!(
        applied.contains(&format!(
            "Plan: {} to add, 0 to change, 0 to destroy",
            of_removed.len()
        )),
        "{applied}"
    );
    fleet.assert_serving(REMOVED, &applied);
    assert_untouched_except(&after, &fleet.container_ids(), REMOVED);
    assert_eq!(fleet.signoz_ids(), signoz_before);
    assert_eq!(fleet.state_addresses(), everything);
    fleet.assert_plan_empty(&[ALL]);
    eprintln!(
        "fleet: the test's runs took {:.1}s",
        started.elapsed().as_secs_f64()
    );
}
