//! Crash convergence of the node steps: `sovstack apply` of a stack on a test host (a real
//! sshd and a real Docker Engine in the host's network namespace) is killed with SIGKILL at
//! points spread over every remote command the apply sends (the bootstrap script, the file
//! uploads, the bind-mount directories, `compose up`, the release snapshot), and the next apply
//! converges: the plan after it is empty, the engine holds exactly one container per service,
//! running and healthy, no half-written upload is left in the project directory, and state
//! holds exactly the stack's addresses.
//!
//! A kill point is a command number and a side: the command held before it runs, or run to
//! its end with its exit status withheld (the node did it, the tool never learnt it). The test
//! sshd's gate (`harness::command_gate`) holds the run there and the test kills it, so every
//! point is hit exactly. Points are spread over a reference run's commands.
//!
//! One test host serves every point (hosts are the expensive part): each point deploys its
//! own compose project (`k1`, `k2`...) from a fresh workspace, so bootstrap runs every time,
//! and its containers are removed once it has converged.
//!
//! `SOVSTACK_KILL_POINTS=N` sets the number of points (default 6); `all` takes both sides of
//! every command of the reference run. The long run:
//! `SOVSTACK_KILL_POINTS=all cargo test --test integration node_kill -- --nocapture`.

use crate::cloud_kill::{points_per_command, spread};
use crate::harness::request_gate::KillPoint;
use crate::harness::sandbox_cli::{Workspace, command, text};
use crate::harness::sshd::Sshd;
use crate::harness::stacks::{SIDECAR_COLLECTOR, api_project, host_block};
use crate::harness::test_host::TestHost;
use std::path::Path;
use std::process::{Output, Stdio};

/// No cloud API takes part; runs are pointed at a closed loopback port all the same.
const NO_API: &str = "http://127.0.0.1:9";

/// A host and one compose project on it: a service with a health check and the collector with
/// its rendered config file and a bind-mounted audit directory. Nothing is published, so the
/// projects of several points can share the host.
fn stack(sshd: &Sshd, project: &str) -> String {
    let fp = sshd.host_key_fingerprint().to_string();
    format!(
        "\nstack \"nodekill\" {{}}\n{}{SIDECAR_COLLECTOR}{}",
        host_block("box", sshd, Some(&fp)),
        api_project(project, "box", &project_dir(sshd, project), "", 3)
    )
}

fn project_dir(sshd: &Sshd, project: &str) -> std::path::PathBuf {
    sshd.remote_root().join(project)
}

fn sovstack(ws: &Workspace, args: &[&str]) -> Output {
    command(NO_API, &ws.dir, args)
        .output()
        .expect("run sovstack")
}

/// Applies through the armed gate; kills the run with SIGKILL where the gate holds it.
/// `true` if it was killed, `false` if it ended first.
fn apply_killed_at(host: &TestHost, ws: &Workspace, point: KillPoint) -> bool {
    let gate = host.sshd.gate();
    gate.arm(point);
    let mut child = command(NO_API, &ws.dir, &["apply", "--auto-approve"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("sovstack starts");
    let tripped = gate.wait_tripped(|| matches!(child.try_wait(), Ok(Some(_))));
    if tripped {
        // SIGKILL: no handler, no cleanup.
        // SAFETY: kill(2) on the child's own pid, which it still holds (not yet reaped).
        unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGKILL) };
    }
    let _ = child.wait();
    gate.disarm();
    tripped
}

/// The ids of every container of `project` on the host, running or not.
fn container_ids(host: &TestHost, project: &str) -> Vec<String> {
    let filter = format!("label=com.docker.compose.project={project}");
    let out = host
        .host
        .engine()
        .docker(&["ps", "-aq", "--no-trunc", "--filter", &filter]);
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

/// Files under `dir` whose names say an upload never finished.
fn unfinished_uploads(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(unfinished_uploads(&path));
        } else if entry
            .file_name()
            .to_string_lossy()
            .starts_with(".sovstack-upload.")
        {
            found.push(path.display().to_string());
        }
    }
    found
}

/// The point in the words of this test: commands, not API requests.
fn describe(point: KillPoint) -> String {
    let side = if point.after_response {
        "run, its exit status withheld"
    } else {
        "held before it ran"
    };
    format!("command {} ({side})", point.request)
}

fn assert_converged(host: &TestHost, ws: &Workspace, project: &str, kill: KillPoint) {
    let point = describe(kill);
    let out = sovstack(ws, &["apply", "--auto-approve"]);
    assert!(
        out.status.success(),
        "apply after a kill at {point}: {}",
        text(&out)
    );
    let out = sovstack(ws, &["plan", "--detailed-exitcode"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "plan after a kill at {point}: {}",
        text(&out)
    );
    // One container per service (no duplicate), each running, healthy where it has a check.
    assert_eq!(container_ids(host, project).len(), 2, "after {point}");
    let containers = host.host.containers(project);
    let states: Vec<(&str, &str, &str)> = containers
        .iter()
        .map(|(s, c)| (s.as_str(), c.status.as_str(), c.health.as_str()))
        .collect();
    assert_eq!(
        states,
        [
            ("api", "running", "healthy"),
            ("otel-collector", "running", "")
        ],
        "after {point}"
    );
    let dir = project_dir(&host.sshd, project);
    assert_eq!(
        unfinished_uploads(&dir),
        Vec::<String>::new(),
        "after {point}"
    );
    let listed = String::from_utf8_lossy(&sovstack(ws, &["state", "list"]).stdout).to_string();
    let mut addresses: Vec<&str> = listed.lines().map(str::trim).collect();
    addresses.sort_unstable();
    assert_eq!(
        addresses,
        [
            "bootstrap.box".to_string(),
            format!("compose.{project}"),
            format!("file.{project}[\"compose.yaml\"]"),
            format!("file.{project}[\"files/otel-collector/etc/otelcol-contrib/config.yaml\"]"),
            "host.box".to_string(),
        ],
        "state after {point}"
    );
}

/// Removes a converged project's containers and network, so the host stays light.
fn remove_project(host: &TestHost, project: &str) {
    let ids = container_ids(host, project);
    let mut args = vec!["rm", "-f"];
    args.extend(ids.iter().map(String::as_str));
    host.host.engine().docker(&args);
    host.host
        .engine()
        .docker(&["network", "rm", &format!("{project}_default")]);
}

/// How many commands an unkilled apply of a fresh project sends.
fn commands_of_an_apply(host: &TestHost) -> u64 {
    let ws = Workspace::new(&stack(&host.sshd, "k0"));
    let gate = host.sshd.gate();
    gate.arm(KillPoint {
        request: u64::MAX,
        after_response: false,
    });
    let out = sovstack(&ws, &["apply", "--auto-approve"]);
    let total = gate.count();
    gate.disarm();

    assert!(out.status.success(), "{}", text(&out));
    remove_project(host, "k0");
    total
}

#[test]
fn an_apply_killed_at_any_node_step_converges_on_the_next() {
    let Some(host) = TestHost::start() else {
        return;
    };
    let total = commands_of_an_apply(&host);
    assert!(total >= 6, "an apply sends {total} commands");
    let points = spread(total, points_per_command(total));
    let mut killed = 0;
    for (i, &point) in points.iter().enumerate() {
        let project = format!("k{}", i + 1);
        let ws = Workspace::new(&stack(&host.sshd, &project));
        if apply_killed_at(&host, &ws, point) {
            killed += 1;
        }
        assert_converged(&host, &ws, &project, point);
        remove_project(&host, &project);
    }
    println!("node apply: {killed} kill points over {total} commands, every one converged");
    assert_eq!(killed, points.len(), "every point is reached by a run");
}
