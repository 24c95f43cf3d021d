//! The operation log: one JSON line per completed change, so that recording a change costs the size of the
//! change, not of the state.
//!
//! Each entry names the lineage and the serial of the snapshot it builds on (`base_serial`) and carries a
//! sequence number and its own checksum. Replay rules, given the snapshot:
//! - `base_serial` below the snapshot's serial: already folded into it (a crash between writing the new snapshot
//!   and truncating the log), skipped;
//! - equal: replayed, and `seq` must run 1, 2, 3... without gaps;
//! - above: the snapshot is older than the log, refused.

use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::canonical::checksum_without;
use super::error::StateError;
use super::model::{StateFile, StateOp};

/// One log line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OplogEntry {
    #[serde(deserialize_with = "super::model::strict_uuid::deserialize")]
    pub lineage: Uuid,
    pub base_serial: u64,
    pub seq: u64,
    pub change: StateOp,
    /// `sha256:<hex>` over the canonical JSON of the other fields.
    pub checksum: String,
}

impl OplogEntry {
    /// A sealed entry.
    pub fn new(
        lineage: Uuid,
        base_serial: u64,
        seq: u64,
        change: StateOp,
    ) -> Result<Self, StateError> {
        let mut e = OplogEntry {
            lineage,
            base_serial,
            seq,
            change,
            checksum: String::new(),
        };
        e.checksum = e.compute_checksum()?;
        Ok(e)
    }

    fn compute_checksum(&self) -> Result<String, StateError> {
        let v = serde_json::to_value(self).map_err(StateError::Encode)?;
        Ok(checksum_without(&v, "checksum"))
    }

    /// The entry as one line, newline included: the newline is what commits it.
    pub fn to_line(&self) -> Result<Vec<u8>, StateError> {
        let mut line = serde_json::to_vec(self).map_err(StateError::Encode)?;
        line.push(b'\n');
        Ok(line)
    }
}

/// Something worth telling the user that did not stop the load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StateWarning {
    /// The last log line was cut short by a crash while appending; the change it described was never confirmed
    /// to the caller and is dropped (the next apply adopts or retries it).
    TornOplogTail {
        path: PathBuf,
        line: usize,
        bytes: usize,
    },
}

impl std::fmt::Display for StateWarning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StateWarning::TornOplogTail { path, line, bytes } => write!(
                f,
                "dropped an incomplete last entry ({bytes} bytes at line {line}) of {}: a crash interrupted \
                 its write, so the change it described was never confirmed",
                path.display()
            ),
        }
    }
}

/// Result of checking a log against its snapshot.
#[derive(Debug, Default)]
pub struct Replay {
    /// Changes to apply to the snapshot, in order.
    pub ops: Vec<StateOp>,
    /// Sequence number the next appended entry must get.
    pub next_seq: u64,
    /// Length of the valid prefix of the log (everything before a torn tail).
    pub valid_len: u64,
    pub warnings: Vec<StateWarning>,
}

/// Checks one complete entry (`line` is 1-based) and says whether to replay it.
pub fn check_entry(
    path: &Path,
    line: usize,
    bytes: &[u8],
    snapshot: &StateFile,
    expected_seq: u64,
) -> Result<Option<OplogEntry>, StateError> {
    let corrupt = |reason: String| StateError::OplogCorrupt {
        path: path.to_path_buf(),
        line,
        reason,
    };
    let entry: OplogEntry = serde_json::from_slice(bytes).map_err(|e| corrupt(e.to_string()))?;
    let actual = entry.compute_checksum()?;
    if actual != entry.checksum {
        return Err(corrupt(format!(
            "checksum {} does not match content {actual}",
            entry.checksum
        )));
    }
    if entry.lineage != snapshot.lineage {
        return Err(StateError::OplogForeignLineage {
            path: path.to_path_buf(),
            line,
            expected: snapshot.lineage.to_string(),
            found: entry.lineage.to_string(),
        });
    }
    if entry.base_serial > snapshot.serial {
        return Err(StateError::OplogAhead {
            path: path.to_path_buf(),
            line,
            base_serial: entry.base_serial,
            snapshot_serial: snapshot.serial,
        });
    }
    if entry.base_serial < snapshot.serial {
        return Ok(None);
    }
    if entry.seq != expected_seq {
        return Err(corrupt(format!(
            "sequence {} where {expected_seq} was expected",
            entry.seq
        )));
    }
    Ok(Some(entry))
}

/// Checks a whole log file's bytes against the snapshot.
pub fn replay(path: &Path, bytes: &[u8], snapshot: &StateFile) -> Result<Replay, StateError> {
    let mut out = Replay {
        next_seq: 1,
        ..Replay::default()
    };
    let mut offset = 0usize;
    let mut line = 0usize;
    let mut skipping_folded = true;
    while offset < bytes.len() {
        line += 1;
        let rest = &bytes[offset..];
        let Some(nl) = rest.iter().position(|&b| b == b'\n') else {
            out.warnings.push(StateWarning::TornOplogTail {
                path: path.to_path_buf(),
                line,
                bytes: rest.len(),
            });
            tracing::warn!("{}", out.warnings[out.warnings.len() - 1]);
            break;
        };
        match check_entry(path, line, &rest[..nl], snapshot, out.next_seq)? {
            Some(entry) => {
                skipping_folded = false;
                out.ops.push(entry.change);
                out.next_seq += 1;
            }
            None if !skipping_folded => {
                // Folded entries can only precede the current ones: the log is truncated right after a fold.
                return Err(StateError::OplogCorrupt {
                    path: path.to_path_buf(),
                    line,
                    reason: "an already folded entry follows a current one".into(),
                });
            }
            None => {}
        }
        offset += nl + 1;
        out.valid_len = offset as u64;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(n: u32) -> StateOp {
        StateOp::Remove {
            address: format!("server.s{n}"),
        }
    }

    fn log(snapshot: &StateFile, base: u64, seqs: &[u64]) -> Vec<u8> {
        seqs.iter()
            .flat_map(|&s| {
                OplogEntry::new(snapshot.lineage, base, s, op(s as u32))
                    .unwrap()
                    .to_line()
                    .unwrap()
            })
            .collect()
    }

    #[test]
    fn replays_in_order_and_reports_next_seq() {
        let s = StateFile::new("d");
        let bytes = log(&s, 0, &[1, 2, 3]);
        let r = replay(Path::new("l"), &bytes, &s).unwrap();
        assert_eq!(r.ops, vec![op(1), op(2), op(3)]);
        assert_eq!(r.next_seq, 4);
        assert_eq!(r.valid_len, bytes.len() as u64);
        assert!(r.warnings.is_empty());
    }

    #[test]
    fn torn_tail_is_dropped_with_a_warning() {
        let s = StateFile::new("d");
        let mut bytes = log(&s, 0, &[1, 2]);
        let good = bytes.len();
        bytes.extend_from_slice(&log(&s, 0, &[3])[..10]);
        let r = replay(Path::new("l"), &bytes, &s).unwrap();
        assert_eq!(r.ops.len(), 2);
        assert_eq!(r.valid_len, good as u64);
        assert!(matches!(
            r.warnings[0],
            StateWarning::TornOplogTail { line: 3, .. }
        ));
    }

    #[test]
    fn entries_of_a_folded_serial_are_skipped() {
        let mut s = StateFile::new("d");
        s.serial = 2;
        let mut bytes = log(&s, 1, &[1, 2]);
        bytes.extend(log(&s, 2, &[1]));
        let r = replay(Path::new("l"), &bytes, &s).unwrap();
        assert_eq!(r.ops, vec![op(1)]);
    }

    #[test]
    fn gaps_foreign_lineage_and_future_serials_are_refused() {
        let s = StateFile::new("d");
        let err = replay(Path::new("l"), &log(&s, 0, &[1, 3]), &s).unwrap_err();
        assert!(
            matches!(err, StateError::OplogCorrupt { line: 2, .. }),
            "{err}"
        );
        let other = StateFile::new("d");
        let err = replay(Path::new("l"), &log(&other, 0, &[1]), &s).unwrap_err();
        assert!(
            matches!(err, StateError::OplogForeignLineage { line: 1, .. }),
            "{err}"
        );
        let err = replay(Path::new("l"), &log(&s, 5, &[1]), &s).unwrap_err();
        assert!(
            matches!(err, StateError::OplogAhead { base_serial: 5, .. }),
            "{err}"
        );
    }

    #[test]
    fn a_flipped_byte_in_a_middle_line_is_refused_with_its_line_number() {
        let s = StateFile::new("d");
        let mut bytes = log(&s, 0, &[1, 2, 3]);
        let first_nl = bytes.iter().position(|&b| b == b'\n').unwrap();
        let target = first_nl + 40;
        bytes[target] ^= 0x01;
        let err = replay(Path::new("l"), &bytes, &s).unwrap_err();
        assert!(
            matches!(err, StateError::OplogCorrupt { line: 2, .. }),
            "{err}"
        );
    }
}
