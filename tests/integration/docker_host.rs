//! The test hosts themselves: a real sshd and a real Docker Engine with Compose v2 inside a
//! network namespace; compose driven over SSH starts real containers that become healthy, the
//! ports they publish stay inside the host, and several hosts run at once.

use crate::harness::test_host::TestHost;
use sovstack::providers::ssh::{ExecRequest, SshOptions, SshTransport, Transport, UploadRequest};
use std::time::Duration;

const COMPOSE: &str = "name: probe\nservices:\n  api:\n    image: ghcr.io/example/api:1.4.2\n    ports:\n    - 127.0.0.1:8000:8000\n    healthcheck:\n      test: [\"CMD\", \"wget\", \"--spider\", \"-q\", \"localhost:8000/health\"]\n      interval: 1s\n      retries: 3\n";

async fn connect(host: &TestHost) -> SshTransport {
    SshTransport::connect(host.sshd.pinned_endpoint(), SshOptions::default())
        .await
        .expect("connect to the test host")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compose_over_ssh_starts_healthy_containers_inside_the_host() {
    let Some(hosts) = TestHost::start_all(2) else {
        return;
    };
    let (a, b) = (&hosts[0], &hosts[1]);
    assert_ne!(a.host.ip(), b.host.ip());
    let t = connect(a).await;
    // `docker` is Debian's CLI talking to this host's engine, `docker compose` the v2 plugin.
    let version = t
        .exec_checked(ExecRequest::new(
            "docker compose version --short && docker version --format '{{.Server.Version}}'",
        ))
        .await
        .unwrap()
        .stdout_str();
    assert!(version.starts_with("2.40."), "{version}");
    assert!(version.contains("20.10."), "{version}");

    let dir = a.sshd.remote_root().join("probe");
    std::fs::create_dir_all(&dir).unwrap();
    t.upload(UploadRequest::new(
        format!("{}/compose.yaml", dir.display()),
        COMPOSE.as_bytes().to_vec(),
        0o644,
    ))
    .await
    .unwrap();
    let up = t
        .exec(
            ExecRequest::new(format!(
                "cd {} && docker compose --progress json up -d --wait",
                dir.display()
            ))
            .timeout(Duration::from_secs(120)),
        )
        .await
        .unwrap();
    assert!(up.success(), "{}", up.stderr_str());
    let containers = a.host.containers("probe");
    assert_eq!(containers["api"].status, "running");
    assert_eq!(containers["api"].health, "healthy");
    assert_eq!(containers["api"].id.len(), 64);

    // The published port answers on the host's own loopback, and only there.
    let inside = t
        .exec(ExecRequest::new("curl -s http://127.0.0.1:8000/health"))
        .await
        .unwrap();
    assert_eq!(inside.stdout_str(), "ok\n");
    let other = connect(b).await;
    let elsewhere = other
        .exec(ExecRequest::new(
            "curl -s -m 2 http://127.0.0.1:8000/health",
        ))
        .await
        .unwrap();
    assert!(!elsewhere.success(), "{}", elsewhere.stdout_str());
    assert!(b.host.containers("probe").is_empty());
}
