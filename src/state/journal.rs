//! The apply journal: an append-only, hash-chained record of who applied what, when, and with which result.
//!
//! Each line is one entry; `hash` is sha256 over the entry's canonical JSON without `hash`, and `prev_hash` is the
//! previous entry's `hash` (a fixed all-zero hash for the first). Changing, removing or reordering any entry breaks
//! the chain at that line, which [`verify_journal`] reports.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use chrono::Utc;
use miette::Diagnostic;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use thiserror::Error;
use uuid::Uuid;

use super::canonical::checksum_without;
use super::error::StateError;

/// `prev_hash` of the first entry.
pub const GENESIS_HASH: &str =
    "sha256:0000000000000000000000000000000000000000000000000000000000000000";

/// What the caller reports about one run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct JournalRecord {
    /// `apply`, `destroy`, `state push`...
    pub operation: String,
    /// Hash of the plan that was applied, when there was one.
    pub plan_hash: Option<String>,
    /// Result per resource address.
    pub results: BTreeMap<String, AddressResult>,
}

/// What happened to one address.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AddressResult {
    /// Planned action (`create`, `update`, `replace`, `delete`).
    pub action: String,
    pub outcome: Outcome,
    /// Error or note, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// Outcome of one planned action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Succeeded,
    Failed,
    /// Not attempted because something it depends on failed.
    Skipped,
}

/// One journal line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct JournalEntry {
    pub seq: u64,
    pub prev_hash: String,
    pub hash: String,
    pub who: String,
    pub host: String,
    /// RFC 3339, UTC, as written (kept as text so that the hash covers exactly these bytes: a date parser would
    /// also accept `t`/`z` and hide an altered byte).
    pub when: String,
    /// Lineage and serial of the state after the run.
    #[serde(deserialize_with = "super::model::strict_uuid::option")]
    pub lineage: Option<Uuid>,
    pub serial: Option<u64>,
    pub operation: String,
    pub plan_hash: Option<String>,
    pub results: BTreeMap<String, AddressResult>,
}

impl JournalEntry {
    /// The entry following `prev` (`None` for the first), sealed with its hash.
    pub fn next(
        prev: Option<(u64, &str)>,
        record: JournalRecord,
        lineage: Option<Uuid>,
        serial: Option<u64>,
    ) -> Result<Self, StateError> {
        let (seq, prev_hash) = match prev {
            Some((seq, hash)) => (seq + 1, hash.to_string()),
            None => (1, GENESIS_HASH.to_string()),
        };
        let mut e = JournalEntry {
            seq,
            prev_hash,
            hash: String::new(),
            who: super::lock_info::current_user(),
            host: super::lock_info::current_host(),
            when: Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            lineage,
            serial,
            operation: record.operation,
            plan_hash: record.plan_hash,
            results: record.results,
        };
        e.hash = e.compute_hash()?;
        Ok(e)
    }

    /// sha256 over the canonical entry without `hash`.
    pub fn compute_hash(&self) -> Result<String, StateError> {
        let v = serde_json::to_value(self).map_err(StateError::Encode)?;
        Ok(checksum_without(&v, "hash"))
    }
}

/// Why a journal does not verify.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BreakReason {
    NotAnEntry(String),
    HashMismatch { recorded: String, actual: String },
    PrevHashMismatch { expected: String, found: String },
    SeqOutOfOrder { expected: u64, found: u64 },
    IncompleteLastLine,
}

impl std::fmt::Display for BreakReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BreakReason::NotAnEntry(e) => write!(f, "not a journal entry: {e}"),
            BreakReason::HashMismatch { recorded, actual } => {
                write!(
                    f,
                    "content was changed: recorded hash {recorded}, content hashes to {actual}"
                )
            }
            BreakReason::PrevHashMismatch { expected, found } => write!(
                f,
                "chain broken: prev_hash is {found}, the previous entry's hash is {expected} (an entry was \
                 removed, inserted or reordered)"
            ),
            BreakReason::SeqOutOfOrder { expected, found } => {
                write!(f, "seq {found} where {expected} was expected")
            }
            BreakReason::IncompleteLastLine => {
                write!(f, "the last line is incomplete (no final newline)")
            }
        }
    }
}

/// Journal errors.
#[derive(Debug, Error, Diagnostic)]
pub enum JournalError {
    #[error("journal {path} is broken at line {line}: {reason}")]
    #[diagnostic(
        code(state::journal_broken),
        help(
            "Entries from this line on cannot be trusted. The journal was not modified; compare it with your \
             backups to find out what changed."
        )
    )]
    Broken {
        path: PathBuf,
        line: usize,
        reason: BreakReason,
    },
    #[error("cannot read journal {path}: {source}")]
    #[diagnostic(code(state::journal_io))]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// What a verified journal holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalSummary {
    pub entries: u64,
    /// Hash of the last entry (the genesis hash for an empty journal); pin it elsewhere to detect truncation.
    pub head_hash: String,
}

/// Checks every link of the journal at `path`, streaming (memory does not grow with the journal). A missing
/// file is an empty journal.
pub fn verify_journal(path: &Path) -> Result<JournalSummary, JournalError> {
    let io = |source| JournalError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(JournalSummary {
                entries: 0,
                head_hash: GENESIS_HASH.to_string(),
            });
        }
        Err(e) => return Err(io(e)),
    };
    let mut reader = BufReader::new(file);
    let mut buf = Vec::new();
    let mut prev: Option<(u64, String)> = None;
    let mut line = 0usize;
    loop {
        buf.clear();
        let n = reader.read_until(b'\n', &mut buf).map_err(io)?;
        if n == 0 {
            break;
        }
        line += 1;
        let broken = |reason| JournalError::Broken {
            path: path.to_path_buf(),
            line,
            reason,
        };
        if buf.last() != Some(&b'\n') {
            return Err(broken(BreakReason::IncompleteLastLine));
        }
        let entry = check_line(
            &buf[..buf.len() - 1],
            prev.as_ref().map(|(s, h)| (*s, h.as_str())),
        )
        .map_err(broken)?;
        prev = Some((entry.seq, entry.hash));
    }
    Ok(match prev {
        Some((seq, hash)) => JournalSummary {
            entries: seq,
            head_hash: hash,
        },
        None => JournalSummary {
            entries: 0,
            head_hash: GENESIS_HASH.to_string(),
        },
    })
}

/// Checks stored entries (lines of a file, rows of a table) link by link, in order; `path`
/// names the journal in the error.
pub fn check_entries(path: &Path, entries: &[String]) -> Result<JournalSummary, JournalError> {
    let mut prev: Option<(u64, String)> = None;
    for (i, body) in entries.iter().enumerate() {
        let entry = check_line(
            body.as_bytes(),
            prev.as_ref().map(|(s, h)| (*s, h.as_str())),
        )
        .map_err(|reason| JournalError::Broken {
            path: path.to_path_buf(),
            line: i + 1,
            reason,
        })?;
        prev = Some((entry.seq, entry.hash));
    }
    Ok(match prev {
        Some((entries, head_hash)) => JournalSummary { entries, head_hash },
        None => JournalSummary {
            entries: 0,
            head_hash: GENESIS_HASH.to_string(),
        },
    })
}

/// Checks one line against the previous entry's `(seq, hash)`.
pub fn check_line(bytes: &[u8], prev: Option<(u64, &str)>) -> Result<JournalEntry, BreakReason> {
    let entry: JournalEntry =
        serde_json::from_slice(bytes).map_err(|e| BreakReason::NotAnEntry(e.to_string()))?;
    let (expected_seq, expected_prev) = match prev {
        Some((seq, hash)) => (seq + 1, hash),
        None => (1, GENESIS_HASH),
    };
    let actual = entry
        .compute_hash()
        .map_err(|e| BreakReason::NotAnEntry(e.to_string()))?;
    if actual != entry.hash {
        return Err(BreakReason::HashMismatch {
            recorded: entry.hash,
            actual,
        });
    }
    if entry.prev_hash != expected_prev {
        return Err(BreakReason::PrevHashMismatch {
            expected: expected_prev.to_string(),
            found: entry.prev_hash,
        });
    }
    if entry.seq != expected_seq {
        return Err(BreakReason::SeqOutOfOrder {
            expected: expected_seq,
            found: entry.seq,
        });
    }
    Ok(entry)
}

/// Appends an entry for `record` to the journal at `path`, chained to the last entry. Reads only the tail of the
/// file, so the cost does not grow with the journal. The caller must hold the state lock (one writer at a time).
///
/// The last entry is checked before chaining onto it; a torn last line (crash while appending) is cut off with a
/// warning, since it was never confirmed.
pub fn append(
    path: &Path,
    record: JournalRecord,
    lineage: Option<Uuid>,
    serial: Option<u64>,
) -> Result<JournalEntry, StateError> {
    let mut file = OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| StateError::io("open", path, e))?;
    let len = file
        .metadata()
        .map_err(|e| StateError::io("stat", path, e))?
        .len();
    if len == 0 {
        super::atomic::sync_parent_dir(path)?;
    }
    let (last, complete_len) =
        read_last_line(&mut file, len).map_err(|e| StateError::io("read", path, e))?;
    if complete_len < len {
        tracing::warn!(
            "dropping an incomplete last line ({} bytes) of journal {}: a crash interrupted its write",
            len - complete_len,
            path.display()
        );
        file.set_len(complete_len)
            .and_then(|_| file.sync_all())
            .map_err(|e| StateError::io("truncate torn tail of", path, e))?;
    }
    let entry = entry_after(last.as_deref(), path, record, lineage, serial)?;
    let mut line = serde_json::to_vec(&entry).map_err(StateError::Encode)?;
    line.push(b'\n');
    file.write_all(&line)
        .and_then(|_| file.sync_data())
        .map_err(|e| StateError::io("append to", path, e))?;
    Ok(entry)
}

/// The entry to append after the journal's last line `last` (none for an empty journal), once that
/// line is shown to decode and to match its hash; `path` names the journal in errors. Every backend
/// chains its journal through this one step.
pub(crate) fn entry_after(
    last: Option<&[u8]>,
    path: &Path,
    record: JournalRecord,
    lineage: Option<Uuid>,
    serial: Option<u64>,
) -> Result<JournalEntry, StateError> {
    let tail_err = |reason: String| StateError::JournalTail {
        path: path.to_path_buf(),
        reason,
    };
    let prev = match last {
        None => None,
        Some(bytes) => {
            let entry: JournalEntry =
                serde_json::from_slice(bytes).map_err(|e| tail_err(e.to_string()))?;
            let actual = entry.compute_hash()?;
            if actual != entry.hash {
                return Err(tail_err(format!(
                    "last entry's hash {} does not match its content {actual}",
                    entry.hash
                )));
            }
            Some((entry.seq, entry.hash))
        }
    };
    JournalEntry::next(
        prev.as_ref().map(|(s, h)| (*s, h.as_str())),
        record,
        lineage,
        serial,
    )
}

/// The last complete line (without its newline) and the length of the file up to and including it.
fn read_last_line(file: &mut File, len: u64) -> std::io::Result<(Option<Vec<u8>>, u64)> {
    const CHUNK: u64 = 8192;
    let mut tail: Vec<u8> = Vec::new();
    let mut start = len;
    // Grow the window backwards until it holds a newline that ends a complete line, plus the newline before it.
    loop {
        let from = start.saturating_sub(CHUNK);
        let mut chunk = vec![0u8; (start - from) as usize];
        file.seek(SeekFrom::Start(from))?;
        file.read_exact(&mut chunk)?;
        chunk.extend_from_slice(&tail);
        tail = chunk;
        start = from;
        if let Some(last_nl) = tail.iter().rposition(|&b| b == b'\n') {
            let complete_len = start + last_nl as u64 + 1;
            let before = &tail[..last_nl];
            if let Some(prev_nl) = before.iter().rposition(|&b| b == b'\n') {
                return Ok((Some(before[prev_nl + 1..].to_vec()), complete_len));
            }
            if start == 0 {
                return Ok((Some(before.to_vec()), complete_len));
            }
        } else if start == 0 {
            return Ok((None, 0));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(n: u32) -> JournalRecord {
        JournalRecord {
            operation: "apply".into(),
            plan_hash: Some(format!("sha256:{n:064}")),
            results: BTreeMap::from([(
                "server.gpu".into(),
                AddressResult {
                    action: "create".into(),
                    outcome: Outcome::Succeeded,
                    message: None,
                },
            )]),
        }
    }

    #[test]
    fn appended_entries_chain_and_verify() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("j");
        let a = append(&p, rec(1), None, Some(1)).unwrap();
        let b = append(&p, rec(2), None, Some(2)).unwrap();
        assert_eq!(a.prev_hash, GENESIS_HASH);
        assert_eq!(b.prev_hash, a.hash);
        assert_eq!(b.seq, 2);
        let s = verify_journal(&p).unwrap();
        assert_eq!(s.entries, 2);
        assert_eq!(s.head_hash, b.hash);
    }

    #[test]
    fn long_entries_are_found_across_chunks() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("j");
        let mut big = rec(1);
        big.results.get_mut("server.gpu").unwrap().message = Some("x".repeat(20_000));
        append(&p, big.clone(), None, None).unwrap();
        append(&p, big, None, None).unwrap();
        let c = append(&p, rec(3), None, None).unwrap();
        assert_eq!(c.seq, 3);
        assert_eq!(verify_journal(&p).unwrap().entries, 3);
    }

    #[test]
    fn torn_tail_is_cut_before_appending() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("j");
        append(&p, rec(1), None, None).unwrap();
        let mut f = OpenOptions::new().append(true).open(&p).unwrap();
        f.write_all(b"{\"seq\":2,\"prev").unwrap();
        assert!(matches!(
            verify_journal(&p).unwrap_err(),
            JournalError::Broken {
                line: 2,
                reason: BreakReason::IncompleteLastLine,
                ..
            }
        ));
        let e = append(&p, rec(2), None, None).unwrap();
        assert_eq!(e.seq, 2);
        assert_eq!(verify_journal(&p).unwrap().entries, 2);
    }

    #[test]
    fn missing_journal_is_empty() {
        let s = verify_journal(Path::new("/nonexistent/journal")).unwrap();
        assert_eq!(s.entries, 0);
    }
}
