//! Shared test harness: paths, the sovstack binary, temporary workspaces, real servers.

pub mod cli;
pub mod openapi;
pub mod postgres;
pub mod sshd;
