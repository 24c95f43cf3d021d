//! The engine below the command line: prepare (load, validate, render, desired), refresh
//! (one service for plan, apply and drift), plan, and the wave executor. It prints nothing:
//! it returns typed reports and errors, and sends progress as typed events; the command line
//! renders them and maps them to exit codes.

pub mod apply;
mod error;
pub mod executor;
pub mod imports;
pub mod interrupt;
pub mod moves;
pub mod prepare;
pub mod refresh;

pub use error::EngineError;
pub use executor::{ExecuteError, Operations, Outcome, Walk, execute};
pub use interrupt::StopSignal;

use crate::resources::{CloudProvider, NodeProvider, Providers};
use crate::state::postgres::{PG_CONN_ENV, PgBackend};
use crate::state::{AnyBackend, LocalBackend};
use std::path::{Path, PathBuf};

/// Where the local state lives by default, relative to the stack file's directory.
pub const DEFAULT_STATE_FILE: &str = ".sovstack/state.json";

/// What a run works on: the stack file, where its state is, and variables given on the
/// command line.
#[derive(Debug, Clone)]
pub struct Workspace {
    pub stack: PathBuf,
    pub state: PathBuf,
    pub vars: Vec<(String, String)>,
    /// What the stack's `data` blocks found (`data.<kind>.<name>.<attr>`), once read
    /// ([`Workspace::read_data`]); empty before.
    pub found: std::sync::Arc<std::collections::BTreeMap<String, String>>,
}

impl Workspace {
    /// `state` given explicitly, or `.sovstack/state.json` beside the stack file.
    pub fn new(stack: PathBuf, state: Option<PathBuf>, vars: Vec<(String, String)>) -> Self {
        let state = state.unwrap_or_else(|| {
            let dir = stack.parent().unwrap_or(Path::new(""));
            dir.join(DEFAULT_STATE_FILE)
        });
        Self {
            stack,
            state,
            vars,
            found: Default::default(),
        }
    }

    /// This workspace with the stack's `data` blocks read from the API. Without a token
    /// they stay unknown: a plan shows them as known after apply, and apply stops at the
    /// first resource that needs one.
    pub async fn read_data(&self) -> Result<Workspace, EngineError> {
        // Without a token nothing can be read: skip the extra load (an offline plan pays nothing).
        if std::env::var_os("HCLOUD_TOKEN").is_none() {
            return Ok(self.clone());
        }
        let loaded = prepare::load(self, Default::default())?;
        let Some(stack) = loaded.stack.filter(|s| !s.data.is_empty()) else {
            return Ok(self.clone());
        };
        let providers = providers(true)?;
        let app = providers.cloud("data")?;
        let mut found = std::collections::BTreeMap::new();
        for data in &stack.data {
            found.extend(crate::resources::cloud::look_up(app, data).await?);
        }
        Ok(Workspace {
            found: std::sync::Arc::new(found),
            ..self.clone()
        })
    }

    /// Where the state lives: in PostgreSQL when `SOVSTACK_PG_CONN` names a database (the
    /// stack's name keys it there), otherwise the local file.
    pub fn backend(&self) -> Result<AnyBackend, EngineError> {
        if std::env::var_os(PG_CONN_ENV).is_none() {
            return Ok(AnyBackend::Local(LocalBackend::new(self.state.clone())));
        }
        let loaded = prepare::load(self, Default::default())?;
        let Some(stack) = loaded.stack else {
            return Err(EngineError::Invalid {
                rendered: crate::config::diagnostic::render(&loaded.diagnostics, &loaded.source),
            });
        };
        Ok(AnyBackend::Postgres(PgBackend::from_env(stack.name.value)?))
    }
}

/// The providers for a run. The Hetzner client is only built when cloud resources are
/// involved, so a stack of existing hosts needs no API token.
pub fn providers(needs_cloud: bool) -> Result<Providers, EngineError> {
    Ok(Providers::new(cloud(needs_cloud)?, NodeProvider::default()))
}

/// The providers for reading what exists (refresh, drift): a server recorded in state has
/// booted, so its sshd is not waited for; a node that does not answer within the read limit
/// is reported unreadable and the others are read.
pub fn reading_providers(needs_cloud: bool) -> Result<Providers, EngineError> {
    let nodes = NodeProvider::default().with_sshd_wait(std::time::Duration::ZERO);
    Ok(Providers::new(cloud(needs_cloud)?, nodes))
}

fn cloud(needs_cloud: bool) -> Result<Option<CloudProvider>, EngineError> {
    if !needs_cloud {
        return Ok(None);
    }
    Ok(Some(CloudProvider::new(
        crate::providers::hcloud::HcloudClient::from_env()?,
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_lives_beside_the_stack_file_unless_given() {
        let ws = Workspace::new("stack.hcl".into(), None, Vec::new());
        assert_eq!(ws.state, PathBuf::from(".sovstack/state.json"));
        let ws = Workspace::new("infra/prod.hcl".into(), None, Vec::new());
        assert_eq!(ws.state, PathBuf::from("infra/.sovstack/state.json"));
        let ws = Workspace::new("stack.hcl".into(), Some("/tmp/s.json".into()), Vec::new());
        assert_eq!(ws.state, PathBuf::from("/tmp/s.json"));
    }
}
