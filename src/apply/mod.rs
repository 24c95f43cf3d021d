//! The executor: walks the plan graph with bounded parallelism and emits progress events.
//!
//! Kind-specific work lives behind [`Applier`]: one implementation for Hetzner Cloud
//! resources, one for what runs on nodes over SSH. The executor only orders, runs, records
//! state after every completed operation, and reports.

mod applier;
pub mod cloud;
mod events;
pub mod executor;
pub mod node;
pub mod progress;

pub use applier::{
    Applier, ApplyContext, ApplyError, ApplyOptions, Checkpoint, CheckpointRequest, Observed,
    Orphan, Refreshed, Unreadable,
};
pub use events::{Event, EventSink};
pub use executor::{ExecuteError, Outcome, execute};
