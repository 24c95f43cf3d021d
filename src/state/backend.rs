//! What plan and apply see of state, wherever it lives.
//!
//! Writing needs the lock, and the type system says so: `lock` returns a [`StateWriter`], the only thing that can
//! record, persist or fold. The writer holds the lock until it is dropped or unlocked.

use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;

use super::error::StateError;
use super::journal::{JournalEntry, JournalRecord};
use super::lock_info::LockInfo;
use super::model::{StateFile, StateOp};
use super::oplog::StateWarning;

/// A state read without the lock (for `show`, or `plan -lock=false`).
#[derive(Debug, Clone)]
pub struct Loaded {
    /// Snapshot with every logged operation replayed.
    pub state: StateFile,
    /// Operations replayed on top of the snapshot (not yet folded).
    pub pending_ops: u64,
    pub warnings: Vec<StateWarning>,
}

/// Where state lives.
pub trait StateBackend: Send + Sync {
    type Writer: StateWriter;

    /// Human-readable location, for messages.
    fn location(&self) -> String;

    /// Takes the lock for `operation` and loads the state under it. With a zero `timeout` a held lock fails at
    /// once with the holder's info; otherwise it is retried until `timeout` has passed.
    fn lock(
        &self,
        operation: &str,
        timeout: Duration,
    ) -> impl Future<Output = Result<Self::Writer, StateError>> + Send;

    /// Reads the state without locking; `None` when none exists.
    fn load(&self) -> impl Future<Output = Result<Option<Loaded>, StateError>> + Send;

    /// Breaks a lock whose holder is gone; `lock_id` must be the id shown in the lock message.
    fn force_unlock(&self, lock_id: &str) -> impl Future<Output = Result<(), StateError>> + Send;
}

/// The lock holder's handle: the current state, and every way to change it durably.
pub trait StateWriter: Send {
    fn lock_info(&self) -> &LockInfo;

    /// The current state (snapshot plus recorded operations), `None` before `init`.
    fn state(&self) -> Option<&StateFile>;

    /// Warnings from loading (a dropped torn log line).
    fn warnings(&self) -> &[StateWarning];

    /// Creates the state for `stack` with a fresh lineage and writes its first snapshot (serial 1).
    fn init(&mut self, stack: &str) -> impl Future<Output = Result<(), StateError>> + Send;

    /// Records one completed operation durably before returning, at a cost that depends on the operation only.
    fn record(&mut self, op: StateOp) -> impl Future<Output = Result<(), StateError>> + Send;

    /// Replaces the whole state (`state push`, `apply -refresh-only`): the lineage must match, the serial becomes
    /// the current one plus one. Returns the new serial.
    fn persist(&mut self, state: StateFile)
    -> impl Future<Output = Result<u64, StateError>> + Send;

    /// Writes the recorded operations into a new snapshot (serial + 1) and empties the log; a no-op when nothing
    /// was recorded. Returns the serial.
    fn fold(&mut self) -> impl Future<Output = Result<u64, StateError>> + Send;

    /// Appends an entry to the hash-chained journal.
    fn append_journal(
        &mut self,
        record: JournalRecord,
    ) -> impl Future<Output = Result<JournalEntry, StateError>> + Send;

    /// Releases the lock (dropping the writer does too).
    fn unlock(self) -> impl Future<Output = Result<(), StateError>> + Send;
}

/// `init`'s refusal, the same for every backend: a state that exists already is never replaced.
pub(crate) fn refuse_reinit(state: Option<&StateFile>, location: String) -> Result<(), StateError> {
    match state {
        Some(s) => Err(StateError::AlreadyInitialized {
            location,
            lineage: s.lineage.to_string(),
        }),
        None => Ok(()),
    }
}

/// The state that `record` and `fold` work on; before `init` there is none to work on.
pub(crate) fn require_state(
    state: Option<&StateFile>,
    location: String,
) -> Result<&StateFile, StateError> {
    state.ok_or(StateError::NotInitialized { location })
}

/// The serial `persist` gives `incoming`: one past the current state's, whose lineage it must share
/// (`snapshot` names the state in the refusal); a first state keeps its own serial, at least 1.
pub(crate) fn persisted_serial(
    current: Option<&StateFile>,
    incoming: &StateFile,
    snapshot: PathBuf,
) -> Result<u64, StateError> {
    match current {
        Some(cur) if cur.lineage != incoming.lineage => Err(StateError::ForeignLineage {
            path: snapshot,
            expected: cur.lineage.to_string(),
            found: incoming.lineage.to_string(),
        }),
        Some(cur) => Ok(cur.serial + 1),
        None => Ok(incoming.serial.max(1)),
    }
}

/// What `fold` writes: the state with the next serial, or nothing when no operation was recorded
/// since the snapshot (`next_seq` still 1).
pub(crate) fn fold_target(state: &StateFile, next_seq: u64) -> Option<StateFile> {
    (next_seq != 1).then(|| {
        let mut next = state.clone();
        next.serial += 1;
        next
    })
}

/// What every backend does once an operation is durable: the next one gets the next sequence
/// number, and the state in memory takes the change.
pub(crate) fn note_recorded(next_seq: &mut u64, state: Option<&mut StateFile>, change: &StateOp) {
    *next_seq += 1;
    if let Some(state) = state {
        state.apply(change);
    }
}
