//! The local lock: an OS file lock on `<state>.lock`, with the holder's `LockInfo` as the file's content.
//!
//! The OS lock (flock) is what excludes; the info is only for messages. A crashed holder's OS lock vanishes with
//! its process, so stale info left behind is simply overwritten by the next holder.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Seek, SeekFrom, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use super::error::StateError;
use super::lock_info::LockInfo;

/// A held lock; released on drop.
#[derive(Debug)]
pub struct FileLock {
    file: File,
    path: PathBuf,
    info: LockInfo,
}

fn open(path: &Path) -> Result<File, StateError> {
    // The first writer creates the state directory, private to its owner: it will hold the
    // state, its key and its journal.
    if let Some(dir) = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty() && !d.exists())
    {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| StateError::io("create state directory", dir, e))?;
    }
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(path)
        .map_err(|e| StateError::io("open lock file", path, e))
}

/// Reads the info a holder wrote; `None` when absent or half-written.
pub fn read_info(path: &Path) -> Option<LockInfo> {
    let bytes = std::fs::read(path).ok()?;
    serde_json::from_slice(&bytes).ok()
}

impl FileLock {
    /// Takes the lock if it is free; `Ok(Err(holder))` when another process holds it.
    pub fn try_acquire(
        path: &Path,
        info: LockInfo,
    ) -> Result<Result<FileLock, Option<Box<LockInfo>>>, StateError> {
        let mut file = open(path)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => return Ok(Err(read_info(path).map(Box::new))),
            Err(TryLockError::Error(e)) => return Err(StateError::io("lock", path, e)),
        }
        let bytes = serde_json::to_vec_pretty(&info).map_err(StateError::Encode)?;
        file.set_len(0)
            .and_then(|_| file.seek(SeekFrom::Start(0)).map(|_| ()))
            .and_then(|_| file.write_all(&bytes))
            .and_then(|_| file.sync_data())
            .map_err(|e| StateError::io("write lock info to", path, e))?;
        Ok(Ok(FileLock {
            file,
            path: path.to_path_buf(),
            info,
        }))
    }

    /// The holder info this lock wrote.
    pub fn info(&self) -> &LockInfo {
        &self.info
    }

    /// Breaks a lock left by a crashed process: only its stale info remains, and it is removed if `id` matches.
    /// A lock held by a live process cannot be broken (the OS owns it); that is refused with the holder's info.
    pub fn force_unlock(path: &Path, id: &str) -> Result<(), StateError> {
        let location = path.display().to_string();
        if !path.exists() {
            return Err(StateError::NotLocked { location });
        }
        let file = open(path)?;
        let holder = read_info(path).map(Box::new);
        match file.try_lock() {
            Err(TryLockError::WouldBlock) => match holder {
                Some(h) if h.id == id => Err(StateError::LockHeldByLiveProcess {
                    location,
                    holder: h,
                }),
                holder => Err(StateError::LockIdMismatch {
                    location,
                    given: id.to_string(),
                    holder,
                }),
            },
            Err(TryLockError::Error(e)) => Err(StateError::io("lock", path, e)),
            Ok(()) => match holder {
                None => Err(StateError::NotLocked { location }),
                Some(h) if h.id != id => Err(StateError::LockIdMismatch {
                    location,
                    given: id.to_string(),
                    holder: Some(h),
                }),
                Some(_) => file
                    .set_len(0)
                    .and_then(|_| file.sync_data())
                    .map_err(|e| StateError::io("clear lock info in", path, e)),
            },
        }
    }
}

impl Drop for FileLock {
    fn drop(&mut self) {
        // Clear the info first so nobody reads it as the holder afterwards; closing the file then releases the
        // OS lock. Errors cannot be reported from drop and do not matter: stale info is ignored.
        let _ = self.file.set_len(0);
        let _ = self.file.unlock();
        tracing::debug!("released state lock {}", self.path.display());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Takes the free lock at `p` for `operation`.
    fn acquire(p: &Path, operation: &str) -> FileLock {
        FileLock::try_acquire(p, LockInfo::for_current_process(operation))
            .unwrap()
            .unwrap()
    }

    #[test]
    fn second_acquire_sees_the_holder_and_drop_releases() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.lock");
        let a = acquire(&p, "apply");
        let holder = FileLock::try_acquire(&p, LockInfo::for_current_process("plan"))
            .unwrap()
            .unwrap_err();
        assert_eq!(holder.as_deref(), Some(a.info()));
        drop(a);
        let b = acquire(&p, "plan");
        assert_eq!(b.info().operation, "plan");
    }

    #[test]
    fn force_unlock_refuses_live_holders_and_wrong_ids_and_clears_stale_info() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.lock");
        let a = acquire(&p, "apply");
        let id = a.info().id.clone();
        assert!(matches!(
            FileLock::force_unlock(&p, &id).unwrap_err(),
            StateError::LockHeldByLiveProcess { .. }
        ));
        assert!(matches!(
            FileLock::force_unlock(&p, "nope").unwrap_err(),
            StateError::LockIdMismatch { .. }
        ));
        drop(a);
        // A crashed holder leaves its info but no OS lock (the tests in tests/integration kill a real process).
        let stale = LockInfo::for_current_process("apply");
        let q = dir.path().join("t.lock");
        std::fs::write(&q, serde_json::to_vec(&stale).unwrap()).unwrap();
        assert!(matches!(
            FileLock::force_unlock(&q, "nope").unwrap_err(),
            StateError::LockIdMismatch { .. }
        ));
        FileLock::force_unlock(&q, &stale.id).unwrap();
        assert!(read_info(&q).is_none());
        assert!(matches!(
            FileLock::force_unlock(&q, &stale.id).unwrap_err(),
            StateError::NotLocked { .. }
        ));
    }
}
