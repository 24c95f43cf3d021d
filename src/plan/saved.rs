//! Saved plans (`plan --out FILE`, `apply FILE`): the plan plus what it was made against.
//! Applying a plan whose state or inputs have moved since is refused.

use super::model::{Plan, StateRef};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SavedPlan {
    pub plan: Plan,
    /// sha256 of the serialized plan, so an edited file is refused.
    pub plan_sha256: String,
}

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum SavedPlanError {
    #[error("cannot read plan file {path}: {message}")]
    #[diagnostic(code(sovstack::plan::read))]
    Read { path: String, message: String },
    #[error("plan file {path} was modified after it was saved")]
    #[diagnostic(
        code(sovstack::plan::tampered),
        help("make a new plan with `sovstack plan --out FILE`")
    )]
    Tampered { path: String },
    #[error("the state changed since this plan was made (plan: {planned}, now: {current})")]
    #[diagnostic(
        code(sovstack::plan::stale_state),
        help("make a new plan with `sovstack plan --out FILE` and review it")
    )]
    StaleState { planned: String, current: String },
    #[error("the stack, its variables or the rendered files changed since this plan was made")]
    #[diagnostic(
        code(sovstack::plan::stale_inputs),
        help("make a new plan with `sovstack plan --out FILE` and review it")
    )]
    StaleInputs,
}

fn describe(s: &Option<StateRef>) -> String {
    s.as_ref().map_or_else(
        || "no state".to_string(),
        |s| format!("lineage {} serial {}", s.lineage, s.serial),
    )
}

impl SavedPlan {
    pub fn new(plan: Plan) -> Self {
        let plan_sha256 = hash(&plan);
        Self { plan, plan_sha256 }
    }

    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).unwrap_or_default();
        s.push('\n');
        s
    }

    pub fn read(path: &std::path::Path) -> Result<Self, SavedPlanError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| SavedPlanError::Read {
            path: shown.clone(),
            message: e.to_string(),
        })?;
        let saved: SavedPlan = serde_json::from_str(&text).map_err(|e| SavedPlanError::Read {
            path: shown.clone(),
            message: e.to_string(),
        })?;
        if hash(&saved.plan) != saved.plan_sha256 {
            return Err(SavedPlanError::Tampered { path: shown });
        }
        Ok(saved)
    }

    /// Refuses the plan when the state or the inputs moved.
    pub fn check_current(
        &self,
        state: Option<StateRef>,
        inputs_hash: &str,
    ) -> Result<(), SavedPlanError> {
        if self.plan.state != state {
            return Err(SavedPlanError::StaleState {
                planned: describe(&self.plan.state),
                current: describe(&state),
            });
        }
        if self.plan.inputs_hash != inputs_hash {
            return Err(SavedPlanError::StaleInputs);
        }
        Ok(())
    }
}

fn hash(plan: &Plan) -> String {
    let bytes = serde_json::to_vec(plan).unwrap_or_default();
    hex::encode(Sha256::digest(&bytes))
}
