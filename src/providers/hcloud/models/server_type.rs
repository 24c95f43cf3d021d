use serde::{Deserialize, Serialize};

use super::time::{self, Timestamp};
use crate::providers::hcloud::ids::{LocationId, ServerTypeId};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StorageType {
    Local,
    Network,
    #[serde(other)]
    Unknown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CpuType {
    Shared,
    Dedicated,
    #[serde(other)]
    Unknown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Architecture {
    X86,
    Arm,
    #[serde(other)]
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deprecation {
    #[serde(with = "time")]
    pub announced: Timestamp,
    #[serde(with = "time")]
    pub unavailable_after: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Price {
    pub net: String,
    pub gross: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerTypePrice {
    pub location: String,
    pub price_hourly: Price,
    pub price_monthly: Price,
    pub included_traffic: u64,
    pub price_per_tb_traffic: Price,
}

/// Where a type can be ordered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerTypeLocation {
    pub id: LocationId,
    pub name: String,
    pub deprecation: Option<Deprecation>,
    #[serde(default)]
    pub recommended: Option<bool>,
    #[serde(default)]
    pub available: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServerType {
    pub id: ServerTypeId,
    pub name: String,
    pub description: String,
    pub cores: f64,
    /// GB
    pub memory: f64,
    /// GB
    pub disk: f64,
    pub deprecated: Option<bool>,
    pub prices: Vec<ServerTypePrice>,
    pub storage_type: StorageType,
    pub cpu_type: CpuType,
    #[serde(default)]
    pub category: Option<String>,
    pub architecture: Architecture,
    #[serde(default)]
    pub deprecation: Option<Deprecation>,
    #[serde(default)]
    pub locations: Vec<ServerTypeLocation>,
}
