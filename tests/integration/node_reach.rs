//! Reading nodes never waits without bound: a server recorded in state is not waited for as if
//! it were booting (its sshd is down: reported at once), a host whose sshd accepts and says
//! nothing is reported unreadable once the read limit passes, and a node that answers is read
//! and reported all the same.

use crate::harness::sshd::Sshd;
use sovstack::config::{LoadOptions, load_str};
use sovstack::progress::EventSink;
use sovstack::resources::{
    ApplyContext, ApplyOptions, Checkpoint, NodeProvider, Observed, Providers, Refreshed,
};
use sovstack::state::{KeyedHasher, ResourceState, ResourceStatus};
use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::Path;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

const FINGERPRINT: &str = "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU";

fn recorded(kind: &str, attributes: serde_json::Value) -> ResourceState {
    ResourceState {
        kind: kind.into(),
        id: Some("1".into()),
        attributes: serde_json::from_value(attributes).expect("attributes"),
        sensitive_attributes: BTreeMap::new(),
        dependencies: Vec::new(),
        status: ResourceStatus::Ready,
    }
}

/// A port nothing listens on.
fn closed_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

fn host_block(name: &str, port: u16, fingerprint: &str, user: &str, key: &str) -> String {
    format!(
        "host \"{name}\" {{\n  address  = \"127.0.0.1\"\n  host_key = \"{fingerprint}\"\n  location = \"fsn1\"\n  ssh {{\n    user             = \"{user}\"\n    port             = {port}\n    private_key_file = \"{key}\"\n  }}\n}}\n"
    )
}

/// Reads every node of `state` (the stack's hosts and servers) with `providers`.
async fn read(
    text: &str,
    state: BTreeMap<String, ResourceState>,
    providers: Providers,
) -> Refreshed {
    let stack = load_str("stack.hcl", text, Path::new("."), &LoadOptions::default())
        .stack
        .expect("the stack loads");
    let cx = ApplyContext {
        stack: Arc::new(stack),
        resources: Arc::new(RwLock::new(state.clone())),
        hasher: Arc::new(KeyedHasher::from_key([3; 32])),
        events: EventSink::discard(),
        checkpoint: Checkpoint::none(),
        options: ApplyOptions::default(),
    };
    // Only node resources are read: the server's own record stays in the context.
    let nodes_only: BTreeMap<String, ResourceState> = state
        .into_iter()
        .filter(|(_, r)| r.kind != "server")
        .collect();
    let mut out = Refreshed::default();
    for part in providers.refresh_each(&cx, &nodes_only).await {
        out.merge(part.expect("each part reads"));
    }
    out
}

/// A stack with server `a` whose sshd port is closed, and state recording it (with a node
/// resource on it) as existing.
fn server_with_closed_sshd() -> (String, BTreeMap<String, ResourceState>) {
    let text = format!(
        "stack \"reach\" {{}}\n\nssh_key \"admin\" {{\n  public_key = \"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHjnsxkcV8lBTYD+jNVRMH3xx6UXzdeDRxQJFOB9ueSt admin\"\n}}\n\nserver \"a\" {{\n  server_type = \"cx23\"\n  location    = \"nbg1\"\n  image       = \"ubuntu-24.04\"\n  ssh_keys    = [ssh_key.admin]\n  ssh {{\n    port = {}\n  }}\n}}\n\n",
        closed_port(),
    );
    let state = BTreeMap::from([
        (
            "server.a".to_string(),
            recorded(
                "server",
                serde_json::json!({"ipv4_address": "127.0.0.1", "host_key_fingerprint": FINGERPRINT}),
            ),
        ),
        (
            "bootstrap.a".to_string(),
            recorded("bootstrap", serde_json::json!({"node": "server.a"})),
        ),
    ]);
    (text, state)
}

/// What refresh and drift read with: a recorded server whose sshd is down is reported at once,
/// not waited for as if it were booting (five minutes).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reading_does_not_wait_for_a_recorded_servers_sshd() {
    let (text, state) = server_with_closed_sshd();
    let started = Instant::now();
    let providers = sovstack::engine::reading_providers(false).expect("providers");
    let found = read(&text, state, providers).await;
    let took = started.elapsed();
    let server = &found.unreadable[0];
    assert_eq!(server.address, "server.a");
    assert!(
        !server.message.contains("no answer within"),
        "{}",
        server.message
    );
    assert!(took < Duration::from_secs(15), "took {took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_node_fails_within_the_read_limit_and_the_others_are_read() {
    let good = Sshd::start();
    // Accepts connections and never says a word, like a hung sshd.
    let silent = TcpListener::bind("127.0.0.1:0").expect("bind");
    let silent_port = silent.local_addr().expect("addr").port();
    let (mut text, mut state) = server_with_closed_sshd();
    text.push_str(&host_block(
        "silent",
        silent_port,
        FINGERPRINT,
        "root",
        "/nonexistent/key",
    ));
    state.insert(
        "host.silent".to_string(),
        recorded("host", serde_json::json!({})),
    );
    if let Some(sshd) = &good {
        text.push_str(&host_block(
            "good",
            sshd.port(),
            &sshd.host_key_fingerprint().to_string(),
            sshd.user(),
            &sshd.client_key().display().to_string(),
        ));
        state.insert(
            "host.good".to_string(),
            recorded(
                "host",
                serde_json::json!({"host_key_fingerprint": sshd.host_key_fingerprint().to_string()}),
            ),
        );
    }
    let limit = Duration::from_secs(3);
    let nodes = NodeProvider::default()
        .with_sshd_wait(Duration::ZERO)
        .with_read_limit(limit);
    let started = Instant::now();
    let found = read(&text, state, Providers::new(None, nodes)).await;
    let took = started.elapsed();

    let unreadable: BTreeMap<&str, &str> = found
        .unreadable
        .iter()
        .map(|u| (u.address.as_str(), u.message.as_str()))
        .collect();
    // The server's sshd is down: said at once, not after waiting for it to boot.
    let server = unreadable.get("server.a").expect("server.a unreadable");
    assert!(!server.contains("no answer within"), "{server}");
    // The silent host is given up on at the limit, and says so.
    assert_eq!(
        unreadable.get("host.silent").copied(),
        Some("host.silent: no answer within 3s (connecting over SSH and probing)")
    );
    assert!(took < limit + Duration::from_secs(5), "took {took:?}");
    if let Some(sshd) = &good {
        // Read (logged in and probed), and as recorded: reported as nothing to say.
        assert!(!unreadable.contains_key("host.good"), "{unreadable:?}");
        assert_eq!(sshd.accepted_logins(), 1);
        assert!(
            !matches!(found.observed.get("host.good"), Some(Observed::Missing)),
            "{:?}",
            found.observed
        );
    }
    drop(silent);
}
