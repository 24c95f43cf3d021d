//! Shared test harness: paths, the sovstack binary, temporary workspaces, real servers.

pub mod cli;
pub mod cloud;
pub mod events;
pub mod openai_standin;
pub mod openapi;
pub mod otlp;
pub mod postgres;
pub mod request_gate;
pub mod sandbox_cli;
pub mod sshd;
pub mod venv;
