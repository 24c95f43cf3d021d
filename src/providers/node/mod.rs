//! What runs on a host: bootstrap, files, compose, probes, health checks.
