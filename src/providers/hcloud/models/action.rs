//! Actions: the API's handle on asynchronous work.

use serde::{Deserialize, Serialize};

use super::time::{self, Timestamp};
use crate::providers::hcloud::ids::ActionId;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionStatus {
    Running,
    Success,
    Error,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionResource {
    pub id: u64,
    #[serde(rename = "type")]
    pub kind: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionError {
    pub code: String,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Action {
    pub id: ActionId,
    pub command: String,
    pub status: ActionStatus,
    pub progress: u32,
    #[serde(with = "time")]
    pub started: Timestamp,
    #[serde(with = "time::option")]
    pub finished: Option<Timestamp>,
    pub resources: Vec<ActionResource>,
    /// Only meaningful when `status` is `error`: the official examples fill it in on running and
    /// successful actions too, so decisions are made on `status` alone.
    pub error: Option<ActionError>,
}

impl Action {
    pub fn is_finished(&self) -> bool {
        self.status != ActionStatus::Running
    }
}
