//! Facts about the collector image itself, which decide what a compose service can do with it.

/// Facts about the `otel/opentelemetry-collector-contrib` image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CollectorImage {
    pub repository: &'static str,
    /// `FROM scratch`: no shell, no `/tmp`, no curl/wget, so a compose `healthcheck` cannot run inside it.
    pub from_scratch: bool,
    pub user: &'static str,
    pub uid: u32,
    pub entrypoint: &'static str,
    pub default_config_path: &'static str,
}

/// Source: releases `distributions/otelcol-contrib/Dockerfile` @ v0.159.0 (v0.102.0 also scratch + `USER 10001`).
pub const CONTRIB_IMAGE: CollectorImage = CollectorImage {
    repository: "otel/opentelemetry-collector-contrib",
    from_scratch: true,
    user: "10001:10001",
    uid: 10001,
    entrypoint: "/otelcol-contrib",
    default_config_path: "/etc/otelcol-contrib/config.yaml",
};
