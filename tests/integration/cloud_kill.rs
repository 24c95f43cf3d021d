//! Crash convergence: `sovstack apply` and `sovstack destroy` of a stack with servers, volumes
//! and firewalls are killed with SIGKILL at many points, and the next run converges: the plan
//! after it is empty, the sandbox holds exactly one resource per address (no duplicate) and
//! nothing else of the stack (no orphan); after a destroy, nothing at all.
//!
//! A kill point is a request number and a side: the request held before the API sees it, or
//! answered by the API with the answer withheld (the API did it, the tool never learnt it). A
//! relay in front of the sandbox (`harness::request_gate`) holds the run there and the test kills
//! it, so every point is hit exactly, whatever the timing. The points are spread evenly over a
//! reference run's requests.
//!
//! `SOVSTACK_KILL_POINTS=N` sets how many points each of apply and destroy gets (default 6, so
//! the suite runs 12); `SOVSTACK_KILL_POINTS=all` takes both sides of every request a run
//! reaches (over 100 points for each command). A longer run goes with
//! `SOVSTACK_KILL_POINTS=all cargo test --test integration cloud_kill -- --nocapture`, which
//! prints the tally.

use crate::harness::request_gate::{KillPoint, RequestGate};
use crate::harness::sandbox_cli::{self, Workspace, command, run, text};
use sovstack::sandbox::{SandboxConfig, SandboxHandle};
use std::collections::BTreeMap;
use std::process::Stdio;
use std::time::Duration;

/// Four servers, each with a volume; a firewall on all, one on the first two, one on the last;
/// one SSH key for all. Twelve cloud resources, about 60 requests to apply or destroy.
pub(crate) fn stack() -> String {
    let mut text = String::from(
        "stack \"kill\" {}\n\nssh_key \"admin\" {\n  public_key = file(\"keys/admin.pub\")\n}\n",
    );
    for s in SERVERS {
        text.push_str(&format!(
            "\nserver \"{s}\" {{\n  server_type = \"cx23\"\n  location    = \"nbg1\"\n  image       = \"ubuntu-24.04\"\n  ssh_keys    = [ssh_key.admin]\n}}\n\nvolume \"{s}\" {{\n  size   = 10\n  server = server.{s}\n  format = \"ext4\"\n}}\n"
        ));
    }
    for (name, on, port) in FIREWALLS {
        let on: Vec<String> = on.iter().map(|s| format!("server.{s}")).collect();
        text.push_str(&format!(
            "\nfirewall \"{name}\" {{\n  apply_to = [{}]\n\n  rule {{\n    port       = \"{port}\"\n    source_ips = [\"198.51.100.0/24\"]\n  }}\n}}\n",
            on.join(", ")
        ));
    }
    text
}

const SERVERS: &[&str] = &["a", "b", "c", "d"];
const FIREWALLS: &[(&str, &[&str], &str)] = &[
    ("ssh", &["a", "b", "c", "d"], "22"),
    ("web", &["a", "b"], "443"),
    ("metrics", &["d"], "9100"),
];

/// What the stack holds when converged, by collection: the `sovstack.address` labels.
pub(crate) fn expected_inventory() -> BTreeMap<&'static str, Vec<String>> {
    let each = |kind: &str, names: Vec<&str>| -> Vec<String> {
        names.iter().map(|n| format!("{kind}.{n}")).collect()
    };
    BTreeMap::from([
        ("ssh_keys", vec!["ssh_key.admin".to_string()]),
        ("servers", each("server", SERVERS.to_vec())),
        ("volumes", each("volume", SERVERS.to_vec())),
        ("firewalls", {
            let mut f = each("firewall", FIREWALLS.iter().map(|f| f.0).collect());
            f.sort();
            f
        }),
    ])
}

const COLLECTIONS: &[&str] = &["ssh_keys", "servers", "volumes", "firewalls"];

pub(crate) const DEFAULT_POINTS: u64 = 6;

/// How many points per command: `SOVSTACK_KILL_POINTS` (a number, or `all` for both sides of
/// every request a run reaches), by default [`DEFAULT_POINTS`].
pub(crate) fn points_per_command(reached: u64) -> u64 {
    match std::env::var("SOVSTACK_KILL_POINTS").ok().as_deref() {
        Some("all") => 2 * reached,
        Some(n) => n.parse().ok().filter(|n| *n > 0).unwrap_or(DEFAULT_POINTS),
        None => DEFAULT_POINTS,
    }
}

/// The requests every run reaches: a run may poll actions fewer times than the reference run,
/// so the last tenth (action polls and the final reads) is left out.
fn reached(total: u64) -> u64 {
    (total - total / 10).max(1)
}

/// `count` points spread evenly over `1..=total` requests, alternating the side; with
/// `count >= 2 * total`, both sides of every request.
pub(crate) fn spread(total: u64, count: u64) -> Vec<KillPoint> {
    if count >= 2 * total {
        return (1..=total)
            .flat_map(|request| {
                [false, true].map(|after_response| KillPoint {
                    request,
                    after_response,
                })
            })
            .collect();
    }
    (0..count)
        .map(|i| KillPoint {
            request: 1 + i * (total - 1) / (count - 1).max(1),
            after_response: i % 2 == 1,
        })
        .collect()
}

/// Actions run long enough that a kill often lands while one is still running and the next
/// run starts before it ends: the case where a step looks undone and is already underway.
const ACTION_TIME: Duration = Duration::from_millis(300);

async fn sandbox() -> SandboxHandle {
    sandbox_with_actions_of(ACTION_TIME).await
}

/// A sandbox whose every action takes `time`.
pub(crate) async fn sandbox_with_actions_of(time: Duration) -> SandboxHandle {
    sandbox_cli::start(SandboxConfig {
        action_duration: time,
        ..SandboxConfig::for_tests()
    })
    .await
}

/// Upstream of the gate: the sandbox's base URL without `/v1`.
fn upstream(sb: &SandboxHandle) -> String {
    format!("http://{}", sb.addr())
}

/// What a gated run ended in.
enum Ended {
    /// Killed at the point.
    Killed,
    /// Finished before reaching it.
    Finished,
}

/// Runs `args` through a gate tripping at `point`, killing the run with SIGKILL there.
async fn run_killed_at(
    sb: &SandboxHandle,
    ws: &Workspace,
    args: &[&str],
    point: KillPoint,
) -> Ended {
    let gate = RequestGate::start(&upstream(sb), Some(point)).await;
    let mut child = command(gate.url(), &ws.dir, args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("sovstack starts");
    let pid = child.id();
    let mut waited = tokio::task::spawn_blocking(move || child.wait().expect("wait"));
    tokio::select! {
        () = gate.tripped() => {
            // SIGKILL: no handler, no cleanup, the worst kind of stop.
            // SAFETY: kill(2) on the child's own pid, which it still holds (not yet reaped).
            unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
            let _ = (&mut waited).await;
            Ended::Killed
        }
        _ = &mut waited => Ended::Finished,
    }
}

/// The requests an unkilled run of `args` sends.
async fn requests_of(sb: &SandboxHandle, ws: &Workspace, args: &[&str]) -> u64 {
    let gate = RequestGate::start(&upstream(sb), None).await;
    let out = run(gate.url(), &ws.dir, args).await;
    assert!(out.status.success(), "{args:?}: {}", text(&out));
    gate.requests()
}

/// Every resource of the `kill` stack in the sandbox, by collection: their address labels.
pub(crate) async fn inventory(sb: &SandboxHandle) -> BTreeMap<&'static str, Vec<String>> {
    let mut out = BTreeMap::new();
    for what in COLLECTIONS {
        let mut addresses: Vec<String> = sandbox_cli::list(&sb.base_url(), what)
            .await
            .iter()
            .map(|r| {
                r["labels"]["sovstack.address"]
                    .as_str()
                    .unwrap_or("(unlabelled)")
                    .to_string()
            })
            .collect();
        addresses.sort();
        out.insert(*what, addresses);
    }
    out
}

async fn assert_converged_apply(sb: &SandboxHandle, ws: &Workspace, point: KillPoint) {
    let url = sb.base_url();
    let out = run(&url, &ws.dir, &["apply", "--auto-approve"]).await;
    assert!(
        out.status.success(),
        "apply after a kill at {point}: {}",
        text(&out)
    );
    let out = run(&url, &ws.dir, &["plan", "--detailed-exitcode"]).await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "plan after a kill at {point}: {}",
        text(&out)
    );
    assert_eq!(
        inventory(sb).await,
        expected_inventory(),
        "no duplicate, no orphan after a kill at {point}"
    );
}

async fn assert_converged_destroy(sb: &SandboxHandle, ws: &Workspace, point: KillPoint) {
    let url = sb.base_url();
    let out = run(&url, &ws.dir, &["destroy", "--auto-approve"]).await;
    assert!(
        out.status.success(),
        "destroy after a kill at {point}: {}",
        text(&out)
    );
    let empty: BTreeMap<&str, Vec<String>> = COLLECTIONS.iter().map(|w| (*w, Vec::new())).collect();
    assert_eq!(inventory(sb).await, empty, "left after a kill at {point}");
    let out = run(&url, &ws.dir, &["state", "list"]).await;
    assert!(
        String::from_utf8_lossy(&out.stdout).trim().is_empty(),
        "state after a destroy killed at {point}: {}",
        text(&out)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_apply_killed_at_any_request_converges_on_the_next() {
    let apply = ["apply", "--auto-approve"];
    let total = {
        let sb = sandbox().await;
        requests_of(&sb, &Workspace::new(&stack()), &apply).await
    };
    let mut killed = 0;
    let points = spread(reached(total), points_per_command(reached(total)));
    for &point in &points {
        let sb = sandbox().await;
        let ws = Workspace::new(&stack());
        if let Ended::Killed = run_killed_at(&sb, &ws, &apply, point).await {
            killed += 1;
        }
        assert_converged_apply(&sb, &ws, point).await;
        sb.shutdown().await;
    }
    println!("apply: {killed} kill points over {total} requests, every one converged");
    assert!(
        killed + 1 >= points.len(),
        "{killed} of {} runs were killed",
        points.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_destroy_killed_at_any_request_converges_on_the_next() {
    let destroy = ["destroy", "--auto-approve"];
    let total = {
        let sb = sandbox().await;
        let ws = Workspace::new(&stack());
        let out = run(&sb.base_url(), &ws.dir, &["apply", "--auto-approve"]).await;
        assert!(out.status.success(), "{}", text(&out));
        requests_of(&sb, &ws, &destroy).await
    };
    let mut killed = 0;
    let points = spread(reached(total), points_per_command(reached(total)));
    for &point in &points {
        let sb = sandbox().await;
        let ws = Workspace::new(&stack());
        let out = run(&sb.base_url(), &ws.dir, &["apply", "--auto-approve"]).await;
        assert!(out.status.success(), "{}", text(&out));
        if let Ended::Killed = run_killed_at(&sb, &ws, &destroy, point).await {
            killed += 1;
        }
        assert_converged_destroy(&sb, &ws, point).await;
        sb.shutdown().await;
    }
    println!("destroy: {killed} kill points over {total} requests, every one converged");
    assert!(
        killed + 1 >= points.len(),
        "{killed} of {} runs were killed",
        points.len()
    );
}

#[test]
fn kill_points_spread_over_the_whole_run_and_both_sides() {
    let points = spread(100, 6);
    assert_eq!(
        points.iter().map(|p| p.request).collect::<Vec<_>>(),
        [1, 20, 40, 60, 80, 100]
    );
    assert_eq!(points.iter().filter(|p| p.after_response).count(), 3);
    let every = spread(3, 6);
    assert_eq!(every.len(), 6);
    assert_eq!(
        every[4..],
        [
            KillPoint {
                request: 3,
                after_response: false
            },
            KillPoint {
                request: 3,
                after_response: true
            }
        ]
    );
}
