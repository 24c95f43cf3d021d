//! sovstack: declarative provisioning of a sovereign LLM inference stack.
//!
//! The pipeline runs in one direction:
//! load (`config`) -> `validate` -> `render` -> `graph` -> refresh (`providers`) -> `plan` -> `apply` -> record (`state`).

// Diagnostics are rich on purpose (spans, labels, help); they are returned rarely and never
// on a hot path, so boxing them would only add noise.
#![allow(clippy::result_large_err)]

pub mod apply;
pub mod cli;
pub mod config;
pub mod drift;
pub mod graph;
pub mod plan;
pub mod providers;
pub mod render;
pub mod resources;
pub use hcloud_sandbox as sandbox;
pub mod state;
pub mod telemetry;
pub mod validate;
