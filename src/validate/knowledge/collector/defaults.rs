//! Defaults the collector applies when a key is left out, and the release each one changed in.

use super::{NEWEST_READ, OLDEST_KNOWN, v};
use crate::validate::knowledge::Version;

/// How sure a fact is for the version asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Certainty {
    /// Read at this version, or dated by the CHANGELOG.
    Verified,
    /// Follows from a dated change but was not read at this version.
    Inferred,
}

/// A default that changed once: `before` up to the release `at`, `after` from it on.
struct ChangedIn {
    at: Version,
    before: &'static str,
    after: &'static str,
}

impl ChangedIn {
    fn at(&self, version: Version) -> &'static str {
        if version >= self.at {
            self.after
        } else {
            self.before
        }
    }
}

/// `0.0.0.0` up to v0.103.0; `localhost` from v0.104.0 (`component.UseLocalHostAsDefaultHost` beta; stable v0.110.0;
/// gate removed v0.112.0: core CHANGELOG v0.104.0, "may break the receiver in containerized environments").
const RECEIVER_HOST: ChangedIn = ChangedIn {
    at: v(104),
    before: "0.0.0.0",
    after: "localhost",
};

/// `0.0.0.0:13133` at v0.102.0 and `localhost:13133` at v0.159.0 (contrib `extension/healthcheckextension`,
/// `testutil.EndpointForPort(13133)`); the switch follows the v0.104.0 localhost-default change, which was not read
/// in the extension's own history.
const HEALTH_CHECK_ENDPOINT: ChangedIn = ChangedIn {
    at: v(104),
    before: "0.0.0.0:13133",
    after: "localhost:13133",
};

/// `:8888` (all interfaces) before v0.111.0, `localhost:8888` from v0.111.0 (core CHANGELOG v0.111.0; default reader
/// `otelconftelemetry/factory.go:49-60`).
const INTERNAL_METRICS_ADDRESS: ChangedIn = ChangedIn {
    at: v(111),
    before: ":8888",
    after: "localhost:8888",
};

/// Host that receivers (otlp grpc/http) bind to when the endpoint is left out (`RECEIVER_HOST`).
/// In a container, `localhost` means other containers cannot connect: set `0.0.0.0:4317` explicitly.
pub fn default_receiver_host(version: Version) -> &'static str {
    RECEIVER_HOST.at(version)
}

/// Default `health_check` endpoint (`HEALTH_CHECK_ENDPOINT`); verified only where the extension was read.
pub fn default_health_check_endpoint(version: Version) -> (&'static str, Certainty) {
    let certainty = if version <= OLDEST_KNOWN || version >= NEWEST_READ {
        Certainty::Verified
    } else {
        Certainty::Inferred
    };
    (HEALTH_CHECK_ENDPOINT.at(version), certainty)
}

/// Where the collector's own metrics listen by default (`INTERNAL_METRICS_ADDRESS`).
/// Publishing port 8888 needs a `service.telemetry.metrics.readers` entry with `host: 0.0.0.0` on newer versions.
pub fn default_internal_metrics_address(version: Version) -> &'static str {
    INTERNAL_METRICS_ADDRESS.at(version)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_by_version() {
        assert_eq!(default_receiver_host(v(102)), "0.0.0.0");
        assert_eq!(default_receiver_host(v(103)), "0.0.0.0");
        assert_eq!(default_receiver_host(v(104)), "localhost");
        assert_eq!(default_receiver_host(v(159)), "localhost");
        assert_eq!(
            default_health_check_endpoint(v(102)),
            ("0.0.0.0:13133", Certainty::Verified)
        );
        assert_eq!(
            default_health_check_endpoint(v(120)),
            ("localhost:13133", Certainty::Inferred)
        );
        assert_eq!(
            default_health_check_endpoint(v(159)),
            ("localhost:13133", Certainty::Verified)
        );
        assert_eq!(default_internal_metrics_address(v(110)), ":8888");
        assert_eq!(default_internal_metrics_address(v(111)), "localhost:8888");
    }
}
