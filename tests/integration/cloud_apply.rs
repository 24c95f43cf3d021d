//! The cloud kinds (`sovstack::resources`, through `Providers`) against the API sandbox: create, adopt, update in
//! place, delete and refresh of ssh_key, server, volume and firewall for a real stack loaded from
//! HCL, with the sandbox's request log as the witness of what was sent.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use serde_json::{Value, json};
use sovstack::config::{LoadOptions, Stack, load_file, load_str};
use sovstack::progress::{Event, EventSink};
use sovstack::providers::hcloud::models::{CreateServer, FirewallRule, Protocol};
use sovstack::providers::hcloud::*;
use sovstack::resources::{
    ApplyContext, ApplyError, ApplyOptions, Checkpoint, CloudProvider, NodeProvider, Observed,
    Providers,
};
use sovstack::resources::{Desired, DesiredContext};
use sovstack::sandbox::{BootEvent, FaultSpec, Sandbox, SandboxConfig, SandboxHandle};
use sovstack::state::{KeyedHasher, ResourceState, ResourceStatus};

fn client_for(sb: &SandboxHandle) -> HcloudClient {
    let mut config = ClientConfig::new(SecretToken::new("cloud-apply-token").unwrap());
    config.endpoint = sb.base_url();
    config.retry = RetryPolicy {
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(100),
        ..RetryPolicy::default()
    };
    config.action_poll = PollPolicy {
        initial_interval: Duration::from_millis(5),
        multiplier: 2.0,
        max_interval: Duration::from_millis(40),
        timeout: Duration::from_secs(30),
    };
    config.timeout = Duration::from_secs(10);
    HcloudClient::new(config).unwrap()
}

fn cloud_only() -> Stack {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/cloud-only/stack.hcl");
    let loaded = load_file(&path, &LoadOptions::default()).unwrap();
    loaded.stack.expect("examples/cloud-only loads")
}

fn stack_from(text: &str) -> Stack {
    let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/cloud-only");
    let loaded = load_str("stack.hcl", text, &base, &LoadOptions::default());
    loaded
        .stack
        .unwrap_or_else(|| panic!("stack loads: {:?}", loaded.diagnostics))
}

/// Everything one test needs: sandbox, applier, a context with a live state map, the events
/// and checkpoints it produced, and the servers the sandbox booted.
struct Env {
    sb: SandboxHandle,
    client: HcloudClient,
    applier: Providers,
    cx: ApplyContext,
    events: Arc<Mutex<Vec<Event>>>,
    /// (address, state, number of `POST /servers` sent when the checkpoint arrived)
    checkpoints: Arc<Mutex<Vec<(String, ResourceState, u64)>>>,
    boots: Arc<Mutex<Vec<BootEvent>>>,
}

impl Env {
    async fn start(stack: Stack, faults: &str) -> Env {
        let boots = Arc::new(Mutex::new(Vec::new()));
        let seen = boots.clone();
        let config = SandboxConfig {
            faults: FaultSpec::parse(faults).unwrap(),
            boot: Some(Arc::new(move |e: BootEvent| seen.lock().unwrap().push(e))),
            ..SandboxConfig::for_tests()
        };
        let sb = Sandbox::start(config, "127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let client = client_for(&sb);
        let (sink, mut rx) = EventSink::new();
        let events = Arc::new(Mutex::new(Vec::new()));
        let collected = events.clone();
        tokio::spawn(async move {
            while let Some(e) = rx.recv().await {
                collected.lock().unwrap().push(e);
            }
        });
        let resources = Arc::new(RwLock::new(BTreeMap::new()));
        let (checkpoint, mut crx) = Checkpoint::new();
        let checkpoints = Arc::new(Mutex::new(Vec::new()));
        let (recorded, live, log) = (
            checkpoints.clone(),
            resources.clone(),
            sb.request_log().clone(),
        );
        // Serves checkpoints like the executor: record in the live state, then acknowledge.
        tokio::spawn(async move {
            while let Some((address, state, ack)) = crx.recv().await {
                let posts = log.count("POST /servers");
                live.write().unwrap().insert(address.clone(), state.clone());
                recorded.lock().unwrap().push((address, state, posts));
                let _ = ack.send(Ok(()));
            }
        });
        let cx = ApplyContext {
            stack: Arc::new(stack),
            resources,
            hasher: Arc::new(KeyedHasher::from_key([7; 32])),
            events: sink,
            checkpoint,
            options: ApplyOptions {
                parallelism: 4,
                ..ApplyOptions::default()
            },
        };
        Env {
            applier: Providers::new(
                Some(CloudProvider::new(client.clone())),
                NodeProvider::default(),
            ),
            sb,
            client,
            cx,
            events,
            checkpoints,
            boots,
        }
    }

    fn desired(&self, address: &str) -> Desired {
        let ctx = DesiredContext {
            stack: &self.cx.stack,
            files: &[],
            bootstrap_sha256: "",
            service_hashes: &BTreeMap::new(),
        };
        let kind = address.split('.').next().unwrap();
        let mut d = sovstack::resources::kind(kind)
            .unwrap()
            .desired(&ctx)
            .into_iter()
            .find(|d| d.address == address)
            .unwrap_or_else(|| panic!("{address} is desired"));
        d.infer_dependencies();
        d
    }

    fn record(&self, address: &str, state: ResourceState) {
        self.cx
            .resources
            .write()
            .unwrap()
            .insert(address.to_string(), state);
    }

    fn state(&self, address: &str) -> ResourceState {
        self.cx.resource(address).unwrap()
    }

    async fn create(&self, address: &str) -> ResourceState {
        let state = self
            .applier
            .create(&self.cx, &self.desired(address))
            .await
            .unwrap_or_else(|e| panic!("create {address}: {e:?}"));
        self.record(address, state.clone());
        state
    }

    async fn create_all(&self) {
        for a in ["ssh_key.admin", "server.app", "firewall.app", "volume.data"] {
            self.create(a).await;
        }
    }

    async fn update(&self, d: &Desired, changed: &[&str]) -> Result<ResourceState, ApplyError> {
        let prior = self.state(&d.address);
        let changed: Vec<String> = changed.iter().map(|s| s.to_string()).collect();
        let r = self.applier.update(&self.cx, d, &prior, &changed).await;
        if let Ok(s) = &r {
            self.record(&d.address, s.clone());
        }
        r
    }

    async fn delete(&self, address: &str) {
        let prior = self.state(address);
        self.applier
            .delete(&self.cx, address, &prior)
            .await
            .unwrap_or_else(|e| panic!("delete {address}: {e:?}"));
    }

    fn endpoints(&self) -> Vec<String> {
        self.sb
            .request_log()
            .entries()
            .into_iter()
            .map(|e| e.endpoint)
            .filter(|e| e != "GET /actions")
            .collect()
    }

    fn id(&self, address: &str) -> u64 {
        self.state(address).id.unwrap().parse().unwrap()
    }
}

fn labels(address: &str) -> Labels {
    Labels::from([
        ("sovstack.stack".to_owned(), "cloud-only".to_owned()),
        ("sovstack.address".to_owned(), address.to_owned()),
    ])
}

#[tokio::test]
async fn creates_every_kind_with_computed_attributes_and_deletes_to_empty() {
    let env = Env::start(cloud_only(), "").await;
    env.create_all().await;

    let key = env.state("ssh_key.admin");
    assert_eq!(key.status, ResourceStatus::Ready);
    let api_key = env
        .client
        .get_ssh_key(SshKeyId(env.id("ssh_key.admin")))
        .await
        .unwrap();
    assert_eq!(key.attributes["fingerprint"], json!(api_key.fingerprint));
    assert_eq!(key.attributes["name"], json!("cloud-only-admin"));
    assert_eq!(api_key.labels, labels("ssh_key.admin"));

    let server = env.state("server.app");
    assert_eq!(server.status, ResourceStatus::Ready);
    let api_server = env
        .client
        .get_server(ServerId(env.id("server.app")))
        .await
        .unwrap();
    assert_eq!(server.attributes["id"], json!(api_server.id.to_string()));
    assert_eq!(
        server.attributes["ipv4_address"],
        json!(api_server.ipv4_address().unwrap())
    );
    assert!(api_server.ipv4_address().unwrap().starts_with("127."));
    // Hetzner gives every server a /64 unless told not to; sovstack records its ::1.
    assert_eq!(
        server.attributes["ipv6_address"],
        json!(format!(
            "{}1",
            api_server.ipv6_network().unwrap().trim_end_matches("/64")
        ))
    );
    assert!(api_server.ipv6_network().unwrap().starts_with("2001:db8:"));
    assert_eq!(server.attributes["server_type"], json!("cx23"));
    assert_eq!(server.attributes["status"], json!("running"));
    assert_eq!(api_server.labels["role"], "app");
    assert_eq!(api_server.labels["sovstack.address"], "server.app");
    let fingerprint = server.attributes["host_key_fingerprint"].as_str().unwrap();
    assert!(fingerprint.starts_with("SHA256:"), "{fingerprint}");

    // The fingerprint was durable before the create request went out.
    let cps = env.checkpoints.lock().unwrap().clone();
    assert_eq!(cps.len(), 1, "one checkpoint, for the server");
    let (address, pending, posts_before) = &cps[0];
    assert_eq!(address, "server.app");
    assert_eq!(pending.status, ResourceStatus::Pending);
    assert_eq!(
        pending.attributes["host_key_fingerprint"],
        json!(fingerprint)
    );
    assert_eq!(*posts_before, 0, "checkpoint recorded before POST /servers");

    // The create request carried our SSH key by id and user data with the pinned host key.
    let post = env
        .sb
        .request_log()
        .entries()
        .into_iter()
        .find(|e| e.endpoint == "POST /servers")
        .unwrap();
    let body = post.request_body.unwrap();
    assert_eq!(
        body["ssh_keys"],
        json!([env.id("ssh_key.admin").to_string()])
    );
    assert_eq!(body["location"], json!("nbg1"));
    assert_eq!(body["start_after_create"], json!(true));
    let user_data = body["user_data"].as_str().unwrap();
    assert!(user_data.starts_with("#cloud-config"));
    let cloud_config: Value = serde_saphyr::from_str(user_data).unwrap();
    let public = cloud_config["ssh_keys"]["ed25519_public"].as_str().unwrap();
    assert_eq!(
        sovstack::providers::ssh::HostKeyFingerprint::from_public_openssh(public)
            .unwrap()
            .to_string(),
        fingerprint
    );

    // The server booted once, with exactly the user data that was sent.
    let boots = env.boots.lock().unwrap().clone();
    assert_eq!(boots.len(), 1);
    assert_eq!(boots[0].server_id, api_server.id.0);
    assert_eq!(boots[0].name, "cloud-only-app");
    assert_eq!(
        boots[0].ipv4.map(|ip| ip.to_string()).as_deref(),
        api_server.ipv4_address()
    );
    assert_eq!(boots[0].user_data.as_deref(), Some(user_data));

    let volume = env.state("volume.data");
    let api_volume = env
        .client
        .get_volume(VolumeId(env.id("volume.data")))
        .await
        .unwrap();
    assert_eq!(
        volume.attributes["linux_device"],
        json!(api_volume.linux_device)
    );
    assert_eq!(
        api_volume.server,
        Some(api_server.id),
        "attached to its server"
    );
    assert_eq!(api_volume.size, 20);
    assert_eq!(api_volume.format.as_deref(), Some("ext4"));

    let api_fw = env
        .client
        .get_firewall(FirewallId(env.id("firewall.app")))
        .await
        .unwrap();
    assert_eq!(api_fw.rules.len(), 2);
    assert_eq!(api_fw.rules[0].port.as_deref(), Some("22"));
    assert_eq!(api_fw.rules[0].source_ips, vec!["198.51.100.0/24"]);
    assert_eq!(
        api_fw.applied_to,
        vec![models::FirewallResource::server(api_server.id)]
    );

    // Refresh right after create: everything present, exactly as recorded (no false drift).
    let recorded = env.cx.resources.read().unwrap().clone();
    let refreshed = env.applier.refresh(&env.cx, &recorded).await.unwrap();
    assert!(refreshed.orphans.is_empty(), "{:?}", refreshed.orphans);
    assert!(
        refreshed.violations.is_empty(),
        "{:?}",
        refreshed.violations
    );
    for (address, state) in &recorded {
        assert_eq!(
            refreshed.observed.get(address),
            Some(&Observed::Present(state.clone())),
            "{address}"
        );
    }

    for a in ["firewall.app", "volume.data", "server.app", "ssh_key.admin"] {
        env.delete(a).await;
    }
    let all = ListParams::new();
    assert!(env.client.list_servers(&all).await.unwrap().is_empty());
    assert!(env.client.list_volumes(&all).await.unwrap().is_empty());
    assert!(env.client.list_firewalls(&all).await.unwrap().is_empty());
    assert!(env.client.list_ssh_keys(&all).await.unwrap().is_empty());
    // Deleting what is already gone is success.
    for a in ["firewall.app", "volume.data", "server.app", "ssh_key.admin"] {
        env.delete(a).await;
    }
}

#[tokio::test]
async fn updates_in_place_send_only_what_the_change_needs() {
    let env = Env::start(cloud_only(), "").await;
    env.create_all().await;

    // Firewall rule edit: exactly one set_rules.
    let mut fw = env.desired("firewall.app");
    fw.attributes
        .get_mut("rules")
        .unwrap()
        .as_array_mut()
        .unwrap()
        .push(json!({
            "direction": "in", "protocol": "tcp", "port": "443", "source_ips": ["0.0.0.0/0"]
        }));
    env.sb.reset_log();
    let state = env.update(&fw, &["rules"]).await.unwrap();
    assert_eq!(
        env.endpoints(),
        vec!["POST /firewalls/{id}/actions/set_rules"]
    );
    assert_eq!(state.attributes["rules"].as_array().unwrap().len(), 3);
    let api_fw = env
        .client
        .get_firewall(FirewallId(env.id("firewall.app")))
        .await
        .unwrap();
    assert_eq!(api_fw.rules.len(), 3);
    assert_eq!(api_fw.rules[2].port.as_deref(), Some("443"));

    // Server type: power off, change type (disk kept), power on.
    let mut server = env.desired("server.app");
    server
        .attributes
        .insert("server_type".into(), json!("cx33"));
    env.sb.reset_log();
    let state = env.update(&server, &["server_type"]).await.unwrap();
    let mutations: Vec<String> = env
        .endpoints()
        .into_iter()
        .filter(|e| !e.starts_with("GET"))
        .collect();
    assert_eq!(
        mutations,
        vec![
            "POST /servers/{id}/actions/poweroff",
            "POST /servers/{id}/actions/change_type",
            "POST /servers/{id}/actions/poweron",
        ]
    );
    let change = env
        .sb
        .request_log()
        .entries()
        .into_iter()
        .find(|e| e.endpoint.ends_with("change_type"))
        .unwrap();
    assert_eq!(change.request_body.unwrap()["upgrade_disk"], json!(false));
    let api_server = env
        .client
        .get_server(ServerId(env.id("server.app")))
        .await
        .unwrap();
    assert_eq!(api_server.server_type.name, "cx33");
    assert_eq!(api_server.status, models::ServerStatus::Running);
    assert_eq!(state.attributes["server_type"], json!("cx33"));
    assert_eq!(
        state.attributes["host_key_fingerprint"],
        env.checkpoints.lock().unwrap()[0].1.attributes["host_key_fingerprint"],
        "the pinned host key survives an update"
    );

    // Volume grows with one resize.
    let mut volume = env.desired("volume.data");
    volume.attributes.insert("size".into(), json!(30));
    env.sb.reset_log();
    env.update(&volume, &["size"]).await.unwrap();
    assert_eq!(
        env.endpoints(),
        vec!["GET /volumes/{id}", "POST /volumes/{id}/actions/resize"]
    );
    let api_volume = env
        .client
        .get_volume(VolumeId(env.id("volume.data")))
        .await
        .unwrap();
    assert_eq!(api_volume.size, 30);
    // ... and never shrinks.
    volume.attributes.insert("size".into(), json!(10));
    env.sb.reset_log();
    let err = env
        .update(&volume, &["size"])
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("cannot shrink") && err.contains("30 GB"),
        "{err}"
    );
    assert!(!env.endpoints().iter().any(|e| e.contains("resize")));

    // Labels: one PUT and nothing else.
    let mut server = env.desired("server.app");
    server
        .attributes
        .insert("server_type".into(), json!("cx33"));
    let labels = server.attributes.get_mut("labels").unwrap();
    labels["role"] = json!("web");
    env.sb.reset_log();
    env.update(&server, &["labels"]).await.unwrap();
    assert_eq!(env.endpoints(), vec!["PUT /servers/{id}"]);
    let api_server = env
        .client
        .get_server(ServerId(env.id("server.app")))
        .await
        .unwrap();
    assert_eq!(api_server.labels["role"], "web");
    assert_eq!(api_server.labels["sovstack.stack"], "cloud-only");

    // What needs a new resource never reaches the API as an update.
    let mut server = env.desired("server.app");
    server.attributes.insert("image".into(), json!("debian-12"));
    env.sb.reset_log();
    let err = env.update(&server, &["image"]).await.unwrap_err();
    assert!(matches!(err, ApplyError::Precondition { .. }), "{err:?}");
    assert!(env.sb.request_log().is_empty());
}

#[tokio::test]
async fn firewall_moves_between_servers_and_volume_follows_its_server() {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/cloud-only/stack.hcl"),
    )
    .unwrap();
    let two = format!(
        "{text}\nserver \"db\" {{\n  server_type = \"cx23\"\n  location = \"nbg1\"\n  image = var.image\n  ssh_keys = [ssh_key.admin]\n}}\n"
    );
    let env = Env::start(stack_from(&two), "").await;
    env.create_all().await;
    env.create("server.db").await;
    let (app, db) = (env.id("server.app"), env.id("server.db"));
    // Each created server booted exactly once, with the user data sent for it.
    let sent: Vec<String> = env
        .sb
        .request_log()
        .entries()
        .into_iter()
        .filter(|e| e.endpoint == "POST /servers")
        .map(|e| {
            e.request_body.unwrap()["user_data"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    let boots = env.boots.lock().unwrap().clone();
    assert_eq!(
        boots.iter().map(|b| b.server_id).collect::<Vec<_>>(),
        vec![app, db]
    );
    assert_eq!(boots[0].user_data.as_ref(), Some(&sent[0]));
    assert_eq!(boots[1].user_data.as_ref(), Some(&sent[1]));
    assert_ne!(sent[0], sent[1], "every server has its own host key");
    // A server created stopped does not boot.
    let mut off = CreateServer::new("off", "cx23", "ubuntu-24.04");
    off.location = Some("nbg1".into());
    off.start_after_create = Some(false);
    let off = env.client.create_server(&off).await.unwrap();
    env.client.wait_for(off.actions()).await.unwrap();
    assert_eq!(env.boots.lock().unwrap().len(), 2);

    let mut fw = env.desired("firewall.app");
    fw.attributes.insert("apply_to".into(), json!(["db"]));
    env.sb.reset_log();
    let state = env.update(&fw, &["apply_to"]).await.unwrap();
    let mutations: Vec<String> = env
        .endpoints()
        .into_iter()
        .filter(|e| !e.starts_with("GET"))
        .collect();
    assert_eq!(
        mutations,
        vec![
            "POST /firewalls/{id}/actions/apply_to_resources",
            "POST /firewalls/{id}/actions/remove_from_resources"
        ],
        "apply to the new server before removing from the old"
    );
    assert_eq!(state.attributes["apply_to"], json!(["db"]));
    let api_fw = env
        .client
        .get_firewall(FirewallId(env.id("firewall.app")))
        .await
        .unwrap();
    assert_eq!(
        api_fw.applied_to,
        vec![models::FirewallResource::server(ServerId(db))]
    );

    let mut volume = env.desired("volume.data");
    volume.attributes.insert("server".into(), json!("db"));
    env.update(&volume, &["server"]).await.unwrap();
    let api_volume = env
        .client
        .get_volume(VolumeId(env.id("volume.data")))
        .await
        .unwrap();
    assert_eq!(api_volume.server, Some(ServerId(db)));
    assert_ne!(api_volume.server, Some(ServerId(app)));
}

#[tokio::test]
async fn a_resource_with_our_labels_is_adopted_not_duplicated() {
    let env = Env::start(cloud_only(), "").await;
    env.create("ssh_key.admin").await;
    // Made by an earlier run that died before recording it (and before its checkpoint).
    let mut body = CreateServer::new("cloud-only-app", "cx23", "ubuntu-24.04");
    body.location = Some("nbg1".into());
    body.ssh_keys = vec![env.id("ssh_key.admin").to_string()];
    body.labels = labels("server.app");
    let existing = env.client.create_server(&body).await.unwrap();
    env.client.wait_for(existing.actions()).await.unwrap();
    env.sb.reset_log();

    let mut desired = env.desired("server.app");
    desired
        .attributes
        .insert("server_type".into(), json!("cx33"));
    let state = env.applier.create(&env.cx, &desired).await.unwrap();
    assert_eq!(state.id, Some(existing.server.id.to_string()));
    assert_eq!(state.status, ResourceStatus::Ready);
    assert_eq!(env.sb.request_log().count("POST /servers"), 0);
    assert_eq!(
        env.client
            .list_servers(&ListParams::new())
            .await
            .unwrap()
            .len(),
        1
    );
    // Brought in line: the desired type and labels.
    let api = env.client.get_server(existing.server.id).await.unwrap();
    assert_eq!(api.server_type.name, "cx33");
    assert_eq!(api.status, models::ServerStatus::Running);
    assert_eq!(api.labels["role"], "app");
    assert_eq!(state.attributes["server_type"], json!("cx33"));
    // No host key was recorded for it: it is not invented.
    assert_eq!(state.attributes["host_key_fingerprint"], Value::Null);

    // The same for an SSH key: a second create adopts.
    let again = env.create("ssh_key.admin").await;
    assert_eq!(again.id, env.state("ssh_key.admin").id);
    assert_eq!(
        env.client
            .list_ssh_keys(&ListParams::new())
            .await
            .unwrap()
            .len(),
        1
    );
}

async fn create_survives(fault: &str) {
    let env = Env::start(cloud_only(), "").await;
    env.create("ssh_key.admin").await;
    env.sb.set_faults(FaultSpec::parse(fault).unwrap(), 0);
    let state = env.create("server.app").await;
    assert_eq!(state.status, ResourceStatus::Ready);
    let servers = env.client.list_servers(&ListParams::new()).await.unwrap();
    assert_eq!(servers.len(), 1, "{fault}: exactly one server");
    assert_eq!(state.id, Some(servers[0].id.to_string()));
    // The client may send the POST again after a 5xx; the unique name makes that one fail
    // (409) instead of creating a second server.
    let posts: Vec<u16> = env
        .sb
        .request_log()
        .entries()
        .into_iter()
        .filter(|e| e.endpoint == "POST /servers")
        .map(|e| e.status)
        .collect();
    assert!(posts[1..].iter().all(|s| *s == 409), "{fault}: {posts:?}");
    let cps = env.checkpoints.lock().unwrap().clone();
    assert_eq!(
        state.attributes["host_key_fingerprint"], cps[0].1.attributes["host_key_fingerprint"],
        "{fault}: the adopted server keeps the host key it was created with"
    );
    assert!(state.attributes["ipv4_address"].is_string());
    let events = env.events.lock().unwrap().clone();
    assert!(
        events.iter().any(|e| matches!(e, Event::Progress { message, .. } if message.contains("outcome is unknown"))),
        "{events:?}"
    );
}

#[tokio::test]
async fn a_create_whose_response_failed_ends_with_one_server() {
    create_survives("POST /servers:fail_after_create#1").await;
}

#[tokio::test]
async fn a_create_whose_connection_dropped_ends_with_one_server() {
    create_survives("POST /servers:drop_after_create#1").await;
}

fn record_server(env: &Env, address: &str, id: ServerId) {
    env.record(
        address,
        ResourceState {
            kind: "server".into(),
            id: Some(id.to_string()),
            attributes: BTreeMap::new(),
            sensitive_attributes: BTreeMap::new(),
            dependencies: Vec::new(),
            status: ResourceStatus::Ready,
        },
    );
}

#[tokio::test]
async fn refresh_costs_the_same_for_50_servers_as_for_1() {
    let env = Env::start(cloud_only(), "").await;
    for i in 0..50 {
        let address = format!("server.s{i}");
        let mut body = CreateServer::new(format!("s{i}"), "cx23", "ubuntu-24.04");
        body.location = Some("fsn1".into());
        body.labels = labels(&address);
        let created = env.client.create_server(&body).await.unwrap();
        if i == 0 {
            record_server(&env, &address, created.server.id);
        }
    }
    let one = env.cx.resources.read().unwrap().clone();
    env.sb.reset_log();
    let r1 = env.applier.refresh(&env.cx, &one).await.unwrap();
    let cost_one = env.sb.request_log().len();
    assert_eq!(r1.observed.len(), 1);
    assert_eq!(r1.orphans.len(), 49);

    for (i, s) in env
        .client
        .list_servers(&ListParams::new())
        .await
        .unwrap()
        .iter()
        .enumerate()
    {
        let _ = i;
        record_server(&env, &s.labels["sovstack.address"], s.id);
    }
    let fifty = env.cx.resources.read().unwrap().clone();
    assert_eq!(fifty.len(), 50);
    env.sb.reset_log();
    let r50 = env.applier.refresh(&env.cx, &fifty).await.unwrap();
    assert_eq!(
        env.sb.request_log().len(),
        cost_one,
        "{:?}",
        env.sb.request_log().counts()
    );
    assert_eq!(env.sb.request_log().count("GET /servers"), 1);
    assert!(r50.orphans.is_empty());
    assert!(
        r50.observed
            .values()
            .all(|o| matches!(o, Observed::Present(_)))
    );
    assert_eq!(cost_one, 4, "one list call per resource type");
}

#[tokio::test]
async fn refresh_reports_drift_missing_orphans_and_location_violations() {
    let env = Env::start(cloud_only(), "").await;
    env.create_all().await;
    let recorded = env.cx.resources.read().unwrap().clone();
    let fw_id = FirewallId(env.id("firewall.app"));

    // Behind sovstack's back: a rule changed, the server deleted, two servers with our label.
    let changed = vec![FirewallRule::inbound(
        Protocol::Tcp,
        Some("2222"),
        ["10.0.0.0/8"],
    )];
    let actions = env
        .client
        .set_firewall_rules(fw_id, &changed)
        .await
        .unwrap();
    env.client.wait_for(&actions).await.unwrap();
    let deleted = env
        .client
        .delete_server(ServerId(env.id("server.app")))
        .await
        .unwrap();
    env.client.wait_for([&deleted]).await.unwrap();
    let mut ghost = CreateServer::new("ghost", "cx23", "ubuntu-24.04");
    ghost.location = Some("fsn1".into());
    ghost.labels = labels("server.ghost");
    env.client.create_server(&ghost).await.unwrap();
    let mut far = CreateServer::new("far", "cpx22", "ubuntu-24.04");
    far.location = Some("ash".into());
    far.labels = labels("server.far");
    let far = env.client.create_server(&far).await.unwrap().server;
    // Not ours: another stack's server is neither an orphan nor a violation.
    let mut other = CreateServer::new("other", "cpx22", "ubuntu-24.04");
    other.location = Some("ash".into());
    other.labels = Labels::from([("sovstack.stack".to_owned(), "elsewhere".to_owned())]);
    env.client.create_server(&other).await.unwrap();

    let refreshed = env.applier.refresh(&env.cx, &recorded).await.unwrap();
    assert_eq!(refreshed.observed["server.app"], Observed::Missing);
    let Observed::Present(fw) = &refreshed.observed["firewall.app"] else {
        panic!("firewall present")
    };
    assert_eq!(
        fw.attributes["rules"],
        json!([{"direction": "in", "protocol": "tcp", "port": "2222", "source_ips": ["10.0.0.0/8"]}])
    );
    assert_eq!(fw.attributes["apply_to"], json!([]), "its server is gone");
    let Observed::Present(vol) = &refreshed.observed["volume.data"] else {
        panic!("volume present")
    };
    assert_eq!(vol.attributes["server"], Value::Null);
    assert_eq!(
        refreshed.observed["ssh_key.admin"],
        Observed::Present(recorded["ssh_key.admin"].clone())
    );
    let mut orphans: Vec<(String, Option<String>)> = refreshed
        .orphans
        .iter()
        .map(|o| (o.name.clone(), o.address_label.clone()))
        .collect();
    orphans.sort();
    assert_eq!(
        orphans,
        vec![
            ("far".into(), Some("server.far".into())),
            ("ghost".into(), Some("server.ghost".into()))
        ]
    );
    assert_eq!(refreshed.violations.len(), 1, "{:?}", refreshed.violations);
    // The finding is typed: it names the address the resource carries, not a sentence to parse.
    assert_eq!(
        refreshed.violations[0].address.as_deref(),
        Some("server.far")
    );
    let v = refreshed.violations[0].to_string();
    assert!(
        v.contains("server.far")
            && v.contains(&far.id.to_string())
            && v.contains("ash")
            && v.contains("US"),
        "{v}"
    );
}

fn user_data_sent(env: &Env) -> String {
    env.sb
        .request_log()
        .entries()
        .into_iter()
        .find(|e| e.endpoint == "POST /servers")
        .and_then(|e| e.request_body)
        .and_then(|b| b["user_data"].as_str().map(str::to_owned))
        .expect("a create request with user data")
}

fn assert_secret_absent(env: &Env, user_data: &str, error: Option<&ApplyError>) {
    let secrets = private_key_lines(user_data);
    assert!(!secrets.is_empty());
    let state = serde_json::to_string(&*env.cx.resources.read().unwrap()).unwrap();
    let checkpoints = format!("{:?}", env.checkpoints.lock().unwrap());
    let events = format!("{:?}", env.events.lock().unwrap());
    let error = error.map(|e| format!("{e} {e:?}")).unwrap_or_default();
    for s in &secrets {
        assert!(!state.contains(s.as_str()), "private key in state");
        assert!(
            !checkpoints.contains(s.as_str()),
            "private key in a checkpoint"
        );
        assert!(!events.contains(s.as_str()), "private key in events");
        assert!(!error.contains(s.as_str()), "private key in the error");
    }
}

#[tokio::test]
async fn the_private_host_key_never_leaves_the_user_data() {
    let env = Env::start(cloud_only(), "").await;
    env.create_all().await;
    assert_secret_absent(&env, &user_data_sent(&env), None);

    // A create that fails after the key was generated and sent.
    let env = Env::start(cloud_only(), "POST /servers:500").await;
    env.create("ssh_key.admin").await;
    let err = env
        .applier
        .create(&env.cx, &env.desired("server.app"))
        .await
        .unwrap_err();
    assert!(matches!(err, ApplyError::Hcloud(_)), "{err:?}");
    assert_secret_absent(&env, &user_data_sent(&env), Some(&err));
    assert!(
        env.client
            .list_servers(&ListParams::new())
            .await
            .unwrap()
            .is_empty()
    );
}

/// The base64 body lines of the OpenSSH private key inside cloud-init user data.
fn private_key_lines(user_data: &str) -> Vec<String> {
    let start = user_data
        .find("BEGIN OPENSSH PRIVATE KEY")
        .expect("private key present");
    let end = user_data.find("END OPENSSH PRIVATE KEY").unwrap();
    user_data[start..end]
        .lines()
        .skip(1)
        .map(|l| l.trim().to_owned())
        .filter(|l| l.len() >= 20 && !l.starts_with("-----"))
        .collect()
}

#[tokio::test]
async fn a_run_that_died_after_the_create_is_adopted_with_its_checkpointed_host_key() {
    let env = Env::start(cloud_only(), "").await;
    env.create("ssh_key.admin").await;
    let first = env.create("server.app").await;
    // The process died after the server existed but before the result was recorded: state
    // holds only the checkpoint.
    let (_, pending, _) = env.checkpoints.lock().unwrap()[0].clone();
    env.record("server.app", pending.clone());
    let boots_before = env.boots.lock().unwrap().len();

    let again = env.create("server.app").await;
    assert_eq!(again.id, first.id);
    assert_eq!(again.status, ResourceStatus::Ready);
    assert_eq!(
        again.attributes["host_key_fingerprint"],
        pending.attributes["host_key_fingerprint"]
    );
    assert_eq!(env.sb.request_log().count("POST /servers"), 1);
    assert_eq!(
        env.checkpoints.lock().unwrap().len(),
        1,
        "no new key generated"
    );
    assert_eq!(env.boots.lock().unwrap().len(), boots_before);

    // Deleting a never-confirmed create finds it by its labels.
    env.record("server.app", pending);
    env.delete("server.app").await;
    assert!(
        env.client
            .list_servers(&ListParams::new())
            .await
            .unwrap()
            .is_empty()
    );
}

/// Switches on delete protection behind sovstack's back, as a person in the Console would, and
/// waits until the sandbox shows it.
async fn protect(env: &Env, path: &str, body: Value) {
    let url = format!("{}{path}/actions/change_protection", env.sb.base_url());
    let request = reqwest::Client::new().post(url).json(&body);
    let answer = request.bearer_auth("someone-else").send().await;
    let resp: Value = answer.expect("the sandbox answers").json().await.unwrap();
    let action = ActionId(resp["action"]["id"].as_u64().expect("an action"));
    env.client
        .wait_for_actions(&[action])
        .await
        .expect("the protection is switched on");
}

#[tokio::test]
async fn protected_resources_are_kept_and_the_error_says_how_to_lift_it() {
    let env = Env::start(cloud_only(), "").await;
    env.create_all().await;
    let (server, volume) = (env.id("server.app"), env.id("volume.data"));
    protect(
        &env,
        &format!("/servers/{server}"),
        json!({"delete": true, "rebuild": true}),
    )
    .await;
    protect(&env, &format!("/volumes/{volume}"), json!({"delete": true})).await;

    let mut shown = String::new();
    for (address, noun, id, command) in [
        (
            "volume.data",
            "volume",
            volume,
            format!("hcloud volume disable-protection {volume} delete"),
        ),
        (
            "server.app",
            "server",
            server,
            format!("hcloud server disable-protection {server} delete rebuild"),
        ),
    ] {
        let err = env
            .applier
            .delete(&env.cx, address, &env.state(address))
            .await
            .expect_err("a protected resource is not deleted");
        let ApplyError::Protected {
            noun: n,
            id: i,
            help,
            ..
        } = &err
        else {
            panic!("{address}: expected a protection error, got {err:?}");
        };
        assert_eq!((*n, *i), (noun, id));
        assert!(help.contains(&command), "{help}");
        let code = miette::Diagnostic::code(&err).map(|c| c.to_string());
        shown.push_str(&format!(
            "{err}\n  [{}] help: {help}\n",
            code.unwrap_or_default()
        ));
    }
    insta::assert_snapshot!("cloud_apply_protected_delete_messages", shown);
    // Nothing was let go of on the way: the volume is still attached to its server.
    let v = env.client.get_volume(VolumeId(volume)).await.unwrap();
    assert_eq!(v.server, Some(ServerId(server)));
    assert!(env.client.get_server(ServerId(server)).await.is_ok());
    assert_eq!(
        env.sb
            .request_log()
            .count("POST /volumes/{id}/actions/detach"),
        0
    );
}
