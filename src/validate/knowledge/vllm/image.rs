//! Facts about `vllm/vllm-openai` images by release.

use crate::validate::knowledge::Version;

/// Whether a `vllm/vllm-openai` image of a release carries the OpenTelemetry Python packages that
/// `--otlp-traces-endpoint` needs. Without them vLLM fails at start-up with "OpenTelemetry is not available".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OtelPackages {
    /// Core dependencies of the wheel, so the image has them.
    Bundled,
    /// Not in the image: install them in a derived image.
    Missing,
    /// No fact for this release.
    Unknown,
}

/// Source: Requires-Dist of the vLLM wheels (stack-content.md §1.3): 0.8.5 and 0.9.0 core deps; 0.9.2-0.15.0 none;
/// 0.16.0 only as extra `vllm[otel]` (the image installs no extras: `docker/Dockerfile` @ `dead20ba`);
/// 0.17.0-0.33.0 core deps again. Releases outside these ranges (0.9.1, before 0.8.5, after 0.33.0) are unknown.
pub fn image_otel_packages(version: Version) -> OtelPackages {
    let v = |a, b, c| Version::new(a, b, c);
    if version == v(0, 8, 5) || version == v(0, 9, 0) {
        OtelPackages::Bundled
    } else if version >= v(0, 9, 2) && version <= v(0, 16, 0) {
        // Wheels up to 0.15.0 list no OTel deps; 0.16.0 only as an extra the image does not install. Patch
        // releases inside the range follow their minor.
        OtelPackages::Missing
    } else if version >= v(0, 17, 0) && version <= v(0, 33, 0) {
        OtelPackages::Bundled
    } else {
        OtelPackages::Unknown
    }
}
