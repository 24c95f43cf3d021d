//! State: refusal of damaged files (every truncation, every bit flip), op-log replay after a real crash, locking
//! across real processes, force-unlock, journal tamper detection, and the PostgreSQL backend on a real server.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use serde_json::json;
use sovstack::state::journal::BreakReason;
use sovstack::state::{
    AddressResult, JournalError, JournalRecord, KeyedHasher, LocalBackend, OutputState, PgBackend,
    ResourceState, ResourceStatus, StateBackend, StateError, StateFile, StateOp, StateWarning,
    StateWriter, verify_journal,
};

use crate::harness::postgres::PgCluster;

const ROLE_ENV: &str = "SOVSTACK_STATE_TEST_ROLE";
const PATH_ENV: &str = "SOVSTACK_STATE_TEST_PATH";
const READY_ENV: &str = "SOVSTACK_STATE_TEST_READY";
const RELEASE_ENV: &str = "SOVSTACK_STATE_TEST_RELEASE";

fn resource(id: &str, hasher: &KeyedHasher) -> ResourceState {
    ResourceState {
        kind: "server".into(),
        id: Some(id.into()),
        attributes: BTreeMap::from([
            ("name".into(), json!("gpu")),
            ("location".into(), json!("Nürnberg")),
            (
                "labels".into(),
                json!({"sovstack.stack": "demo", "sovstack.address": "server.gpu"}),
            ),
            ("ports".into(), json!([22, 443, 8000])),
            ("ratio".into(), json!(0.75)),
        ]),
        sensitive_attributes: BTreeMap::from([(
            "root_password".into(),
            hasher.hash("hunter2-secret"),
        )]),
        dependencies: vec!["ssh_key.admin".into(), "firewall.edge".into()],
        status: ResourceStatus::Ready,
    }
}

pub(crate) fn upsert(address: &str, id: &str) -> StateOp {
    StateOp::Upsert {
        address: address.into(),
        resource: resource(id, &KeyedHasher::from_key([5; 32])),
    }
}

/// A folded local state with a few resources and outputs; returns the backend and its snapshot bytes.
async fn sample_state(dir: &Path) -> (LocalBackend, Vec<u8>) {
    let b = LocalBackend::new(dir.join("sovstack.state.json"));
    let hasher = KeyedHasher::from_key([5; 32]);
    let mut w = b.lock("apply", Duration::ZERO).await.unwrap();
    w.init("demo").await.unwrap();
    w.record(upsert("server.gpu", "4711")).await.unwrap();
    w.record(upsert("server.edge", "4712")).await.unwrap();
    w.record(StateOp::SetOutputs {
        outputs: BTreeMap::from([
            ("ip".into(), OutputState::Value(json!("192.0.2.10"))),
            (
                "api_token".into(),
                OutputState::Sensitive(hasher.hash("tok-secret")),
            ),
        ]),
    })
    .await
    .unwrap();
    w.fold().await.unwrap();
    w.unlock().await.unwrap();
    let bytes = std::fs::read(&b.paths().snapshot).unwrap();
    (b, bytes)
}

fn is_refusal(e: &StateError) -> bool {
    matches!(
        e,
        StateError::SnapshotTruncated { .. }
            | StateError::SnapshotCorrupt { .. }
            | StateError::ChecksumMismatch { .. }
            | StateError::FormatTooNew { .. }
    )
}

/// Every file of a local state, by name, for byte-identity checks.
fn files(b: &LocalBackend) -> BTreeMap<PathBuf, Vec<u8>> {
    let p = b.paths();
    [p.snapshot, p.backup, p.oplog, p.journal]
        .into_iter()
        .filter_map(|f| std::fs::read(&f).ok().map(|bytes| (f, bytes)))
        .collect()
}

#[tokio::test]
async fn secrets_never_reach_the_state_file() {
    let dir = tempfile::tempdir().unwrap();
    let (_, bytes) = sample_state(dir.path()).await;
    let text = String::from_utf8(bytes).unwrap();
    assert!(!text.contains("hunter2-secret") && !text.contains("tok-secret"));
    assert!(text.contains("hmac-sha256"));
}

#[tokio::test]
async fn a_snapshot_truncated_at_any_offset_is_refused_and_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let (b, good) = sample_state(dir.path()).await;
    let path = b.paths().snapshot;
    for cut in 0..good.len() {
        std::fs::write(&path, &good[..cut]).unwrap();
        let err = b
            .load()
            .await
            .expect_err(&format!("truncated at {cut} was accepted"));
        assert!(is_refusal(&err), "offset {cut}: unexpected error {err}");
        let err = b
            .lock("apply", Duration::ZERO)
            .await
            .expect_err("lock on a truncated state");
        assert!(is_refusal(&err), "offset {cut}: unexpected error {err}");
        assert_eq!(
            std::fs::read(&path).unwrap(),
            &good[..cut],
            "offset {cut}: file was modified"
        );
    }
    std::fs::write(&path, &good).unwrap();
    assert!(b.load().await.unwrap().is_some());
}

#[tokio::test]
async fn a_snapshot_with_any_bit_flipped_is_refused_and_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let (b, good) = sample_state(dir.path()).await;
    let path = b.paths().snapshot;
    let mut bad = good.clone();
    for offset in 0..good.len() {
        for bit in 0..8 {
            bad[offset] ^= 1 << bit;
            std::fs::write(&path, &bad).unwrap();
            let err = b.load().await.expect_err(&format!(
                "bit {bit} flipped at offset {offset} was accepted"
            ));
            assert!(
                is_refusal(&err),
                "offset {offset} bit {bit}: unexpected error {err}"
            );
            assert_eq!(
                std::fs::read(&path).unwrap(),
                bad,
                "offset {offset}: file was modified"
            );
            bad[offset] ^= 1 << bit;
        }
    }
}

#[tokio::test]
async fn refusal_messages_name_the_file_and_say_what_to_do() {
    use miette::Diagnostic;
    let dir = tempfile::tempdir().unwrap();
    let (b, good) = sample_state(dir.path()).await;
    let path = b.paths().snapshot;
    let text = String::from_utf8(good.clone())
        .unwrap()
        .replace("4711", "4799");
    std::fs::write(&path, &text).unwrap();
    let err = b.load().await.unwrap_err();
    assert!(matches!(err, StateError::ChecksumMismatch { .. }), "{err}");
    assert!(err.to_string().contains("sovstack.state.json"), "{err}");
    let help = err.help().unwrap().to_string();
    assert!(
        help.contains("left untouched") && help.contains(".backup"),
        "{help}"
    );
}

#[tokio::test]
async fn a_newer_format_is_refused_and_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let (b, good) = sample_state(dir.path()).await;
    let mut v: serde_json::Value = serde_json::from_slice(&good).unwrap();
    v["format_version"] = json!(2);
    v["encryption"] = json!({"method": "future"});
    let mut bytes = serde_json::to_vec_pretty(&v).unwrap();
    bytes.push(b'\n');
    std::fs::write(b.paths().snapshot, &bytes).unwrap();
    let before = files(&b);
    let err = b.lock("apply", Duration::ZERO).await.unwrap_err();
    assert!(
        matches!(
            err,
            StateError::FormatTooNew {
                found: 2,
                supported: 1,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("format version 2"), "{err}");
    assert_eq!(files(&b), before);
}

// ---- operation log -------------------------------------------------------------------------------------------

fn child(role: &str, path: &Path, ready: &Path, release: &Path) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "state::child_process_entry",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(ROLE_ENV, role)
        .env(PATH_ENV, path)
        .env(READY_ENV, ready)
        .env(RELEASE_ENV, release)
        .spawn()
        .expect("re-execute the test binary")
}

fn wait_for_file(path: &Path, child: &mut Child) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(s) = std::fs::read_to_string(path)
            && s.ends_with('\n')
        {
            return s.trim().to_string();
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("child exited with {status} before it was ready");
        }
        assert!(Instant::now() < deadline, "child not ready after 60 s");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Not a test of its own: the entry point of the child processes that the tests below start by re-executing this
/// binary. Without the role variable it does nothing.
#[tokio::test]
async fn child_process_entry() {
    let Ok(role) = std::env::var(ROLE_ENV) else {
        return;
    };
    let path = PathBuf::from(std::env::var(PATH_ENV).unwrap());
    let ready = PathBuf::from(std::env::var(READY_ENV).unwrap());
    let release = PathBuf::from(std::env::var(RELEASE_ENV).unwrap());
    let b = LocalBackend::new(&path);
    match role.as_str() {
        "record-then-crash" => {
            let mut w = b.lock("apply", Duration::ZERO).await.unwrap();
            w.init("demo").await.unwrap();
            for i in 0..3 {
                w.record(upsert(&format!("server.s{i}"), &i.to_string()))
                    .await
                    .unwrap();
            }
            // A crash after the third confirmed operation: no fold, no unlock, no destructors.
            std::process::abort();
        }
        "hold-lock" => {
            let w = b.lock("apply", Duration::ZERO).await.unwrap();
            std::fs::write(&ready, format!("{}\n", w.lock_info().id)).unwrap();
            let deadline = Instant::now() + Duration::from_secs(120);
            while !release.exists() {
                assert!(Instant::now() < deadline, "never released");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            w.unlock().await.unwrap();
        }
        other => panic!("unknown role {other}"),
    }
}

#[tokio::test]
async fn operations_recorded_before_a_crash_are_replayed_and_the_lock_is_free() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.json");
    let mut c = child(
        "record-then-crash",
        &path,
        &dir.path().join("r"),
        &dir.path().join("x"),
    );
    let status = c.wait().unwrap();
    assert!(!status.success(), "the child was meant to abort");
    let b = LocalBackend::new(&path);
    let loaded = b.load().await.unwrap().unwrap();
    assert_eq!(loaded.pending_ops, 3);
    assert_eq!(loaded.state.serial, 1);
    assert_eq!(loaded.state.resources.len(), 3);
    // The crashed holder's OS lock died with it; its stale info does not block.
    let mut w = b.lock("apply", Duration::ZERO).await.unwrap();
    assert_eq!(w.state().unwrap().resources.len(), 3);
    assert_eq!(w.fold().await.unwrap(), 2);
}

#[tokio::test]
async fn a_torn_last_log_line_is_dropped_with_a_warning_and_cut_before_the_next_append() {
    let dir = tempfile::tempdir().unwrap();
    let b = LocalBackend::new(dir.path().join("s.json"));
    let mut w = b.lock("apply", Duration::ZERO).await.unwrap();
    w.init("demo").await.unwrap();
    w.record(upsert("server.a", "1")).await.unwrap();
    w.record(upsert("server.b", "2")).await.unwrap();
    drop(w);
    let log_path = b.paths().oplog;
    let complete = std::fs::read(&log_path).unwrap();
    let first_line_len = complete.iter().position(|&c| c == b'\n').unwrap() + 1;
    // Every cut inside the last line is a torn tail.
    for cut in first_line_len + 1..complete.len() {
        std::fs::write(&log_path, &complete[..cut]).unwrap();
        let loaded = b.load().await.unwrap().unwrap();
        assert_eq!(loaded.pending_ops, 1, "cut at {cut}");
        assert!(matches!(
            loaded.warnings[..],
            [StateWarning::TornOplogTail { line: 2, .. }]
        ));
        assert_eq!(
            std::fs::read(&log_path).unwrap(),
            &complete[..cut],
            "load must not write"
        );
    }
    let mut w = b.lock("apply", Duration::ZERO).await.unwrap();
    assert_eq!(w.warnings().len(), 1);
    w.record(upsert("server.c", "3")).await.unwrap();
    drop(w);
    let loaded = b.load().await.unwrap().unwrap();
    assert!(loaded.warnings.is_empty());
    assert_eq!(
        loaded.state.resources.keys().collect::<Vec<_>>(),
        vec!["server.a", "server.c"]
    );
}

#[tokio::test]
async fn a_corrupt_middle_line_or_a_foreign_log_is_refused_and_nothing_is_touched() {
    let dir = tempfile::tempdir().unwrap();
    let b = LocalBackend::new(dir.path().join("s.json"));
    let mut w = b.lock("apply", Duration::ZERO).await.unwrap();
    w.init("demo").await.unwrap();
    for i in 0..3 {
        w.record(upsert(&format!("server.s{i}"), "1"))
            .await
            .unwrap();
    }
    drop(w);
    let log_path = b.paths().oplog;
    let good = std::fs::read(&log_path).unwrap();
    let line2 = good.iter().position(|&c| c == b'\n').unwrap() + 1;
    let line3 = line2 + good[line2..].iter().position(|&c| c == b'\n').unwrap() + 1;
    // Every single-bit flip anywhere in line 2 (its newline included) is caught.
    for offset in line2..line3 {
        let mut bad = good.clone();
        bad[offset] ^= 0x01;
        std::fs::write(&log_path, &bad).unwrap();
        let before = files(&b);
        let err = b.lock("apply", Duration::ZERO).await.unwrap_err();
        assert!(
            matches!(err, StateError::OplogCorrupt { line: 2 | 3, .. }),
            "offset {offset}: {err}"
        );
        assert_eq!(files(&b), before);
    }
    // A log from another state next to this snapshot.
    let other = tempfile::tempdir().unwrap();
    let ob = LocalBackend::new(other.path().join("s.json"));
    let mut ow = ob.lock("apply", Duration::ZERO).await.unwrap();
    ow.init("demo").await.unwrap();
    ow.record(upsert("server.x", "9")).await.unwrap();
    drop(ow);
    std::fs::copy(ob.paths().oplog, &log_path).unwrap();
    let before = files(&b);
    let err = b.load().await.unwrap_err();
    assert!(
        matches!(err, StateError::OplogForeignLineage { line: 1, .. }),
        "{err}"
    );
    let err = b.lock("apply", Duration::ZERO).await.unwrap_err();
    assert!(
        matches!(err, StateError::OplogForeignLineage { .. }),
        "{err}"
    );
    assert_eq!(files(&b), before);
}

#[tokio::test]
async fn recording_cost_does_not_grow_with_the_state() {
    // Structural, not timed: a recorded operation appends one line and never rewrites the snapshot.
    let dir = tempfile::tempdir().unwrap();
    let b = LocalBackend::new(dir.path().join("s.json"));
    let mut w = b.lock("apply", Duration::ZERO).await.unwrap();
    w.init("demo").await.unwrap();
    for i in 0..300 {
        w.record(upsert(&format!("server.s{i}"), "1"))
            .await
            .unwrap();
    }
    w.fold().await.unwrap();
    let snapshot_before = std::fs::read(b.paths().snapshot).unwrap();
    let log_before = std::fs::metadata(b.paths().oplog).unwrap().len();
    w.record(upsert("server.new", "2")).await.unwrap();
    let appended = std::fs::metadata(b.paths().oplog).unwrap().len() - log_before;
    assert_eq!(std::fs::read(b.paths().snapshot).unwrap(), snapshot_before);
    assert!(appended < 2048, "one op appended {appended} bytes");
    assert!((snapshot_before.len() as u64) > 50 * appended);
}

// ---- locking across processes ----------------------------------------------------------------------------------

#[tokio::test]
async fn a_second_process_is_refused_with_the_holders_info_then_waits_and_force_unlock_checks_the_id()
 {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.json");
    let b = LocalBackend::new(&path);

    // Holder 1 is killed: its OS lock goes, its info stays until force-unlocked or overwritten.
    let (ready, release) = (dir.path().join("ready1"), dir.path().join("release1"));
    let mut holder = child("hold-lock", &path, &ready, &release);
    let id = wait_for_file(&ready, &mut holder);
    let err = b.lock("plan", Duration::ZERO).await.unwrap_err();
    let StateError::LockHeld {
        holder: Some(info), ..
    } = &err
    else {
        panic!("expected LockHeld with info, got {err}");
    };
    assert_eq!(info.id, id);
    assert_eq!(info.pid, holder.id());
    assert_eq!(info.operation, "apply");
    assert!(
        err.to_string().contains(&format!("pid {}", holder.id())),
        "{err}"
    );
    let err = b.force_unlock("not-the-id").await.unwrap_err();
    assert!(matches!(err, StateError::LockIdMismatch { .. }), "{err}");
    let err = b.force_unlock(&id).await.unwrap_err();
    assert!(
        matches!(err, StateError::LockHeldByLiveProcess { .. }),
        "{err}"
    );
    holder.kill().unwrap();
    holder.wait().unwrap();
    let err = b.force_unlock("not-the-id").await.unwrap_err();
    assert!(matches!(err, StateError::LockIdMismatch { .. }), "{err}");
    b.force_unlock(&id).await.unwrap();
    let err = b.force_unlock(&id).await.unwrap_err();
    assert!(matches!(err, StateError::NotLocked { .. }), "{err}");
    drop(b.lock("plan", Duration::ZERO).await.unwrap());

    // Holder 2: a bounded wait runs out with the holder's info.
    let (ready, release) = (dir.path().join("ready2"), dir.path().join("release2"));
    let mut holder = child("hold-lock", &path, &ready, &release);
    let id = wait_for_file(&ready, &mut holder);
    let err = b
        .lock("plan", Duration::from_millis(300))
        .await
        .unwrap_err();
    match &err {
        StateError::LockTimeout {
            holder: Some(info), ..
        } => assert_eq!(info.id, id),
        other => panic!("expected LockTimeout, got {other}"),
    }

    // ...and a longer wait succeeds once the holder lets go.
    let waiter = {
        let b = b.clone();
        tokio::spawn(async move { b.lock("apply", Duration::from_secs(60)).await })
    };
    std::fs::write(&release, "").unwrap();
    let w = waiter.await.unwrap().expect("lock after the holder exits");
    assert_eq!(w.lock_info().operation, "apply");
    assert!(holder.wait().unwrap().success());
}

// ---- journal ---------------------------------------------------------------------------------------------------

pub(crate) fn record(n: usize) -> JournalRecord {
    JournalRecord {
        operation: "apply".into(),
        plan_hash: Some(format!("sha256:{n:064x}")),
        results: BTreeMap::from([
            (
                "server.gpu".into(),
                AddressResult {
                    action: "create".into(),
                    outcome: sovstack::state::Outcome::Succeeded,
                    message: None,
                },
            ),
            (
                "compose.llm".into(),
                AddressResult {
                    action: "update".into(),
                    outcome: sovstack::state::Outcome::Failed,
                    message: Some("vllm did not become healthy".into()),
                },
            ),
        ]),
    }
}

fn broken_line(err: JournalError) -> (usize, BreakReason) {
    match err {
        JournalError::Broken { line, reason, .. } => (line, reason),
        other => panic!("expected a broken link, got {other}"),
    }
}

#[tokio::test]
async fn journal_tampering_is_reported_at_the_first_broken_line() {
    let dir = tempfile::tempdir().unwrap();
    let b = LocalBackend::new(dir.path().join("s.json"));
    let mut w = b.lock("apply", Duration::ZERO).await.unwrap();
    w.init("demo").await.unwrap();
    for n in 1..=5 {
        let e = w.append_journal(record(n)).await.unwrap();
        assert_eq!(e.seq, n as u64);
        assert_eq!(e.serial, Some(1));
    }
    drop(w);
    let path = b.paths().journal;
    let good = std::fs::read_to_string(&path).unwrap();
    assert_eq!(verify_journal(&path).unwrap().entries, 5);
    let lines: Vec<&str> = good.lines().collect();
    let write = |ls: &[String]| {
        std::fs::write(
            &path,
            ls.iter().map(|l| format!("{l}\n")).collect::<String>(),
        )
        .unwrap()
    };
    let owned: Vec<String> = lines.iter().map(|s| s.to_string()).collect();

    // An edited outcome.
    let mut t = owned.clone();
    t[2] = t[2].replacen("\"failed\"", "\"succeeded\"", 1);
    write(&t);
    let (line, reason) = broken_line(verify_journal(&path).unwrap_err());
    assert_eq!(line, 3);
    assert!(
        matches!(reason, BreakReason::HashMismatch { .. }),
        "{reason}"
    );

    // The same edit with the hash recomputed: the next entry's link breaks.
    let mut e: sovstack::state::JournalEntry = serde_json::from_str(&t[2]).unwrap();
    e.hash = e.compute_hash().unwrap();
    t[2] = serde_json::to_string(&e).unwrap();
    write(&t);
    let (line, reason) = broken_line(verify_journal(&path).unwrap_err());
    assert_eq!(line, 4);
    assert!(
        matches!(reason, BreakReason::PrevHashMismatch { .. }),
        "{reason}"
    );

    // A removed entry, and two swapped entries.
    let mut t = owned.clone();
    t.remove(1);
    write(&t);
    assert_eq!(broken_line(verify_journal(&path).unwrap_err()).0, 2);
    let mut t = owned.clone();
    t.swap(3, 4);
    write(&t);
    assert_eq!(broken_line(verify_journal(&path).unwrap_err()).0, 4);

    // Any flipped bit anywhere.
    let bytes = good.as_bytes();
    for (offset, bit) in (0..bytes.len()).flat_map(|o| (0..8).map(move |b| (o, b))) {
        let mut bad = bytes.to_vec();
        bad[offset] ^= 1 << bit;
        std::fs::write(&path, &bad).unwrap();
        let expected_line = bytes[..offset].iter().filter(|&&c| c == b'\n').count() + 1;
        let (line, _) = broken_line(verify_journal(&path).unwrap_err());
        assert!(
            line == expected_line || line == expected_line + 1,
            "offset {offset} bit {bit}: reported line {line}, flipped in {expected_line}"
        );
    }
    std::fs::write(&path, &good).unwrap();
    assert_eq!(verify_journal(&path).unwrap().entries, 5);
}

// ---- PostgreSQL ------------------------------------------------------------------------------------------------

#[tokio::test]
async fn postgres_backend_locks_records_folds_and_refuses_damage() {
    let Some(pg) = PgCluster::start() else {
        return;
    };
    let a = PgBackend::new(pg.conn_str(), "demo");
    let b = PgBackend::new(pg.conn_str(), "demo");
    assert!(a.load().await.unwrap().is_none());

    // Two writers: one holds the advisory lock, the other is refused with its info.
    let mut wa = a.lock("apply", Duration::ZERO).await.unwrap();
    let err = b.lock("plan", Duration::ZERO).await.unwrap_err();
    match &err {
        StateError::LockHeld {
            holder: Some(info), ..
        } => {
            assert_eq!(info.id, wa.lock_info().id);
            assert_eq!(info.operation, "apply");
        }
        other => panic!("expected LockHeld with info, got {other}"),
    }
    // Another stack is independent.
    let other = PgBackend::new(pg.conn_str(), "other");
    drop(other.lock("apply", Duration::ZERO).await.unwrap());

    wa.init("demo").await.unwrap();
    wa.record(upsert("server.a", "1")).await.unwrap();
    wa.record(upsert("server.b", "2")).await.unwrap();
    // Durable before fold: a reader on another session sees both operations.
    let loaded = b.load().await.unwrap().unwrap();
    assert_eq!((loaded.state.serial, loaded.pending_ops), (1, 2));
    assert_eq!(loaded.state.resources.len(), 2);
    assert_eq!(wa.fold().await.unwrap(), 2);
    wa.record(StateOp::Remove {
        address: "server.a".into(),
    })
    .await
    .unwrap();
    let j1 = wa.append_journal(record(1)).await.unwrap();
    let j2 = wa.append_journal(record(2)).await.unwrap();
    assert_eq!(j2.prev_hash, j1.hash);
    let lineage = wa.state().unwrap().lineage;
    let err = wa.persist(StateFile::new("demo")).await.unwrap_err();
    assert!(matches!(err, StateError::ForeignLineage { .. }), "{err}");
    wa.unlock().await.unwrap();

    // The next writer replays the log on top of the snapshot.
    let mut wb = b.lock("apply", Duration::from_secs(5)).await.unwrap();
    let s = wb.state().unwrap();
    assert_eq!(s.lineage, lineage);
    assert_eq!(s.serial, 2);
    assert_eq!(s.resources.keys().collect::<Vec<_>>(), vec!["server.b"]);
    assert_eq!(wb.fold().await.unwrap(), 3);
    drop(wb);

    // A writer that dies without unlocking: its session ends, and with it the lock.
    let mut wa = a.lock("apply", Duration::from_secs(10)).await.unwrap();
    wa.record(upsert("server.c", "3")).await.unwrap();
    drop(wa);
    let wb = b.lock("apply", Duration::from_secs(10)).await.unwrap();
    assert!(wb.state().unwrap().resources.contains_key("server.c"));

    // Force-unlock: a wrong id is refused; the right id ends the stuck holder's session.
    let err = a.force_unlock("wrong").await.unwrap_err();
    assert!(matches!(err, StateError::LockIdMismatch { .. }), "{err}");
    a.force_unlock(&wb.lock_info().id.clone()).await.unwrap();
    let mut wa = a.lock("apply", Duration::from_secs(10)).await.unwrap();
    let mut wb = wb;
    assert!(
        wb.record(upsert("server.d", "4")).await.is_err(),
        "a broken lock must not write"
    );
    wa.fold().await.unwrap();
    drop(wa);

    // Journal verification and tamper detection.
    assert_eq!(a.verify_journal().await.unwrap().entries, 2);
    pg.execute(
        "UPDATE sovstack.sovstack_journal SET body = replace(body, '\"failed\"', '\"succeeded\"') WHERE seq = 2",
    )
    .await;
    match a.verify_journal().await.unwrap_err() {
        StateError::Journal(JournalError::Broken { line: 2, .. }) => {}
        other => panic!("expected a broken journal at entry 2, got {other}"),
    }

    // A damaged snapshot row is refused and left as it is.
    pg.execute("UPDATE sovstack.sovstack_state SET body = replace(body, 'server.b', 'server.B') WHERE stack = 'demo'")
        .await;
    let err = b.load().await.unwrap_err();
    assert!(matches!(err, StateError::ChecksumMismatch { .. }), "{err}");
    let err = b.lock("apply", Duration::ZERO).await.unwrap_err();
    assert!(matches!(err, StateError::ChecksumMismatch { .. }), "{err}");
    drop(pg);
}
