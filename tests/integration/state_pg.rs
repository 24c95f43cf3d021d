//! Team state in PostgreSQL, through the command line: a stack with `backend "pg"` applies,
//! lists, shows, drifts and destroys against the simulator with no local state file; two
//! applies contend for the lock across processes, and a holder killed with SIGKILL leaves every
//! completed operation recorded and releases the lock with its session; state moves between the
//! local file and PostgreSQL keeping its lineage and serial; TLS checks the server's certificate.

use crate::cloud_kill;
use crate::harness::postgres::{PgCluster, ServerTls};
use crate::harness::request_gate::{KillPoint, RequestGate};
use crate::harness::sandbox_cli::{self, Workspace, text};
use sovstack::sandbox::SandboxConfig;
use sovstack::state::pg_conn::{PgSettings, SslMode};
use sovstack::state::{PgBackend, StateBackend, StateError, StateFile, StateOp, StateWriter};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The key of the keyed hashes, the same for every run (as on every machine of a team).
const STATE_KEY: &str = "0b5e55ed0b5e55ed0b5e55ed0b5e55ed0b5e55ed0b5e55ed0b5e55ed0b5e55ed";

/// `stack` with `backend "pg" {}` (plus `extra` lines) in its empty `stack "<name>" {}` block.
fn with_backend(stack: &str, extra: &str) -> String {
    let start = stack.find("stack \"").expect("a stack block");
    let open = start + stack[start..].find("{}").expect("an empty stack block");
    format!(
        "{}{{\n  backend \"pg\" {{\n{extra}  }}\n}}{}",
        &stack[..open],
        &stack[open + 2..]
    )
}

/// `sovstack ARGS` against the sandbox at `endpoint`, its state in the database at `conn`.
fn pg_command(endpoint: &str, dir: &Path, conn: &str, args: &[&str]) -> Command {
    let mut c = sandbox_cli::command(endpoint, dir, args);
    c.env("PG_CONN_STR", conn)
        .env("SOVSTACK_STATE_KEY", STATE_KEY);
    c
}

async fn output_of(mut c: Command) -> Output {
    tokio::task::spawn_blocking(move || c.output().expect("run sovstack"))
        .await
        .expect("the run's thread")
}

async fn pg_run(endpoint: &str, dir: &Path, conn: &str, args: &[&str]) -> Output {
    output_of(pg_command(endpoint, dir, conn, args)).await
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// What `audit verify` says of the chain (entries and head), without where the journal is.
fn chain(o: &Output) -> Option<String> {
    assert_ok(o, "audit verify");
    stdout(o).rsplit_once(": ").map(|(_, c)| c.to_string())
}

fn assert_ok(o: &Output, what: &str) {
    assert!(o.status.success(), "{what}: {}", text(o));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cloud_only_lives_in_postgres_from_apply_to_destroy() {
    let Some(pg) = PgCluster::start() else {
        return;
    };
    let conn = pg.conn_str();
    let sb = sandbox_cli::start(SandboxConfig::for_tests()).await;
    let url = sb.base_url();
    let ws = Workspace::new(&with_backend(&sandbox_cli::cloud_only(), ""));
    let run = |args: &'static [&'static str]| pg_run(&url, &ws.dir, &conn, args);

    assert_ok(&run(&["apply", "--auto-approve"]).await, "apply");
    assert!(
        !ws.dir.join(".sovstack").exists(),
        "no local state is written"
    );
    let listed = run(&["state", "list"]).await;
    assert_ok(&listed, "state list");
    assert_eq!(
        stdout(&listed).lines().collect::<Vec<_>>(),
        ["firewall.app", "server.app", "ssh_key.admin", "volume.data"],
        "{}",
        text(&listed)
    );
    let shown = run(&["state", "show", "server.app"]).await;
    assert_ok(&shown, "state show");
    assert!(stdout(&shown).contains("\"id\""), "{}", text(&shown));
    let show = run(&["show"]).await;
    assert!(
        stdout(&show).starts_with("# stack cloud-only"),
        "{}",
        text(&show)
    );
    let drift = run(&["drift"]).await;
    assert_eq!(drift.status.code(), Some(0), "no drift: {}", text(&drift));
    let plan = run(&["plan", "--detailed-exitcode"]).await;
    assert_eq!(plan.status.code(), Some(0), "converged: {}", text(&plan));
    let audit = run(&["audit", "verify"]).await;
    assert_ok(&audit, "audit verify");
    assert!(
        stdout(&audit).contains("every link intact"),
        "{}",
        text(&audit)
    );

    // The state key is required: without it the keyed hashes could not be checked.
    let without = |var: &str, args: &[&str]| {
        let mut c = pg_command(&url, &ws.dir, &conn, args);
        c.env_remove(var);
        output_of(c)
    };
    let o = without("SOVSTACK_STATE_KEY", &["apply", "--auto-approve"]).await;
    assert_eq!(o.status.code(), Some(1));
    let t = text(&o);
    assert!(t.contains("SOVSTACK_STATE_KEY must be set"), "{t}");
    // Without a connection string the block is pointed at, with what to do.
    let o = without("PG_CONN_STR", &["state", "list"]).await;
    assert_eq!(o.status.code(), Some(1));
    let t = text(&o);
    assert!(
        t.contains("stack.hcl:7:") && t.contains("set PG_CONN_STR"),
        "{t}"
    );

    // Renaming the stack moves its state (and journal) to the new name, in one transaction.
    let stack_file = ws.dir.join("stack.hcl");
    let renamed = std::fs::read_to_string(&stack_file)
        .unwrap()
        .replace("stack \"cloud-only\"", "stack \"cloud-two\"");
    std::fs::write(&stack_file, renamed).unwrap();
    // Before the state moves, the new name finds none: the plan says where it may be.
    let before = run(&["plan"]).await;
    assert!(
        text(&before).contains("`cloud-only`")
            && text(&before).contains("sovstack state rename-stack cloud-only cloud-two"),
        "{}",
        text(&before)
    );
    assert_ok(
        &run(&["state", "rename-stack", "cloud-only", "cloud-two"]).await,
        "rename-stack",
    );
    let old = PgBackend::new(conn.clone(), "cloud-only");
    assert!(
        old.load().await.unwrap().is_none(),
        "nothing left under the old name"
    );
    let listed_after = run(&["state", "list"]).await;
    assert_eq!(stdout(&listed_after), stdout(&listed));
    // The journal came along: the same entries and head, now under the new name.
    let moved = run(&["audit", "verify"]).await;
    assert!(
        stdout(&moved).contains("stack `cloud-two`"),
        "{}",
        text(&moved)
    );
    assert_eq!(chain(&moved), chain(&audit));
    assert_ok(
        &run(&["apply", "--auto-approve"]).await,
        "apply under the new name",
    );
    let plan = run(&["plan", "--detailed-exitcode"]).await;
    assert_eq!(plan.status.code(), Some(0), "converged: {}", text(&plan));
    for s in sandbox_cli::list(&url, "servers").await {
        assert_eq!(s["labels"]["sovstack.stack"], "cloud-two");
    }

    assert_ok(&run(&["destroy", "--auto-approve"]).await, "destroy");
    assert!(sandbox_cli::list(&url, "servers").await.is_empty());
    let listed = run(&["state", "list"]).await;
    assert_ok(&listed, "state list after destroy");
    assert_eq!(stdout(&listed).trim(), "");
    assert!(!ws.dir.join(".sovstack").exists());
    sb.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn force_unlock_ends_a_stuck_holders_session() {
    let Some(pg) = PgCluster::start() else {
        return;
    };
    let conn = pg.conn_str();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("stack.hcl"),
        with_backend("stack \"stuck\" {}\n", ""),
    )
    .unwrap();
    let holder = PgBackend::new(conn.clone(), "stuck");
    let mut w = holder.lock("apply", Duration::ZERO).await.unwrap();
    w.init("stuck").await.unwrap();
    let id = w.lock_info().id.clone();
    let force_unlock = |id: &str| {
        let cli = crate::harness::cli::Sovstack::in_dir(dir.path())
            .env("PG_CONN_STR", &conn)
            .args(["force-unlock", id]);
        tokio::task::spawn_blocking(move || cli.run())
    };
    let wrong = force_unlock("not-the-id").await.unwrap();
    wrong.expect_code(1);
    assert!(wrong.stderr.contains("does not match"), "{}", wrong.stderr);
    let released = force_unlock(&id).await.unwrap();
    released.expect_code(0);
    assert!(
        released.stdout.contains("was released"),
        "{}",
        released.stdout
    );
    // The stuck holder's session is gone: it can write nothing more, and the lock is free.
    let write = w.record(StateOp::Remove {
        address: "server.x".into(),
    });
    assert!(write.await.is_err(), "a broken lock writes nothing");
    drop(
        holder
            .lock("apply", Duration::ZERO)
            .await
            .expect("the lock is free"),
    );
}

/// A session of the database, for the test's own queries.
async fn superuser(pg: &PgCluster) -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(&pg.conn_str(), tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(conn);
    client
}

/// The database's clock, as text.
async fn db_now(pg: &PgCluster) -> String {
    let row = superuser(pg)
        .await
        .query_one("SELECT now()::text", &[])
        .await;
    row.expect("read the clock").get(0)
}

/// Waits until a session started after `since` is in the loop of a run waiting for the lock
/// (`--lock-timeout`): its last query is one of the three that loop sends.
async fn wait_for_a_waiter(pg: &PgCluster, since: &str) {
    let client = superuser(pg).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let waiting: i64 = client
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE backend_start > $1::text::timestamptz \
                 AND (query LIKE 'SELECT pg_try_advisory_lock%' OR query LIKE 'SELECT pid FROM pg_locks%' \
                 OR query LIKE 'SELECT backend_pid, info FROM sovstack_state_lock%')",
                &[&since],
            )
            .await
            .expect("read pg_stat_activity")
            .get(0);
        if waiting > 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no run started waiting for the lock"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_applies_share_the_lock_and_a_killed_holder_loses_nothing() {
    let Some(pg) = PgCluster::start() else {
        return;
    };
    let conn = pg.conn_str();
    let sb = cloud_kill::sandbox_with_actions_of(Duration::from_millis(50)).await;
    let ws = Workspace::new(&with_backend(&cloud_kill::stack(), ""));
    let apply = ["apply", "--auto-approve"];

    // The holder stops mid-apply, an answer withheld: it holds the lock and has recorded some.
    let point = KillPoint {
        request: 20,
        after_response: true,
    };
    let gate = RequestGate::start(&format!("http://{}", sb.addr()), Some(point)).await;
    let mut holder = pg_command(gate.url(), &ws.dir, &conn, &apply)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the holder starts");
    let holder_pid = holder.id();
    tokio::time::timeout(Duration::from_secs(120), gate.tripped())
        .await
        .expect("the holder reaches the kill point");

    // Another machine's apply fails at once, naming the holder.
    let started = Instant::now();
    let refused = pg_run(&sb.base_url(), &ws.dir, &conn, &apply).await;
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused));
    let t = text(&refused);
    assert!(
        t.contains("is locked")
            && t.contains(&format!("pid {holder_pid}"))
            && t.contains("for `apply`"),
        "{t}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "it did not wait"
    );

    // What the holder completed is in PostgreSQL already, read from another session.
    let recorded = PgBackend::new(conn.clone(), "kill")
        .load()
        .await
        .expect("read the state")
        .expect("a state");
    assert!(
        recorded.pending_ops > 0 && !recorded.state.resources.is_empty(),
        "every completed operation is durable: {} pending, {:?}",
        recorded.pending_ops,
        recorded.state.resources.keys().collect::<Vec<_>>()
    );

    // A third run waits for the lock; the holder dies by SIGKILL; its session ends, and with it
    // the lock: the waiter takes it and converges.
    let waiter = pg_command(
        &sb.base_url(),
        &ws.dir,
        &conn,
        &["apply", "--auto-approve", "--lock-timeout", "120s"],
    );
    let since = db_now(&pg).await;
    let waiter = tokio::spawn(output_of(waiter));
    wait_for_a_waiter(&pg, &since).await;
    // SAFETY: kill(2) on our own child's pid, which it still holds (not yet reaped).
    unsafe { libc::kill(holder_pid as libc::pid_t, libc::SIGKILL) };
    let _ = tokio::task::spawn_blocking(move || holder.wait()).await;
    let waited = waiter.await.expect("the waiter's task");
    assert_ok(&waited, "apply waiting for the lock");
    for address in recorded.state.resources.keys() {
        let listed = pg_run(&sb.base_url(), &ws.dir, &conn, &["state", "list"]).await;
        assert!(
            stdout(&listed).lines().any(|l| l == address),
            "{address} kept"
        );
    }
    let plan = pg_run(
        &sb.base_url(),
        &ws.dir,
        &conn,
        &["plan", "--detailed-exitcode"],
    )
    .await;
    assert_eq!(plan.status.code(), Some(0), "{}", text(&plan));
    assert_eq!(
        cloud_kill::inventory(&sb).await,
        cloud_kill::expected_inventory(),
        "no duplicate, no orphan"
    );
    sb.shutdown().await;
}

/// The state as `state pull` prints it.
fn pulled(o: &Output) -> StateFile {
    assert_ok(o, "state pull");
    serde_json::from_slice(&o.stdout).expect("a state file")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_moves_to_postgres_and_back_keeping_lineage_and_serial() {
    let Some(pg) = PgCluster::start() else {
        return;
    };
    let conn = pg.conn_str();
    let sb = sandbox_cli::start(SandboxConfig::for_tests()).await;
    let url = sb.base_url();
    let local_stack = sandbox_cli::cloud_only();
    let ws = Workspace::new(&local_stack);
    let stack_file = ws.dir.join("stack.hcl");
    let run = |args: &'static [&'static str]| pg_run(&url, &ws.dir, &conn, args);

    assert_ok(&run(&["apply", "--auto-approve"]).await, "local apply");
    let local = pulled(&run(&["state", "pull"]).await);
    assert!(local.resources.len() == 4 && local.serial >= 1);
    let journal = chain(&run(&["audit", "verify"]).await);
    assert!(
        journal
            .as_deref()
            .is_some_and(|j| j.starts_with("1 entries")),
        "{journal:?}"
    );

    // Local to PostgreSQL: the same state, lineage and serial.
    std::fs::write(&stack_file, with_backend(&local_stack, "")).unwrap();
    let migrated = run(&["state", "migrate", "--to", "pg"]).await;
    assert_ok(&migrated, "migrate to pg");
    let remote = pulled(&run(&["state", "pull"]).await);
    assert_eq!(remote, local, "the state arrives as it was");
    assert_eq!(
        chain(&run(&["audit", "verify"]).await),
        journal,
        "and its journal"
    );
    let plan = run(&["plan", "--detailed-exitcode"]).await;
    assert_eq!(plan.status.code(), Some(0), "{}", text(&plan));
    // A second migration never overwrites.
    let again = run(&["state", "migrate", "--to", "pg"]).await;
    assert!(
        text(&again).contains("already holds a state"),
        "{}",
        text(&again)
    );

    // Push: the pulled copy goes back as the next serial; then it is stale and refused.
    let copy = ws.dir.join("pulled.json");
    std::fs::write(&copy, &run(&["state", "pull"]).await.stdout).unwrap();
    let pushed = run(&["state", "push", "pulled.json"]).await;
    assert_ok(&pushed, "push");
    let stale = run(&["state", "push", "pulled.json"]).await;
    assert_eq!(stale.status.code(), Some(1));
    let t = text(&stale);
    assert!(
        t.contains(&format!(
            "holds serial {}, older than the current state's {}",
            local.serial,
            local.serial + 1
        )),
        "{t}"
    );
    assert_ok(
        &run(&["state", "push", "pulled.json", "--force"]).await,
        "forced push",
    );
    // Another history is refused, forced or not.
    let mut foreign = StateFile::new("cloud-only");
    foreign.serial = 99;
    foreign.seal();
    std::fs::write(&copy, sovstack::state::snapshot::encode(&foreign).unwrap()).unwrap();
    let other = run(&["state", "push", "pulled.json", "--force"]).await;
    assert!(
        text(&other).contains("another state's history"),
        "{}",
        text(&other)
    );
    let remote = pulled(&run(&["state", "pull"]).await);
    assert_eq!(
        (remote.lineage, remote.serial),
        (local.lineage, local.serial + 2)
    );

    // And back: the local files from before are moved away, the state comes home.
    std::fs::remove_dir_all(ws.dir.join(".sovstack")).unwrap();
    assert_ok(
        &run(&["state", "migrate", "--to", "local"]).await,
        "migrate to local",
    );
    std::fs::write(&stack_file, &local_stack).unwrap();
    let home = pulled(&run(&["state", "pull"]).await);
    assert_eq!(home, remote);
    assert_eq!(chain(&run(&["audit", "verify"]).await), journal);
    // The key came along into the key file, so the local state needs no variable.
    let key_file = ws.dir.join(".sovstack/state.json.key");
    assert_eq!(std::fs::read_to_string(key_file).unwrap().trim(), STATE_KEY);
    let plan = run(&["plan", "--detailed-exitcode"]).await;
    assert_eq!(plan.status.code(), Some(0), "{}", text(&plan));
    sb.shutdown().await;
}

/// A CA and a server certificate it signed for `db.sovstack.test`.
struct Pki {
    ca_pem: String,
    server: ServerTls,
}

/// A CA called `name`.
fn ca(name: &str) -> (rcgen::CertificateParams, rcgen::KeyPair, String) {
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("CA params");
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, name);
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let key = rcgen::KeyPair::generate().expect("CA key");
    let pem = params.self_signed(&key).expect("CA certificate").pem();
    (params, key, pem)
}

fn pki() -> Pki {
    let (params, key, ca_pem) = ca("sovstack test CA");
    let issuer = rcgen::Issuer::new(params, key);
    let server_key = rcgen::KeyPair::generate().expect("server key");
    let cert = rcgen::CertificateParams::new(vec!["db.sovstack.test".to_string()])
        .expect("server params")
        .signed_by(&server_key, &issuer)
        .expect("server certificate");
    Pki {
        ca_pem,
        server: ServerTls {
            cert_pem: cert.pem(),
            key_pem: server_key.serialize_pem(),
        },
    }
}

#[tokio::test]
async fn tls_verify_full_checks_the_ca_and_the_host_name() {
    let pki = pki();
    let Some(pg) = PgCluster::start_tls(&pki.server) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let right_ca = dir.path().join("ca.pem");
    let wrong_ca = dir.path().join("other-ca.pem");
    std::fs::write(&right_ca, &pki.ca_pem).unwrap();
    std::fs::write(&wrong_ca, ca("another CA").2).unwrap();
    let conn = |host: &str, mode: &str| {
        format!(
            "host={host} hostaddr=127.0.0.1 port={} user=postgres dbname=postgres sslmode={mode}",
            pg.port
        )
    };
    let backend = |conn: String, ca: &Path| {
        let mut s = PgSettings::new(conn);
        s.sslrootcert = Some(ca.to_path_buf());
        PgBackend::with_settings(s, "tls")
    };

    // The right CA and the name in the certificate: connected (over TLS: the server takes no other).
    let ok = backend(conn("db.sovstack.test", "verify-full"), &right_ca);
    assert!(
        ok.load()
            .await
            .expect("verify-full with the right CA")
            .is_none()
    );
    // `require` encrypts without checking; `disable` is turned away by the server.
    let mut s = PgSettings::new(conn("anything.test", "disable"));
    s.sslmode = Some(SslMode::Require);
    assert!(PgBackend::with_settings(s, "tls").load().await.is_ok());
    let plain = PgBackend::new(conn("db.sovstack.test", "disable"), "tls");
    assert!(matches!(
        plain.load().await,
        Err(StateError::Postgres { .. })
    ));

    // A CA that did not sign it, and a host name it does not name: refused, saying why.
    for (host, ca, why) in [
        ("db.sovstack.test", &wrong_ca, "UnknownIssuer"),
        (
            "other.sovstack.test",
            &right_ca,
            "not valid for name \"other.sovstack.test\"",
        ),
    ] {
        match backend(conn(host, "verify-full"), ca).load().await {
            Err(e @ StateError::PgTls { .. }) => {
                let shown = format!("{e}");
                assert!(
                    shown.contains("certificate was refused") && shown.contains(why),
                    "{shown}"
                );
            }
            other => panic!(
                "{host} with {}: expected a refused certificate, got {other:?}",
                ca.display()
            ),
        }
    }

    // Through the command line: the block's TLS settings, and the refusal with what to check.
    let stack = "stack \"tls\" {\n  backend \"pg\" {\n    sslmode     = \"verify-full\"\n    sslrootcert = \"ca.pem\"\n  }\n}\n";
    let cli_dir = dir.path().join("cli");
    std::fs::create_dir(&cli_dir).unwrap();
    std::fs::write(cli_dir.join("stack.hcl"), stack).unwrap();
    let list = |ca: &Path| {
        std::fs::copy(ca, cli_dir.join("ca.pem")).unwrap();
        crate::harness::cli::Sovstack::in_dir(&cli_dir)
            .env("PG_CONN_STR", &conn("db.sovstack.test", "prefer"))
            .args(["state", "list"])
            .run()
    };
    let refused = list(&wrong_ca);
    refused.expect_code(1);
    assert!(
        refused.stderr.contains("TLS certificate was refused")
            && refused.stderr.contains("sslrootcert"),
        "{}",
        refused.stderr
    );
    let listed = list(&right_ca);
    listed.expect_code(1);
    assert!(
        listed.stderr.contains("no state at postgresql stack `tls`"),
        "{}",
        listed.stderr
    );
}

/// The grants docs/team-state.md gives (its `sql` block, run as written) let CI write and
/// force-unlock, and let the reader read and nothing more.
#[tokio::test]
async fn the_roles_the_docs_grant_are_enough() {
    let Some(pg) = PgCluster::start() else {
        return;
    };
    // The owner creates the tables once.
    assert!(
        PgBackend::new(pg.conn_str(), "roles")
            .load()
            .await
            .unwrap()
            .is_none()
    );
    let doc = std::fs::read_to_string(crate::harness::cli::repo_root().join("docs/team-state.md"))
        .expect("docs/team-state.md");
    let sql = doc
        .split("```sql\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("an sql block");
    pg.execute(sql).await;
    let as_role = |role: &str| {
        let conn = format!(
            "host=127.0.0.1 port={} user={role} dbname=postgres sslmode=disable",
            pg.port
        );
        PgBackend::new(conn, "roles")
    };

    let ci = as_role("sovstack_ci");
    let mut w = ci.lock("apply", Duration::ZERO).await.expect("CI locks");
    w.init("roles").await.expect("CI writes a snapshot");
    w.record(crate::state::upsert("server.a", "1"))
        .await
        .expect("CI records");
    w.append_journal(crate::state::record(1))
        .await
        .expect("CI journals");
    w.fold().await.expect("CI folds");
    let id = w.lock_info().id.clone();
    ci.force_unlock(&id)
        .await
        .expect("CI ends its own role's stuck session");
    assert_eq!(ci.verify_journal().await.expect("CI verifies").entries, 1);

    let reader = as_role("sovstack_reader");
    let loaded = reader
        .load()
        .await
        .expect("the reader reads")
        .expect("a state");
    assert!(loaded.state.resources.contains_key("server.a"));
    assert!(
        reader.lock("apply", Duration::ZERO).await.is_err(),
        "the reader cannot lock"
    );
}
