//! Host-key rotation against a real sshd on loopback: the key sovstack sent with cloud-init (the
//! sshd's first key here) is replaced by one generated on the server, state pins the new one and
//! refuses the old, and the cloud-init copies of the old key are removed from the disk.
//!
//! A crash between any two steps is a real one: a child process (this test binary run again)
//! takes the first steps, recording state through the checkpoint channel as the executor does
//! (a file written and renamed before the step goes on), and aborts. The next run must connect,
//! verified, and finish the rotation.

use crate::harness::sshd::{Sshd, fingerprint_by_ssh_keygen};
use sovstack::config::{LoadOptions, Stack, load_str};
use sovstack::progress::EventSink;
use sovstack::providers::ssh::{
    HostKeyFingerprint, HostKeyPolicy, SshError, SshOptions, SshPool, SshTransport, wait_for_sshd,
};
use sovstack::resources::host_key::{CloudInitLayout, HostKeyState, Rotation, STEPS};
use sovstack::resources::{
    Address, ApplyContext, ApplyError, ApplyOptions, Checkpoint, NodeProvider,
};
use sovstack::state::{KeyedHasher, ResourceState, ResourceStatus};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, RwLock};

const ADDRESS: &str = "host_key.box";
const NODE: &str = "server.box";
const ROLE_ENV: &str = "SOVSTACK_HOST_KEY_TEST_STEPS";
const WORLD_ENV: &str = "SOVSTACK_HOST_KEY_TEST_WORLD";

/// What a child needs to reach the same server and record into the same state.
#[derive(serde::Serialize, serde::Deserialize)]
struct World {
    port: u16,
    user: String,
    client_key: PathBuf,
    cloud_init_key: String,
    state: PathBuf,
    cloud_dir: PathBuf,
}

impl World {
    fn new(sshd: &Sshd, dir: &Path) -> Self {
        let cloud_dir = dir.join("cloud");
        let instance = cloud_dir.join("instances/i-1");
        std::fs::create_dir_all(&instance).unwrap();
        // What cloud-init keeps of the user data: the key sovstack sent, private half included.
        let public = std::fs::read_to_string(sshd.host_key_path().with_extension("pub")).unwrap();
        let private = std::fs::read_to_string(sshd.host_key_path()).unwrap();
        let user_data = format!(
            "#cloud-config\nssh_keys:\n  ed25519_private: |\n{}  ed25519_public: {public}",
            private
                .lines()
                .map(|l| format!("    {l}\n"))
                .collect::<String>()
        );
        std::fs::write(instance.join("user-data.txt"), &user_data).unwrap();
        std::fs::write(instance.join("obj.pkl"), format!("\u{80}\u{4}{user_data}")).unwrap();
        // Someone else's key material: not ours to touch.
        std::fs::write(
            instance.join("other.txt"),
            "-----BEGIN OPENSSH PRIVATE KEY-----\nssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGM7oWuhn2/WYtFgnfd2EBeWvKziN/Ubwm3p3akczNWZ x\n",
        )
        .unwrap();
        World {
            port: sshd.port(),
            user: sshd.user().to_string(),
            client_key: sshd.client_key(),
            cloud_init_key: sshd.host_key_fingerprint().to_string(),
            state: dir.join("state.json"),
            cloud_dir,
        }
    }

    fn stack(&self) -> Stack {
        let text = format!(
            r#"
stack "rotate" {{}}
server "box" {{
  server_type = "cx23"
  location    = "fsn1"
  image       = "ubuntu-24.04"
  ssh {{
    user             = "{}"
    port             = {}
    private_key_file = "{}"
  }}
}}
"#,
            self.user,
            self.port,
            self.client_key.display()
        );
        let loaded = load_str("stack.hcl", &text, Path::new("."), &LoadOptions::default());
        assert!(!loaded.diagnostics.has_errors(), "{:?}", loaded.diagnostics);
        loaded.stack.unwrap()
    }

    /// The server as the cloud layer recorded it, and whatever the rotation recorded so far.
    fn resources(&self) -> BTreeMap<String, ResourceState> {
        let mut out: BTreeMap<String, ResourceState> = std::fs::read_to_string(&self.state)
            .map(|t| serde_json::from_str(&t).unwrap())
            .unwrap_or_default();
        out.insert(
            NODE.into(),
            ResourceState {
                kind: "server".into(),
                id: Some("4711".into()),
                attributes: BTreeMap::from([
                    ("ipv4_address".into(), "127.0.0.1".into()),
                    (
                        "host_key_fingerprint".into(),
                        self.cloud_init_key.clone().into(),
                    ),
                ]),
                sensitive_attributes: BTreeMap::new(),
                dependencies: Vec::new(),
                status: ResourceStatus::Ready,
            },
        );
        out
    }

    fn layout(&self) -> CloudInitLayout {
        CloudInitLayout {
            dir: self.cloud_dir.display().to_string(),
            disable_flag: self
                .cloud_dir
                .join("cloud-init.disabled")
                .display()
                .to_string(),
        }
    }

    /// A run's context over the recorded state; checkpoints land in the state file (written to
    /// a temp file and renamed, like the local backend) before the step that made them goes on.
    fn context(&self) -> ApplyContext {
        let (checkpoint, mut rx) = Checkpoint::new();
        let path = self.state.clone();
        tokio::spawn(async move {
            let mut recorded: BTreeMap<String, ResourceState> = std::fs::read_to_string(&path)
                .map(|t| serde_json::from_str(&t).unwrap())
                .unwrap_or_default();
            while let Some((address, state, ack)) = rx.recv().await {
                recorded.insert(address, state);
                let tmp = path.with_extension("tmp");
                std::fs::write(&tmp, serde_json::to_vec(&recorded).unwrap()).unwrap();
                std::fs::rename(&tmp, &path).unwrap();
                let _ = ack.send(Ok(()));
            }
        });
        ApplyContext {
            stack: Arc::new(self.stack()),
            resources: Arc::new(RwLock::new(self.resources())),
            hasher: Arc::new(KeyedHasher::from_key([7u8; 32])),
            events: EventSink::new().0,
            checkpoint,
            options: ApplyOptions {
                trust_new_host_keys: false,
                parallelism: 1,
            },
        }
    }
}

fn nodes() -> NodeProvider {
    NodeProvider::new(Arc::new(SshPool::new(SshOptions::default())))
}

fn rotation<'a>(w: &World, cx: &'a ApplyContext, nodes: &'a NodeProvider) -> Rotation<'a> {
    Rotation {
        cx,
        nodes,
        address: ADDRESS,
        node: NODE,
        layout: w.layout(),
    }
}

/// What the server presents now, accepted whatever it is.
async fn presented(sshd: &Sshd) -> HostKeyFingerprint {
    SshTransport::connect(
        sshd.endpoint(HostKeyPolicy::LearnOnce),
        SshOptions::default(),
    )
    .await
    .unwrap()
    .host_key()
    .fingerprint()
}

/// After a rotation: the new key is live, pinned, generated on the server; the old one is
/// refused; the cloud-init copies are gone and cloud-init is kept from writing them back.
async fn assert_rotated(sshd: &Sshd, w: &World) {
    let cx = w.context();
    let state = HostKeyState::of(&cx, NODE).unwrap().unwrap();
    let live = presented(sshd).await;
    assert!(state.rotated && state.next.is_none(), "{state:?}");
    assert_eq!(state.current, live);
    assert_ne!(live.to_string(), w.cloud_init_key);
    assert_eq!(fingerprint_by_ssh_keygen(&sshd.host_key_path()), live);
    assert_eq!(state.policy(), HostKeyPolicy::Pinned(live));
    let old = SshTransport::connect(
        sshd.endpoint(HostKeyPolicy::Pinned(w.cloud_init_key.parse().unwrap())),
        SshOptions::default(),
    )
    .await
    .unwrap_err();
    assert!(matches!(old, SshError::HostKeyMismatch { .. }), "{old}");
    let instance = w.cloud_dir.join("instances/i-1");
    assert!(!instance.join("user-data.txt").exists());
    assert!(!instance.join("obj.pkl").exists());
    assert!(
        instance.join("other.txt").exists(),
        "someone else's key was removed"
    );
    assert!(w.cloud_dir.join("cloud-init.disabled").exists());
    assert!(state.cloud_init_scrubbed);
}

/// Records what a run returned, as the executor does when the operation completes.
fn record(w: &World, recorded: &ResourceState) {
    let all = BTreeMap::from([(ADDRESS, recorded)]);
    std::fs::write(&w.state, serde_json::to_vec(&all).unwrap()).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cloud_init_key_is_rotated_pinned_and_scrubbed() {
    let Some(sshd) = Sshd::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    let w = World::new(&sshd, dir.path());
    let cx = w.context();
    let nodes = nodes();
    let recorded = rotation(&w, &cx, &nodes).run().await.unwrap();
    assert_eq!(recorded.attributes["rotated"], true);
    assert_eq!(recorded.attributes["cloud_init_scrubbed"], true);
    record(&w, &recorded);
    assert_rotated(&sshd, &w).await;

    // Once rotated, another run only checks the disk again: the key stays.
    let live = presented(&sshd).await;
    let cx = w.context();
    rotation(&w, &cx, &nodes).run().await.unwrap();
    assert_eq!(presented(&sshd).await, live);
}

/// The first `steps` steps of a run, as `Rotation::run` takes them.
async fn first_steps(r: &Rotation<'_>, steps: usize) -> Result<(), ApplyError> {
    assert_eq!(STEPS.len(), 6, "the steps below mirror Rotation::run");
    let mut pos = r.position()?;
    let mut staged = None;
    if steps >= 1 {
        staged = Some(r.stage(&pos).await?.fingerprint());
    }
    let next = || staged.expect("staged");
    if steps >= 2 {
        pos = r.record_next(&pos, next()).await?;
    }
    if steps >= 3 {
        r.install(next()).await?;
    }
    if steps >= 4 {
        r.verify(next()).await?;
    }
    if steps >= 5 {
        pos = r.record_rotated(&pos).await?;
    }
    if steps >= 6 {
        r.scrub(&pos).await?;
    }
    Ok(())
}

/// Not a test of its own: the child the crash test starts. Without its variables it does nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn host_key_child_entry() {
    let (Ok(steps), Ok(world)) = (std::env::var(ROLE_ENV), std::env::var(WORLD_ENV)) else {
        return;
    };
    let w: World = serde_json::from_str(&world).unwrap();
    let cx = w.context();
    let nodes = nodes();
    first_steps(&rotation(&w, &cx, &nodes), steps.parse().unwrap())
        .await
        .unwrap();
    // Killed right after the last step: no cleanup, no destructors, nothing flushed later.
    std::process::abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_between_any_two_steps_leaves_a_server_the_next_run_verifies() {
    for steps in 1..=STEPS.len() {
        let Some(sshd) = Sshd::start() else { return };
        let dir = tempfile::tempdir().unwrap();
        let w = World::new(&sshd, dir.path());
        let status = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "host_key::host_key_child_entry",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(ROLE_ENV, steps.to_string())
            .env(WORLD_ENV, serde_json::to_string(&w).unwrap())
            .status()
            .unwrap();
        assert!(
            !status.success(),
            "the child was meant to die after {}",
            STEPS[steps - 1]
        );

        // The next run connects through the usual endpoint: verified against what state says,
        // once sshd answers (a kill right after `install` leaves it reloading, as the next run
        // waits for a server's sshd before its first connection).
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
        wait_for_sshd(sshd.addr(), deadline)
            .await
            .unwrap_or_err_after(STEPS[steps - 1]);
        let cx = w.context();
        let nodes = nodes();
        let server = sovstack::resources::kind("server")
            .unwrap()
            .as_node()
            .unwrap();
        let ep = server
            .endpoint(&cx, &Address::parse(NODE).unwrap())
            .unwrap_or_err_after(STEPS[steps - 1]);
        SshTransport::connect(ep, SshOptions::default())
            .await
            .unwrap_or_err_after(STEPS[steps - 1]);
        let done = rotation(&w, &cx, &nodes)
            .run()
            .await
            .unwrap_or_err_after(STEPS[steps - 1]);
        record(&w, &done);
        assert_rotated(&sshd, &w).await;
    }
}

trait AfterStep<T> {
    fn unwrap_or_err_after(self, step: &str) -> T;
}

impl<T, E: std::fmt::Display> AfterStep<T> for Result<T, E> {
    fn unwrap_or_err_after(self, step: &str) -> T {
        self.unwrap_or_else(|e| panic!("after a kill after `{step}`: {e}"))
    }
}
