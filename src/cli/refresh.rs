//! Reading what really exists, for plan (drift section) and drift.

use super::{Cli, exit};
use crate::plan::Drift;
use crate::state::{KeyedHasher, StateFile};

/// Refresh is wired once the cloud and node appliers land; until then a plan against an
/// existing state says so instead of pretending the world matched.
pub async fn drift(
    _cli: &Cli,
    _prepared: &super::pipeline::Prepared,
    _state: Option<&StateFile>,
    _hasher: Option<&KeyedHasher>,
) -> Result<Vec<Drift>, i32> {
    eprintln!("error: refreshing is not available in this build; run with --refresh=false");
    Err(exit::ERROR)
}
