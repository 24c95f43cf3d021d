//! State: what sovstack has done, recorded so that it is never lost or corrupted.
//!
//! - [`model`]: the state document ([`StateFile`]) and the changes recorded into it ([`StateOp`]);
//! - [`backend`]: the [`StateBackend`] / [`StateWriter`] traits that plan and apply use;
//! - [`local`]: snapshot file + append-only operation log + OS file lock;
//! - [`postgres`]: the same on PostgreSQL, locked with a session advisory lock;
//! - [`journal`]: the hash-chained record of every apply;
//! - [`keyed_hash`]: how sensitive values are stored (HMAC-SHA256 only, key kept outside the state).

pub mod any;
pub mod atomic;
pub mod backend;
pub mod canonical;
pub mod error;
pub mod journal;
pub mod keyed_hash;
pub mod local;
pub mod local_lock;
pub mod lock_info;
pub mod model;
pub mod oplog;
pub mod pg_conn;
pub mod postgres;
pub mod schema;
pub mod snapshot;

pub use any::{AnyBackend, AnyWriter};
pub use backend::{Loaded, StateBackend, StateWriter};
pub use error::StateError;
pub use journal::{
    AddressResult, JournalEntry, JournalError, JournalRecord, Outcome, verify_journal,
};
pub use keyed_hash::{KeyedHash, KeyedHasher};
pub use local::LocalBackend;
pub use lock_info::LockInfo;
pub use model::{FORMAT_VERSION, OutputState, ResourceState, ResourceStatus, StateFile, StateOp};
pub use oplog::StateWarning;
pub use postgres::PgBackend;
