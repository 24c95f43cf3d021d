//! sovstack: declarative provisioning of a sovereign LLM inference stack.
//!
//! The pipeline runs in one direction:
//! load (`config`) -> `validate` -> `render` -> `graph` -> refresh -> `plan` -> execute -> record (`state`),
//! driven by `engine`; each resource kind (`resources`) knows how it is read, created, changed and deleted.

// Diagnostics are rich on purpose (spans, labels, help); they are returned rarely and never
// on a hot path, so boxing them would only add noise.
#![allow(clippy::result_large_err)]

pub mod cli;
pub mod config;
pub mod drift;
pub mod engine;
pub mod graph;
pub mod plan;
pub mod progress;
pub mod providers;
pub mod render;
pub mod resources;
pub mod telemetry;
pub use hcloud_sandbox as sandbox;
pub mod state;
pub mod validate;
