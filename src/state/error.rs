//! Everything that can go wrong with state, as typed errors with help for the user.
//!
//! Every refusal leaves the files it read untouched: the help says what the user can do, never that we fixed it.

use std::path::PathBuf;
use std::time::Duration;

use miette::Diagnostic;
use thiserror::Error;

use super::lock_info::{LockInfo, describe_holder};

/// Errors of the state layer.
#[derive(Debug, Error, Diagnostic)]
pub enum StateError {
    #[error("cannot {action} {path}: {source}")]
    #[diagnostic(code(state::io))]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("state snapshot {path} is truncated ({len} bytes)")]
    #[diagnostic(
        code(state::snapshot_truncated),
        help(
            "The file was left untouched. A complete snapshot ends with a newline after the closing brace. \
             Restore the previous snapshot from `{}.backup` (check it with `sovstack state show`), or \
             recover the file from your backups.",
            path.display()
        )
    )]
    SnapshotTruncated { path: PathBuf, len: usize },

    #[error("state snapshot {path} is not valid: {reason}")]
    #[diagnostic(
        code(state::snapshot_corrupt),
        help(
            "The file was left untouched. Restore the previous snapshot from `{}.backup`, or recover the \
             file from your backups; do not edit state by hand.",
            path.display()
        )
    )]
    SnapshotCorrupt { path: PathBuf, reason: String },

    #[error(
        "state snapshot {path} fails its checksum: recorded {recorded}, content hashes to {actual}"
    )]
    #[diagnostic(
        code(state::checksum_mismatch),
        help(
            "The content changed after sovstack wrote it (disk corruption or a hand edit). The file was left \
             untouched. Restore `{}.backup` or a backup copy.",
            path.display()
        )
    )]
    ChecksumMismatch {
        path: PathBuf,
        recorded: String,
        actual: String,
    },

    #[error("state {path} has format version {found}; this sovstack reads up to {supported}")]
    #[diagnostic(
        code(state::format_too_new),
        help(
            "It was written by a newer sovstack. Upgrade sovstack; the file was left untouched so that the \
             newer version can still read it."
        )
    )]
    FormatTooNew {
        path: PathBuf,
        found: u64,
        supported: u32,
    },

    #[error("state {path} belongs to lineage {found}, expected {expected}")]
    #[diagnostic(
        code(state::foreign_lineage),
        help(
            "Two different states were mixed up (another stack's file copied over this one, or a snapshot \
             from another workspace). Nothing was written. Point sovstack at the right state."
        )
    )]
    ForeignLineage {
        path: PathBuf,
        expected: String,
        found: String,
    },

    #[error("state snapshot {path} is missing, but {present} exists")]
    #[diagnostic(
        code(state::snapshot_missing),
        help(
            "sovstack refuses to start from an empty state while traces of an earlier one remain: it would \
             create everything again. Restore the snapshot (e.g. copy `{0}.backup` to `{0}`), or, if you \
             really mean to start over, move {1} away.",
            path.display(),
            present.display()
        )
    )]
    SnapshotMissing { path: PathBuf, present: PathBuf },

    #[error("operation log {path} line {line} is corrupt: {reason}")]
    #[diagnostic(
        code(state::oplog_corrupt),
        help(
            "Only a torn last line (a crash while appending) is dropped automatically. A damaged line in the \
             middle means operations after it cannot be trusted; the files were left untouched. Inspect the \
             line, then restore a consistent snapshot and log from backups."
        )
    )]
    OplogCorrupt {
        path: PathBuf,
        line: usize,
        reason: String,
    },

    #[error(
        "operation log {path} line {line} belongs to lineage {found}, the snapshot to {expected}"
    )]
    #[diagnostic(
        code(state::oplog_foreign_lineage),
        help(
            "The log and the snapshot come from different states. Nothing was written; restore the matching pair."
        )
    )]
    OplogForeignLineage {
        path: PathBuf,
        line: usize,
        expected: String,
        found: String,
    },

    #[error(
        "operation log {path} line {line} builds on snapshot serial {base_serial}, but the snapshot has serial \
         {snapshot_serial}"
    )]
    #[diagnostic(
        code(state::oplog_ahead),
        help(
            "The snapshot is older than the log (an old snapshot was restored over a newer one?). Nothing was \
             written; restore the snapshot that matches the log."
        )
    )]
    OplogAhead {
        path: PathBuf,
        line: usize,
        base_serial: u64,
        snapshot_serial: u64,
    },

    #[error("state {location} is locked: {}", describe_holder(holder))]
    #[diagnostic(
        code(state::locked),
        help(
            "Another sovstack run is using this state. Wait for it, or retry with a lock timeout. If the holder \
             crashed: a local lock is released by the operating system when its process dies; a PostgreSQL lock \
             when its session ends (`force-unlock <id>` ends a stuck session)."
        )
    )]
    LockHeld {
        location: String,
        holder: Option<Box<LockInfo>>,
    },

    #[error(
        "state {location} is still locked after waiting {waited:?}: {}",
        describe_holder(holder)
    )]
    #[diagnostic(
        code(state::lock_timeout),
        help("Wait longer, or find out why the holder has not finished.")
    )]
    LockTimeout {
        location: String,
        waited: Duration,
        holder: Option<Box<LockInfo>>,
    },

    #[error(
        "lock id {given} does not match the lock on {location} ({})",
        describe_holder(holder)
    )]
    #[diagnostic(
        code(state::lock_id_mismatch),
        help(
            "Nothing was unlocked. Pass the id shown in the lock message, after checking the holder is gone."
        )
    )]
    LockIdMismatch {
        location: String,
        given: String,
        holder: Option<Box<LockInfo>>,
    },

    #[error("state {location} is not locked")]
    #[diagnostic(code(state::not_locked))]
    NotLocked { location: String },

    #[error("the lock on {location} is held by a live process and cannot be broken: {holder}")]
    #[diagnostic(
        code(state::lock_held_by_live_process),
        help(
            "Local locks are operating-system locks: they are released the moment the holding process exits, \
             even if it crashes. Stop that process (pid {}) instead.",
            holder.pid
        )
    )]
    LockHeldByLiveProcess {
        location: String,
        holder: Box<LockInfo>,
    },

    #[error("state {location} does not exist yet")]
    #[diagnostic(
        code(state::not_initialized),
        help("Create it first (`init`), under the lock.")
    )]
    NotInitialized { location: String },

    #[error("state {location} already exists (lineage {lineage})")]
    #[diagnostic(code(state::already_initialized))]
    AlreadyInitialized { location: String, lineage: String },

    #[error("state {location} is stored under stack `{found}`, expected `{expected}`")]
    #[diagnostic(
        code(state::wrong_stack),
        help("Nothing was written. Point sovstack at the state of this stack.")
    )]
    WrongStack {
        location: String,
        expected: String,
        found: String,
    },

    #[error("an earlier write to {location} failed half-way; this writer refuses further writes")]
    #[diagnostic(
        code(state::poisoned),
        help(
            "Release the lock and start a new run: loading replays everything that was durably recorded."
        )
    )]
    Poisoned { location: String },

    #[error("journal {path} ends in an entry that does not verify: {reason}")]
    #[diagnostic(
        code(state::journal_tail),
        help(
            "Nothing was appended, so the chain is not extended over a forged entry. Run `sovstack audit verify`."
        )
    )]
    JournalTail { path: PathBuf, reason: String },

    #[error(transparent)]
    #[diagnostic(transparent)]
    Journal(#[from] super::journal::JournalError),

    #[error("cannot encode state: {0}")]
    #[diagnostic(code(state::encode))]
    Encode(#[source] serde_json::Error),

    #[error("state key: {reason}")]
    #[diagnostic(
        code(state::key),
        help(
            "Sensitive values are stored as HMAC-SHA256 hashes keyed by a secret kept outside the state: \
             `SOVSTACK_STATE_KEY` (64 hex characters) or the 0600 key file beside a local state."
        )
    )]
    Key { reason: String },

    #[error("PostgreSQL state backend: {context}: {source}")]
    #[diagnostic(
        code(state::postgres),
        help(
            "Check the connection string (`conn_str` of the stack's `backend \"pg\"` block, or PG_CONN_STR), that the server is reachable and that the user may use the schema's tables."
        )
    )]
    Postgres {
        context: String,
        #[source]
        source: tokio_postgres::Error,
    },

    #[error("PostgreSQL state backend: {reason}")]
    #[diagnostic(
        code(state::postgres_connection),
        help(
            "Set the connection string in PG_CONN_STR (or `conn_str` of the stack's `backend \"pg\"` block), e.g. `host=db.internal dbname=sovstack user=sovstack sslmode=verify-full sslrootcert=/etc/sovstack/ca.pem`."
        )
    )]
    PgConnection { reason: String },

    #[error("PostgreSQL state backend: the server's TLS certificate was refused: {reason}")]
    #[diagnostic(
        code(state::postgres_tls),
        help(
            "With sslmode verify-full the certificate must be signed by the CA in `sslrootcert` and name the host connected to (`host`, also when `hostaddr` is given). Check both; `sslmode = \"require\"` encrypts without checking, for a network you trust."
        )
    )]
    PgTls { reason: String },

    #[error("PostgreSQL state row for stack `{stack}` is not valid: {reason}")]
    #[diagnostic(
        code(state::postgres_corrupt),
        help("Nothing was written. Inspect the row; restore it from `previous_body`.")
    )]
    PostgresCorrupt { stack: String, reason: String },
}

impl StateError {
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        StateError::Io {
            action,
            path: path.into(),
            source,
        }
    }

    pub(crate) fn pg(context: impl Into<String>, source: tokio_postgres::Error) -> Self {
        StateError::Postgres {
            context: context.into(),
            source,
        }
    }
}
