use serde::{Deserialize, Serialize};

use crate::providers::hcloud::ids::LocationId;

/// A location (`fsn1`, `nbg1`, `hel1`, ...). `country` and `network_zone` back the EU-residency policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Location {
    pub id: LocationId,
    pub name: String,
    pub description: String,
    /// ISO 3166-1 alpha-2, e.g. `DE`.
    pub country: String,
    pub city: String,
    pub latitude: f64,
    pub longitude: f64,
    /// e.g. `eu-central`.
    pub network_zone: String,
}
