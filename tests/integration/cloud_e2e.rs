//! The cloud layer end to end, through the real binary against the in-process sandbox:
//! apply, no-op plan, in-place firewall change, replacement on image change, a process killed
//! in the middle of a create, and destroy.

use sovstack::sandbox::{Sandbox, SandboxConfig, SandboxHandle};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const TOKEN: &str = "e2e-token-never-printed";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A copy of the cloud-only example in a temp dir (its key path is `../../keys/admin.pub`).
fn workspace() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("examples/cloud-only");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::create_dir_all(tmp.path().join("keys")).unwrap();
    std::fs::copy(
        repo().join("examples/cloud-only/stack.hcl"),
        dir.join("stack.hcl"),
    )
    .unwrap();
    std::fs::copy(
        repo().join("keys/admin.pub"),
        tmp.path().join("keys/admin.pub"),
    )
    .unwrap();
    (tmp, dir)
}

fn command(sb: &SandboxHandle, dir: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_sovstack"));
    c.current_dir(dir)
        .args(args)
        // A collector set in the developer's environment gets no test runs.
        .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
        .env("HCLOUD_ENDPOINT", sb.base_url())
        .env("HCLOUD_TOKEN", TOKEN)
        .env_remove("SOVSTACK_STATE_KEY")
        .stdin(Stdio::null());
    c
}

async fn run(sb: &SandboxHandle, dir: &Path, args: &[&str]) -> Output {
    let mut c = command(sb, dir, args);
    tokio::task::spawn_blocking(move || c.output().expect("run sovstack"))
        .await
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

async fn count(sb: &SandboxHandle, what: &str) -> usize {
    let url = format!("{}/{what}", sb.base_url());
    let body: serde_json::Value = reqwest::Client::new()
        .get(url)
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body[what].as_array().map_or(0, Vec::len)
}

async fn sandbox(config: SandboxConfig) -> SandboxHandle {
    Sandbox::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_plan_update_replace_destroy_against_the_sandbox() {
    let sb = sandbox(SandboxConfig::for_tests()).await;
    let (_tmp, dir) = workspace();

    let out = run(&sb, &dir, &["apply", "--auto-approve"]).await;
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("4 added"), "{}", text(&out));
    for what in ["servers", "firewalls", "volumes", "ssh_keys"] {
        assert_eq!(count(&sb, what).await, 1, "{what}");
    }
    assert!(
        !text(&out).contains(TOKEN),
        "the token must never be printed"
    );

    // Nothing changed: exit 0, and refresh costs a constant number of list calls.
    sb.reset_log();
    let out = run(&sb, &dir, &["plan", "--detailed-exitcode"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(sb.request_log().count("GET /servers"), 1);

    // A firewall rule edit is one in-place set_rules.
    let stack = dir.join("stack.hcl");
    let edited = std::fs::read_to_string(&stack)
        .unwrap()
        .replace("port        = \"22\"", "port        = \"2222\"");
    std::fs::write(&stack, edited).unwrap();
    let out = run(&sb, &dir, &["plan", "--detailed-exitcode"]).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("~ firewall.app"), "{}", text(&out));
    assert!(
        text(&out).contains("Plan: 0 to add, 1 to change, 0 to destroy."),
        "{}",
        text(&out)
    );
    sb.reset_log();
    let out = run(&sb, &dir, &["apply", "--auto-approve"]).await;
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        sb.request_log()
            .count("POST /firewalls/{id}/actions/set_rules"),
        1,
        "{:?}",
        sb.request_log().counts()
    );
    assert_eq!(sb.request_log().count("POST /servers"), 0);

    // A new image forces a replacement of the server.
    let out = run(&sb, &dir, &["plan", "--var", "image=debian-12"]).await;
    assert!(text(&out).contains("-/+ server.app"), "{}", text(&out));
    assert!(
        text(&out).contains("# forces replacement"),
        "{}",
        text(&out)
    );
    let out = run(
        &sb,
        &dir,
        &["apply", "--auto-approve", "--var", "image=debian-12"],
    )
    .await;
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(count(&sb, "servers").await, 1);
    let out = run(
        &sb,
        &dir,
        &["plan", "--detailed-exitcode", "--var", "image=debian-12"],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    // Destroy leaves the sandbox empty.
    let out = run(&sb, &dir, &["destroy", "--auto-approve"]).await;
    assert!(out.status.success(), "{}", text(&out));
    for what in ["servers", "firewalls", "volumes", "ssh_keys"] {
        assert_eq!(count(&sb, what).await, 0, "{what} left after destroy");
    }
    sb.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_apply_killed_after_the_create_request_converges_without_duplicates() {
    // Slow actions keep the first apply waiting right after POST /servers.
    let sb = sandbox(SandboxConfig {
        action_duration: Duration::from_secs(3),
        ..SandboxConfig::for_tests()
    })
    .await;
    let (_tmp, dir) = workspace();
    let mut child = command(&sb, &dir, &["apply", "--auto-approve"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while sb.request_log().count("POST /servers") == 0 {
        assert!(
            Instant::now() < deadline,
            "the apply never created the server"
        );
        if let Ok(Some(status)) = child.try_wait() {
            panic!("apply ended before creating the server: {status}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    child.kill().unwrap();
    let _ = child.wait();

    // The state recorded the pending create; the next apply adopts the server.
    let out = run(&sb, &dir, &["state", "show", "server.app"]).await;
    assert!(text(&out).contains("\"pending\""), "{}", text(&out));
    let out = run(&sb, &dir, &["apply", "--auto-approve"]).await;
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(count(&sb, "servers").await, 1, "no duplicate server");
    assert_eq!(
        sb.request_log().count("POST /servers"),
        1,
        "the server was adopted, not created again"
    );
    let out = run(&sb, &dir, &["plan", "--detailed-exitcode"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    sb.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_completes_under_rate_limits_gateway_errors_and_slow_actions() {
    let sb = sandbox(SandboxConfig {
        action_duration: Duration::from_millis(150),
        faults: sovstack::sandbox::FaultSpec::parse(
            "*:429@0.15,GET /actions:503@0.3,GET /servers:502@0.3,*:latency=15ms,POST /servers:fail_after_create#1",
        )
        .unwrap(),
        fault_seed: 7,
        ..SandboxConfig::for_tests()
    })
    .await;
    let (_tmp, dir) = workspace();
    let out = run(&sb, &dir, &["apply", "--auto-approve"]).await;
    assert!(out.status.success(), "{}", text(&out));
    let log = sb.request_log();
    assert!(
        log.entries().iter().any(|e| e.status == 429),
        "no 429 was injected"
    );
    assert!(
        log.entries().iter().any(|e| e.status >= 502),
        "no gateway error was injected"
    );
    // Counting goes through the API too: faults off first.
    sb.set_faults(sovstack::sandbox::FaultSpec::default(), 0);
    for what in ["servers", "firewalls", "volumes", "ssh_keys"] {
        assert_eq!(count(&sb, what).await, 1, "{what}");
    }
    let out = run(&sb, &dir, &["plan", "--detailed-exitcode"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    sb.shutdown().await;
}

/// An apply of the cloud-only example against a sandbox with `faults`, which must fail (exit 1).
async fn a_failing_apply(faults: &str) -> (SandboxHandle, tempfile::TempDir, PathBuf, Output) {
    let sb = sandbox(SandboxConfig {
        faults: sovstack::sandbox::FaultSpec::parse(faults).unwrap(),
        ..SandboxConfig::for_tests()
    })
    .await;
    let (tmp, dir) = workspace();
    let out = run(&sb, &dir, &["apply", "--auto-approve"]).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    (sb, tmp, dir, out)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_action_stops_its_branch_and_the_state_says_what_exists() {
    let (sb, _tmp, dir, out) =
        a_failing_apply("POST /volumes:action_error=volume_create_failed").await;
    assert!(text(&out).contains("volume.data"), "{}", text(&out));
    // Independent branches finished and are recorded as done.
    for addr in ["ssh_key.admin", "server.app", "firewall.app"] {
        let shown = run(&sb, &dir, &["state", "show", addr]).await;
        assert!(
            text(&shown).contains("\"ready\""),
            "{addr}: {}",
            text(&shown)
        );
    }
    // The volume's create was requested but not confirmed: recorded as pending, so the next
    // apply adopts it instead of creating a second one.
    let shown = run(&sb, &dir, &["state", "show", "volume.data"]).await;
    assert!(text(&shown).contains("\"pending\""), "{}", text(&shown));
    sb.set_faults(sovstack::sandbox::FaultSpec::default(), 0);
    let out = run(&sb, &dir, &["apply", "--auto-approve"]).await;
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(count(&sb, "volumes").await, 1, "no duplicate volume");
    let out = run(&sb, &dir, &["plan", "--detailed-exitcode"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    sb.shutdown().await;
}

/// A server whose create action failed is not adopted and started by the next apply: it is
/// deleted when the failure is seen, and the next apply creates a new one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_whose_create_failed_is_replaced_not_adopted() {
    let (sb, _tmp, dir, out) =
        a_failing_apply("POST /servers:action_error=server_create_failed#1").await;
    assert!(
        text(&out).contains("server_create_failed"),
        "{}",
        text(&out)
    );
    assert_eq!(
        count(&sb, "servers").await,
        0,
        "the broken server is deleted"
    );

    let out = run(&sb, &dir, &["apply", "--auto-approve"]).await;
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(sb.request_log().count("POST /servers"), 2);
    assert_eq!(
        sb.request_log().count("POST /servers/{id}/actions/poweron"),
        0,
        "nothing was adopted and powered on"
    );
    assert_eq!(count(&sb, "servers").await, 1);
    let out = run(&sb, &dir, &["plan", "--detailed-exitcode"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    sb.shutdown().await;
}
