use serde::{Deserialize, Serialize};

use super::common::Protection;
use super::server_type::Architecture;
use super::time::{self, Timestamp};
use crate::providers::hcloud::ids::{ImageId, ServerId};
use crate::providers::hcloud::labels::Labels;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ImageType {
    System,
    App,
    Snapshot,
    Backup,
    #[serde(other)]
    Unknown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ImageStatus {
    Available,
    Creating,
    Unavailable,
    #[serde(other)]
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedFrom {
    pub id: ServerId,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Image {
    pub id: ImageId,
    #[serde(rename = "type")]
    pub kind: ImageType,
    pub status: ImageStatus,
    /// Only system images have a name (e.g. `ubuntu-24.04`).
    pub name: Option<String>,
    pub description: String,
    pub image_size: Option<f64>,
    pub disk_size: f64,
    #[serde(with = "time")]
    pub created: Timestamp,
    pub created_from: Option<CreatedFrom>,
    pub bound_to: Option<ServerId>,
    pub os_flavor: String,
    pub os_version: Option<String>,
    #[serde(default)]
    pub rapid_deploy: Option<bool>,
    pub protection: Protection,
    #[serde(with = "time::option")]
    pub deprecated: Option<Timestamp>,
    #[serde(with = "time::option", default)]
    pub deleted: Option<Timestamp>,
    #[serde(default)]
    pub labels: Labels,
    pub architecture: Architecture,
}
