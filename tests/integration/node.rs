//! The node layer end to end against a test host: a real sshd and a real Docker Engine with
//! Compose v2 in the host's network namespace. Bootstrap (nothing installed), uploads with
//! modes, compose driven in the right argument order, real containers recreated for exactly
//! the one changed service (container ids read with the real `docker` CLI), pinned host keys,
//! checks against the vLLM and collector stand-ins running as containers (the traced request's
//! span travels over OTLP to the collector's audit file), refresh finding drift made for real
//! (a stopped container, a stopped engine), delete, and a secret that never leaks.

use crate::harness::audit::{assert_emitted_by_vllm, audited_span, checked_trace_id};
use crate::harness::sshd::Sshd;
use crate::harness::stacks::{COLLECTOR_SERVICE, SIDECAR_COLLECTOR, host_block};
use crate::harness::test_host::TestHost;
use crate::harness::vllm_process::VllmProcess;
use sovstack::config::{LoadOptions, Stack, load_str};
use sovstack::progress::{Event, EventSink};
use sovstack::providers::node::bootstrap_sha256;
use sovstack::providers::ssh::{SshOptions, SshPool};
use sovstack::render::{RenderOptions, render_stack};
use sovstack::resources::{self, Desired, DesiredContext};
use sovstack::resources::{ApplyContext, ApplyError, ApplyOptions, Checkpoint, Observed};
use sovstack::resources::{NodeProvider, Providers};
use sovstack::state::{KeyedHasher, ResourceState};
use std::collections::BTreeMap;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::sync::{Arc, RwLock};
use tokio::sync::mpsc::UnboundedReceiver;

const CANARY: &str = "canary-node-5d1e77b2-secret";
const WRONG_KEY: &str = "SHA256:nRbcglnlGrdjK4Xvhk/xHoVduyq7TI/R/BFgihwZkdA";

struct Params<'a> {
    host_key: Option<String>,
    otel_name: &'a str,
    standin_port: u16,
    within: &'a str,
}

/// The stack's node: a test host (its sshd listens on port 22 of its own address) or a plain
/// sshd on loopback.
fn stack_text(sshd: &Sshd, p: &Params) -> String {
    let dir = sshd.remote_root().join("llm");
    format!(
        r#"
stack "nodetest" {{}}

variable "api_token" {{
  type      = string
  sensitive = true
}}

{host}
{collector}
compose "llm" {{
  on        = host.box
  directory = "{dir}"

  service "vllm" {{
    image   = "vllm/vllm-openai:v0.33.0"
    command = ["Qwen/Qwen2.5-1.5B-Instruct", "--served-model-name", "qwen2.5-1.5b", "--otlp-traces-endpoint", "http://otel-collector:4317"]
    environment = {{
      OTEL_SERVICE_NAME = "{otel}"
    }}
    secret_environment = {{
      API_TOKEN = var.api_token
    }}
    ports = ["127.0.0.1:8000:8000"]
    ipc   = "host"
    depends_on = {{
      otel-collector = "service_started"
    }}
  }}

{collector_service}}}

check "health" {{
  compose = compose.llm
  within  = "{within}"
  http {{
    url = "http://127.0.0.1:{sp}/health"
  }}
}}

check "audit" {{
  compose = compose.llm
  within  = "{within}"
  trace_roundtrip {{
    url        = "http://127.0.0.1:{sp}/v1/chat/completions"
    model      = "qwen2.5-1.5b"
    audit_file = "audit/spans.jsonl"
  }}
}}
"#,
        host = host_block("box", sshd, p.host_key.as_deref()),
        collector = SIDECAR_COLLECTOR,
        collector_service = COLLECTOR_SERVICE,
        dir = dir.display(),
        otel = p.otel_name,
        sp = p.standin_port,
        within = p.within,
    )
}

fn load(text: &str) -> Stack {
    let mut opts = LoadOptions::default();
    opts.vars.insert("api_token".into(), CANARY.into());
    let loaded = load_str("stack.hcl", text, std::path::Path::new("."), &opts);
    assert!(!loaded.diagnostics.has_errors(), "{:?}", loaded.diagnostics);
    loaded.stack.expect("stack")
}

/// Desired resources as the planner builds them: render, then each kind's `desired`.
fn desired(stack: &Stack) -> Vec<Desired> {
    let artifacts = render_stack(
        stack,
        &RenderOptions::apply(BTreeMap::new(), b"test-digest-key".to_vec()),
    )
    .expect("render");
    let (files, hashes) = resources::node_inputs(stack, &artifacts);
    let sha = bootstrap_sha256();
    resources::desired(&DesiredContext {
        stack,
        files: &files,
        bootstrap_sha256: &sha,
        service_hashes: &hashes,
    })
    .into_iter()
    .filter(|d| ["host", "bootstrap", "file", "compose", "check"].contains(&d.kind))
    .collect()
}

fn context(stack: &Stack, trust: bool) -> (ApplyContext, UnboundedReceiver<Event>) {
    let (events, rx) = EventSink::new();
    let cx = ApplyContext {
        stack: Arc::new(stack.clone()),
        resources: Arc::new(RwLock::new(BTreeMap::new())),
        hasher: Arc::new(KeyedHasher::from_key([7u8; 32])),
        events,
        checkpoint: Checkpoint::none(),
        options: ApplyOptions {
            trust_new_host_keys: trust,
            parallelism: 4,
        },
    };
    (cx, rx)
}

fn rank(kind: &str) -> usize {
    ["host", "bootstrap", "file", "compose", "check"]
        .iter()
        .position(|k| *k == kind)
        .unwrap()
}

/// Applies in dependency order (the kinds' order), recording like the executor does.
async fn apply_all(
    a: &Providers,
    cx: &ApplyContext,
    want: &[Desired],
    errors: &mut Vec<String>,
) -> Result<(), ApplyError> {
    let mut sorted: Vec<&Desired> = want.iter().collect();
    sorted.sort_by_key(|d| (rank(d.kind), d.address.clone()));
    for d in sorted {
        let prior = cx.resource(&d.address);
        let result = match &prior {
            None => a.create(cx, d).await,
            Some(p) => {
                let changed: Vec<String> = d
                    .attributes
                    .iter()
                    .filter(|(k, v)| p.attributes.get(*k) != Some(v))
                    .map(|(k, _)| k.clone())
                    .collect();
                let secret_changed =
                    d.sensitive
                        .get("content")
                        .cloned()
                        .flatten()
                        .is_some_and(|s| {
                            p.sensitive_attributes
                                .get("content")
                                .is_none_or(|h| !cx.hasher.matches(s.as_bytes(), h))
                        });
                if changed.is_empty() && !secret_changed {
                    continue;
                }
                a.update(cx, d, p, &changed).await
            }
        };
        match result {
            Ok(state) => {
                cx.resources
                    .write()
                    .unwrap()
                    .insert(d.address.clone(), state);
            }
            Err(e) => {
                errors.push(format!("{e:?} {e}"));
                return Err(e);
            }
        }
    }
    Ok(())
}

fn drain(rx: &mut UnboundedReceiver<Event>) -> Vec<String> {
    let mut out = Vec::new();
    while let Ok(e) = rx.try_recv() {
        out.push(format!("{e:?}"));
    }
    out
}

fn applier() -> Providers {
    Providers::new(
        None,
        NodeProvider::new(Arc::new(SshPool::new(SshOptions::default()))),
    )
}

/// The `docker compose` commands sshd ran, in order.
fn compose_calls(sshd: &Sshd) -> Vec<String> {
    sshd.commands_run()
        .into_iter()
        .filter(|c| c.contains("docker compose"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_recreate_refresh_delete() {
    let Some(mut box_host) = TestHost::start() else {
        return;
    };
    let sshd = &box_host.sshd;
    let dir = sshd.remote_root().join("llm");
    let params = Params {
        host_key: Some(sshd.host_key_fingerprint().to_string()),
        otel_name: "vllm",
        standin_port: 8000,
        within: "60s",
    };
    let stack = load(&stack_text(sshd, &params));
    let want = desired(&stack);
    let (cx, mut rx) = context(&stack, false);
    let a = applier();
    let mut errors = Vec::new();
    apply_all(&a, &cx, &want, &mut errors).await.unwrap();
    let first_events = drain(&mut rx);

    // Bootstrap found the engine and the Compose plugin in place; no package manager ran.
    let commands = sshd.commands_run();
    assert!(
        commands.iter().any(|c| c.starts_with("sh -s --")),
        "{commands:#?}"
    );
    assert!(
        !commands
            .iter()
            .any(|c| c.contains("apt-get install") && !c.contains("sh -s"))
    );
    let bootstrap = cx.resource("bootstrap.box").unwrap();
    assert!(
        bootstrap.attributes["docker_version"]
            .as_str()
            .unwrap()
            .starts_with("20.10."),
        "{bootstrap:?}"
    );
    assert!(
        bootstrap.attributes["compose_version"]
            .as_str()
            .unwrap()
            .starts_with("2.40."),
        "{bootstrap:?}"
    );

    // Files in place with their modes; the env file holding the secret is 0600.
    let env = dir.join("vllm.env");
    assert_eq!(
        std::fs::metadata(&env).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert!(std::fs::read_to_string(&env).unwrap().contains(CANARY));
    let compose_yaml = dir.join("compose.yaml");
    assert_eq!(
        std::fs::metadata(&compose_yaml)
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o644
    );
    let recorded = cx.resource("file.llm[\"compose.yaml\"]").unwrap();
    assert_eq!(
        recorded.attributes["content"].as_str().unwrap(),
        std::fs::read_to_string(&compose_yaml).unwrap()
    );
    // The collector's audit directory exists and belongs to its numeric user.
    let audit_meta = std::fs::metadata(dir.join("audit")).unwrap();
    assert!(audit_meta.is_dir());
    assert_eq!((audit_meta.uid(), audit_meta.gid()), (10001, 10001));

    // Compose up with the project flags before the subcommand; nothing recreated on create.
    let calls = compose_calls(sshd);
    let up = format!(
        "cd {d} && docker compose -p llm -f {d}/compose.yaml --progress json up -d --wait --wait-timeout 1200 --remove-orphans",
        d = dir.display()
    );
    assert_eq!(calls.iter().filter(|c| **c == up).count(), 1, "{calls:#?}");
    assert!(!calls.iter().any(|c| c.contains("--force-recreate")));
    // Both containers really run, as the engine itself says.
    let started = box_host.host.containers("llm");
    assert_eq!(started.len(), 2, "{started:#?}");
    for c in started.values() {
        assert_eq!(c.status, "running", "{started:#?}");
    }
    let compose_state = cx.resource("compose.llm").unwrap();
    let bundle = compose_state.attributes["bundle"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        dir.join("releases")
            .join(&bundle)
            .join("compose.yaml")
            .is_file()
    );
    // Both checks passed. The round trip's trace id is in the audit file, in the span the vLLM
    // stand-in emitted and the collector stand-in wrote: one `llm_request` of vLLM's scope.
    assert!(cx.resource("check.health").is_some() && cx.resource("check.audit").is_some());
    let trace_id = checked_trace_id(first_events.iter().map(String::as_str));
    let audit_text = std::fs::read_to_string(dir.join("audit/spans.jsonl")).unwrap();
    assert_eq!(audit_text.lines().count(), 1, "{audit_text}");
    let (resource, span) = audited_span(&audit_text, &trace_id);
    assert_emitted_by_vllm(&resource, &span, "vllm");

    // One connection for the whole run.
    assert_eq!(sshd.accepted_logins(), 1, "{}", sshd.log());
    assert_eq!(a.node().pool().connections_opened(), 1);

    // Change one service's environment: only its hash moves, only it is recreated.
    let stack2 = load(&stack_text(
        sshd,
        &Params {
            otel_name: "vllm-renamed",
            ..params
        },
    ));
    let want2 = desired(&stack2);
    let services = |ds: &[Desired]| {
        ds.iter()
            .find(|d| d.address == "compose.llm")
            .unwrap()
            .attributes["services"]
            .clone()
    };
    let (s1, s2) = (services(&want), services(&want2));
    assert_ne!(s1["vllm"], s2["vllm"]);
    assert_eq!(s1["otel-collector"], s2["otel-collector"]);
    let cx2 = ApplyContext {
        stack: Arc::new(stack2.clone()),
        ..cx.clone()
    };
    let before = compose_calls(sshd).len();
    apply_all(&a, &cx2, &want2, &mut errors).await.unwrap();
    let after: Vec<String> = compose_calls(sshd)[before..].to_vec();
    let recreates: Vec<&String> = after
        .iter()
        .filter(|c| c.contains("--force-recreate"))
        .collect();
    assert_eq!(recreates.len(), 1, "{after:#?}");
    assert!(
        recreates[0].ends_with(" --no-deps --force-recreate vllm"),
        "{after:#?}"
    );
    // The engine agrees: a new container for vllm, the same one for the collector.
    let recreated = box_host.host.containers("llm");
    assert_ne!(recreated["vllm"].id, started["vllm"].id);
    assert_eq!(recreated["otel-collector"].id, started["otel-collector"].id);
    let bundle2 = cx2.resource("compose.llm").unwrap().attributes["bundle"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(bundle, bundle2);
    // The previous bundle is still there for a rollback.
    assert!(
        dir.join("releases")
            .join(&bundle)
            .join("compose.yaml")
            .is_file()
    );
    assert!(
        std::fs::read_to_string(dir.join("releases").join(&bundle).join("compose.yaml"))
            .unwrap()
            .contains("OTEL_SERVICE_NAME: vllm\n")
    );

    // Refresh with nothing changed reports nothing.
    let recorded: BTreeMap<String, ResourceState> = cx2.resources.read().unwrap().clone();
    let quiet = a.refresh(&cx2, &recorded).await.unwrap();
    assert!(quiet.observed.is_empty(), "{:?}", quiet.observed);

    // Drift: an edited file, a container stopped for real.
    std::fs::write(&compose_yaml, "services: {}\n").unwrap();
    box_host
        .host
        .engine()
        .docker(&["stop", "llm-otel-collector-1"]);
    let drift = a.refresh(&cx2, &recorded).await.unwrap();
    match &drift.observed["file.llm[\"compose.yaml\"]"] {
        Observed::Present(f) => {
            assert_eq!(f.attributes["content"], "services: {}\n");
            assert_ne!(
                f.attributes["sha256"],
                recorded["file.llm[\"compose.yaml\"]"].attributes["sha256"]
            );
        }
        other => panic!("{other:?}"),
    }
    match &drift.observed["compose.llm"] {
        Observed::Present(c) => {
            // The collector stand-in stops cleanly on SIGTERM, as the real one does.
            assert_eq!(
                c.attributes["services"]["otel-collector"],
                "(not running: exited (0))"
            );
            assert_eq!(
                c.attributes["services"]["vllm"],
                recorded["compose.llm"].attributes["services"]["vllm"]
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(!drift.observed.contains_key("bootstrap.box"));
    // A secret file changed behind our back: seen through keyed hashes, never read into state as text.
    std::fs::write(&env, "API_TOKEN=changed\n").unwrap();
    let drift = a.refresh(&cx2, &recorded).await.unwrap();
    match &drift.observed["file.llm[\"vllm.env\"]"] {
        Observed::Present(f) => {
            assert!(!f.attributes.contains_key("content"));
            assert_ne!(
                f.sensitive_attributes["content"],
                recorded["file.llm[\"vllm.env\"]"].sensitive_attributes["content"]
            );
        }
        other => panic!("{other:?}"),
    }

    // The engine stopped: the bootstrap is missing, the project unavailable.
    box_host.host.stop_engine();
    let gone = a.refresh(&cx2, &recorded).await.unwrap();
    assert_eq!(gone.observed.get("bootstrap.box"), Some(&Observed::Missing));
    box_host.host.start_engine();
    // A file removed: missing.
    std::fs::remove_file(&compose_yaml).unwrap();
    let missing = a.refresh(&cx2, &recorded).await.unwrap();
    assert_eq!(
        missing.observed.get("file.llm[\"compose.yaml\"]"),
        Some(&Observed::Missing)
    );

    // Delete runs `down`, keeping volumes unless asked; the containers are gone.
    let sshd = &box_host.sshd;
    a.delete(&cx2, "compose.llm", &recorded["compose.llm"])
        .await
        .unwrap();
    assert_eq!(
        compose_calls(sshd).last().unwrap(),
        "docker compose -p llm --progress json down --remove-orphans"
    );
    assert!(box_host.host.containers("llm").is_empty());

    // Still one connection; the secret is nowhere but on the node.
    assert_eq!(sshd.accepted_logins(), 1);
    let mut seen = first_events;
    seen.extend(drain(&mut rx));
    seen.extend(errors);
    seen.push(serde_json::to_string(&*cx2.resources.read().unwrap()).unwrap());
    seen.push(format!("{drift:?}"));
    for s in &seen {
        assert!(!s.contains(CANARY), "secret leaked: {s}");
    }
    assert!(
        seen.iter().any(|s| s.contains("uploaded")),
        "no progress events"
    );
}

#[tokio::test]
async fn host_key_mismatch_runs_nothing() {
    let Some(sshd) = Sshd::start() else { return };
    let stack = load(&stack_text(
        &sshd,
        &Params {
            host_key: Some(WRONG_KEY.into()),
            otel_name: "vllm",
            standin_port: 9,
            within: "1s",
        },
    ));
    let (cx, _rx) = context(&stack, true);
    let mut errors = Vec::new();
    let err = apply_all(&applier(), &cx, &desired(&stack), &mut errors)
        .await
        .unwrap_err();
    assert!(
        matches!(
            &err,
            ApplyError::Ssh(sovstack::providers::ssh::SshError::HostKeyMismatch { .. })
        ),
        "{err:?}"
    );
    assert!(sshd.commands_run().is_empty(), "{:?}", sshd.commands_run());
    assert_eq!(sshd.accepted_logins(), 0);
}

#[tokio::test]
async fn unpinned_host_is_refused_unless_trusted_then_learned() {
    let Some(sshd) = Sshd::start() else { return };
    let params = Params {
        host_key: None,
        otel_name: "vllm",
        standin_port: 9,
        within: "1s",
    };
    let stack = load(&stack_text(&sshd, &params));
    let host = desired(&stack)
        .into_iter()
        .find(|d| d.address == "host.box")
        .unwrap();
    let (cx, _rx) = context(&stack, false);
    let err = applier().create(&cx, &host).await.unwrap_err();
    assert!(err.to_string().contains("neither pinned"), "{err}");
    assert_eq!(sshd.accepted_logins(), 0);

    let (cx, _rx) = context(&stack, true);
    let state = applier().create(&cx, &host).await.unwrap();
    assert_eq!(
        state.attributes["host_key_fingerprint"],
        sshd.host_key_fingerprint().to_string()
    );
}

#[tokio::test]
async fn checks_fail_clearly_when_the_endpoint_is_down() {
    let Some(sshd) = Sshd::start() else { return };
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let stack = load(&stack_text(
        &sshd,
        &Params {
            host_key: Some(sshd.host_key_fingerprint().to_string()),
            otel_name: "vllm",
            standin_port: port,
            within: "2s",
        },
    ));
    let want = desired(&stack);
    let (cx, _rx) = context(&stack, false);
    let a = applier();
    for address in ["check.health", "check.audit"] {
        let d = want.iter().find(|d| d.address == address).unwrap();
        let started = std::time::Instant::now();
        let err = a.create(&cx, d).await.unwrap_err();
        assert!(started.elapsed() < std::time::Duration::from_secs(20));
        match &err {
            ApplyError::CheckFailed { message, .. } => {
                assert!(message.contains("statuses seen: 000"), "{message}");
            }
            other => panic!("{other:?}"),
        }
    }

    // vLLM up, but nothing sends its spans to a collector: the audit file never gets the
    // trace, and the round trip fails saying so.
    let dir = sshd.remote_root().join("llm");
    std::fs::create_dir_all(dir.join("audit")).unwrap();
    let standin = VllmProcess::start("qwen2.5-1.5b");
    let stack = load(&stack_text(
        &sshd,
        &Params {
            host_key: Some(sshd.host_key_fingerprint().to_string()),
            otel_name: "vllm",
            standin_port: standin.port(),
            within: "2s",
        },
    ));
    let (cx, _rx) = context(&stack, false);
    let d = desired(&stack)
        .into_iter()
        .find(|d| d.address == "check.audit")
        .unwrap();
    let err = a.create(&cx, &d).await.unwrap_err();
    assert!(err.to_string().contains("does not exist"), "{err}");
}
