//! `sovstack drift` end to end through the binary: cloud resources in the in-process sandbox,
//! test hosts with real sshd servers and real Docker Engines. Every kind of drift the issue
//! names is made behind sovstack's back (containers really stopped or made unhealthy), then
//! detected, named in the text and JSON reports, exported as OTLP logs, and accepted with
//! `apply --refresh-only`.

use crate::harness::sshd::Sshd;
use crate::harness::stacks::{self, SIDECAR_COLLECTOR};
use crate::harness::test_host::TestHost;
use sovstack::sandbox::{Sandbox, SandboxConfig, SandboxHandle};
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};

const TOKEN: &str = "drift-token-never-printed";
const CANARY: &str = "canary-drift-81c3f0aa-secret";

fn host_block(name: &str, sshd: &Sshd) -> String {
    let fp = sshd.host_key_fingerprint().to_string();
    let extra = r#"    secret_environment = {
      API_TOKEN = var.api_token
    }
    ports = ["127.0.0.1:8000:8000"]"#;
    stacks::host_block(name, sshd, Some(&fp))
        + &stacks::api_project(name, name, &sshd.remote_root().join(name), extra, 1)
}

fn server_block(name: &str) -> String {
    format!(
        r#"
server "{name}" {{
  server_type = "cx23"
  location    = "nbg1"
  image       = "ubuntu-24.04"
  ssh_keys    = [ssh_key.admin]
}}
"#
    )
}

fn cloud_part(servers: &[String]) -> String {
    let mut s = String::from(
        r#"
ssh_key "admin" {
  public_key = file("admin.pub")
}
"#,
    );
    for name in servers {
        s.push_str(&server_block(name));
    }
    s.push_str(&format!(
        r#"
firewall "app" {{
  apply_to = [server.{first}]
  rule {{
    description = "SSH from the admin networks"
    port        = "22"
    source_ips  = ["198.51.100.0/24"]
  }}
}}
"#,
        first = servers[0]
    ));
    s
}

fn workspace(stack: &str) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    std::fs::write(dir.join("stack.hcl"), stack).unwrap();
    std::fs::copy(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("keys/admin.pub"),
        dir.join("admin.pub"),
    )
    .unwrap();
    (tmp, dir)
}

fn command(sb: &SandboxHandle, dir: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_sovstack"));
    c.current_dir(dir)
        .args(args)
        .env("HCLOUD_ENDPOINT", sb.base_url())
        .env("HCLOUD_TOKEN", TOKEN)
        .env("SOVSTACK_VAR_api_token", CANARY)
        .env("NO_COLOR", "1")
        .env_remove("SOVSTACK_STATE_KEY")
        .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
        .stdin(Stdio::null());
    c
}

async fn run(sb: &SandboxHandle, dir: &Path, args: &[&str]) -> Output {
    let mut c = command(sb, dir, args);
    let out = tokio::task::spawn_blocking(move || c.output().expect("run sovstack"))
        .await
        .unwrap();
    let all = text(&out);
    assert!(!all.contains(CANARY), "a secret was printed:\n{all}");
    assert!(!all.contains(TOKEN), "the token was printed:\n{all}");
    out
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

async fn sandbox() -> SandboxHandle {
    Sandbox::start(SandboxConfig::for_tests(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

async fn api(
    sb: &SandboxHandle,
    method: reqwest::Method,
    path: &str,
    body: Option<serde_json::Value>,
) -> serde_json::Value {
    let mut req = reqwest::Client::new()
        .request(method, format!("{}{path}", sb.base_url()))
        .bearer_auth(TOKEN);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.unwrap();
    assert!(resp.status().is_success(), "{path}: {}", resp.status());
    resp.json().await.unwrap_or(serde_json::Value::Null)
}

/// The id of the resource of `what` (`servers`, `firewalls`) carrying `address`.
async fn id_of(sb: &SandboxHandle, what: &str, address: &str) -> u64 {
    let list = api(sb, reqwest::Method::GET, &format!("/{what}"), None).await;
    list[what]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["labels"]["sovstack.address"] == address)
        .unwrap_or_else(|| panic!("no {what} labelled {address}: {list}"))["id"]
        .as_u64()
        .unwrap()
}

fn schema_validator() -> jsonschema::Validator {
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("schemas/drift.schema.json"),
        )
        .unwrap(),
    )
    .unwrap();
    jsonschema::validator_for(&schema).unwrap()
}

/// A one-request-at-a-time HTTP receiver on loopback that records each request body and
/// answers 200.
struct Receiver {
    port: u16,
    bodies: Arc<Mutex<Vec<(String, String)>>>,
}

impl Receiver {
    fn start() -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let seen = bodies.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut s) = stream else { return };
                let mut buf = Vec::new();
                let mut chunk = [0u8; 8192];
                let (head, len) = loop {
                    let n = s.read(&mut chunk).unwrap_or(0);
                    if n == 0 {
                        break (String::new(), 0);
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&buf[..end]).into_owned();
                        let len = head
                            .lines()
                            .find_map(|l| {
                                let (k, v) = l.split_once(':')?;
                                k.eq_ignore_ascii_case("content-length")
                                    .then(|| v.trim().parse::<usize>().ok())?
                            })
                            .unwrap_or(0);
                        buf.drain(..end + 4);
                        break (head, len);
                    }
                };
                while buf.len() < len {
                    let n = s.read(&mut chunk).unwrap_or(0);
                    if n == 0 {
                        break;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                }
                let request_line = head.lines().next().unwrap_or("").to_string();
                seen.lock()
                    .unwrap()
                    .push((request_line, String::from_utf8_lossy(&buf).into_owned()));
                let _ = s.write_all(
                    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}",
                );
            }
        });
        Receiver { port, bodies }
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_kind_of_drift_is_detected_reported_exported_and_accepted() {
    let Some(mut hosts) = TestHost::start_all(2) else {
        return;
    };
    let (Some(spare_host), Some(box_host)) = (hosts.pop(), hosts.pop()) else {
        unreachable!("two hosts were started")
    };
    let box_sshd = &box_host.sshd;
    let sb = sandbox().await;
    let stack = format!(
        "stack \"drifty\" {{}}\n\nvariable \"api_token\" {{\n  type      = string\n  sensitive = true\n}}\n{}{SIDECAR_COLLECTOR}{}{}",
        cloud_part(&["app".to_string(), "spare".to_string()]),
        host_block("box", box_sshd),
        host_block("two", &spare_host.sshd),
    );
    let (_tmp, dir) = workspace(&stack);
    let out = run(&sb, &dir, &["apply", "--auto-approve"]).await;
    assert!(out.status.success(), "{}", text(&out));

    // A clean stack: exit 0, and nothing at all with --quiet.
    let out = run(&sb, &dir, &["drift"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(stdout(&out).contains("No drift"), "{}", text(&out));
    let logins = (
        box_sshd.accepted_logins(),
        spare_host.sshd.accepted_logins(),
    );
    let out = run(&sb, &dir, &["drift", "--quiet"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(text(&out), "", "--quiet prints nothing when clean");
    // One SSH connection per host per run.
    assert_eq!(
        (
            box_sshd.accepted_logins(),
            spare_host.sshd.accepted_logins()
        ),
        (logins.0 + 1, logins.1 + 1)
    );

    // Cron needs no secret values for drift; without them the comparison with stack.hcl is
    // skipped, and said so, instead of listing every rendered file as unapplied.
    let mut c = command(&sb, &dir, &["drift", "--json"]);
    c.env_remove("SOVSTACK_VAR_api_token");
    let out = tokio::task::spawn_blocking(move || c.output().unwrap())
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["unapplied"], serde_json::json!([]), "{json:#}");
    assert!(
        json["notes"][0]
            .as_str()
            .unwrap()
            .contains("SOVSTACK_VAR_api_token"),
        "{json:#}"
    );

    // Behind sovstack's back: a firewall rule opened to the world through the API, a server
    // deleted, an orphan server with our labels, a managed file edited, a container stopped.
    let fw = id_of(&sb, "firewalls", "firewall.app").await;
    api(
        &sb,
        reqwest::Method::POST,
        &format!("/firewalls/{fw}/actions/set_rules"),
        Some(serde_json::json!({"rules": [{
            "direction": "in", "protocol": "tcp", "port": "22",
            "source_ips": ["0.0.0.0/0", "::/0"], "description": "temporary"
        }]})),
    )
    .await;
    let spare = id_of(&sb, "servers", "server.spare").await;
    api(
        &sb,
        reqwest::Method::DELETE,
        &format!("/servers/{spare}"),
        None,
    )
    .await;
    let ghost = api(
        &sb,
        reqwest::Method::POST,
        "/servers",
        Some(serde_json::json!({
            "name": "ghost", "server_type": "cx23", "image": "ubuntu-24.04", "location": "nbg1",
            "labels": {"sovstack.stack": "drifty", "sovstack.address": "server.ghost"}
        })),
    )
    .await;
    let ghost_id = ghost["server"]["id"].as_u64().unwrap();
    let compose_yaml = box_sshd.remote_root().join("box/compose.yaml");
    let original = std::fs::read_to_string(&compose_yaml).unwrap();
    std::fs::write(
        &compose_yaml,
        format!("{original}# edited by hand on the host\n"),
    )
    .unwrap();
    // A secret file edited too: reported, never shown.
    std::fs::write(
        box_sshd.remote_root().join("box/api.env"),
        format!("API_TOKEN={CANARY}-rotated\n"),
    )
    .unwrap();
    // Containers for real: the collector stopped, the API failing its health check.
    let engine = box_host.host.engine();
    engine.docker(&["stop", "box-otel-collector-1"]);
    engine.docker(&["exec", "box-api-1", "rm", "/www/health"]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while box_host.host.containers("box")["api"].health != "unhealthy" {
        assert!(
            std::time::Instant::now() < deadline,
            "the API never turned unhealthy"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }

    sb.reset_log();
    let out = run(&sb, &dir, &["drift"]).await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let report = stdout(&out);
    for needle in [
        "firewall.app: an inbound rule admits tcp port 22 from the whole internet",
        "server.spare: deleted outside sovstack",
        "server.ghost:",
        "file.box[\"compose.yaml\"]: edited on the host",
        "+# edited by hand on the host",
        "file.box[\"api.env\"]: secret file edited on the host",
        "compose.box: containers stopped, restarting or unhealthy: api (running (unhealthy)), otel-collector (exited (0))",
        "sovstack apply --refresh-only",
    ] {
        assert!(report.contains(needle), "missing `{needle}` in:\n{report}");
    }
    // Policy first.
    assert!(report.starts_with("Policy violations"), "{report}");
    // The cloud was read with one list call per type.
    assert_eq!(sb.request_log().count("GET /servers"), 1);
    assert_eq!(sb.request_log().count("GET /firewalls"), 1);

    // The JSON report conforms to the schema and names every finding.
    let out = run(&sb, &dir, &["drift", "--json", "--quiet"]).await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let v = schema_validator();
    assert!(
        v.is_valid(&json),
        "{:?}",
        v.iter_errors(&json).collect::<Vec<_>>()
    );
    assert_eq!(json["status"], "drift");
    let found: Vec<(String, String, String)> = json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["area"].as_str().unwrap().to_string(),
                f["kind"].as_str().unwrap().to_string(),
                f["address"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    for (area, kind, address) in [
        ("policy", "policy", "firewall.app"),
        ("cloud", "changed", "firewall.app"),
        ("cloud", "deleted", "server.spare"),
        ("cloud", "orphan", "server.ghost"),
        ("node", "changed", "file.box[\"compose.yaml\"]"),
        ("node", "changed", "file.box[\"api.env\"]"),
        ("node", "changed", "compose.box"),
    ] {
        assert!(
            found.contains(&(area.into(), kind.into(), address.into())),
            "{area} {kind} {address} not in {found:#?}"
        );
    }
    assert_eq!(found[0].0, "policy");

    // OTLP: one log record per finding (+ the summary) at the collector's /v1/logs.
    let receiver = Receiver::start();
    let endpoint = format!("http://127.0.0.1:{}", receiver.port);
    let out = run(
        &sb,
        &dir,
        &["drift", "--quiet", "--otlp-endpoint", &endpoint],
    )
    .await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let bodies = receiver.bodies.lock().unwrap().clone();
    assert_eq!(bodies.len(), 1, "{bodies:?}");
    assert!(bodies[0].0.starts_with("POST /v1/logs "), "{}", bodies[0].0);
    assert!(!bodies[0].1.contains(CANARY));
    let logs: serde_json::Value = serde_json::from_str(&bodies[0].1).unwrap();
    let rl = &logs["resourceLogs"][0];
    assert!(rl["resource"]["attributes"].as_array().unwrap().contains(
        &serde_json::json!({"key": "service.name", "value": {"stringValue": "sovstack"}})
    ));
    let records = rl["scopeLogs"][0]["logRecords"].as_array().unwrap();
    assert_eq!(records.len(), found.len() + 1);
    let attr = |r: &serde_json::Value, k: &str| {
        r["attributes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["key"] == k)
            .map(|a| a["value"]["stringValue"].as_str().unwrap().to_string())
    };
    for r in &records[..found.len()] {
        assert_eq!(attr(r, "sovstack.stack").as_deref(), Some("drifty"));
        assert!(attr(r, "sovstack.address").is_some());
        let kind = attr(r, "sovstack.drift.kind").unwrap();
        let want = if kind == "policy" { "ERROR" } else { "WARN" };
        assert_eq!(r["severityText"], want, "{r}");
        assert!(r["timeUnixNano"].as_str().unwrap().parse::<u128>().is_ok());
    }
    // The same through the standard variable.
    let mut c = command(&sb, &dir, &["drift", "--quiet"]);
    c.env("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint);
    let out = tokio::task::spawn_blocking(move || c.output().unwrap())
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert_eq!(receiver.bodies.lock().unwrap().len(), 2);

    // A failed export is an error (exit 1) that does not hide the findings.
    let dead = format!("http://127.0.0.1:{}", free_port());
    let out = run(&sb, &dir, &["drift", "--otlp-endpoint", &dead]).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        stdout(&out).contains("cannot send the drift report"),
        "{}",
        text(&out)
    );
    assert!(
        stdout(&out).contains("server.spare: deleted"),
        "{}",
        text(&out)
    );

    // Accept what changed into the state (the orphan is deleted by hand): plan then shows no
    // drift for any of it, only the work to bring the world back to the configuration.
    api(
        &sb,
        reqwest::Method::DELETE,
        &format!("/servers/{ghost_id}"),
        None,
    )
    .await;
    let out = run(&sb, &dir, &["apply", "--refresh-only", "--auto-approve"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(stdout(&out).contains("Accepted"), "{}", text(&out));
    let out = run(&sb, &dir, &["plan"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        !stdout(&out).contains("Changed outside sovstack"),
        "{}",
        text(&out)
    );
    assert!(stdout(&out).contains("firewall.app"), "{}", text(&out));
    // Accepted is not allowed: the rule open to the world is still a policy violation, and the
    // accepted changes are now configuration not applied.
    let out = run(&sb, &dir, &["drift", "--json"]).await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let findings = json["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 1, "{json:#}");
    assert_eq!(findings[0]["area"], "policy");
    let unapplied: Vec<&str> = json["unapplied"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["address"].as_str().unwrap())
        .collect();
    for a in ["firewall.app", "server.spare", "compose.box"] {
        assert!(unapplied.contains(&a), "{a} not in {unapplied:?}");
    }

    // A host that cannot be reached is an error for that host; the others are still checked.
    std::fs::write(&compose_yaml, "services: {}\n").unwrap();
    drop(spare_host);
    let out = run(&sb, &dir, &["drift", "--json"]).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v.is_valid(&json));
    assert_eq!(json["status"], "error");
    assert_eq!(json["errors"][0]["address"], "host.two", "{json:#}");
    assert!(
        json["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["address"] == "file.box[\"compose.yaml\"]"),
        "{json:#}"
    );
    let out = run(&sb, &dir, &["drift", "--quiet"]).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(stdout(&out).contains("! host.two:"), "{}", text(&out));
    assert!(
        stdout(&out).contains("file.box[\"compose.yaml\"]: edited on the host"),
        "{}",
        text(&out)
    );
    sb.shutdown().await;
}

/// Applies a cloud-only stack of `n` servers, then counts the API requests one drift run makes.
async fn drift_requests_for(n: usize) -> (usize, std::collections::BTreeMap<String, u64>) {
    let sb = sandbox().await;
    let names: Vec<String> = (0..n).map(|i| format!("s{i:02}")).collect();
    let stack = format!("stack \"fleet\" {{}}\n{}", cloud_part(&names));
    let (_tmp, dir) = workspace(&stack);
    let out = run(&sb, &dir, &["apply", "--auto-approve"]).await;
    assert!(out.status.success(), "{}", text(&out));
    sb.reset_log();
    let out = run(&sb, &dir, &["drift", "--quiet"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let counts = sb.request_log().counts();
    let total = sb.request_log().len();
    sb.shutdown().await;
    (total, counts)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drift_of_50_servers_costs_the_same_api_calls_as_of_one() {
    let (one, one_counts) = drift_requests_for(1).await;
    let (fifty, fifty_counts) = drift_requests_for(50).await;
    assert_eq!(
        one, fifty,
        "1 server: {one_counts:?}\n50 servers: {fifty_counts:?}"
    );
    assert_eq!(
        fifty_counts.get("GET /servers"),
        Some(&1),
        "{fifty_counts:?}"
    );
}
