//! `import` blocks: existing cloud resources read by id and planned as this stack's. Apply
//! records each before anything else, then makes the changes the plan shows (its labels
//! first among them).

use super::{EngineError, prepare::Prepared};
use crate::config::diagnostic::{Diagnostic, Diagnostics, render};
use crate::state::{ResourceState, StateFile, StateOp};
use std::collections::{BTreeMap, BTreeSet};

/// Resources to import: address -> (id, the state to record).
#[derive(Debug, Clone, Default)]
pub struct Imports(BTreeMap<String, (String, ResourceState)>);

impl Imports {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Address -> id, for the plan.
    pub fn ids(&self) -> BTreeMap<String, String> {
        self.0
            .iter()
            .map(|(a, (id, _))| (a.clone(), id.clone()))
            .collect()
    }

    /// `state` (or a new one of `stack`) with the imported resources in it.
    pub fn add_to(&self, state: Option<&StateFile>, stack: &str) -> StateFile {
        let mut out = state.cloned().unwrap_or_else(|| StateFile::new(stack));
        for op in self.ops() {
            out.apply(&op);
        }
        out
    }

    /// The state operations that record the imports.
    pub fn ops(&self) -> Vec<StateOp> {
        self.0
            .iter()
            .map(|(address, (_, resource))| StateOp::Upsert {
                address: address.clone(),
                resource: resource.clone(),
            })
            .collect()
    }
}

/// Reads every `import` block whose address is not in `state` yet. The blocks are checked
/// first (the address must be one the stack declares, once), with diagnostics at the block.
pub async fn read(prepared: &Prepared, state: Option<&StateFile>) -> Result<Imports, EngineError> {
    let stack = &prepared.stack;
    let recorded = |a: &str| state.is_some_and(|s| s.resources.contains_key(a));
    let pending: Vec<_> = stack
        .imports
        .iter()
        .filter(|i| !recorded(&i.to.value))
        .collect();
    if pending.is_empty() {
        return Ok(Imports::default());
    }
    let mut problems = Diagnostics::default();
    let mut seen = BTreeSet::new();
    for i in &pending {
        let declared = prepared.desired.iter().any(|d| d.address == i.to.value);
        let (message, help) = if !declared {
            (
                format!("import to {}, which the stack does not declare", i.to.value),
                "declare the block the resource becomes, then import into it",
            )
        } else if !seen.insert(i.to.value.as_str()) {
            (format!("two imports to {}", i.to.value), "keep one of them")
        } else {
            continue;
        };
        problems.push(
            Diagnostic::error("language::import", message)
                .at(i.to.span.clone())
                .help(help),
        );
    }
    if problems.has_errors() {
        return Err(EngineError::Invalid {
            rendered: render(&problems, &stack.source),
        });
    }
    let providers = super::providers(true)?;
    let app = providers.cloud("import")?;
    let empty = StateFile::new(&stack.name.value);
    let state = state.unwrap_or(&empty);
    let mut out = Imports::default();
    for i in pending {
        let Some(desired) = prepared.desired.iter().find(|d| d.address == i.to.value) else {
            continue;
        };
        let resource = crate::resources::cloud::read_for_import(
            app,
            desired,
            &i.id.value,
            &stack.name.value,
            state,
        )
        .await?;
        out.0
            .insert(i.to.value.clone(), (i.id.value.clone(), resource));
    }
    Ok(out)
}
