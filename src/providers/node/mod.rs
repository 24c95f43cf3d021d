//! What runs on a host: bootstrap, files, compose, probes, health checks.
//!
//! Everything here talks to a node through [`Transport`](crate::providers::ssh::Transport), one
//! command per step, and reads machine output only (JSON, exit codes, sha256 sums).

mod bootstrap;
mod checks;
mod compose;
mod compose_watch;
mod error;
mod files;
mod probe;
#[cfg(test)]
mod test_support;

pub use bootstrap::{
    BOOTSTRAP_SCRIPT, BootstrapReport, BootstrapRequest, COMPOSE_PLUGIN, COMPOSE_PLUGIN_MIN, Pin,
    VolumeMount, bootstrap_command, bootstrap_sha256, run_bootstrap,
};
pub use checks::{Roundtrip, TraceContext, http_check, parse_duration, trace_roundtrip};
pub use compose::{
    ComposeProject, ProgressEvent, changed_services, parse_event, parse_progress, run_compose,
};
pub use compose_watch::ComposeWatch;
pub use error::NodeError;
pub use files::{
    BindDir, RELEASES_KEPT, bind_dirs, ensure_bind_dirs, snapshot_release, upload_file,
};
pub use probe::{
    Container, DockerInfo, FileProbe, Gpu, OsInfo, ProbeReport, ProjectProbe, parse_probe, probe,
    probe_command,
};
