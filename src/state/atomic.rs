//! Atomic, durable file replacement: a reader sees the old content or the new, never a mix, even after a crash.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use super::error::StateError;

/// Replaces `path` with `bytes` (mode 0600): temp file in the same directory (so the rename cannot cross file
/// systems), write, fsync the file, rename over `path`, fsync the directory so that the rename itself survives
/// a power loss.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), StateError> {
    let tmp = temp_path(path);
    let result = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(|e| StateError::io("create", &tmp, e))?;
        f.write_all(bytes)
            .map_err(|e| StateError::io("write", &tmp, e))?;
        f.sync_all().map_err(|e| StateError::io("fsync", &tmp, e))?;
        std::fs::rename(&tmp, path).map_err(|e| StateError::io("rename into place", path, e))?;
        sync_parent_dir(path)
    })();
    if result.is_err() {
        // Best effort: a leftover temp file is harmless (never read) but untidy.
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// fsyncs the directory holding `path`, making a create or rename in it durable.
pub fn sync_parent_dir(path: &Path) -> Result<(), StateError> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    File::open(&dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| StateError::io("fsync directory", &dir, e))
}

fn temp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let unique = format!(
        ".{name}.tmp.{}.{:016x}",
        std::process::id(),
        rand::random::<u64>()
    );
    path.with_file_name(unique)
}

/// `path` with `suffix` appended to its file name (`state.json` -> `state.json.backup`).
pub fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_os_string();
    s.push(suffix);
    PathBuf::from(s)
}

/// Test check that `dir` holds exactly one entry: a write left no temporary file behind.
#[cfg(test)]
pub(crate) fn assert_single_entry(dir: &Path) {
    let names: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 1, "{names:?}");
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn replaces_content_with_mode_0600_and_leaves_no_temp_files() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.json");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        assert_eq!(
            std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_single_entry(dir.path());
    }

    #[test]
    fn failure_reports_the_path() {
        let err = write_atomic(Path::new("/nonexistent-dir/x/s.json"), b"x").unwrap_err();
        assert!(err.to_string().contains("nonexistent-dir"), "{err}");
    }

    #[test]
    fn suffix_is_appended_to_the_file_name() {
        assert_eq!(
            with_suffix(Path::new("a/s.json"), ".lock"),
            PathBuf::from("a/s.json.lock")
        );
    }
}
