//! Saved plans (`plan --out FILE`, `apply FILE`): the plan plus everything it was made with.
//!
//! The file holds a `body` (the plan, the non-secret variable values it was made with, and
//! keyed hashes of the secrets) and the sha256 of the body's bytes exactly as written. The
//! hash is checked over those bytes, never over a re-encoding: a value that does not survive a
//! parse and print unchanged (a float's last digit) must not make a fresh plan look edited.
//! Applying a plan whose state or inputs have moved since is refused.

use super::model::{Plan, StateRef};
use crate::state::{KeyedHash, KeyedHasher};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// The saved-plan file format this build writes and reads.
const SAVED_FORMAT_VERSION: u32 = 2;

/// What a saved plan carries besides the plan: the inputs `apply FILE` must use again.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct PlanInputs {
    /// Non-secret variable values given when the plan was made (`--var`, `SOVSTACK_VAR_`), as
    /// given; apply uses them so none has to be repeated.
    #[serde(default)]
    pub variables: BTreeMap<String, String>,
    /// Secret variables set when the plan was made, as keyed hashes only: apply needs them
    /// given again and checks each against its hash.
    #[serde(default)]
    pub secrets: BTreeMap<String, KeyedHash>,
}

#[derive(Serialize)]
struct BodyOut<'a> {
    plan: &'a Plan,
    inputs: &'a PlanInputs,
}

#[derive(Deserialize)]
struct BodyIn {
    plan: Plan,
    inputs: PlanInputs,
}

#[derive(Serialize)]
struct FileOut<'a> {
    format_version: u32,
    body_sha256: &'a str,
    body: &'a RawValue,
}

#[derive(Deserialize)]
struct FileIn<'a> {
    format_version: u32,
    body_sha256: String,
    #[serde(borrow)]
    body: &'a RawValue,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SavedPlan {
    pub plan: Plan,
    pub inputs: PlanInputs,
}

/// The identity of a plan in the journal: the sha256 of its JSON.
pub fn plan_sha256(plan: &Plan) -> String {
    sha256_hex(&serde_json::to_vec(plan).unwrap_or_default())
}

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum SavedPlanError {
    #[error("cannot read plan file {path}: {message}")]
    #[diagnostic(
        code(sovstack::plan::read),
        help("make a new plan with `sovstack plan --out FILE`")
    )]
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
    #[error(
        "--var {name}: a saved plan is applied with the values it was made with ({name} = {planned})"
    )]
    #[diagnostic(
        code(sovstack::plan::var_given),
        help("drop --var {name}, or make a new plan with the new value")
    )]
    VariableGiven { name: String, planned: String },
    #[error("the secret variable `{name}` {problem}")]
    #[diagnostic(
        code(sovstack::plan::secret),
        help(
            "secrets are never written to a plan file: give SOVSTACK_VAR_{name} the value the plan was made with, or make a new plan"
        )
    )]
    Secret { name: String, problem: &'static str },
}

fn describe(s: &Option<StateRef>) -> String {
    s.as_ref().map_or_else(
        || "no state".to_string(),
        |s| format!("lineage {} serial {}", s.lineage, s.serial),
    )
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

impl SavedPlan {
    /// The file's text; its body is hashed as these very bytes.
    pub fn to_json(&self) -> Result<String, serde_json::Error> {
        let body = serde_json::to_string_pretty(&BodyOut {
            plan: &self.plan,
            inputs: &self.inputs,
        })?;
        let sha = sha256_hex(body.as_bytes());
        let raw = RawValue::from_string(body)?;
        let mut s = serde_json::to_string_pretty(&FileOut {
            format_version: SAVED_FORMAT_VERSION,
            body_sha256: &sha,
            body: &raw,
        })?;
        s.push('\n');
        Ok(s)
    }

    pub fn read(path: &std::path::Path) -> Result<Self, SavedPlanError> {
        let shown = path.display().to_string();
        let read_error = |message: String| SavedPlanError::Read {
            path: shown.clone(),
            message,
        };
        let text = std::fs::read_to_string(path).map_err(|e| read_error(e.to_string()))?;
        let file: FileIn<'_> =
            serde_json::from_str(&text).map_err(|e| read_error(e.to_string()))?;
        if file.format_version != SAVED_FORMAT_VERSION {
            return Err(read_error(format!(
                "format {} is not the one this sovstack reads ({SAVED_FORMAT_VERSION})",
                file.format_version
            )));
        }
        let sha = sha256_hex(file.body.get().as_bytes());
        if sha != file.body_sha256 {
            return Err(SavedPlanError::Tampered { path: shown });
        }
        let body: BodyIn =
            serde_json::from_str(file.body.get()).map_err(|e| read_error(e.to_string()))?;
        Ok(Self {
            plan: body.plan,
            inputs: body.inputs,
        })
    }

    /// The variables to load the stack with: the plan's, which `--var` may repeat but not change.
    pub fn variables(
        &self,
        given: &[(String, String)],
    ) -> Result<Vec<(String, String)>, SavedPlanError> {
        for (name, value) in given {
            let planned = self.inputs.variables.get(name);
            if planned != Some(value) {
                return Err(SavedPlanError::VariableGiven {
                    name: name.clone(),
                    planned: planned.cloned().unwrap_or_else(|| "not set".into()),
                });
            }
        }
        Ok(self
            .inputs
            .variables
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }

    /// Every secret the plan was made with is set again, to the same value.
    pub fn check_secrets(
        &self,
        current: &BTreeMap<String, Option<serde_json::Value>>,
        hasher: &KeyedHasher,
    ) -> Result<(), SavedPlanError> {
        for (name, hash) in &self.inputs.secrets {
            let problem = match current.get(name) {
                Some(Some(v)) if hasher.matches_json(v, hash) => continue,
                Some(Some(_)) => "differs from the value this plan was made with",
                _ => "is not set, and this plan was made with it",
            };
            return Err(SavedPlanError::Secret {
                name: name.clone(),
                problem,
            });
        }
        Ok(())
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
