//! What runs on a host: bootstrap, files, compose, probes, health checks.

/// sha256 of the node bootstrap script in force (placeholder until the node layer lands).
pub fn bootstrap_sha256() -> String {
    String::new()
}
