//! Local backend: `<file>` snapshot, `<file>.backup`, `<file>.oplog`, `<file>.lock`, `<file>.journal`.
//!
//! The file operations are small (one line and an fsync per recorded change) and run on the caller's task;
//! only waiting for the lock yields.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::atomic::{sync_parent_dir, with_suffix, write_atomic};
use super::backend::{Loaded, StateBackend, StateWriter};
use super::error::StateError;
use super::journal::{self, JournalEntry, JournalRecord};
use super::keyed_hash::KeyedHasher;
use super::local_lock::FileLock;
use super::lock_info::LockInfo;
use super::model::{FORMAT_VERSION, StateFile, StateOp};
use super::oplog::{self, OplogEntry, StateWarning};
use super::snapshot;

/// How often a waiting writer retries the lock.
const LOCK_POLL: Duration = Duration::from_millis(100);

/// State in a local file.
#[derive(Debug, Clone)]
pub struct LocalBackend {
    path: PathBuf,
}

/// Paths of the files that make up one local state.
#[derive(Debug, Clone)]
pub struct LocalPaths {
    pub snapshot: PathBuf,
    pub backup: PathBuf,
    pub oplog: PathBuf,
    pub lock: PathBuf,
    pub journal: PathBuf,
    pub key: PathBuf,
}

/// What is on disk, checked.
struct OnDisk {
    state: Option<StateFile>,
    replay: oplog::Replay,
}

impl LocalBackend {
    /// State at `path` (e.g. `sovstack.state.json`); the other files sit beside it.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        LocalBackend { path: path.into() }
    }

    pub fn paths(&self) -> LocalPaths {
        let p = &self.path;
        LocalPaths {
            snapshot: p.clone(),
            backup: with_suffix(p, ".backup"),
            oplog: with_suffix(p, ".oplog"),
            lock: with_suffix(p, ".lock"),
            journal: with_suffix(p, ".journal"),
            key: with_suffix(p, ".key"),
        }
    }

    /// The hasher for sensitive values of this state: `SOVSTACK_STATE_KEY`, else `<file>.key`.
    pub fn hasher(&self) -> Result<KeyedHasher, StateError> {
        KeyedHasher::from_env_or_file(&self.paths().key)
    }

    fn read_optional(path: &Path) -> Result<Option<Vec<u8>>, StateError> {
        match std::fs::read(path) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(StateError::io("read", path, e)),
        }
    }

    fn read_on_disk(&self) -> Result<OnDisk, StateError> {
        let paths = self.paths();
        let snap = Self::read_optional(&paths.snapshot)?;
        let log = Self::read_optional(&paths.oplog)?;
        let Some(snap) = snap else {
            // Starting from nothing while traces of a state remain would create everything again.
            for present in [&paths.oplog, &paths.backup] {
                if present.exists()
                    && std::fs::metadata(present)
                        .map(|m| m.len() > 0)
                        .unwrap_or(true)
                {
                    return Err(StateError::SnapshotMissing {
                        path: paths.snapshot.clone(),
                        present: present.clone(),
                    });
                }
            }
            return Ok(OnDisk {
                state: None,
                replay: oplog::Replay {
                    next_seq: 1,
                    ..Default::default()
                },
            });
        };
        let mut state = snapshot::decode(&paths.snapshot, &snap)?;
        let replay = oplog::replay(&paths.oplog, log.as_deref().unwrap_or_default(), &state)?;
        for op in &replay.ops {
            state.apply(op);
        }
        Ok(OnDisk {
            state: Some(state),
            replay,
        })
    }
}

impl StateBackend for LocalBackend {
    type Writer = LocalWriter;

    fn location(&self) -> String {
        self.path.display().to_string()
    }

    async fn lock(&self, operation: &str, timeout: Duration) -> Result<LocalWriter, StateError> {
        let paths = self.paths();
        let deadline = Instant::now() + timeout;
        let info = LockInfo::for_current_process(operation);
        let lock = loop {
            match FileLock::try_acquire(&paths.lock, info.clone())? {
                Ok(lock) => break lock,
                Err(holder) if timeout.is_zero() => {
                    return Err(StateError::LockHeld {
                        location: self.location(),
                        holder,
                    });
                }
                Err(holder) if Instant::now() >= deadline => {
                    return Err(StateError::LockTimeout {
                        location: self.location(),
                        waited: timeout,
                        holder,
                    });
                }
                Err(_) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    tokio::time::sleep(LOCK_POLL.min(left)).await;
                }
            }
        };
        let on_disk = self.read_on_disk()?;
        let mut writer = LocalWriter {
            backend: self.clone(),
            paths,
            lock,
            state: on_disk.state,
            next_seq: on_disk.replay.next_seq,
            oplog: None,
            oplog_len: on_disk.replay.valid_len,
            warnings: on_disk.replay.warnings,
            poisoned: false,
        };
        if !writer.warnings.is_empty() {
            // A torn tail must go before anything is appended after it, or it would become a corrupt middle line.
            writer.truncate_oplog(on_disk.replay.valid_len)?;
        }
        Ok(writer)
    }

    async fn load(&self) -> Result<Option<Loaded>, StateError> {
        let on_disk = self.read_on_disk()?;
        Ok(on_disk.state.map(|state| Loaded {
            state,
            pending_ops: on_disk.replay.next_seq - 1,
            warnings: on_disk.replay.warnings,
        }))
    }

    async fn force_unlock(&self, lock_id: &str) -> Result<(), StateError> {
        FileLock::force_unlock(&self.paths().lock, lock_id)
    }
}

/// Holder of the local lock.
#[derive(Debug)]
pub struct LocalWriter {
    backend: LocalBackend,
    paths: LocalPaths,
    lock: FileLock,
    state: Option<StateFile>,
    next_seq: u64,
    oplog: Option<File>,
    /// Length of the log's committed prefix; a failed append is cut back to it.
    oplog_len: u64,
    warnings: Vec<StateWarning>,
    poisoned: bool,
}

impl LocalWriter {
    fn location(&self) -> String {
        self.backend.location()
    }

    fn oplog_file(&mut self) -> Result<&mut File, StateError> {
        if self.oplog.is_none() {
            let existed = self.paths.oplog.exists();
            let f = OpenOptions::new()
                .append(true)
                .create(true)
                .mode(0o600)
                .open(&self.paths.oplog)
                .map_err(|e| StateError::io("open", &self.paths.oplog, e))?;
            if !existed {
                sync_parent_dir(&self.paths.oplog)?;
            }
            self.oplog = Some(f);
        }
        let location = self.location();
        self.oplog.as_mut().ok_or(StateError::Poisoned { location })
    }

    fn truncate_oplog(&mut self, len: u64) -> Result<(), StateError> {
        if !self.paths.oplog.exists() {
            return Ok(());
        }
        let path = self.paths.oplog.clone();
        let f = self.oplog_file()?;
        f.set_len(len)
            .and_then(|_| f.sync_all())
            .map_err(|e| StateError::io("truncate", &path, e))?;
        self.oplog_len = len;
        Ok(())
    }

    /// Writes `next` as the snapshot, keeping the current one as `.backup`, then empties the log.
    ///
    /// Order matters for crashes: the backup is replaced atomically first (the snapshot is never absent), then
    /// the snapshot; a crash before the log is emptied leaves entries whose `base_serial` is below the new
    /// serial, which replay skips.
    fn write_snapshot(&mut self, mut next: StateFile) -> Result<u64, StateError> {
        if self.poisoned {
            return Err(StateError::Poisoned {
                location: self.location(),
            });
        }
        next.format_version = FORMAT_VERSION;
        next.seal();
        let bytes = snapshot::encode(&next)?;
        if let Some(current) = LocalBackend::read_optional(&self.paths.snapshot)? {
            write_atomic(&self.paths.backup, &current)?;
        }
        write_atomic(&self.paths.snapshot, &bytes)?;
        let serial = next.serial;
        self.state = Some(next);
        self.next_seq = 1;
        if let Err(e) = self.truncate_oplog(0) {
            // The snapshot is safe; the stale entries will be skipped on load, but appending after them
            // would mix serials, so stop writing.
            self.poisoned = true;
            return Err(e);
        }
        Ok(serial)
    }

    /// Paths of this state's files.
    pub fn paths(&self) -> &LocalPaths {
        &self.paths
    }
}

impl StateWriter for LocalWriter {
    fn lock_info(&self) -> &LockInfo {
        self.lock.info()
    }

    fn state(&self) -> Option<&StateFile> {
        self.state.as_ref()
    }

    fn warnings(&self) -> &[StateWarning] {
        &self.warnings
    }

    async fn init(&mut self, stack: &str) -> Result<(), StateError> {
        super::backend::refuse_reinit(self.state.as_ref(), self.location())?;
        let mut s = StateFile::new(stack);
        s.serial = 1;
        self.write_snapshot(s)?;
        Ok(())
    }

    async fn record(&mut self, op: StateOp) -> Result<(), StateError> {
        if self.poisoned {
            return Err(StateError::Poisoned {
                location: self.location(),
            });
        }
        let state = super::backend::require_state(self.state.as_ref(), self.location())?;
        let entry = OplogEntry::new(state.lineage, state.serial, self.next_seq, op)?;
        let line = entry.to_line()?;
        let committed = self.oplog_len;
        let path = self.paths.oplog.clone();
        let f = self.oplog_file()?;
        let written = f.write_all(&line).and_then(|_| f.sync_data());
        if let Err(e) = written {
            // Cut a partial line back off so that later appends do not follow garbage.
            let restored = f.set_len(committed).and_then(|_| f.sync_data());
            if restored.is_err() {
                self.poisoned = true;
            }
            return Err(StateError::io("append to", path, e));
        }
        self.oplog_len = committed + line.len() as u64;
        super::backend::note_recorded(&mut self.next_seq, self.state.as_mut(), &entry.change);
        Ok(())
    }

    async fn persist(&mut self, mut state: StateFile) -> Result<u64, StateError> {
        state.serial = super::backend::persisted_serial(
            self.state.as_ref(),
            &state,
            self.paths.snapshot.clone(),
        )?;
        self.write_snapshot(state)
    }

    async fn fold(&mut self) -> Result<u64, StateError> {
        let state = super::backend::require_state(self.state.as_ref(), self.location())?;
        match super::backend::fold_target(state, self.next_seq) {
            None => Ok(state.serial),
            Some(next) => self.write_snapshot(next),
        }
    }

    async fn append_journal(&mut self, record: JournalRecord) -> Result<JournalEntry, StateError> {
        let (lineage, serial) = match &self.state {
            Some(s) => (Some(s.lineage), Some(s.serial)),
            None => (None, None),
        };
        journal::append(&self.paths.journal, record, lineage, serial)
    }

    async fn unlock(self) -> Result<(), StateError> {
        drop(self);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::model::{ResourceState, ResourceStatus};
    use std::collections::BTreeMap;

    fn res(id: &str) -> ResourceState {
        ResourceState {
            kind: "server".into(),
            id: Some(id.into()),
            attributes: BTreeMap::new(),
            sensitive_attributes: BTreeMap::new(),
            dependencies: vec![],
            status: ResourceStatus::Ready,
        }
    }

    fn upsert(addr: &str, id: &str) -> StateOp {
        StateOp::Upsert {
            address: addr.into(),
            resource: res(id),
        }
    }

    /// A fresh state `demo` in a temporary folder, initialised, with the lock held for `apply`.
    async fn initialized() -> (tempfile::TempDir, LocalBackend, LocalWriter) {
        let dir = tempfile::tempdir().unwrap();
        let b = LocalBackend::new(dir.path().join("s.json"));
        let mut w = b.lock("apply", Duration::ZERO).await.unwrap();
        w.init("demo").await.unwrap();
        (dir, b, w)
    }

    /// [`initialized`], with `server.a` recorded and folded into the snapshot.
    async fn with_one_folded() -> (tempfile::TempDir, LocalBackend, LocalWriter) {
        let (dir, b, mut w) = initialized().await;
        w.record(upsert("server.a", "1")).await.unwrap();
        w.fold().await.unwrap();
        (dir, b, w)
    }

    #[tokio::test]
    async fn record_then_fold_then_reload() {
        let dir = tempfile::tempdir().unwrap();
        let b = LocalBackend::new(dir.path().join("s.json"));
        assert!(b.load().await.unwrap().is_none());
        let mut w = b.lock("apply", Duration::ZERO).await.unwrap();
        assert!(matches!(
            w.record(upsert("server.a", "1")).await,
            Err(StateError::NotInitialized { .. })
        ));
        w.init("demo").await.unwrap();
        w.record(upsert("server.a", "1")).await.unwrap();
        w.record(upsert("server.b", "2")).await.unwrap();
        let loaded = b.load().await.unwrap().unwrap();
        assert_eq!(loaded.pending_ops, 2);
        assert_eq!(loaded.state.serial, 1);
        assert_eq!(loaded.state.resources.len(), 2);
        assert_eq!(w.fold().await.unwrap(), 2);
        assert_eq!(std::fs::metadata(&b.paths().oplog).unwrap().len(), 0);
        let backup =
            snapshot::decode(&b.paths().backup, &std::fs::read(b.paths().backup).unwrap()).unwrap();
        assert_eq!(backup.serial, 1);
        assert!(backup.resources.is_empty());
        assert_eq!(
            w.fold().await.unwrap(),
            2,
            "folding nothing does not bump the serial"
        );
        w.unlock().await.unwrap();
        let loaded = b.load().await.unwrap().unwrap();
        assert_eq!(loaded.pending_ops, 0);
        assert_eq!(loaded.state.resources.len(), 2);
    }

    #[tokio::test]
    async fn crash_between_snapshot_and_log_truncation_does_not_replay_twice() {
        let (_dir, b, mut w) = initialized().await;
        w.record(upsert("server.a", "1")).await.unwrap();
        w.record(StateOp::Remove {
            address: "server.a".into(),
        })
        .await
        .unwrap();
        let log = std::fs::read(&b.paths().oplog).unwrap();
        w.fold().await.unwrap();
        w.record(upsert("server.c", "3")).await.unwrap();
        drop(w);
        // Put the folded entries back in front, as if truncation had not happened.
        let mut both = log.clone();
        both.extend(std::fs::read(&b.paths().oplog).unwrap());
        std::fs::write(&b.paths().oplog, &both).unwrap();
        let loaded = b.load().await.unwrap().unwrap();
        assert_eq!(loaded.pending_ops, 1);
        assert_eq!(
            loaded.state.resources.keys().collect::<Vec<_>>(),
            vec!["server.c"]
        );
    }

    #[tokio::test]
    async fn persist_refuses_a_foreign_lineage_and_bumps_the_serial() {
        let (_dir, b, mut w) = initialized().await;
        let before = std::fs::read(b.paths().snapshot).unwrap();
        let err = w.persist(StateFile::new("demo")).await.unwrap_err();
        assert!(matches!(err, StateError::ForeignLineage { .. }), "{err}");
        assert_eq!(std::fs::read(b.paths().snapshot).unwrap(), before);
        let mut mine = w.state().unwrap().clone();
        mine.apply(&upsert("server.z", "9"));
        assert_eq!(w.persist(mine).await.unwrap(), 2);
        assert!(matches!(
            w.init("demo").await,
            Err(StateError::AlreadyInitialized { .. })
        ));
    }

    #[tokio::test]
    async fn a_lost_snapshot_with_a_backup_beside_it_is_refused() {
        let (_dir, b, w) = with_one_folded().await;
        drop(w);
        std::fs::remove_file(b.paths().snapshot).unwrap();
        let err = b.load().await.unwrap_err();
        assert!(matches!(err, StateError::SnapshotMissing { .. }), "{err}");
        assert!(b.lock("apply", Duration::ZERO).await.is_err());
    }

    #[tokio::test]
    async fn files_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let (_dir, b, mut w) = with_one_folded().await;
        w.append_journal(crate::state::JournalRecord {
            operation: "apply".into(),
            plan_hash: None,
            results: BTreeMap::new(),
        })
        .await
        .unwrap();
        let p = b.paths();
        for f in [&p.snapshot, &p.backup, &p.oplog, &p.lock, &p.journal] {
            let mode = std::fs::metadata(f).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{}", f.display());
        }
    }
}
