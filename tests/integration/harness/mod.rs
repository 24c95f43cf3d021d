//! Shared test harness: paths, the sovstack binary, temporary workspaces.
pub mod sshd;
