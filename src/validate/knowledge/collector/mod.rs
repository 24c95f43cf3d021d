//! OpenTelemetry Collector (contrib distribution) facts by version: which component types exist, their renames and
//! removals, the config keys we know per component, version-dependent defaults, and image facts.
//!
//! Sources: `shared/reference/stack-content.md` §3 (core collector tags v0.102.0 `5cbf8beb` and v0.159.0 `69c08730`,
//! core `CHANGELOG.md` @ `934999fb`, contrib files at the commits cited per entry). Only v0.102.0 and v0.159.0 were
//! read in full; versions in between are answered from the CHANGELOG where it dates a change, and "unchecked"
//! otherwise. The component list is deliberately small (what this stack uses): a type missing from it is not proof
//! that the collector lacks it, so [`ComponentStatus::Unknown`] carries a suggestion only when one is close.
//!
//! Every row carries the releases it holds for (when it appeared, was deprecated, was removed: `versions.rs`), so a
//! new collector release is an edit to the rows it changed and to [`LATEST_KNOWN`], never a copy of the tables.

mod defaults;
mod image;
mod lookup;
mod memory_limiter;
mod schema;
mod tables;
mod versions;

pub use defaults::{
    Certainty, default_health_check_endpoint, default_internal_metrics_address,
    default_receiver_host,
};
pub use image::{CONTRIB_IMAGE, CollectorImage};
pub use lookup::{CollectorKnowledge, ComponentStatus, KeyFacts, KeyStatus, component_type};
pub use memory_limiter::{MemoryLimiterProblem, check_memory_limiter, parse_go_duration_nanos};
pub use schema::{ComponentInfo, KeyDef, Shape};
pub use versions::{Completeness, Since};

use super::Version;

/// Newest collector release the tables know (releases repo tag `v0.159.0` = `f8178323`, 2026-08-18).
pub const LATEST_KNOWN: Version = Version::new(0, 159, 0);
/// Oldest release read in full (the tutorial's pin, releases tag `v0.102.0` = `b8551a7b`).
pub const OLDEST_KNOWN: Version = Version::new(0, 102, 0);
/// Newest release read in full (core tag v0.159.0 `69c08730`). Rows "seen in" or "complete from" a read release
/// name this, not [`LATEST_KNOWN`], so moving `LATEST_KNOWN` on to a newer release does not move what was read.
const NEWEST_READ: Version = Version::new(0, 159, 0);

/// Collector releases are all `0.x.0`; the tables name them by minor.
const fn v(minor: u64) -> Version {
    Version::new(0, minor, 0)
}

#[cfg(test)]
mod tests;
