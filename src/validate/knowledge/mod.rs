//! Facts about the software and the cloud the stack runs on, as data, with lookups the validation rules use.
//!
//! Every table carries its source in a comment. Where the references do not say something, the tables say
//! "unchecked" rather than guess: a rule must never fail a stack because of a fact we invented.

pub mod collector;
pub mod hetzner;
pub mod images;
pub mod runtime;
pub mod vllm;

use std::fmt;
use std::str::FromStr;

/// A release version `major.minor.patch`, as used by vLLM and the OpenTelemetry Collector.
///
/// Parsing accepts a leading `v` (image tags are written both ways: `v0.33.0`, `0.159.0`) and a missing patch
/// (`0.159` = `0.159.0`). Pre-release or build suffixes (`-rc1`, `+cu128`) are kept verbatim but ignored in
/// comparisons: the tables only know releases.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Version {
    pub major: u64,
    pub minor: u64,
    pub patch: u64,
}

impl Version {
    pub const fn new(major: u64, minor: u64, patch: u64) -> Self {
        Self {
            major,
            minor,
            patch,
        }
    }

    /// Parse `0.159.0`, `v0.159.0`, `0.159`, `v0.33.0-cu128`. Returns `None` for anything else (`latest`, `main`).
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.strip_prefix('v').unwrap_or(text);
        // Suffixes such as `-rc1` or `+cu128` do not change which table applies.
        let core = text.split(['-', '+']).next().unwrap_or(text);
        let mut parts = core.split('.');
        let major = parse_component(parts.next()?)?;
        let minor = parse_component(parts.next()?)?;
        let patch = match parts.next() {
            Some(p) => parse_component(p)?,
            None => 0,
        };
        if parts.next().is_some() {
            return None;
        }
        Some(Self::new(major, minor, patch))
    }

    /// `1.17.8`, as package managers and the bootstrap script write it (no `v`).
    pub fn plain(&self) -> String {
        format!("{}.{}.{}", self.major, self.minor, self.patch)
    }
}

fn parse_component(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "v{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// Error for [`Version::from_str`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a release version (expected e.g. 0.159.0 or v0.159.0)")]
pub struct VersionParseError(pub String);

impl FromStr for Version {
    type Err = VersionParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s).ok_or_else(|| VersionParseError(s.to_owned()))
    }
}

/// "Did you mean" lives with the language loader (config must not depend on validate); the rules and
/// tables reach it through here.
pub use crate::config::suggest::{closest, edit_distance};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_parses_tags_with_and_without_v() {
        assert_eq!(Version::parse("0.159.0"), Some(Version::new(0, 159, 0)));
        assert_eq!(Version::parse("v0.102.0"), Some(Version::new(0, 102, 0)));
        assert_eq!(Version::parse("v0.33"), Some(Version::new(0, 33, 0)));
        assert_eq!(
            Version::parse("v0.33.0-cu128"),
            Some(Version::new(0, 33, 0))
        );
        assert_eq!(Version::parse("25.5.6"), Some(Version::new(25, 5, 6)));
        for bad in [
            "latest",
            "",
            "v",
            "1",
            "1.2.3.4",
            "1.x.0",
            "v1..2",
            "nightly-2024",
        ] {
            assert_eq!(Version::parse(bad), None, "{bad}");
        }
        assert!("latest".parse::<Version>().is_err());
        assert_eq!(Version::new(0, 33, 0).to_string(), "v0.33.0");
    }

    #[test]
    fn versions_order_numerically_not_lexically() {
        assert!(Version::new(0, 102, 0) < Version::new(0, 159, 0));
        assert!(Version::new(0, 9, 2) < Version::new(0, 16, 0));
        assert!(Version::new(0, 144, 0) > Version::new(0, 143, 9));
    }
}
