//! `sovstack drift` end to end through the binary: cloud resources in the in-process sandbox,
//! test hosts with real sshd servers and real Docker Engines. Every kind of drift the issue
//! names is made behind sovstack's back (containers really stopped or made unhealthy), then
//! detected, named in the text and JSON reports, exported as OTLP logs, and accepted with
//! `apply --refresh-only`.

use crate::harness::events;
use crate::harness::otlp::{self, OtlpReceiver};
use crate::harness::sshd::Sshd;
use crate::harness::stacks::{self, SIDECAR_COLLECTOR};
use crate::harness::test_host::TestHost;
use sovstack::sandbox::{Sandbox, SandboxConfig, SandboxHandle};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

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

/// The drift report of a `drift --json` stream, every line checked against the events schema.
fn drift_report(out: &Output) -> serde_json::Value {
    events::document(&events::stream(&out.stdout), "drift_report", "report")
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

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// What the initial apply of the drift test exported.
fn the_apply_trace_has_a_span_per_operation(receiver: &OtlpReceiver, out: &Output) {
    assert!(
        !contains(&receiver.all_bytes(), CANARY.as_bytes()),
        "the secret was exported"
    );
    let spans = receiver.spans();
    let command: Vec<_> = spans
        .iter()
        .filter(|(_, s)| s.name == "sovstack apply")
        .collect();
    assert_eq!(command.len(), 1, "one command span: {spans:#?}");
    let (resource, root) = command[0];
    let rattr = |k: &str| otlp::attr(&resource.attributes, k);
    assert_eq!(rattr("service.name").as_deref(), Some("sovstack"));
    assert_eq!(
        rattr("service.version").as_deref(),
        Some(env!("CARGO_PKG_VERSION"))
    );
    assert_eq!(rattr("cloud.provider").as_deref(), Some("hetzner"));
    assert_eq!(rattr("cloud.region").as_deref(), Some("nbg1"));
    assert!(
        spans.iter().all(|(_, s)| s.trace_id == root.trace_id),
        "one trace"
    );
    let ops: Vec<_> = spans
        .iter()
        .filter(|(_, s)| otlp::attr(&s.attributes, "sovstack.address").is_some())
        .map(|(_, s)| s)
        .collect();
    // Every resource the apply created has exactly one operation span, under the command.
    let completed = String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter(|l| l.contains(": created after "))
        .count();
    assert!(completed >= 6, "{}", text(out));
    assert_eq!(ops.len(), completed, "{ops:#?}");
    for s in &ops {
        assert_eq!(s.parent_span_id, root.span_id, "{s:?}");
        let a = |k: &str| otlp::attr(&s.attributes, k);
        assert_eq!(a("sovstack.action").as_deref(), Some("create"));
        assert_eq!(a("sovstack.result").as_deref(), Some("ok"));
        assert_eq!(a("sovstack.stack").as_deref(), Some("drifty"));
        assert_eq!(a("sovstack.plan_hash").map(|h| h.len()), Some(64), "{s:?}");
        assert_eq!(s.name, format!("create {}", a("sovstack.address").unwrap()));
    }
    let server = ops
        .iter()
        .find(|s| otlp::attr(&s.attributes, "sovstack.address").as_deref() == Some("server.app"))
        .expect("server.app's span");
    assert!(otlp::attr(&server.attributes, "sovstack.resource_id").is_some());
    // API calls under the server's create, SSH commands under the node operations.
    let children = |parent: &[u8], prefix: &str| {
        spans
            .iter()
            .filter(|(_, s)| s.parent_span_id == parent && s.name.starts_with(prefix))
            .count()
    };
    assert!(
        children(&server.span_id, "POST /servers") == 1,
        "{spans:#?}"
    );
    assert!(
        ops.iter().any(|s| children(&s.span_id, "ssh ") > 0),
        "SSH commands are spans of their operation"
    );
    // The results as log records of the same trace.
    let logs = receiver.logs();
    assert_eq!(logs.len(), completed + 1, "{logs:#?}");
    assert!(logs.iter().all(|(_, l)| l.trace_id == root.trace_id));
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
    // The apply exports its trace: one span per resource operation, all in one trace, with the
    // API calls and SSH commands under them; the secret is in no exported byte.
    let receiver = OtlpReceiver::start();
    let endpoint = receiver.endpoint();
    let out = run(
        &sb,
        &dir,
        &["apply", "--auto-approve", "--otlp-endpoint", &endpoint],
    )
    .await;
    assert!(out.status.success(), "{}", text(&out));
    the_apply_trace_has_a_span_per_operation(&receiver, &out);
    receiver.clear();

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
    let json = drift_report(&out);
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
    let json = drift_report(&out);
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

    // OTLP: one log record per finding (+ the summary), through the SDK, in the drift trace.
    let out = run(
        &sb,
        &dir,
        &["drift", "--quiet", "--otlp-endpoint", &endpoint],
    )
    .await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let bytes = receiver.all_bytes();
    assert!(
        !contains(&bytes, CANARY.as_bytes()),
        "the secret was exported"
    );
    let records = receiver.logs();
    assert_eq!(records.len(), found.len() + 1, "{records:#?}");
    let (resource, _) = &records[0];
    assert_eq!(
        otlp::attr(&resource.attributes, "service.name").as_deref(),
        Some("sovstack")
    );
    let trace = &records[0].1.trace_id;
    for (_, r) in &records[..found.len()] {
        assert_eq!(
            otlp::attr(&r.attributes, "sovstack.stack").as_deref(),
            Some("drifty")
        );
        assert!(otlp::attr(&r.attributes, "sovstack.address").is_some());
        let kind = otlp::attr(&r.attributes, "sovstack.drift.kind").unwrap();
        let want = if kind == "policy" { "ERROR" } else { "WARN" };
        assert_eq!(r.severity_text, want, "{r:?}");
        assert!(r.time_unix_nano > 0);
        assert_eq!(&r.trace_id, trace, "every record in the command's trace");
    }
    let spans = receiver.spans();
    assert!(
        spans
            .iter()
            .any(|(_, s)| s.name == "sovstack drift" && &s.trace_id == trace),
        "the records belong to the drift command's trace"
    );
    let sent = receiver.received().len();
    // The same through the standard variable.
    let mut c = command(&sb, &dir, &["drift", "--quiet"]);
    c.env("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint);
    let out = tokio::task::spawn_blocking(move || c.output().unwrap())
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(receiver.received().len() > sent);

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
    let json = drift_report(&out);
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
    let json = drift_report(&out);
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
