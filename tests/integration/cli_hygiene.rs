//! How the binary behaves as a citizen of scripts and pipes: a closed stdout or stderr ends
//! output quietly, usage errors exit 1 (2 means changes or drift), the lock message survives a
//! copy and paste into `force-unlock`, plans show lists and rules readably and no unchanged
//! value as a change, and `apply --refresh-only` says what it accepted.

use crate::harness::cli::{Sovstack, copy_stack_dir, repo_root};
use crate::harness::sandbox_cli::{self, Workspace, command, run, text};
use sovstack::sandbox::{FaultSpec, SandboxConfig};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Runs `cmd` with the stream chosen by `which` connected to a pipe whose reader is already
/// closed, so that every write to it fails with EPIPE; returns the exit code and the other
/// stream.
fn run_with_closed(mut cmd: Command, which: Stream) -> (Option<i32>, String) {
    let (reader, writer) = std::io::pipe().expect("a pipe");
    drop(reader);
    match which {
        Stream::Stdout => cmd.stdout(writer).stderr(Stdio::piped()),
        Stream::Stderr => cmd.stderr(writer).stdout(Stdio::piped()),
    };
    let out = cmd.output().expect("the binary runs");
    let other = match which {
        Stream::Stdout => out.stderr,
        Stream::Stderr => out.stdout,
    };
    (
        out.status.code(),
        String::from_utf8_lossy(&other).into_owned(),
    )
}

#[derive(Clone, Copy, Debug)]
enum Stream {
    Stdout,
    Stderr,
}

fn sovstack_in(dir: &std::path::Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_sovstack"));
    c.current_dir(dir)
        .args(args)
        .env_remove("SOVSTACK_STATE_KEY")
        .env_remove("HCLOUD_TOKEN")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null());
    c
}

#[test]
fn a_closed_stdout_or_stderr_ends_output_quietly() {
    let ws = Workspace::new(&sandbox_cli::cloud_only());
    for (args, code) in [
        (&["plan", "--json"][..], 0),
        (&["plan"], 0),
        (&["plan", "--detailed-exitcode"], 2),
        (&["graph"], 0),
        (&["--help"], 0),
    ] {
        let (got, stderr) = run_with_closed(sovstack_in(&ws.dir, args), Stream::Stdout);
        assert_eq!(got, Some(code), "{args:?}: {stderr}");
        assert!(
            !stderr.contains("panicked") && !stderr.contains("Broken pipe"),
            "{args:?}: {stderr}"
        );
    }
    // Diagnostics go to stderr: closing it changes nothing but what is seen.
    let bad = repo_root().join("examples/tutorial-as-written");
    let (got, stdout) = run_with_closed(sovstack_in(&bad, &["validate"]), Stream::Stderr);
    assert_eq!(got, Some(1), "{stdout}");
    let (got, _) = run_with_closed(sovstack_in(&bad, &["plan", "--bogus"]), Stream::Stderr);
    assert_eq!(got, Some(1));
}

#[test]
fn usage_errors_exit_1_and_help_exits_0() {
    let dir = copy_stack_dir(&repo_root().join("examples/cloud-only"));
    for args in [
        &["plan", "--bogus"][..],
        &["--bogus"],
        &["drift", "--nope"],
        &["no-such-command"],
        &["apply", "--parallelism", "many"],
        &[],
    ] {
        let r = Sovstack::in_dir(dir.path()).args(args).run();
        r.expect_code(1);
        assert!(
            r.stderr.contains("error:") || r.stderr.contains("Usage:"),
            "{args:?}: {}",
            r.stderr
        );
    }
    Sovstack::in_dir(dir.path())
        .args(["--help"])
        .run()
        .expect_code(0);
    Sovstack::in_dir(dir.path())
        .args(["--version"])
        .run()
        .expect_code(0);
}

const ONE_SERVER: &str = r#"
stack "locks" {}

ssh_key "admin" {
  public_key = file("keys/admin.pub")
}
"#;

/// The id in "lock id <id>" on one line, even with a terminal 20 columns wide; given back to
/// `force-unlock`, it names the lock: refused while its holder lives, released after.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lock_id_survives_copy_and_paste_into_force_unlock() {
    // The holder waits on its create request for as long as the test needs.
    let sb = sandbox_cli::start(SandboxConfig {
        faults: FaultSpec::parse("POST /ssh_keys:latency=120s").expect("faults"),
        ..SandboxConfig::for_tests()
    })
    .await;
    let url = sb.base_url();
    let ws = Workspace::new(ONE_SERVER);
    let mut holder = command(&url, &ws.dir, &["apply", "--auto-approve"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the holder starts");
    // Contend only once the holder has the lock: a contender that started first would take it
    // itself and wait on the slow create.
    let lock_file = ws.dir.join(".sovstack/state.json.lock");
    let holder_pid = format!("\"pid\":{}", holder.id());
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let info = std::fs::read_to_string(&lock_file).unwrap_or_default();
        if info.replace(' ', "").contains(&holder_pid) {
            break;
        }
        assert!(Instant::now() < deadline, "the holder never took the lock");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let locked = loop {
        let mut c = command(&url, &ws.dir, &["apply", "--auto-approve"]);
        c.env("COLUMNS", "20");
        let out = tokio::task::spawn_blocking(move || c.output().expect("runs"))
            .await
            .expect("thread");
        // The holder takes the lock before it writes who it is: poll until the message has
        // the id, not only the lock.
        let stderr = String::from_utf8_lossy(&out.stderr);
        if stderr.contains("is locked") && stderr.contains("lock id ") {
            break out;
        }
        assert!(Instant::now() < deadline, "never locked: {}", text(&out));
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(locked.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&locked.stderr).into_owned();
    let line = stderr
        .lines()
        .find(|l| l.contains("lock id "))
        .unwrap_or_else(|| panic!("no lock id: {stderr}"));
    let id = line
        .split("lock id ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .expect("an id after `lock id`");
    assert!(
        uuid::Uuid::parse_str(id).is_ok(),
        "cut id `{id}` in: {stderr}"
    );

    let refused = run(&url, &ws.dir, &["force-unlock", id]).await;
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused));
    assert!(
        text(&refused).contains("live process"),
        "{}",
        text(&refused)
    );

    holder.kill().expect("kill the holder");
    let _ = holder.wait();
    let released = run(&url, &ws.dir, &["force-unlock", id]).await;
    assert!(released.status.success(), "{}", text(&released));
    assert!(text(&released).contains(id), "{}", text(&released));

    sb.set_faults(FaultSpec::default(), 0);
    let out = run(&url, &ws.dir, &["apply", "--auto-approve"]).await;
    assert!(out.status.success(), "{}", text(&out));
    sb.shutdown().await;
}

/// Plans after an apply: a rule edited, the server replaced (what hangs on it re-attached), a
/// label changed behind sovstack's back. Rules one per line, the kept one unmarked; an
/// attachment whose names stay says its target is known after apply.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plans_show_lists_and_rules_readably_and_no_unchanged_value_as_a_change() {
    let sb = sandbox_cli::start(SandboxConfig::for_tests()).await;
    let url = sb.base_url();
    let ws = Workspace::new(&sandbox_cli::cloud_only());
    let out = run(&url, &ws.dir, &["apply", "--auto-approve"]).await;
    assert!(out.status.success(), "{}", text(&out));

    let changed = run(
        &url,
        &ws.dir,
        &[
            "plan",
            "--var",
            "image=debian-12",
            "--var",
            r#"admin_cidrs=["203.0.113.0/24", "2001:db8::/32"]"#,
        ],
    )
    .await;
    assert_eq!(changed.status.code(), Some(0), "{}", text(&changed));
    let plan = String::from_utf8_lossy(&changed.stdout).into_owned();
    assert!(!plan.contains(r#"["app"] -> ["app"]"#), "{plan}");
    assert!(!plan.contains(r#""app" -> "app""#), "{plan}");
    insta::assert_snapshot!("plan_rules_and_replacement", plan);

    // A label changed outside sovstack, shown in the drift section.
    let servers = sandbox_cli::list(&url, "servers").await;
    let id = servers[0]["id"].as_u64().expect("server id");
    reqwest::Client::new()
        .put(format!("{url}/servers/{id}"))
        .bearer_auth(sandbox_cli::TOKEN)
        .json(&serde_json::json!({"labels": {
            "role": "web", "sovstack.stack": "cloud-only", "sovstack.address": "server.app"
        }}))
        .send()
        .await
        .expect("relabel")
        .error_for_status()
        .expect("relabelled");
    let drifted = run(&url, &ws.dir, &["plan"]).await;
    insta::assert_snapshot!(
        "plan_drift_of_labels",
        String::from_utf8_lossy(&drifted.stdout)
    );

    // --refresh-only accepts the label and says what it accepted and what is still pending.
    let accepted = run(
        &url,
        &ws.dir,
        &[
            "apply",
            "--refresh-only",
            "--auto-approve",
            "--var",
            "image=debian-12",
        ],
    )
    .await;
    assert!(accepted.status.success(), "{}", text(&accepted));
    let said = String::from_utf8_lossy(&accepted.stdout).into_owned();
    assert!(!said.contains("No changes"), "{said}");
    assert!(
        said.contains("Accepted 1 change(s) made outside sovstack")
            && said.contains("server.app: changed"),
        "{said}"
    );
    assert!(
        said.contains("still differs from the world at 3 address(es)"),
        "{said}"
    );
    insta::assert_snapshot!("refresh_only_accepted_and_pending", said);
    sb.shutdown().await;
}
