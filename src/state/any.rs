//! One concrete backend type for callers that pick the backend at run time (the CLI): the traits use `impl
//! Future` and are not object-safe, so dispatch is an enum.

use std::time::Duration;

use super::backend::{Loaded, StateBackend, StateWriter};
use super::error::StateError;
use super::journal::{JournalEntry, JournalRecord, JournalSummary};
use super::keyed_hash::{KeyedHasher, STATE_KEY_ENV};
use super::local::{LocalBackend, LocalWriter};
use super::lock_info::LockInfo;
use super::model::{StateFile, StateOp};
use super::oplog::StateWarning;
use super::postgres::{PgBackend, PgWriter};

/// Either backend.
#[derive(Debug, Clone)]
pub enum AnyBackend {
    Local(LocalBackend),
    Postgres(PgBackend),
}

/// Either backend's writer.
#[derive(Debug)]
pub enum AnyWriter {
    Local(LocalWriter),
    Postgres(PgWriter),
}

macro_rules! both {
    ($self:expr, $b:ident => $e:expr) => {
        match $self {
            AnyWriter::Local($b) => $e,
            AnyWriter::Postgres($b) => $e,
        }
    };
}

impl AnyBackend {
    /// The key for keyed hashes: `SOVSTACK_STATE_KEY`, or for the local backend its key file
    /// beside the state. A remote state has no file beside it, so the variable is required.
    pub fn hasher(&self) -> Result<KeyedHasher, StateError> {
        match self {
            AnyBackend::Local(b) => b.hasher(),
            AnyBackend::Postgres(_) => KeyedHasher::from_env()?.ok_or_else(|| StateError::Key {
                reason: format!(
                    "{STATE_KEY_ENV} must be set when the state is in PostgreSQL (64 hex characters, the same on every machine that applies this stack)"
                ),
            }),
        }
    }
}

impl AnyBackend {
    /// Checks every link of this state's journal; the summary and where the journal is.
    pub async fn verify_journal(&self) -> Result<(String, JournalSummary), StateError> {
        match self {
            AnyBackend::Local(b) => {
                let path = b.paths().journal;
                let summary = super::journal::verify_journal(&path)?;
                Ok((path.display().to_string(), summary))
            }
            AnyBackend::Postgres(b) => Ok((
                format!("the journal of {}", b.location()),
                b.verify_journal().await?,
            )),
        }
    }

    /// The journal's entries as stored, each checked against the one before (a broken
    /// journal is reported, not copied).
    pub async fn journal_entries(&self) -> Result<Vec<String>, StateError> {
        let (name, entries) = match self {
            AnyBackend::Local(b) => {
                let path = b.paths().journal;
                let text = match std::fs::read_to_string(&path) {
                    Ok(t) => t,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
                    Err(e) => return Err(StateError::io("read", path, e)),
                };
                (path, text.lines().map(str::to_string).collect())
            }
            AnyBackend::Postgres(b) => (
                std::path::PathBuf::from(b.location()),
                b.journal_entries().await?,
            ),
        };
        super::journal::check_entries(&name, &entries)?;
        Ok(entries)
    }
}

impl AnyWriter {
    /// Writes a journal copied from another backend as this state's, which has none.
    pub async fn import_journal(&mut self, entries: &[String]) -> Result<(), StateError> {
        match self {
            AnyWriter::Local(w) => {
                let mut text = entries.join("\n");
                text.push('\n');
                super::atomic::write_atomic(&w.paths().journal, text.as_bytes())
            }
            AnyWriter::Postgres(w) => w.import_journal(entries).await,
        }
    }
}

impl StateBackend for AnyBackend {
    type Writer = AnyWriter;

    fn location(&self) -> String {
        match self {
            AnyBackend::Local(b) => b.location(),
            AnyBackend::Postgres(b) => b.location(),
        }
    }

    async fn lock(&self, operation: &str, timeout: Duration) -> Result<AnyWriter, StateError> {
        Ok(match self {
            AnyBackend::Local(b) => AnyWriter::Local(b.lock(operation, timeout).await?),
            AnyBackend::Postgres(b) => AnyWriter::Postgres(b.lock(operation, timeout).await?),
        })
    }

    async fn load(&self) -> Result<Option<Loaded>, StateError> {
        match self {
            AnyBackend::Local(b) => b.load().await,
            AnyBackend::Postgres(b) => b.load().await,
        }
    }

    async fn force_unlock(&self, lock_id: &str) -> Result<(), StateError> {
        match self {
            AnyBackend::Local(b) => b.force_unlock(lock_id).await,
            AnyBackend::Postgres(b) => b.force_unlock(lock_id).await,
        }
    }
}

impl StateWriter for AnyWriter {
    fn lock_info(&self) -> &LockInfo {
        both!(self, w => w.lock_info())
    }

    fn state(&self) -> Option<&StateFile> {
        both!(self, w => w.state())
    }

    fn warnings(&self) -> &[StateWarning] {
        both!(self, w => w.warnings())
    }

    async fn init(&mut self, stack: &str) -> Result<(), StateError> {
        both!(self, w => w.init(stack).await)
    }

    async fn record(&mut self, op: StateOp) -> Result<(), StateError> {
        both!(self, w => w.record(op).await)
    }

    async fn persist(&mut self, state: StateFile) -> Result<u64, StateError> {
        both!(self, w => w.persist(state).await)
    }

    async fn fold(&mut self) -> Result<u64, StateError> {
        both!(self, w => w.fold().await)
    }

    async fn append_journal(&mut self, record: JournalRecord) -> Result<JournalEntry, StateError> {
        both!(self, w => w.append_journal(record).await)
    }

    async fn unlock(self) -> Result<(), StateError> {
        both!(self, w => w.unlock().await)
    }
}
