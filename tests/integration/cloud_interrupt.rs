//! SIGINT during an apply: the first stops it gracefully (the running operation finishes and is
//! recorded, nothing new starts, what was and was not done is printed, exit 1); a second aborts
//! at once (exit 130). Either way the next apply converges.

use crate::cloud_kill::{expected_inventory, inventory, sandbox_with_actions_of, stack};
use crate::harness::sandbox_cli::{Workspace, command, run, text};
use sovstack::sandbox::SandboxHandle;
use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Long enough that a signal sent once a server create is under way arrives while it runs.
const ACTION_TIME: Duration = Duration::from_secs(1);
const DEADLINE: Duration = Duration::from_secs(60);

async fn sandbox() -> SandboxHandle {
    sandbox_with_actions_of(ACTION_TIME).await
}

/// An apply, one operation at a time, with its stderr lines sent to the returned channel.
fn start_apply(sb: &SandboxHandle, ws: &Workspace) -> (Child, mpsc::Receiver<String>) {
    let mut child = command(
        &sb.base_url(),
        &ws.dir,
        &["apply", "--auto-approve", "--parallelism", "1"],
    )
    .stdout(Stdio::null())
    .stderr(Stdio::piped())
    .spawn()
    .expect("apply starts");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    (child, rx)
}

/// Waits (polling, with a deadline) until the first server create request has been answered.
async fn wait_for_a_server_create(sb: &SandboxHandle, child: &mut Child) {
    let deadline = Instant::now() + DEADLINE;
    while sb.request_log().count("POST /servers") == 0 {
        assert!(Instant::now() < deadline, "no server create was sent");
        assert!(
            child.try_wait().expect("try_wait").is_none(),
            "apply ended before creating a server"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Lines of `rx` until one contains `needle` (all of them, for the failure message).
fn lines_until(rx: &mpsc::Receiver<String>, needle: &str) -> Vec<String> {
    let mut seen = Vec::new();
    let deadline = Instant::now() + DEADLINE;
    while let Ok(line) = rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
        let found = line.contains(needle);
        seen.push(line);
        if found {
            return seen;
        }
    }
    panic!("`{needle}` never came:\n{}", seen.join("\n"));
}

fn sigint(child: &Child) {
    // SAFETY: kill(2) on our own child, not yet reaped.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
}

/// Waits for the child to end, within the deadline; its exit code (None for a signal).
async fn exit_code(mut child: Child) -> Option<i32> {
    let deadline = Instant::now() + DEADLINE;
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return status.code();
        }
        assert!(Instant::now() < deadline, "apply did not end after SIGINT");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn assert_next_apply_converges(sb: &SandboxHandle, ws: &Workspace) {
    let url = sb.base_url();
    let out = run(&url, &ws.dir, &["apply", "--auto-approve"]).await;
    assert!(out.status.success(), "{}", text(&out));
    let out = run(&url, &ws.dir, &["plan", "--detailed-exitcode"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(inventory(sb).await, expected_inventory());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_sigint_lets_the_running_create_finish_and_starts_nothing_more() {
    let sb = sandbox().await;
    let ws = Workspace::new(&stack());
    let (mut child, lines) = start_apply(&sb, &ws);
    wait_for_a_server_create(&sb, &mut child).await;
    sigint(&child);
    let code = exit_code(child).await;
    // The process is gone: its stderr ends, and with it the reader's lines.
    let said: Vec<String> = lines.iter().collect();
    let said = said.join("\n");
    assert_eq!(code, Some(1), "{said}");
    assert!(said.contains("SIGINT: stopping"), "{said}");
    assert!(said.contains("server.a: created"), "{said}");
    assert!(said.contains("Interrupted"), "{said}");
    assert!(said.contains("  done: server.a, ssh_key.admin"), "{said}");
    assert!(
        said.contains("  not done: ") && said.contains("volume.d"),
        "{said}"
    );
    // The create under way finished and was recorded; no other was started.
    assert_eq!(sb.request_log().count("POST /servers"), 1);
    let shown = run(&sb.base_url(), &ws.dir, &["state", "show", "server.a"]).await;
    assert!(text(&shown).contains("\"ready\""), "{}", text(&shown));
    assert_next_apply_converges(&sb, &ws).await;
    sb.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_sigint_aborts_at_once_and_the_next_apply_converges() {
    let sb = sandbox().await;
    let ws = Workspace::new(&stack());
    let (mut child, lines) = start_apply(&sb, &ws);
    wait_for_a_server_create(&sb, &mut child).await;
    sigint(&child);
    lines_until(&lines, "SIGINT: stopping");
    let sent = Instant::now();
    sigint(&child);
    let code = exit_code(child).await;
    assert_eq!(code, Some(130));
    assert!(
        sent.elapsed() < ACTION_TIME,
        "aborted at once, not after the running create"
    );
    lines_until(&lines, "aborting now");
    assert_next_apply_converges(&sb, &ws).await;
    sb.shutdown().await;
}
