//! The cloud layer end to end, through the real binary against the in-process sandbox:
//! apply, no-op plan, in-place firewall change, replacement on image change, a process killed
//! in the middle of a create, and destroy.

use crate::harness::cloud::{CloudWorkspace, TOKEN, text};
use sovstack::sandbox::SandboxConfig;
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_plan_update_replace_destroy_against_the_sandbox() {
    let ws = CloudWorkspace::start().await;

    let out = ws.run(&["apply", "--auto-approve"]).await;
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("4 added"), "{}", text(&out));
    for what in ["servers", "firewalls", "volumes", "ssh_keys"] {
        assert_eq!(ws.count(what).await, 1, "{what}");
    }
    assert!(
        !text(&out).contains(TOKEN),
        "the token must never be printed"
    );

    // Nothing changed: exit 0, and refresh costs a constant number of list calls.
    ws.sb.reset_log();
    let out = ws.run(&["plan", "--detailed-exitcode"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(ws.sb.request_log().count("GET /servers"), 1);

    // A firewall rule edit is one in-place set_rules.
    let stack = ws.stack_path();
    let edited = std::fs::read_to_string(&stack)
        .unwrap()
        .replace("port        = \"22\"", "port        = \"2222\"");
    std::fs::write(&stack, edited).unwrap();
    let out = ws.run(&["plan", "--detailed-exitcode"]).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("~ firewall.app"), "{}", text(&out));
    assert!(
        text(&out).contains("Plan: 0 to add, 1 to change, 0 to destroy."),
        "{}",
        text(&out)
    );
    ws.sb.reset_log();
    let out = ws.run(&["apply", "--auto-approve"]).await;
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        ws.sb
            .request_log()
            .count("POST /firewalls/{id}/actions/set_rules"),
        1,
        "{:?}",
        ws.sb.request_log().counts()
    );
    assert_eq!(ws.sb.request_log().count("POST /servers"), 0);

    // A new image forces a replacement of the server.
    let out = ws.run(&["plan", "--var", "image=debian-12"]).await;
    assert!(text(&out).contains("-/+ server.app"), "{}", text(&out));
    assert!(
        text(&out).contains("# forces replacement"),
        "{}",
        text(&out)
    );
    let out = ws
        .run(&["apply", "--auto-approve", "--var", "image=debian-12"])
        .await;
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(ws.count("servers").await, 1);
    let out = ws
        .run(&["plan", "--detailed-exitcode", "--var", "image=debian-12"])
        .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    // Destroy leaves the sandbox empty.
    let out = ws.run(&["destroy", "--auto-approve"]).await;
    assert!(out.status.success(), "{}", text(&out));
    for what in ["servers", "firewalls", "volumes", "ssh_keys"] {
        assert_eq!(ws.count(what).await, 0, "{what} left after destroy");
    }
    ws.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_apply_killed_after_the_create_request_converges_without_duplicates() {
    // Slow actions keep the first apply waiting right after POST /servers.
    let ws = CloudWorkspace::start_with(SandboxConfig {
        action_duration: Duration::from_secs(3),
        ..SandboxConfig::for_tests()
    })
    .await;
    let mut child = ws
        .command(&["apply", "--auto-approve"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while ws.sb.request_log().count("POST /servers") == 0 {
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
    let out = ws.run(&["state", "show", "server.app"]).await;
    assert!(text(&out).contains("\"pending\""), "{}", text(&out));
    let out = ws.run(&["apply", "--auto-approve"]).await;
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(ws.count("servers").await, 1, "no duplicate server");
    assert_eq!(
        ws.sb.request_log().count("POST /servers"),
        1,
        "the server was adopted, not created again"
    );
    let out = ws.run(&["plan", "--detailed-exitcode"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    ws.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_completes_under_rate_limits_gateway_errors_and_slow_actions() {
    let ws = CloudWorkspace::start_with(SandboxConfig {
        action_duration: Duration::from_millis(150),
        faults: sovstack::sandbox::FaultSpec::parse(
            "*:429@0.15,GET /actions:503@0.3,GET /servers:502@0.3,*:latency=15ms,POST /servers:fail_after_create#1",
        )
        .unwrap(),
        fault_seed: 7,
        ..SandboxConfig::for_tests()
    })
    .await;
    let out = ws.run(&["apply", "--auto-approve"]).await;
    assert!(out.status.success(), "{}", text(&out));
    let log = ws.sb.request_log();
    assert!(
        log.entries().iter().any(|e| e.status == 429),
        "no 429 was injected"
    );
    assert!(
        log.entries().iter().any(|e| e.status >= 502),
        "no gateway error was injected"
    );
    // Counting goes through the API too: faults off first.
    ws.sb.set_faults(sovstack::sandbox::FaultSpec::default(), 0);
    for what in ["servers", "firewalls", "volumes", "ssh_keys"] {
        assert_eq!(ws.count(what).await, 1, "{what}");
    }
    let out = ws.run(&["plan", "--detailed-exitcode"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    ws.shutdown().await;
}

/// An apply of the cloud-only example against a sandbox with `faults`, which must fail (exit 1).
async fn a_failing_apply(faults: &str) -> (CloudWorkspace, Output) {
    let ws = CloudWorkspace::start_with(SandboxConfig {
        faults: sovstack::sandbox::FaultSpec::parse(faults).expect("fault spec"),
        ..SandboxConfig::for_tests()
    })
    .await;
    let out = ws.run(&["apply", "--auto-approve"]).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    (ws, out)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_action_stops_its_branch_and_the_state_says_what_exists() {
    let (ws, out) = a_failing_apply("POST /volumes:action_error=volume_create_failed").await;
    assert!(text(&out).contains("volume.data"), "{}", text(&out));
    // Independent branches finished and are recorded as done.
    for addr in ["ssh_key.admin", "server.app", "firewall.app"] {
        let shown = ws.run(&["state", "show", addr]).await;
        assert!(
            text(&shown).contains("\"ready\""),
            "{addr}: {}",
            text(&shown)
        );
    }
    // The volume's create was requested but not confirmed: recorded as pending, so the next
    // apply adopts it instead of creating a second one.
    let shown = ws.run(&["state", "show", "volume.data"]).await;
    assert!(text(&shown).contains("\"pending\""), "{}", text(&shown));
    ws.sb.set_faults(sovstack::sandbox::FaultSpec::default(), 0);
    let out = ws.run(&["apply", "--auto-approve"]).await;
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(ws.count("volumes").await, 1, "no duplicate volume");
    let out = ws.run(&["plan", "--detailed-exitcode"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    ws.shutdown().await;
}

/// A server whose create action failed is not adopted and started by the next apply: it is
/// deleted when the failure is seen, and the next apply creates a new one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_whose_create_failed_is_replaced_not_adopted() {
    let (ws, out) = a_failing_apply("POST /servers:action_error=server_create_failed#1").await;
    assert!(
        text(&out).contains("server_create_failed"),
        "{}",
        text(&out)
    );
    assert_eq!(ws.count("servers").await, 0, "the broken server is deleted");

    let out = ws.run(&["apply", "--auto-approve"]).await;
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(ws.sb.request_log().count("POST /servers"), 2);
    assert_eq!(
        ws.sb
            .request_log()
            .count("POST /servers/{id}/actions/poweron"),
        0,
        "nothing was adopted and powered on"
    );
    assert_eq!(ws.count("servers").await, 1);
    let out = ws.run(&["plan", "--detailed-exitcode"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    ws.shutdown().await;
}

/// The same, when the run that saw the failure could not delete the broken server (killed
/// first, or its delete refused): the next apply finds it by its labels, sees its failed
/// `create_server` action, deletes it and creates a new one; it never powers the broken one on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_whose_create_failed_and_was_left_behind_is_replaced_not_adopted() {
    let (ws, out) =
        a_failing_apply("POST /servers:action_error=server_create_failed#1,DELETE /servers/*:409")
            .await;
    assert!(
        text(&out).contains("server_create_failed"),
        "{}",
        text(&out)
    );
    ws.sb.set_faults(sovstack::sandbox::FaultSpec::default(), 0);
    assert_eq!(ws.count("servers").await, 1, "the broken server is left");

    let out = ws.run(&["apply", "--auto-approve"]).await;
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("its create_server action"),
        "{}",
        text(&out)
    );
    assert_eq!(
        ws.sb
            .request_log()
            .count("POST /servers/{id}/actions/poweron"),
        0,
        "nothing was adopted and powered on"
    );
    assert_eq!(ws.sb.request_log().count("POST /servers"), 2);
    assert_eq!(ws.count("servers").await, 1, "no duplicate");
    let out = ws.run(&["plan", "--detailed-exitcode"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    ws.shutdown().await;
}
