use serde::{Deserialize, Serialize};

use super::action::Action;
use super::common::{Protection, u64_from_number};
use super::location::Location;
use super::time::{self, Timestamp};
use crate::providers::hcloud::ids::{ServerId, VolumeId};
use crate::providers::hcloud::labels::Labels;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VolumeStatus {
    Available,
    Creating,
    #[serde(other)]
    Unknown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VolumeFormat {
    Xfs,
    Ext4,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Volume {
    pub id: VolumeId,
    #[serde(with = "time")]
    pub created: Timestamp,
    pub name: String,
    /// The server it is attached to.
    pub server: Option<ServerId>,
    pub location: Location,
    /// GB
    #[serde(deserialize_with = "u64_from_number")]
    pub size: u64,
    pub linux_device: String,
    pub protection: Protection,
    pub labels: Labels,
    pub status: VolumeStatus,
    pub format: Option<String>,
}

/// Body of `POST /volumes`. Give `location` or `server` (then it is created next to the server).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateVolume {
    pub name: String,
    /// GB, 10..=10240.
    pub size: u64,
    #[serde(default, skip_serializing_if = "Labels::is_empty")]
    pub labels: Labels,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<ServerId>,
    /// Only together with `server`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub automount: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<VolumeFormat>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreateVolumeResponse {
    pub volume: Volume,
    pub action: Action,
    #[serde(default)]
    pub next_actions: Vec<Action>,
}

impl CreateVolumeResponse {
    pub fn actions(&self) -> Vec<&Action> {
        std::iter::once(&self.action)
            .chain(self.next_actions.iter())
            .collect()
    }
}

/// Body of `POST /volumes/{id}/actions/attach`; same location only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttachVolume {
    pub server: ServerId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub automount: Option<bool>,
}

/// Body of `POST /volumes/{id}/actions/resize`; growing only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResizeVolume {
    pub size: u64,
}
