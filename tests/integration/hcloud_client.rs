//! The Hetzner client against the API simulator (`sovstack::sandbox`) on loopback: every resource's
//! lifecycle, action waiting, pagination, retries under injected faults, rate-limit pacing, and a
//! contract check of every request the client sent against the official spec.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;
use sovstack::providers::hcloud::models::*;
use sovstack::providers::hcloud::*;
use sovstack::sandbox::{FaultSpec, RateLimitConfig, Sandbox, SandboxConfig, SandboxHandle};

const TOKEN: &str = "sandbox-token-0123456789";

fn fast_config(endpoint: &str) -> ClientConfig {
    let mut config = ClientConfig::new(SecretToken::new(TOKEN).unwrap());
    config.endpoint = endpoint.to_owned();
    config.retry = RetryPolicy {
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(100),
        ..RetryPolicy::default()
    };
    config.action_poll = PollPolicy {
        initial_interval: Duration::from_millis(5),
        multiplier: 2.0,
        max_interval: Duration::from_millis(50),
        timeout: Duration::from_secs(30),
    };
    config.timeout = Duration::from_secs(10);
    config
}

async fn sandbox(config: SandboxConfig) -> SandboxHandle {
    Sandbox::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .expect("sandbox starts on loopback")
}

fn sandbox_with_faults(spec: &str) -> SandboxConfig {
    SandboxConfig {
        faults: FaultSpec::parse(spec).unwrap(),
        ..SandboxConfig::for_tests()
    }
}

/// A client with the real clock (the simulator's actions run in real time).
fn client(sb: &SandboxHandle) -> HcloudClient {
    HcloudClient::new(fast_config(&sb.base_url())).unwrap()
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A client whose waits are recorded instead of slept; the clock starts at real UNIX time plus
/// `offset_secs` (negative: the client believes it is earlier than the simulator does).
fn manual_client(
    sb: &SandboxHandle,
    offset_secs: i64,
    config: ClientConfig,
) -> (HcloudClient, ManualClock) {
    let start = (unix_now() as i64 + offset_secs) as u64;
    let clock = ManualClock::at_unix(start);
    let mut config = config;
    config.endpoint = sb.base_url();
    let client =
        HcloudClient::with_runtime(config, Arc::new(clock.clone()), Arc::new(|| 0.5)).unwrap();
    (client, clock)
}

fn stack_labels(address: &str) -> Labels {
    Labels::from([
        ("sovstack.stack".to_owned(), "it".to_owned()),
        ("sovstack.address".to_owned(), address.to_owned()),
    ])
}

fn stack_selector() -> LabelSelector {
    LabelSelector::new().eq("sovstack.stack", "it")
}

const PUBLIC_KEY: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGXFaKvVZ5Gd2mYtpCTkh0ZbR0uYNjCcN5Ad1w1BNkKq it@sovstack";

fn public_key(n: usize) -> String {
    // Distinct keys for distinct fingerprints: vary the key material, keep it valid base64 of the
    // right length.
    let base = "AAAAC3NzaC1lZDI1NTE5AAAAI";
    let body = format!("{:0>43}", n);
    format!("ssh-ed25519 {base}{body} k{n}@sovstack")
}

async fn create_key(client: &HcloudClient, name: &str) -> SshKey {
    client
        .create_ssh_key(&CreateSshKey {
            name: name.to_owned(),
            public_key: PUBLIC_KEY.to_owned(),
            labels: stack_labels(&format!("ssh_key.{name}")),
        })
        .await
        .unwrap()
}

async fn create_server(
    client: &HcloudClient,
    name: &str,
    extra: impl FnOnce(&mut CreateServer),
) -> Server {
    let mut body = CreateServer::new(name, "cpx22", "ubuntu-24.04");
    body.location = Some("fsn1".into());
    body.labels = stack_labels(&format!("server.{name}"));
    extra(&mut body);
    let created = client.create_server(&body).await.unwrap();
    client.wait_for(created.actions()).await.unwrap();
    client.get_server(created.server.id).await.unwrap()
}

// ---------------------------------------------------------------- contract

fn spec() -> &'static Value {
    static SPEC: OnceLock<Value> = OnceLock::new();
    SPEC.get_or_init(|| {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/hcloud/cloud.spec.json"
        );
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    })
}

fn undeclared_keys(schema: &Value, instance: &Value, at: &str, out: &mut Vec<String>) {
    match instance {
        Value::Object(map) => {
            let props = schema.get("properties").and_then(Value::as_object);
            let additional = schema.get("additionalProperties");
            for (key, value) in map {
                let here = format!("{at}.{key}");
                match props.and_then(|p| p.get(key)) {
                    Some(sub) => undeclared_keys(sub, value, &here, out),
                    None => match additional {
                        Some(sub) if sub.is_object() => undeclared_keys(sub, value, &here, out),
                        _ => out.push(here),
                    },
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items") {
                for (i, item) in items.iter().enumerate() {
                    undeclared_keys(item_schema, item, &format!("{at}[{i}]"), out);
                }
            }
        }
        _ => {}
    }
}

/// Checks every request the sandbox logged: the operation exists in the spec and is not a deprecated
/// per-resource action endpoint, every query parameter is declared, and the body validates against
/// the operation's request schema with no undeclared property (or is absent when none is defined).
fn assert_contract(sb: &SandboxHandle) -> usize {
    let entries = sb.request_log().entries();
    // The shared validator: bodies and query types of every request the client sent, and the
    // simulator's answers, against the spec.
    crate::harness::openapi::assert_log_conforms(
        &entries,
        crate::harness::openapi::RequestCheck::All,
    );
    // Stricter for the client: no undeclared property anywhere in a body, no deprecated endpoint.
    let mut problems = Vec::new();
    for entry in &entries {
        let (method, path) = entry.endpoint.split_once(' ').unwrap();
        let op = &spec()["paths"][path][method.to_lowercase()];
        if !op.is_object() {
            problems.push(format!(
                "#{} {}: not in the spec",
                entry.seq, entry.endpoint
            ));
            continue;
        }
        if path.contains("{action_id}") {
            problems.push(format!(
                "#{} {}: deprecated action endpoint",
                entry.seq, entry.endpoint
            ));
        }
        let declared: Vec<&str> = op["parameters"]
            .as_array()
            .map(|ps| {
                ps.iter()
                    .filter(|p| p["in"] == "query")
                    .filter_map(|p| p["name"].as_str())
                    .collect()
            })
            .unwrap_or_default();
        if let Some(query) = &entry.query {
            for pair in query.split('&').filter(|p| !p.is_empty()) {
                let key = pair.split('=').next().unwrap_or_default();
                if !declared.contains(&key) {
                    problems.push(format!(
                        "#{} {}: undeclared query parameter `{key}`",
                        entry.seq, entry.endpoint
                    ));
                }
            }
        }
        let schema = &op["requestBody"]["content"]["application/json"]["schema"];
        match (&entry.request_body, schema.is_object()) {
            (Some(body), true) => {
                let validator = jsonschema::validator_for(schema).unwrap();
                for e in validator.iter_errors(body) {
                    problems.push(format!(
                        "#{} {}: {e} at {}",
                        entry.seq,
                        entry.endpoint,
                        e.instance_path()
                    ));
                }
                let mut extra = Vec::new();
                undeclared_keys(schema, body, "$", &mut extra);
                for k in extra {
                    problems.push(format!(
                        "#{} {}: undeclared field {k}",
                        entry.seq, entry.endpoint
                    ));
                }
            }
            (Some(body), false) => problems.push(format!(
                "#{} {}: body {body} where the spec defines none",
                entry.seq, entry.endpoint
            )),
            (None, true) if op["requestBody"]["required"] == true => problems.push(format!(
                "#{} {}: missing required body",
                entry.seq, entry.endpoint
            )),
            _ => {}
        }
        if entry.request_body_raw.is_some() {
            problems.push(format!("#{} {}: non-JSON body", entry.seq, entry.endpoint));
        }
    }
    assert!(
        problems.is_empty(),
        "contract violations:\n{}",
        problems.join("\n")
    );
    entries.len()
}

// ---------------------------------------------------------------- lifecycles

#[tokio::test]
async fn ssh_key_lifecycle() {
    let sb = sandbox(SandboxConfig::for_tests()).await;
    let client = client(&sb);

    let key = create_key(&client, "deploy").await;
    assert_eq!(key.labels, stack_labels("ssh_key.deploy"));
    assert!(!key.fingerprint.is_empty());
    assert_eq!(client.get_ssh_key(key.id).await.unwrap(), key);

    let by_fingerprint = client
        .list_ssh_keys(&ListParams::new().with_filter("fingerprint", key.fingerprint.clone()))
        .await
        .unwrap();
    assert_eq!(by_fingerprint.len(), 1);
    let by_label = client
        .list_ssh_keys(&ListParams::selector(stack_selector()))
        .await
        .unwrap();
    assert_eq!(by_label.len(), 1);
    assert!(
        client
            .list_ssh_keys(&ListParams::selector(
                LabelSelector::new().eq("sovstack.stack", "other")
            ))
            .await
            .unwrap()
            .is_empty()
    );

    let mut labels = Labels::new();
    labels.insert("only".into(), "this".into());
    let updated = client
        .update_ssh_key(
            key.id,
            &UpdateResource {
                name: Some("deploy-2".into()),
                labels: Some(labels.clone()),
            },
        )
        .await
        .unwrap();
    assert_eq!(updated.name, "deploy-2");
    assert_eq!(updated.labels, labels, "labels are replaced, not merged");

    // The same public key again is a uniqueness error, surfaced at once and never retried.
    let before = sb.request_log().count("POST /ssh_keys");
    let err = client
        .create_ssh_key(&CreateSshKey {
            name: "dup".into(),
            public_key: PUBLIC_KEY.into(),
            labels: Labels::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.api_code(), Some(&ErrorCode::UniquenessError), "{err}");
    assert_eq!(sb.request_log().count("POST /ssh_keys"), before + 1);
    assert!(
        err.correlation_id().is_some(),
        "the simulator sends X-Correlation-Id"
    );
    assert!(err.to_string().contains("correlation ID"));

    client.delete_ssh_key(key.id).await.unwrap();
    let gone = client.get_ssh_key(key.id).await.unwrap_err();
    assert!(gone.is_not_found(), "{gone}");
    assert_eq!(
        sb.request_log().count("GET /ssh_keys/{id}"),
        2,
        "not_found is not retried"
    );
    assert_contract(&sb);
}

#[tokio::test]
async fn server_lifecycle_with_actions() {
    let sb = sandbox(SandboxConfig::for_tests()).await;
    let client = client(&sb);
    let key = create_key(&client, "ops").await;
    let fw = client
        .create_firewall(&CreateFirewall {
            name: "deny-all".into(),
            labels: stack_labels("firewall.deny"),
            rules: Vec::new(),
            apply_to: Vec::new(),
        })
        .await
        .unwrap();

    let server = create_server(&client, "gpu-1", |b| {
        b.ssh_keys = vec![key.id.to_string()];
        b.firewalls = vec![FirewallRef {
            firewall: fw.firewall.id,
        }];
        b.user_data = Some("#cloud-config\npackages: [curl]\n".into());
        b.public_net = Some(CreatePublicNet {
            enable_ipv4: true,
            enable_ipv6: false,
            ipv4: None,
            ipv6: None,
        });
    })
    .await;
    assert_eq!(server.status, ServerStatus::Running);
    assert_eq!(server.location.name, "fsn1");
    assert_eq!(server.location.country, "DE");
    assert_eq!(server.location.network_zone, "eu-central");
    assert_eq!(server.server_type.name, "cpx22");
    assert!(
        server
            .ipv4_address()
            .is_some_and(|ip| ip.starts_with("127."))
    );
    assert_eq!(server.firewall_ids(), vec![fw.firewall.id]);

    let renamed = client
        .update_server(server.id, &UpdateResource::name("gpu-one"))
        .await
        .unwrap();
    assert_eq!(renamed.name, "gpu-one");
    assert_eq!(
        renamed.labels, server.labels,
        "name-only update keeps labels"
    );

    let off = client.poweroff_server(server.id).await.unwrap();
    let done = client.wait_for_actions(&[off.id]).await.unwrap();
    assert_eq!(done[0].status, ActionStatus::Success);
    assert_eq!(
        client.get_server(server.id).await.unwrap().status,
        ServerStatus::Off
    );

    let change = client
        .change_server_type(
            server.id,
            &ChangeServerType {
                server_type: "cpx32".into(),
                upgrade_disk: false,
            },
        )
        .await
        .unwrap();
    client.wait_for_actions(&[change.id]).await.unwrap();
    assert_eq!(
        client.get_server(server.id).await.unwrap().server_type.name,
        "cpx32"
    );

    let on = client.poweron_server(server.id).await.unwrap();
    client.wait_for_actions(&[on.id]).await.unwrap();
    let shut = client.shutdown_server(server.id).await.unwrap();
    client.wait_for_actions(&[shut.id]).await.unwrap();
    assert_eq!(
        client.get_server(server.id).await.unwrap().status,
        ServerStatus::Off
    );

    let rebuilt = client
        .rebuild_server(
            server.id,
            &RebuildServer {
                image: "debian-12".into(),
                user_data: None,
            },
        )
        .await
        .unwrap();
    assert!(
        rebuilt.root_password.is_none(),
        "keys were given, so no root password"
    );
    client.wait_for_actions(&[rebuilt.action.id]).await.unwrap();
    let image = client.get_server(server.id).await.unwrap().image.unwrap();
    assert_eq!(image.name.as_deref(), Some("debian-12"));

    // change_type on a running server is refused and not retried.
    let on = client.poweron_server(server.id).await.unwrap();
    client.wait_for_actions(&[on.id]).await.unwrap();
    let err = client
        .change_server_type(
            server.id,
            &ChangeServerType {
                server_type: "cpx42".into(),
                upgrade_disk: true,
            },
        )
        .await
        .unwrap_err();
    assert_eq!(err.api_code(), Some(&ErrorCode::ServerNotStopped), "{err}");

    let listed = client
        .list_servers(&ListParams::selector(stack_selector()))
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);

    let deletion = client.delete_server(server.id).await.unwrap();
    client.wait_for_actions(&[deletion.id]).await.unwrap();
    assert!(
        client
            .get_server(server.id)
            .await
            .unwrap_err()
            .is_not_found()
    );

    // Actions were only polled through the batch endpoint.
    assert!(sb.request_log().count("GET /actions") > 0);
    assert_eq!(sb.request_log().count("GET /actions/{id}"), 0);
    assert_contract(&sb);
}

#[tokio::test]
async fn firewall_lifecycle() {
    let sb = sandbox(SandboxConfig::for_tests()).await;
    let client = client(&sb);
    let server = create_server(&client, "web", |_| {}).await;

    let rules = vec![
        FirewallRule::inbound(Protocol::Tcp, Some("22"), ["203.0.113.0/24"])
            .with_description("ssh"),
        FirewallRule::inbound(Protocol::Icmp, None, ["0.0.0.0/0", "::/0"]),
    ];
    let created = client
        .create_firewall(&CreateFirewall {
            name: "edge".into(),
            labels: stack_labels("firewall.edge"),
            rules: rules.clone(),
            apply_to: vec![FirewallResource::server(server.id)],
        })
        .await
        .unwrap();
    client.wait_for(&created.actions).await.unwrap();
    let fw = client.get_firewall(created.firewall.id).await.unwrap();
    assert_eq!(fw.rules.len(), 2);
    assert_eq!(fw.rules[0].port.as_deref(), Some("22"));
    assert_eq!(fw.rules[0].description.as_deref(), Some("ssh"));
    assert!(fw.applied_to.contains(&FirewallResource::server(server.id)));

    // set_rules while applied: the rules action plus one apply action per server.
    let new_rules = vec![FirewallRule::inbound(
        Protocol::Tcp,
        Some("443"),
        ["0.0.0.0/0"],
    )];
    let actions = client.set_firewall_rules(fw.id, &new_rules).await.unwrap();
    let commands: Vec<&str> = actions.iter().map(|a| a.command.as_str()).collect();
    assert!(commands.contains(&"set_firewall_rules"), "{commands:?}");
    assert!(commands.contains(&"apply_firewall"), "{commands:?}");
    client.wait_for(&actions).await.unwrap();
    assert_eq!(client.get_firewall(fw.id).await.unwrap().rules, new_rules);

    let selector = stack_selector().render().unwrap();
    let applied = client
        .apply_firewall_to_resources(fw.id, &[FirewallResource::label_selector(selector.clone())])
        .await
        .unwrap();
    client.wait_for(&applied).await.unwrap();

    // Still applied: deleting is refused with resource_in_use.
    let err = client.delete_firewall(fw.id).await.unwrap_err();
    assert_eq!(err.api_code(), Some(&ErrorCode::ResourceInUse), "{err}");

    let removed = client
        .remove_firewall_from_resources(
            fw.id,
            &[
                FirewallResource::server(server.id),
                FirewallResource::label_selector(selector),
            ],
        )
        .await
        .unwrap();
    client.wait_for(&removed).await.unwrap();
    let updated = client
        .update_firewall(fw.id, &UpdateResource::labels(Labels::new()))
        .await
        .unwrap();
    assert!(updated.labels.is_empty());
    assert!(updated.applied_to.is_empty());
    client.delete_firewall(fw.id).await.unwrap();
    assert!(
        client
            .list_firewalls(&ListParams::new())
            .await
            .unwrap()
            .is_empty()
    );
    assert_contract(&sb);
}

#[tokio::test]
async fn volume_lifecycle() {
    let sb = sandbox(SandboxConfig::for_tests()).await;
    let client = client(&sb);
    let server = create_server(&client, "db", |_| {}).await;

    let created = client
        .create_volume(&CreateVolume {
            name: "models".into(),
            size: 20,
            labels: stack_labels("volume.models"),
            location: Some("fsn1".into()),
            server: None,
            automount: None,
            format: Some(VolumeFormat::Ext4),
        })
        .await
        .unwrap();
    client.wait_for(created.actions()).await.unwrap();
    let id = created.volume.id;
    let volume = client.get_volume(id).await.unwrap();
    assert_eq!(volume.status, VolumeStatus::Available);
    assert_eq!(volume.size, 20);
    assert_eq!(volume.location.country, "DE");

    let attach = client
        .attach_volume(
            id,
            &AttachVolume {
                server: server.id,
                automount: Some(false),
            },
        )
        .await
        .unwrap();
    client.wait_for_actions(&[attach.id]).await.unwrap();
    assert_eq!(client.get_volume(id).await.unwrap().server, Some(server.id));
    assert!(
        client
            .get_server(server.id)
            .await
            .unwrap()
            .volumes
            .contains(&id)
    );

    let resize = client.resize_volume(id, 40).await.unwrap();
    client.wait_for_actions(&[resize.id]).await.unwrap();
    assert_eq!(client.get_volume(id).await.unwrap().size, 40);

    let detach = client.detach_volume(id).await.unwrap();
    client.wait_for_actions(&[detach.id]).await.unwrap();
    let renamed = client
        .update_volume(id, &UpdateResource::name("models-2"))
        .await
        .unwrap();
    assert_eq!(renamed.name, "models-2");
    assert_eq!(renamed.server, None);
    client.delete_volume(id).await.unwrap();
    assert!(client.get_volume(id).await.unwrap_err().is_not_found());
    assert_contract(&sb);
}

#[tokio::test]
async fn catalog_reads() {
    let sb = sandbox(SandboxConfig::for_tests()).await;
    let client = client(&sb);
    let locations = client.list_locations(&ListParams::new()).await.unwrap();
    let fsn1 = locations.iter().find(|l| l.name == "fsn1").unwrap();
    assert_eq!(
        (fsn1.country.as_str(), fsn1.network_zone.as_str()),
        ("DE", "eu-central")
    );
    assert_eq!(client.get_location(fsn1.id).await.unwrap(), *fsn1);
    let types = client
        .list_server_types(&ListParams::new().with_name("cpx22"))
        .await
        .unwrap();
    assert_eq!(types.len(), 1);
    assert_eq!(
        client.get_server_type(types[0].id).await.unwrap().name,
        "cpx22"
    );
    let images = client
        .list_images(
            &ListParams::new()
                .with_name("ubuntu-24.04")
                .with_filter("architecture", "x86"),
        )
        .await
        .unwrap();
    assert_eq!(images.len(), 1);
    assert_eq!(
        client.get_image(images[0].id).await.unwrap().kind,
        ImageType::System
    );
    assert_contract(&sb);
}

// ---------------------------------------------------------------- pagination and budget

#[tokio::test]
async fn pagination_reads_every_page_and_refresh_cost_is_constant() {
    let sb = sandbox(SandboxConfig::for_tests()).await;
    let client = client(&sb);
    for n in 0..120 {
        client
            .create_ssh_key(&CreateSshKey {
                name: format!("k{n}"),
                public_key: public_key(n),
                labels: stack_labels(&format!("ssh_key.k{n}")),
            })
            .await
            .unwrap();
    }
    sb.reset_log();
    let keys = client
        .list_ssh_keys(&ListParams::selector(stack_selector()))
        .await
        .unwrap();
    assert_eq!(keys.len(), 120);
    let mut ids: Vec<SshKeyId> = keys.iter().map(|k| k.id).collect();
    ids.dedup();
    assert_eq!(ids.len(), 120, "no duplicates across pages");
    assert_eq!(sb.request_log().count("GET /ssh_keys"), 3, "50 + 50 + 20");

    // A refresh of one server and of fifty servers costs the same single call.
    let one = create_server(&client, "solo", |b| {
        b.labels = Labels::from([("fleet".to_owned(), "one".to_owned())])
    })
    .await;
    for n in 0..50 {
        let mut body = CreateServer::new(format!("fleet-{n}"), "cpx12", "ubuntu-24.04");
        body.labels = Labels::from([("fleet".to_owned(), "many".to_owned())]);
        body.start_after_create = Some(false);
        client.create_server(&body).await.unwrap();
    }
    let cost = |fleet: &'static str| {
        let client = client.clone();
        async move {
            let before = client.request_stats();
            let servers = client
                .list_servers(&ListParams::selector(
                    LabelSelector::new().eq("fleet", fleet),
                ))
                .await
                .unwrap();
            (servers.len(), client.request_stats().since(&before))
        }
    };
    let (n1, c1) = cost("one").await;
    let (n50, c50) = cost("many").await;
    assert_eq!((n1, n50), (1, 50));
    assert_eq!(one.labels["fleet"], "one");
    assert_eq!(c1.total, 1);
    assert_eq!(c50.total, c1.total);
    assert_eq!(c50.count("GET /servers"), 1);

    // The client's own counter agrees with what the server saw.
    let stats = client.request_stats();
    assert!(
        stats.count("POST /ssh_keys") == 120 && stats.retries == 0,
        "{stats:?}"
    );
    assert_contract(&sb);
}

#[tokio::test]
async fn request_budget_is_enforced_before_sending() {
    let sb = sandbox(SandboxConfig::for_tests()).await;
    let mut config = fast_config(&sb.base_url());
    config.request_budget = Some(2);
    let client = HcloudClient::new(config).unwrap();
    client.list_locations(&ListParams::new()).await.unwrap();
    client.list_locations(&ListParams::new()).await.unwrap();
    let err = client.list_locations(&ListParams::new()).await.unwrap_err();
    assert!(
        matches!(err, HcloudError::RequestBudgetExhausted { budget: 2 }),
        "{err}"
    );
    assert_eq!(sb.request_log().len(), 2);
}

// ---------------------------------------------------------------- retries and faults

#[tokio::test]
async fn retries_transient_failures_and_counts_them() {
    let sb = sandbox(sandbox_with_faults(
        "GET /locations:503#1,GET /server_types:502#1,GET /images:504#1,PUT /ssh_keys/*:409#1",
    ))
    .await;
    let client = client(&sb);
    client.list_locations(&ListParams::new()).await.unwrap();
    client.list_server_types(&ListParams::new()).await.unwrap();
    client.list_images(&ListParams::new()).await.unwrap();
    let key = create_key(&client, "k").await;
    client
        .update_ssh_key(key.id, &UpdateResource::name("k2"))
        .await
        .unwrap();
    let stats = client.request_stats();
    assert_eq!(stats.retries, 4, "{stats:?}");
    assert_eq!(sb.request_log().count("GET /locations"), 2);
    assert_eq!(sb.request_log().count("PUT /ssh_keys/{id}"), 2);
}

/// A 500 on a request that is safe to repeat is retried like a gateway error; on a POST it is
/// not re-sent (it may have been applied) and the outcome is reported as unknown.
#[tokio::test]
async fn an_internal_error_is_retried_only_where_repeating_is_safe() {
    let sb = sandbox(sandbox_with_faults(
        "GET /servers:500#1,GET /locations:500#1,PUT /ssh_keys/*:500#1,POST /ssh_keys:500#1",
    ))
    .await;
    let client = client(&sb);
    client.list_servers(&ListParams::new()).await.unwrap();
    client.list_locations(&ListParams::new()).await.unwrap();
    assert_eq!(sb.request_log().count("GET /servers"), 2);
    assert_eq!(sb.request_log().count("GET /locations"), 2);
    let err = client
        .create_ssh_key(&CreateSshKey {
            name: "k".to_owned(),
            public_key: PUBLIC_KEY.to_owned(),
            labels: stack_labels("ssh_key.k"),
        })
        .await
        .unwrap_err();
    assert!(matches!(err, HcloudError::OutcomeUnknown { .. }), "{err:?}");
    assert_eq!(sb.request_log().count("POST /ssh_keys"), 1, "not re-sent");
    let key = create_key(&client, "k2").await;
    client
        .update_ssh_key(key.id, &UpdateResource::name("k3"))
        .await
        .unwrap();
    assert_eq!(sb.request_log().count("PUT /ssh_keys/{id}"), 2);
}

#[tokio::test]
async fn gives_up_after_the_retry_budget() {
    let sb = sandbox(sandbox_with_faults("GET /locations:503")).await;
    let client = client(&sb);
    let err = client.list_locations(&ListParams::new()).await.unwrap_err();
    match &err {
        HcloudError::Api(e) => {
            assert_eq!(e.code, ErrorCode::Unavailable);
            assert_eq!(e.attempts, 6);
        }
        other => panic!("unexpected {other}"),
    }
    assert_eq!(
        sb.request_log().count("GET /locations"),
        6,
        "1 attempt + 5 retries"
    );
}

#[tokio::test]
async fn waits_for_the_rate_limit_reset_after_429() {
    let sb = sandbox(sandbox_with_faults("GET /locations:429#1")).await;
    // The client's clock is 30 s behind the simulator's, so the reset looks 30 s away.
    let (client, clock) = manual_client(&sb, -30, fast_config("http://unused"));
    client.list_locations(&ListParams::new()).await.unwrap();
    let slept = clock.total_slept().as_secs_f64();
    assert!(
        (28.0..=32.0).contains(&slept),
        "slept {slept}s: {:?}",
        clock.sleeps()
    );
    assert_eq!(sb.request_log().count("GET /locations"), 2);

    // A reset far away is waited for only up to the bound.
    let sb = sandbox(sandbox_with_faults("GET /locations:429#1")).await;
    let (client, clock) = manual_client(&sb, -10_000, fast_config("http://unused"));
    client.list_locations(&ListParams::new()).await.unwrap();
    assert_eq!(
        clock.total_slept(),
        RetryPolicy::default().max_rate_limit_wait
    );
}

#[tokio::test]
async fn paces_requests_when_the_budget_runs_low() {
    // 20 requests per hour: one token every 180 s.
    let sb = sandbox(SandboxConfig {
        rate_limit: RateLimitConfig {
            limit: 20,
            refill_per_second: 20.0 / 3600.0,
        },
        ..SandboxConfig::for_tests()
    })
    .await;
    let mut config = fast_config("http://unused");
    config.pacing = PacingPolicy {
        threshold_ratio: 0.5,
        max_delay: Duration::from_secs(600),
    };
    let (client, clock) = manual_client(&sb, 0, config);
    for _ in 0..9 {
        client.list_locations(&ListParams::new()).await.unwrap();
    }
    assert!(clock.sleeps().is_empty(), "no pacing above the threshold");
    // Requests 10 and 11 leave 10 and 9 tokens; request 12 is the first sent below half.
    for _ in 0..3 {
        client.list_locations(&ListParams::new()).await.unwrap();
    }
    let sleeps = clock.sleeps();
    assert_eq!(
        sleeps.len(),
        1,
        "only requests below the threshold wait: {sleeps:?}"
    );
    let secs = sleeps[0].as_secs_f64();
    assert!(
        (170.0..=190.0).contains(&secs),
        "paced at the refill rate (180 s/token), got {secs}s"
    );
    assert_eq!(client.last_rate_limit().unwrap().limit, 20);
    assert!(sb.request_log().entries().iter().all(|e| e.status != 429));
}

#[tokio::test]
async fn retries_get_timeouts_from_latency() {
    let sb = sandbox(sandbox_with_faults("GET /locations:latency=2s#1")).await;
    let mut config = fast_config(&sb.base_url());
    config.timeout = Duration::from_millis(300);
    let client = HcloudClient::new(config).unwrap();
    client.list_locations(&ListParams::new()).await.unwrap();
    assert_eq!(client.request_stats().retries, 1);
}

#[tokio::test]
async fn create_that_timed_out_is_not_resent() {
    let sb = sandbox(sandbox_with_faults("POST /servers:latency=2s#1")).await;
    let mut config = fast_config(&sb.base_url());
    config.timeout = Duration::from_millis(300);
    let client = HcloudClient::new(config).unwrap();
    let mut body = CreateServer::new("slow", "cpx22", "ubuntu-24.04");
    body.labels = stack_labels("server.slow");
    let err = client.create_server(&body).await.unwrap_err();
    assert!(err.is_outcome_unknown(), "{err:?}");
    assert!(
        matches!(&err, HcloudError::OutcomeUnknown { source, .. } if matches!(**source, HcloudError::Transport { kind: TransportKind::Timeout, .. }))
    );
    // The client made exactly one attempt; by the time it returned, a second one would have been
    // answered and logged.
    assert_eq!(client.request_stats().count("POST /servers"), 1);
    assert!(sb.request_log().count("POST /servers") <= 1);
    let found = client
        .list_servers(&ListParams::selector(stack_selector()))
        .await
        .unwrap();
    assert!(found.len() <= 1, "never a duplicate: {found:?}");
}

#[tokio::test]
async fn create_with_lost_response_is_not_resent_and_can_be_adopted() {
    let sb = sandbox(sandbox_with_faults("POST /servers:drop_after_create#1")).await;
    let client = client(&sb);
    let mut body = CreateServer::new("dropped", "cpx22", "ubuntu-24.04");
    body.labels = stack_labels("server.slow");
    let err = client.create_server(&body).await.unwrap_err();
    assert!(err.is_outcome_unknown(), "{err:?}");
    assert_eq!(sb.request_log().count("POST /servers"), 1);
    assert_adopted(&client).await;
}

#[tokio::test]
async fn create_answered_with_5xx_after_applying_reports_unknown_outcome() {
    // The POST creates the server and answers 503: the client must not send it again (a
    // second create could duplicate it); it says the outcome is unknown, and labels find it.
    let sb = sandbox(sandbox_with_faults("POST /servers:fail_after_create#1")).await;
    let client = client(&sb);
    let mut body = CreateServer::new("ghost", "cpx22", "ubuntu-24.04");
    body.labels = stack_labels("server.slow");
    let err = client.create_server(&body).await.unwrap_err();
    assert!(err.is_outcome_unknown(), "{err:?}");
    assert_eq!(sb.request_log().count("POST /servers"), 1, "never re-sent");
    assert_adopted(&client).await;
}

async fn assert_adopted(client: &HcloudClient) {
    // Whatever the POST did, the labels find it; poll because the create may still be landing.
    let selector = LabelSelector::new().eq("sovstack.address", "server.slow");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let found = client
            .list_servers(&ListParams::selector(selector.clone()))
            .await
            .unwrap();
        if found.len() == 1 {
            return;
        }
        assert!(found.len() <= 1, "duplicate servers: {found:?}");
        assert!(
            tokio::time::Instant::now() < deadline,
            "server never appeared"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_create_answered_503_is_not_resent_and_nothing_is_duplicated() {
    // Whether a 503 was applied cannot be told from the answer: the client reports an unknown
    // outcome and leaves the decision (look up by labels, then create once) to its caller.
    let sb = sandbox(sandbox_with_faults("POST /servers:503#1")).await;
    let client = client(&sb);
    let mut body = CreateServer::new("retry-me", "cpx22", "ubuntu-24.04");
    body.labels = stack_labels("server.retry");
    let err = client.create_server(&body).await.unwrap_err();
    assert!(err.is_outcome_unknown(), "{err:?}");
    assert_eq!(sb.request_log().count("POST /servers"), 1);
    assert!(
        client
            .list_servers(&ListParams::new())
            .await
            .unwrap()
            .is_empty()
    );
    // The caller's one deliberate second attempt succeeds.
    client.create_server(&body).await.unwrap();
    assert_eq!(
        client.list_servers(&ListParams::new()).await.unwrap().len(),
        1
    );
}

#[tokio::test]
async fn invalid_input_is_not_retried_and_names_the_field() {
    let sb = sandbox(SandboxConfig::for_tests()).await;
    let client = client(&sb);
    let err = client
        .create_volume(&CreateVolume {
            name: "tiny".into(),
            size: 1,
            labels: Labels::new(),
            location: Some("fsn1".into()),
            server: None,
            automount: None,
            format: None,
        })
        .await
        .unwrap_err();
    let HcloudError::Api(api) = &err else {
        panic!("{err}")
    };
    assert_eq!(api.code, ErrorCode::InvalidInput);
    assert!(api.fields.iter().any(|f| f.name == "size"), "{api:?}");
    assert_eq!(api.attempts, 1);
    assert_eq!(sb.request_log().count("POST /volumes"), 1);
    let help = miette::Diagnostic::help(&err).unwrap().to_string();
    assert!(help.contains("size"), "{help}");
}

#[tokio::test]
async fn unauthorized_says_check_the_token_without_printing_it() {
    let sb = sandbox(SandboxConfig {
        token: Some("the-right-one".into()),
        ..SandboxConfig::for_tests()
    })
    .await;
    let client = client(&sb);
    let err = client.list_servers(&ListParams::new()).await.unwrap_err();
    assert_eq!(err.api_code(), Some(&ErrorCode::Unauthorized));
    let help = miette::Diagnostic::help(&err).unwrap().to_string();
    assert!(help.contains("check HCLOUD_TOKEN"), "{help}");
    let everything = format!("{err} {err:?} {help} {client:?}");
    assert!(!everything.contains(TOKEN), "token leaked: {everything}");
    assert_eq!(sb.request_log().len(), 1, "unauthorized is not retried");
}

// ---------------------------------------------------------------- actions

#[tokio::test]
async fn failing_action_surfaces_as_typed_error() {
    let sb = sandbox(sandbox_with_faults(
        "POST /servers/*/actions/poweroff:action_error",
    ))
    .await;
    let client = client(&sb);
    let server = create_server(&client, "flaky", |_| {}).await;
    let action = client.poweroff_server(server.id).await.unwrap();
    let err = client.wait_for_actions(&[action.id]).await.unwrap_err();
    let HcloudError::ActionFailed(failure) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(failure.id, action.id);
    assert_eq!(failure.command, "stop_server");
    assert!(!failure.code.is_empty() && !failure.message.is_empty());
    assert!(
        failure
            .resources
            .iter()
            .any(|r| r.id == server.id.0 && r.kind == "server")
    );
    assert!(err.to_string().contains(&failure.code));
}

#[tokio::test]
async fn waits_for_many_actions_in_batched_polls() {
    let sb = sandbox(SandboxConfig {
        action_duration: Duration::from_millis(100),
        ..SandboxConfig::for_tests()
    })
    .await;
    let client = client(&sb);
    let mut ids = Vec::new();
    for n in 0..30 {
        let created = client
            .create_volume(&CreateVolume {
                name: format!("v{n}"),
                size: 10,
                labels: Labels::new(),
                location: Some("nbg1".into()),
                server: None,
                automount: None,
                format: None,
            })
            .await
            .unwrap();
        ids.push(created.action.id);
    }
    sb.reset_log();
    let done = client.wait_for_actions(&ids).await.unwrap();
    assert_eq!(
        done.iter().map(|a| a.id).collect::<Vec<_>>(),
        ids,
        "results in the order asked"
    );
    assert!(done.iter().all(|a| a.status == ActionStatus::Success));
    let polls = sb.request_log().entries();
    assert!(polls.iter().all(|e| e.endpoint == "GET /actions"));
    let max_ids = polls
        .iter()
        .map(|e| e.query.as_deref().unwrap_or("").matches("id=").count())
        .max()
        .unwrap();
    assert_eq!(max_ids, 25, "chunks of 25 IDs per poll");
    // 30 actions in a handful of polls, not one request per action per poll.
    assert!(polls.len() < 30, "{} polls", polls.len());
    assert_contract(&sb);
}

#[tokio::test]
async fn action_wait_has_a_deadline() {
    let sb = sandbox(SandboxConfig {
        action_duration: Duration::from_secs(3600),
        ..SandboxConfig::for_tests()
    })
    .await;
    let mut config = fast_config("http://unused");
    config.action_poll = PollPolicy {
        timeout: Duration::from_secs(60),
        ..PollPolicy::default()
    };
    let (client, clock) = manual_client(&sb, 0, config);
    let created = client
        .create_volume(&CreateVolume {
            name: "slow".into(),
            size: 10,
            labels: Labels::new(),
            location: Some("hel1".into()),
            server: None,
            automount: None,
            format: None,
        })
        .await
        .unwrap();
    let err = client
        .wait_for_actions(&[created.action.id])
        .await
        .unwrap_err();
    let HcloudError::ActionTimeout { pending, waited } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(pending, &vec![created.action.id]);
    assert!(*waited >= Duration::from_secs(60));
    // Polls backed off: 0.5, 1, 2, 4, 8, then 10 s steps; far fewer than one per second.
    let polls = sb.request_log().count("GET /actions");
    assert!(
        (5..=12).contains(&polls),
        "{polls} polls in {:?}",
        clock.sleeps()
    );

    let err = client
        .wait_for_actions(&[ActionId(987_654)])
        .await
        .unwrap_err();
    assert!(
        matches!(err, HcloudError::ActionsNotFound { .. }),
        "{err:?}"
    );
}
