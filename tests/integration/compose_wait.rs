//! `compose up --wait` has a deadline of its own and says what it waits for while it waits: on
//! a test host (a real sshd and Docker Engine), a service whose health check never passes makes
//! `sovstack apply` fail once the project's `wait_timeout` has passed, with an error naming the
//! service and the command that shows why; the plain log showed the service waiting for its
//! health while compose was still running (lines stream in as compose prints them, not when
//! the command ends). Once the health check is fixed, the next apply converges.

use crate::harness::sandbox_cli::{Workspace, command, text};
use crate::harness::sshd::Sshd;
use crate::harness::stacks::host_block;
use crate::harness::test_host::TestHost;
use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

/// No cloud API takes part; runs are pointed at a closed loopback port all the same.
const NO_API: &str = "http://127.0.0.1:9";
const WAIT_TIMEOUT: u64 = 4;

/// One service whose health check runs `check` every second, with retries enough to stay
/// `starting` far past the wait timeout when it fails.
fn stack(sshd: &Sshd, check: &str) -> String {
    let fp = sshd.host_key_fingerprint().to_string();
    format!(
        r#"
stack "composewait" {{}}
{host}
compose "stuck" {{
  on           = host.box
  directory    = "{dir}"
  wait_timeout = {WAIT_TIMEOUT}

  service "api" {{
    image = "ghcr.io/example/api:1.4.2"
    healthcheck {{
      test     = ["CMD", "{check}"]
      interval = "1s"
      retries  = 1000
    }}
  }}
}}
"#,
        host = host_block("box", sshd, Some(&fp)),
        dir = sshd.remote_root().join("stuck").display(),
    )
}

/// Runs an apply, reading its plain log as it is written: the log, when the line saying `api`
/// waits for its health arrived, and when the run ended.
fn apply_watched(ws: &Workspace) -> (bool, String, Option<Instant>, Instant) {
    let mut child = command(NO_API, &ws.dir, &["apply", "--auto-approve"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("sovstack starts");
    let mut log = String::new();
    let mut waiting_seen = None;
    let stderr = child.stderr.take().expect("piped stderr");
    for line in BufReader::new(stderr).lines() {
        let line = line.expect("read the log");
        if waiting_seen.is_none() && line.contains("api: waiting until running and healthy") {
            waiting_seen = Some(Instant::now());
        }
        log.push_str(&line);
        log.push('\n');
    }
    let status = child.wait().expect("sovstack ends");
    (status.success(), log, waiting_seen, Instant::now())
}

#[test]
fn a_service_never_healthy_fails_the_apply_at_its_wait_timeout_and_a_fix_converges() {
    let Some(host) = TestHost::start() else {
        return;
    };
    let ws = Workspace::new(&stack(&host.sshd, "false"));
    let started = Instant::now();
    let (ok, log, waiting_seen, ended) = apply_watched(&ws);
    assert!(!ok, "{log}");
    // Bootstrap and uploads take seconds; without the deadline this would wait 30 minutes.
    assert!(ended - started < Duration::from_secs(120), "{log}");
    let waiting_seen = waiting_seen.unwrap_or_else(|| panic!("no waiting line:\n{log}"));
    assert!(
        ended - waiting_seen >= Duration::from_secs(WAIT_TIMEOUT - 1),
        "the waiting line came only {:?} before the end, not while compose waited:\n{log}",
        ended - waiting_seen
    );
    for needle in [
        "api of project `stuck`",
        &format!("not healthy after {WAIT_TIMEOUT} s"),
        "`docker compose -p stuck logs api`",
        "raise `wait_timeout` in compose.stuck",
    ] {
        assert!(log.contains(needle), "{needle:?} missing from:\n{log}");
    }

    std::fs::write(ws.dir.join("stack.hcl"), stack(&host.sshd, "true")).unwrap();
    let out = command(NO_API, &ws.dir, &["apply", "--auto-approve"])
        .output()
        .expect("run sovstack");
    assert!(out.status.success(), "{}", text(&out));
    let out = command(NO_API, &ws.dir, &["plan", "--detailed-exitcode"])
        .output()
        .expect("run sovstack");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let api = &host.host.containers("stuck")["api"];
    assert_eq!(
        (api.status.as_str(), api.health.as_str()),
        ("running", "healthy")
    );
}
