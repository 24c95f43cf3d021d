//! PostgreSQL backend: the same snapshot + operation log + journal as the local backend, in tables keyed by stack
//! name, with the lock held as a session-level advisory lock.
//!
//! Session advisory locks belong to one connection, so every writer opens its own dedicated connection, takes the
//! lock on it and does all its writes on it: if that session dies, the lock is gone and so is the ability to
//! write (there is no pool that could hand a write to a session without the lock). Tables are created if missing,
//! under a transaction-scoped advisory lock so that two first runs do not race on `CREATE TABLE`.
//!
//! Connection: a libpq-style string (`host=127.0.0.1 port=5432 user=sovstack dbname=state`) or URL, from the stack's
//! `backend "pg"` block or `PG_CONN_STR`, with TLS as [`super::pg_conn`] sets it up. The tables live in their own
//! schema (`sovstack` unless `schema_name` says otherwise); a role that may not create them still works once they
//! exist.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use tokio::task::JoinHandle;
use tokio_postgres::{Client, Row};

use super::backend::{Loaded, StateBackend, StateWriter};
use super::error::StateError;
use super::journal::{self, JournalEntry, JournalRecord, JournalSummary};
use super::lock_info::LockInfo;
use super::model::{FORMAT_VERSION, StateFile, StateOp};
use super::oplog::{self, OplogEntry, StateWarning};
use super::pg_conn::{PgSettings, Target};
use super::snapshot;

const LOCK_POLL: Duration = Duration::from_millis(100);
/// How long a lock whose holder has written no info is waited for, whatever the timeout: such a
/// holder is a session just starting (its info follows at once) or one whose process has just
/// ended (the server releases its locks once it notices the closed connection). A moment tells
/// which, so a run right after another is not refused by the first one's departing session.
const LOCK_SETTLE: Duration = Duration::from_secs(3);
/// Key of the transaction lock that serializes table creation.
const DDL_LOCK_KEY: i64 = 0x736f_7673_7461_636b; // "sovstack"

/// The tables, all of which must exist before a run may skip creating them.
const TABLES: &[&str] = &[
    "sovstack_state",
    "sovstack_state_oplog",
    "sovstack_state_lock",
    "sovstack_journal",
];

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS sovstack_state (
    stack         text PRIMARY KEY,
    lineage       text NOT NULL,
    serial        bigint NOT NULL,
    body          text NOT NULL,
    previous_body text,
    updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS sovstack_state_oplog (
    stack       text NOT NULL,
    base_serial bigint NOT NULL,
    seq         bigint NOT NULL,
    body        text NOT NULL,
    PRIMARY KEY (stack, base_serial, seq)
);
CREATE TABLE IF NOT EXISTS sovstack_state_lock (
    stack       text PRIMARY KEY,
    backend_pid integer NOT NULL,
    info        text NOT NULL
);
CREATE TABLE IF NOT EXISTS sovstack_journal (
    stack text NOT NULL,
    seq   bigint NOT NULL,
    body  text NOT NULL,
    PRIMARY KEY (stack, seq)
);
";

/// State of one stack in PostgreSQL.
#[derive(Clone)]
pub struct PgBackend {
    settings: PgSettings,
    stack: String,
}

impl std::fmt::Debug for PgBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The connection string may hold a password.
        f.debug_struct("PgBackend")
            .field("schema", &self.settings.schema_name)
            .field("stack", &self.stack)
            .finish()
    }
}

fn pg(context: &str) -> impl FnOnce(tokio_postgres::Error) -> StateError + '_ {
    move |e| StateError::pg(context, e)
}

impl PgBackend {
    /// State of `stack` in the database at `conn`, in the default schema.
    pub fn new(conn: impl Into<String>, stack: impl Into<String>) -> Self {
        Self::with_settings(PgSettings::new(conn), stack)
    }

    /// State of `stack` where `settings` say.
    pub fn with_settings(settings: PgSettings, stack: impl Into<String>) -> Self {
        PgBackend {
            settings,
            stack: stack.into(),
        }
    }

    /// The name of the stack this state is kept under.
    pub fn stack(&self) -> &str {
        &self.stack
    }

    /// The same database and schema, for the state of another stack.
    pub fn for_stack(&self, stack: impl Into<String>) -> Self {
        Self::with_settings(self.settings.clone(), stack)
    }

    /// Advisory lock key of this stack: the first 8 bytes of a hash of its name.
    pub fn lock_key(&self) -> i64 {
        let d = Sha256::digest(format!("sovstack-state-lock\0{}", self.stack).as_bytes());
        let mut b = [0u8; 8];
        b.copy_from_slice(&d[..8]);
        i64::from_be_bytes(b)
    }

    fn location_path(&self) -> PathBuf {
        PathBuf::from(format!("postgresql:{}", self.stack))
    }

    async fn connect(&self) -> Result<(Client, JoinHandle<()>), StateError> {
        let (mut client, task) = Target::new(&self.settings)?.connect().await?;
        ensure_schema(&mut client, &self.settings.schema_name).await?;
        Ok((client, task))
    }

    /// The other stacks whose state this schema holds, by name. When this stack has none, one of
    /// them may be this stack under its name before the `stack` block was renamed.
    pub async fn other_stacks(&self) -> Result<Vec<String>, StateError> {
        let (client, _task) = self.connect().await?;
        let rows = self
            .stack_rows(
                &client,
                "SELECT stack FROM sovstack_state WHERE stack <> $1 ORDER BY stack",
                "list the stacks",
            )
            .await?;
        Ok(rows.iter().map(|r| r.get::<_, String>(0)).collect())
    }

    /// Process id of the session holding this stack's advisory lock, if any.
    async fn holder_pid(&self, client: &Client) -> Result<Option<i32>, StateError> {
        let key = self.lock_key() as u64;
        let row = client
            .query_opt(
                "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1 \
                 AND classid = $1 AND objid = $2 \
                 AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
                &[&((key >> 32) as u32), &(key as u32)],
            )
            .await
            .map_err(pg("read pg_locks"))?;
        Ok(row.map(|r| r.get::<_, i32>(0)))
    }

    /// The rows a query keyed by this stack alone (`$1`) answers with; `what` names it in errors.
    async fn stack_rows(
        &self,
        client: &Client,
        sql: &str,
        what: &str,
    ) -> Result<Vec<Row>, StateError> {
        client.query(sql, &[&self.stack]).await.map_err(pg(what))
    }

    /// The one row, if any, of a query keyed by this stack alone (`$1`).
    async fn stack_row(
        &self,
        client: &Client,
        sql: &str,
        what: &str,
    ) -> Result<Option<Row>, StateError> {
        client
            .query_opt(sql, &[&self.stack])
            .await
            .map_err(pg(what))
    }

    /// The info row and whether it belongs to the live holder.
    async fn lock_row(
        &self,
        client: &Client,
    ) -> Result<Option<(i32, Option<Box<LockInfo>>)>, StateError> {
        let row = self
            .stack_row(
                client,
                "SELECT backend_pid, info FROM sovstack_state_lock WHERE stack = $1",
                "read lock info",
            )
            .await?;
        Ok(row.map(|r| {
            let info: String = r.get(1);
            (
                r.get::<_, i32>(0),
                serde_json::from_str(&info).ok().map(Box::new),
            )
        }))
    }

    /// Info of the live holder; stale rows of crashed sessions are ignored.
    async fn holder_info(&self, client: &Client) -> Result<Option<Box<LockInfo>>, StateError> {
        let Some(pid) = self.holder_pid(client).await? else {
            return Ok(None);
        };
        Ok(match self.lock_row(client).await? {
            Some((row_pid, info)) if row_pid == pid => info,
            _ => None,
        })
    }

    async fn read(
        &self,
        client: &Client,
    ) -> Result<(Option<StateFile>, oplog::Replay), StateError> {
        let location = self.location_path();
        let row = self
            .stack_row(
                client,
                "SELECT body FROM sovstack_state WHERE stack = $1",
                "read snapshot",
            )
            .await?;
        let entries = self
            .stack_rows(
                client,
                "SELECT body FROM sovstack_state_oplog WHERE stack = $1 ORDER BY base_serial, seq",
                "read operation log",
            )
            .await?;
        let Some(row) = row else {
            if !entries.is_empty() {
                return Err(StateError::SnapshotMissing {
                    path: location,
                    present: PathBuf::from(format!("{} operation log rows", entries.len())),
                });
            }
            return Ok((
                None,
                oplog::Replay {
                    next_seq: 1,
                    ..Default::default()
                },
            ));
        };
        let body: String = row.get(0);
        let mut state = snapshot::decode(&location, body.as_bytes())?;
        if state.stack != self.stack {
            return Err(StateError::WrongStack {
                location: self.location(),
                expected: self.stack.clone(),
                found: state.stack,
            });
        }
        let mut replay = oplog::Replay {
            next_seq: 1,
            ..Default::default()
        };
        for (i, r) in entries.iter().enumerate() {
            let body: String = r.get(0);
            if let Some(e) =
                oplog::check_entry(&location, i + 1, body.as_bytes(), &state, replay.next_seq)?
            {
                replay.ops.push(e.change);
                replay.next_seq += 1;
            }
        }
        for op in &replay.ops {
            state.apply(op);
        }
        Ok((Some(state), replay))
    }

    /// The journal's entries of this stack as stored, in `seq` order.
    pub async fn journal_entries(&self) -> Result<Vec<String>, StateError> {
        let (client, _task) = self.connect().await?;
        let rows = self
            .stack_rows(
                &client,
                "SELECT body FROM sovstack_journal WHERE stack = $1 ORDER BY seq",
                "read journal",
            )
            .await?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    /// Verifies the journal of this stack, row by row in `seq` order (`line` in errors is the entry's position).
    pub async fn verify_journal(&self) -> Result<JournalSummary, StateError> {
        let entries = self.journal_entries().await?;
        Ok(journal::check_entries(&self.location_path(), &entries)?)
    }
}

/// Points the session at the schema and creates what is missing. When every table exists
/// nothing is created, so a role with only the rights to use them works.
async fn ensure_schema(client: &mut Client, schema: &str) -> Result<(), StateError> {
    if !super::pg_conn::valid_schema_name(schema) {
        return Err(StateError::PgConnection {
            reason: format!(
                "schema name `{schema}` must be a lower-case identifier (letters, digits, `_`)"
            ),
        });
    }
    // The name is a checked identifier, so quoting it is enough.
    client
        .batch_execute(&format!("SET search_path TO \"{schema}\""))
        .await
        .map_err(pg("set search_path"))?;
    let tables: Vec<String> = TABLES.iter().map(|t| t.to_string()).collect();
    let present: i64 = client
        .query_one(
            "SELECT count(*) FROM pg_catalog.pg_tables WHERE schemaname = $1 AND tablename = ANY($2)",
            &[&schema, &tables],
        )
        .await
        .map_err(pg("look for the state tables"))?
        .get(0);
    if present == TABLES.len() as i64 {
        return Ok(());
    }
    let tx = client
        .transaction()
        .await
        .map_err(pg("begin schema transaction"))?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&DDL_LOCK_KEY])
        .await
        .map_err(pg("lock schema creation"))?;
    tx.batch_execute(&format!(
        "CREATE SCHEMA IF NOT EXISTS \"{schema}\";\n{SCHEMA}"
    ))
    .await
    .map_err(pg("create the schema and tables"))?;
    tx.commit().await.map_err(pg("commit schema"))
}

impl StateBackend for PgBackend {
    type Writer = PgWriter;

    fn location(&self) -> String {
        format!(
            "postgresql stack `{}` (schema {})",
            self.stack, self.settings.schema_name
        )
    }

    async fn lock(&self, operation: &str, timeout: Duration) -> Result<PgWriter, StateError> {
        let (client, task) = self.connect().await?;
        let key = self.lock_key();
        let started = Instant::now();
        let deadline = started + timeout;
        loop {
            let got: bool = client
                .query_one("SELECT pg_try_advisory_lock($1)", &[&key])
                .await
                .map_err(pg("take advisory lock"))?
                .get(0);
            if got {
                break;
            }
            let holder = self.holder_info(&client).await?;
            let settling = holder.is_none() && started.elapsed() < LOCK_SETTLE;
            if !settling && timeout.is_zero() {
                return Err(StateError::LockHeld {
                    location: self.location(),
                    holder,
                });
            }
            if !settling && Instant::now() >= deadline {
                return Err(StateError::LockTimeout {
                    location: self.location(),
                    waited: timeout,
                    holder,
                });
            }
            tokio::time::sleep(LOCK_POLL).await;
        }
        let info = LockInfo::for_current_process(operation);
        let info_json = serde_json::to_string(&info).map_err(StateError::Encode)?;
        client
            .execute(
                "INSERT INTO sovstack_state_lock (stack, backend_pid, info) VALUES ($1, pg_backend_pid(), $2) \
                 ON CONFLICT (stack) DO UPDATE SET backend_pid = EXCLUDED.backend_pid, info = EXCLUDED.info",
                &[&self.stack, &info_json],
            )
            .await
            .map_err(pg("write lock info"))?;
        let (state, replay) = self.read(&client).await?;
        Ok(PgWriter {
            backend: self.clone(),
            client,
            _task: task,
            info,
            state,
            next_seq: replay.next_seq,
            warnings: replay.warnings,
        })
    }

    async fn load(&self) -> Result<Option<Loaded>, StateError> {
        let (client, _task) = self.connect().await?;
        let (state, replay) = self.read(&client).await?;
        Ok(state.map(|state| Loaded {
            state,
            pending_ops: replay.next_seq - 1,
            warnings: replay.warnings,
        }))
    }

    async fn force_unlock(&self, lock_id: &str) -> Result<(), StateError> {
        let (client, _task) = self.connect().await?;
        let location = self.location();
        let row = self.lock_row(&client).await?;
        let holder_pid = self.holder_pid(&client).await?;
        let row_info = row.as_ref().and_then(|(_, i)| i.clone());
        if row_info.as_ref().map(|i| i.id.as_str()) != Some(lock_id) {
            return Err(match (holder_pid, row_info) {
                (None, None) => StateError::NotLocked { location },
                (_, holder) => StateError::LockIdMismatch {
                    location,
                    given: lock_id.to_string(),
                    holder,
                },
            });
        }
        if let (Some(pid), Some((row_pid, _))) = (holder_pid, &row)
            && pid == *row_pid
        {
            // The holder's session is stuck (a hung CI job, a lost laptop): ending it releases the lock.
            client
                .execute("SELECT pg_terminate_backend($1)", &[&pid])
                .await
                .map_err(pg("terminate the lock holder's session"))?;
            let deadline = Instant::now() + Duration::from_secs(10);
            while self.holder_pid(&client).await? == Some(pid) {
                if Instant::now() >= deadline {
                    return Err(StateError::LockHeld {
                        location,
                        holder: self.holder_info(&client).await?,
                    });
                }
                tokio::time::sleep(LOCK_POLL).await;
            }
        }
        client
            .execute(
                "DELETE FROM sovstack_state_lock WHERE stack = $1",
                &[&self.stack],
            )
            .await
            .map_err(pg("delete lock info"))?;
        Ok(())
    }
}

/// Holder of the advisory lock, on its own session.
pub struct PgWriter {
    backend: PgBackend,
    client: Client,
    _task: JoinHandle<()>,
    info: LockInfo,
    state: Option<StateFile>,
    next_seq: u64,
    warnings: Vec<StateWarning>,
}

impl std::fmt::Debug for PgWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgWriter")
            .field("backend", &self.backend)
            .field("info", &self.info)
            .finish()
    }
}

impl PgWriter {
    /// `next` sealed as this backend's stack, as the text of a snapshot row.
    fn sealed_body(&self, next: &mut StateFile) -> Result<String, StateError> {
        next.format_version = FORMAT_VERSION;
        next.stack = self.backend.stack.clone();
        next.seal();
        String::from_utf8(snapshot::encode(next)?).map_err(|e| StateError::SnapshotCorrupt {
            path: self.backend.location_path(),
            reason: e.to_string(),
        })
    }

    /// `state rename-stack`: this stack's state, with `ops` applied and the next serial, becomes
    /// the state of `target`'s stack (whose lock `target` holds and which has no state), and
    /// its journal follows; in one transaction, so the state is under one name or the other.
    pub async fn rename_to(
        mut self,
        target: &PgWriter,
        ops: &[StateOp],
    ) -> Result<u64, StateError> {
        super::backend::refuse_reinit(target.state(), target.backend.location())?;
        let mut next =
            super::backend::require_state(self.state.as_ref(), self.backend.location())?.clone();
        for op in ops {
            next.apply(op);
        }
        next.serial += 1;
        let body = target.sealed_body(&mut next)?;
        let (from, to) = (self.backend.stack.clone(), target.backend.stack.clone());
        let tx = self.client.transaction().await.map_err(pg("begin"))?;
        tx.execute(
            "INSERT INTO sovstack_state (stack, lineage, serial, body) VALUES ($1, $2, $3, $4)",
            &[&to, &next.lineage.to_string(), &(next.serial as i64), &body],
        )
        .await
        .map_err(pg("insert the renamed snapshot"))?;
        for (sql, what) in [
            (
                "DELETE FROM sovstack_state WHERE stack = $1",
                "delete the old snapshot",
            ),
            (
                "DELETE FROM sovstack_state_oplog WHERE stack = $1",
                "delete the old operation log",
            ),
        ] {
            tx.execute(sql, &[&from]).await.map_err(pg(what))?;
        }
        tx.execute(
            "UPDATE sovstack_journal SET stack = $2 WHERE stack = $1",
            &[&from, &to],
        )
        .await
        .map_err(pg("move the journal"))?;
        tx.commit().await.map_err(pg("commit the rename"))?;
        let serial = next.serial;
        self.state = Some(next);
        self.unlock().await?;
        Ok(serial)
    }

    /// Writes a journal copied verbatim from another backend (checked entries, in order) as
    /// this stack's, which has none: one transaction, so it is copied whole or not at all.
    pub async fn import_journal(&mut self, entries: &[String]) -> Result<(), StateError> {
        let tx = self.client.transaction().await.map_err(pg("begin"))?;
        for (i, body) in entries.iter().enumerate() {
            tx.execute(
                "INSERT INTO sovstack_journal (stack, seq, body) VALUES ($1, $2, $3)",
                &[&self.backend.stack, &(i as i64 + 1), body],
            )
            .await
            .map_err(pg("copy the journal"))?;
        }
        tx.commit().await.map_err(pg("commit the journal"))
    }

    /// Writes `next` as the snapshot (old body kept as `previous_body`) and drops the folded log rows, in one
    /// transaction. The update only applies if the stored serial is still the one we loaded: a writer that
    /// bypassed the lock is detected instead of overwritten.
    async fn write_snapshot(&mut self, mut next: StateFile) -> Result<u64, StateError> {
        let body = self.sealed_body(&mut next)?;
        let expected_prev: Option<i64> = self.state.as_ref().map(|s| s.serial as i64);
        let serial = next.serial as i64;
        let stack = self.backend.stack.clone();
        let lineage = next.lineage.to_string();
        let tx = self.client.transaction().await.map_err(pg("begin"))?;
        let changed = match expected_prev {
            None => tx
                .execute(
                    "INSERT INTO sovstack_state (stack, lineage, serial, body) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (stack) DO NOTHING",
                    &[&stack, &lineage, &serial, &body],
                )
                .await
                .map_err(pg("insert snapshot"))?,
            Some(prev) => tx
                .execute(
                    "UPDATE sovstack_state SET previous_body = body, body = $2, serial = $3, lineage = $4, \
                     updated_at = now() WHERE stack = $1 AND serial = $5",
                    &[&stack, &body, &serial, &lineage, &prev],
                )
                .await
                .map_err(pg("update snapshot"))?,
        };
        if changed != 1 {
            return Err(StateError::PostgresCorrupt {
                stack,
                reason: "the stored snapshot changed while we held the lock (a writer that does not lock?); \
                         nothing was written"
                    .into(),
            });
        }
        tx.execute(
            "DELETE FROM sovstack_state_oplog WHERE stack = $1 AND base_serial < $2",
            &[&stack, &serial],
        )
        .await
        .map_err(pg("empty operation log"))?;
        tx.commit().await.map_err(pg("commit snapshot"))?;
        self.state = Some(next);
        self.next_seq = 1;
        Ok(serial as u64)
    }
}

impl StateWriter for PgWriter {
    async fn init(&mut self, stack: &str) -> Result<(), StateError> {
        super::backend::refuse_reinit(self.state.as_ref(), self.backend.location())?;
        if stack != self.backend.stack {
            return Err(StateError::WrongStack {
                location: self.backend.location(),
                expected: self.backend.stack.clone(),
                found: stack.to_string(),
            });
        }
        let mut s = StateFile::new(stack);
        s.serial = 1;
        self.write_snapshot(s).await.map(|_| ())
    }

    fn lock_info(&self) -> &LockInfo {
        &self.info
    }

    fn state(&self) -> Option<&StateFile> {
        self.state.as_ref()
    }

    fn warnings(&self) -> &[StateWarning] {
        &self.warnings
    }

    async fn persist(&mut self, mut state: StateFile) -> Result<u64, StateError> {
        state.serial = super::backend::persisted_serial(
            self.state.as_ref(),
            &state,
            self.backend.location_path(),
        )?;
        self.write_snapshot(state).await
    }

    async fn fold(&mut self) -> Result<u64, StateError> {
        let state = super::backend::require_state(self.state.as_ref(), self.backend.location())?;
        match super::backend::fold_target(state, self.next_seq) {
            None => Ok(state.serial),
            Some(next) => self.write_snapshot(next).await,
        }
    }

    async fn record(&mut self, op: StateOp) -> Result<(), StateError> {
        let state = super::backend::require_state(self.state.as_ref(), self.backend.location())?;
        let entry = OplogEntry::new(state.lineage, state.serial, self.next_seq, op)?;
        let body = serde_json::to_string(&entry).map_err(StateError::Encode)?;
        // One autocommitted row: durable on return, cost independent of the state's size.
        self.client
            .execute(
                "INSERT INTO sovstack_state_oplog (stack, base_serial, seq, body) VALUES ($1, $2, $3, $4)",
                &[&self.backend.stack, &(entry.base_serial as i64), &(entry.seq as i64), &body],
            )
            .await
            .map_err(pg("append to operation log"))?;
        super::backend::note_recorded(&mut self.next_seq, self.state.as_mut(), &entry.change);
        Ok(())
    }

    async fn append_journal(&mut self, record: JournalRecord) -> Result<JournalEntry, StateError> {
        let stack = self.backend.stack.clone();
        let location = self.backend.location_path();
        let (lineage, serial) = match &self.state {
            Some(s) => (Some(s.lineage), Some(s.serial)),
            None => (None, None),
        };
        let last = self
            .backend
            .stack_row(
                &self.client,
                "SELECT body FROM sovstack_journal WHERE stack = $1 ORDER BY seq DESC LIMIT 1",
                "read journal head",
            )
            .await?;
        let last: Option<String> = last.map(|r| r.get(0));
        let entry = journal::entry_after(
            last.as_deref().map(str::as_bytes),
            &location,
            record,
            lineage,
            serial,
        )?;
        let body = serde_json::to_string(&entry).map_err(StateError::Encode)?;
        self.client
            .execute(
                "INSERT INTO sovstack_journal (stack, seq, body) VALUES ($1, $2, $3)",
                &[&stack, &(entry.seq as i64), &body],
            )
            .await
            .map_err(pg("append to journal"))?;
        Ok(entry)
    }

    async fn unlock(self) -> Result<(), StateError> {
        self.client
            .execute(
                "DELETE FROM sovstack_state_lock WHERE stack = $1 AND backend_pid = pg_backend_pid()",
                &[&self.backend.stack],
            )
            .await
            .map_err(pg("delete lock info"))?;
        self.client
            .execute("SELECT pg_advisory_unlock($1)", &[&self.backend.lock_key()])
            .await
            .map_err(pg("release advisory lock"))?;
        Ok(())
    }
}
