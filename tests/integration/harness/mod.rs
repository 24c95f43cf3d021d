//! Shared test harness: paths, the sovstack binary, temporary workspaces, real servers, and
//! test hosts with real Docker Engines (see README.md beside this file).

pub mod agent;
pub mod audit;
pub mod cli;
pub mod cloud;
pub mod command_gate;
pub mod dockerd;
pub mod events;
pub mod file_server;
pub mod images;
pub mod netns;
pub mod openapi;
pub mod otlp;
pub mod postgres;
pub mod request_gate;
pub mod sandbox_cli;
pub mod signoz;
pub mod sshd;
pub mod stacks;
pub mod test_host;
pub mod venv;
pub mod vllm_process;
