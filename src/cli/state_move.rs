//! `sovstack state pull | push FILE | migrate --to local|pg`: moving a whole state, with the
//! checks that keep one history one history (lineage) and never let an older copy win (serial).

use crate::engine::{EngineError, Workspace};
use crate::state::snapshot;
use crate::state::{
    AnyBackend, KeyedHasher, LocalBackend, OutputState, StateBackend, StateFile, StateWriter,
};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Debug, clap::Args)]
pub struct PushArgs {
    /// A state file as `state pull` prints it; `-` reads standard input.
    pub file: PathBuf,
    /// Push even when the file's serial is older than the current state's.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, clap::Args)]
pub struct MigrateArgs {
    /// Where the state goes: `pg` (the stack's `backend "pg"`) from the local file, or `local`
    /// back from PostgreSQL.
    #[arg(long, value_enum)]
    pub to: Destination,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Destination {
    Local,
    Pg,
}

/// Why a state was not moved; each says what to do instead.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum MoveError {
    #[error("cannot read {path}: {source}")]
    #[diagnostic(code(state::push_read))]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("{file} holds serial {incoming}, older than the current state's {current}")]
    #[diagnostic(
        code(state::stale_push),
        help(
            "The state moved on since this copy was taken: `sovstack state pull` the current one and change that. Nothing was written. --force pushes the older copy anyway (what was recorded since is lost)."
        )
    )]
    Stale {
        file: String,
        incoming: u64,
        current: u64,
    },

    #[error(
        "{file} is another state's history (lineage {incoming}); {location} has lineage {current}"
    )]
    #[diagnostic(
        code(state::lineage_mismatch),
        help(
            "Push a copy of this state only (`sovstack state pull` shows its lineage). Nothing was written."
        )
    )]
    Lineage {
        file: String,
        location: String,
        incoming: String,
        current: String,
    },

    #[error("{file} is the state of stack `{incoming}`; {location} belongs to `{current}`")]
    #[diagnostic(
        code(state::push_wrong_stack),
        help("Push it where stack `{incoming}` keeps its state. Nothing was written.")
    )]
    Stack {
        file: String,
        location: String,
        incoming: String,
        current: String,
    },

    #[error(
        "the stack has no `backend \"pg\"` block, so there is no PostgreSQL state to migrate to or from"
    )]
    #[diagnostic(
        code(state::no_remote_backend),
        help(
            "Add `backend \"pg\" {{ }}` inside the `stack` block (the connection from PG_CONN_STR), then migrate; to go back, migrate --to local before removing the block."
        )
    )]
    NoRemote,

    #[error("there is no state at {0} to migrate")]
    #[diagnostic(code(state::nothing_to_migrate))]
    Nothing(String),

    #[error("{location} already holds a state (lineage {lineage}, serial {serial})")]
    #[diagnostic(
        code(state::migrate_target_exists),
        help(
            "Migration never overwrites a state. If it is an older copy of the same state, `sovstack state push` the newer one; otherwise remove it first (it is the only record of what it created)."
        )
    )]
    TargetExists {
        location: String,
        lineage: String,
        serial: u64,
    },

    #[error("{location} has no state but a journal of {entries} entries")]
    #[diagnostic(
        code(state::migrate_journal_exists),
        help(
            "The journal being moved would be mixed with another. Keep that journal elsewhere (it is the record of earlier applies), empty it, then migrate."
        )
    )]
    JournalExists { location: String, entries: usize },

    #[error("the state's keyed hashes were made with another key than {location} will use")]
    #[diagnostic(
        code(state::migrate_key),
        help(
            "Set SOVSTACK_STATE_KEY to the key the state was written with (for a local state: the content of its `.key` file beside it), on every machine that uses the moved state."
        )
    )]
    Key { location: String },
}

/// Prints the state, with every recorded operation, as a state file.
pub fn pull(ws: &Workspace) -> miette::Result<()> {
    let loaded = super::runtime()?
        .block_on(ws.backend()?.load())
        .map_err(EngineError::from)?;
    let mut state = loaded.ok_or_else(|| super::state_cmd::no_state(ws))?.state;
    state.seal();
    let bytes = snapshot::encode(&state).map_err(EngineError::from)?;
    out!("{}", String::from_utf8_lossy(&bytes));
    Ok(())
}

/// Replaces the state with a file, under the lock, after the lineage and serial checks.
pub fn push(ws: &Workspace, args: &PushArgs) -> miette::Result<()> {
    let (name, incoming) = read_state_file(&args.file)?;
    let backend = ws.backend()?;
    // Into an empty backend the file must still be this stack's state.
    let stack_name = crate::engine::prepare::load(ws, Default::default())
        .ok()
        .and_then(|l| l.stack)
        .map(|s| s.name.value);
    let serial = super::runtime()?.block_on(async {
        let mut w = backend
            .lock("state push", Duration::ZERO)
            .await
            .map_err(EngineError::from)?;
        match (w.state(), &stack_name) {
            (Some(current), _) => {
                check_push(&name, &backend.location(), current, &incoming, args.force)?
            }
            (None, Some(stack)) if *stack != incoming.stack => {
                return Err(MoveError::Stack {
                    file: name.clone(),
                    location: backend.location(),
                    incoming: incoming.stack.clone(),
                    current: stack.clone(),
                }
                .into());
            }
            (None, _) => {}
        }
        let serial = w.persist(incoming).await.map_err(EngineError::from)?;
        w.unlock().await.map_err(EngineError::from)?;
        Ok::<_, miette::Report>(serial)
    })?;
    outln!("state push: {} now at serial {serial}", backend.location());
    Ok(())
}

fn read_state_file(path: &Path) -> miette::Result<(String, StateFile)> {
    let read = |source| MoveError::Read {
        path: path.to_path_buf(),
        source,
    };
    let (name, bytes) = if path == Path::new("-") {
        let mut bytes = Vec::new();
        std::io::stdin().read_to_end(&mut bytes).map_err(read)?;
        ("standard input".to_string(), bytes)
    } else {
        (
            path.display().to_string(),
            std::fs::read(path).map_err(read)?,
        )
    };
    let state = snapshot::decode(path, &bytes).map_err(EngineError::from)?;
    Ok((name, state))
}

fn check_push(
    file: &str,
    location: &str,
    current: &StateFile,
    incoming: &StateFile,
    force: bool,
) -> Result<(), MoveError> {
    if incoming.stack != current.stack {
        return Err(MoveError::Stack {
            file: file.to_string(),
            location: location.to_string(),
            incoming: incoming.stack.clone(),
            current: current.stack.clone(),
        });
    }
    if incoming.lineage != current.lineage {
        return Err(MoveError::Lineage {
            file: file.to_string(),
            location: location.to_string(),
            incoming: incoming.lineage.to_string(),
            current: current.lineage.to_string(),
        });
    }
    if incoming.serial < current.serial && !force {
        return Err(MoveError::Stale {
            file: file.to_string(),
            incoming: incoming.serial,
            current: current.serial,
        });
    }
    Ok(())
}

/// Copies the state between the local file and PostgreSQL, both locked while it moves.
pub fn migrate(ws: &Workspace, args: &MigrateArgs) -> miette::Result<()> {
    let AnyBackend::Postgres(pg) = ws.backend()? else {
        return Err(MoveError::NoRemote.into());
    };
    let local = AnyBackend::Local(LocalBackend::new(ws.state.clone()));
    let pg = AnyBackend::Postgres(pg);
    let (from, to) = match args.to {
        Destination::Pg => (local, pg),
        Destination::Local => (pg, local),
    };
    let (lineage, serial) = super::runtime()?.block_on(copy(&from, &to))?;
    outln!(
        "Migrated the state (lineage {lineage}, serial {serial}) from {} to {}.",
        from.location(),
        to.location()
    );
    match args.to {
        Destination::Pg => outln!(
            "The local files at {} are left as they were: remove them once the team uses the database.",
            ws.state.display()
        ),
        Destination::Local => {
            // The local state keeps its key beside it, as one made locally does.
            if let Some(key) = KeyedHasher::from_env().map_err(EngineError::from)? {
                let paths = LocalBackend::new(ws.state.clone()).paths();
                key.keep_in_file(&paths.key).map_err(EngineError::from)?;
            }
        }
    }
    Ok(())
}

async fn copy(from: &AnyBackend, to: &AnyBackend) -> miette::Result<(String, u64)> {
    let source = from
        .lock("state migrate", Duration::ZERO)
        .await
        .map_err(EngineError::from)?;
    let state = source
        .state()
        .cloned()
        .ok_or_else(|| MoveError::Nothing(from.location()))?;
    check_key(&state, to)?;
    let mut target = to
        .lock("state migrate", Duration::ZERO)
        .await
        .map_err(EngineError::from)?;
    if let Some(there) = target.state() {
        return Err(MoveError::TargetExists {
            location: to.location(),
            lineage: there.lineage.to_string(),
            serial: there.serial,
        }
        .into());
    }
    let journal = from.journal_entries().await.map_err(EngineError::from)?;
    let there = to.journal_entries().await.map_err(EngineError::from)?;
    if !there.is_empty() {
        return Err(MoveError::JournalExists {
            location: to.location(),
            entries: there.len(),
        }
        .into());
    }
    let lineage = state.lineage.to_string();
    // Into an empty backend the state keeps its own serial.
    let serial = target.persist(state).await.map_err(EngineError::from)?;
    if !journal.is_empty() {
        target
            .import_journal(&journal)
            .await
            .map_err(EngineError::from)?;
    }
    target.unlock().await.map_err(EngineError::from)?;
    source.unlock().await.map_err(EngineError::from)?;
    Ok((lineage, serial))
}

/// The keyed hashes must stay checkable where the state goes: the destination's key must be
/// the one they were made with. A local destination without `SOVSTACK_STATE_KEY` would make a
/// new key file, so it needs the variable or an existing key file.
fn check_key(state: &StateFile, to: &AnyBackend) -> Result<(), MoveError> {
    let hashes: Vec<_> = state
        .resources
        .values()
        .flat_map(|r| r.sensitive_attributes.values())
        .chain(state.outputs.values().filter_map(|o| match o {
            OutputState::Sensitive(h) => Some(h),
            OutputState::Value(_) => None,
        }))
        .collect();
    if hashes.is_empty() {
        return Ok(());
    }
    let key: Option<KeyedHasher> = match to {
        AnyBackend::Postgres(_) => KeyedHasher::from_env().ok().flatten(),
        AnyBackend::Local(b) => match KeyedHasher::from_env().ok().flatten() {
            Some(k) => Some(k),
            None if b.paths().key.exists() => b.hasher().ok(),
            None => None,
        },
    };
    match key {
        Some(k) if hashes.iter().all(|h| k.same_key(h)) => Ok(()),
        _ => Err(MoveError::Key {
            location: to.location(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_push_keeps_to_one_history_and_never_goes_back() {
        let mut current = StateFile::new("s");
        current.serial = 5;
        let mut older = current.clone();
        older.serial = 4;
        let check =
            |incoming: &StateFile, force| check_push("f", "here", &current, incoming, force);
        assert!(
            check(&current, false).is_ok(),
            "the serial it was pulled at"
        );
        assert!(matches!(
            check(&older, false),
            Err(MoveError::Stale {
                incoming: 4,
                current: 5,
                ..
            })
        ));
        assert!(check(&older, true).is_ok());
        let other = StateFile::new("s");
        assert!(matches!(
            check(&other, true),
            Err(MoveError::Lineage { .. })
        ));
        let mut renamed = current.clone();
        renamed.stack = "t".into();
        assert!(matches!(
            check(&renamed, true),
            Err(MoveError::Stack { .. })
        ));
    }
}
