//! The official Hetzner Cloud Python client (`hcloud`, pinned in `.ci/requirements.txt`) against the simulator: the
//! scenario `tests/contract/hcloud_official.py` runs with the venv's python against a sandbox on loopback. Every
//! step must pass, every endpoint the simulator serves must have answered the scenario with success (so a new
//! endpoint without a contract step fails here), every served endpoint must exist in the official spec, and every
//! answer must conform to it.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use sovstack::sandbox::{FaultSpec, LoggedRequest, Sandbox, SandboxConfig, endpoints};

use crate::harness::openapi::{RequestCheck, assert_log_conforms, spec};
use crate::harness::venv;

/// The script's own `SLOW_FAULTS` and `FAILING_FAULTS`: a reboot that runs long enough to see the server locked, and
/// a reset whose action fails.
const FAULTS: &str = "POST /servers/*/actions/reboot:action_duration=1s,\
                      POST /servers/*/actions/reset:action_error=reset_failed";

/// Far above the scenario's few seconds; only a hang reaches it.
const SCENARIO_DEADLINE: Duration = Duration::from_secs(180);

fn script() -> &'static Path {
    Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/contract/hcloud_official.py"
    ))
}

/// What the scenario printed, and how it ended.
struct Run {
    success: bool,
    transcript: String,
}

impl Run {
    fn steps(&self) -> (usize, usize) {
        let count = |p: &str| self.transcript.lines().filter(|l| l.starts_with(p)).count();
        (count("PASS "), count("FAIL "))
    }
}

async fn run_scenario(python: &Path, endpoint: &str) -> Run {
    let child = tokio::process::Command::new(python)
        .arg(script())
        .args(["--endpoint", endpoint])
        // Warnings once per place, and no proxy between the client and loopback.
        .env("PYTHONWARNINGS", "default")
        .env("NO_PROXY", "*")
        .env_remove("HTTP_PROXY")
        .env_remove("http_proxy")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start the venv's python");
    let out = tokio::time::timeout(SCENARIO_DEADLINE, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("the scenario did not finish in {SCENARIO_DEADLINE:?}"))
        .expect("collect the scenario's output");
    Run {
        success: out.status.success(),
        transcript: format!(
            "{}\n--- stderr ---\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    }
}

/// Served endpoints that no request of the log reached with a 2xx answer.
fn unexercised(served: &[String], log: &[LoggedRequest]) -> Vec<String> {
    let answered: BTreeSet<&str> = log
        .iter()
        .filter(|e| (200..300).contains(&e.status))
        .map(|e| e.endpoint.as_str())
        .collect();
    served
        .iter()
        .filter(|e| !answered.contains(e.as_str()))
        .cloned()
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn official_python_client_against_the_simulator() {
    let Some(python) = venv::python_with(
        "hcloud",
        "The simulator's contract with the official client",
    ) else {
        return;
    };
    let config = SandboxConfig {
        faults: FaultSpec::parse(FAULTS).unwrap(),
        ..SandboxConfig::for_tests()
    };
    let sandbox = Sandbox::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .expect("sandbox on loopback");

    let run = run_scenario(&python, &sandbox.base_url()).await;
    let (passed, failed) = run.steps();
    assert!(
        run.success && failed == 0,
        "the official client's scenario failed:\n{}",
        run.transcript
    );
    assert!(passed >= 50, "only {passed} steps ran:\n{}", run.transcript);

    let served = endpoints();
    let log = sandbox.request_log().entries();
    let missing = unexercised(&served, &log);
    assert!(
        missing.is_empty(),
        "the simulator serves endpoints the contract scenario never exercised with success; add a step to \
         tests/contract/hcloud_official.py for each:\n{}",
        missing.join("\n")
    );
    let not_in_spec: Vec<&String> = served
        .iter()
        .filter(|e| {
            let (method, path) = e.split_once(' ').unwrap();
            spec()
                .find(
                    method,
                    &path.replace("{id}", "1").replace("{action_id}", "2"),
                )
                .is_none()
        })
        .collect();
    assert!(
        not_in_spec.is_empty(),
        "served but not in the official spec: {not_in_spec:?}"
    );
    assert_log_conforms(&log, RequestCheck::None);
    println!(
        "official client contract: {passed} steps passed, {} endpoints exercised, {} requests",
        served.len(),
        log.len()
    );
    sandbox.shutdown().await;
}

#[test]
fn coverage_names_what_no_step_reached() {
    let entry = |endpoint: &str, status: u16| LoggedRequest {
        seq: 0,
        method: String::new(),
        path: String::new(),
        query: None,
        endpoint: endpoint.into(),
        request_body: None,
        request_body_raw: None,
        status,
        response_body: None,
        correlation_id: String::new(),
        faults: vec![],
        dropped: false,
    };
    let served = vec![
        "GET /servers".to_owned(),
        "DELETE /servers/{id}".to_owned(),
        "POST /servers/{id}/actions/enable_backup".to_owned(),
    ];
    let log = [
        entry("GET /servers", 200),
        // An error answer does not count: the endpoint must have worked once.
        entry("DELETE /servers/{id}", 423),
        entry("POST /servers/{id}/actions/enable_backup", 201),
    ];
    assert_eq!(unexercised(&served, &log), ["DELETE /servers/{id}"]);
}
