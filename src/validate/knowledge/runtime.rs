//! Container runtimes the node bootstrap installs (Docker Engine, the NVIDIA Container Toolkit):
//! the versions with known container-escape CVEs, the first version free of all of them, and the
//! versions sovstack installs by default.
//!
//! Sources (details in `docs/reference/signoz-deployment.md`, "Bootstrap"):
//! - Docker Engine: moby release `v24.0.9` and `v25.0.2` security tables (CVE-2024-21626, runc
//!   < 1.1.12); the docker/engine v18.09.2 milestone (CVE-2019-5736, runc binary overwrite).
//! - NVIDIA Container Toolkit: tag `v1.17.8` (2025-05-30), the private-fork merge `d6f61079` that
//!   fixes CVE-2025-23266 and CVE-2025-23267; CVE-2025-23359 (1.17.3 and below, fixed in 1.17.4) as
//!   a cloud vendor's advisory words it (third-party).
//! - The default pins were checked against each vendor's apt repository metadata: NVIDIA's
//!   `stable/deb/amd64/Packages` (branch `gh-pages` of `NVIDIA/libnvidia-container`, commit
//!   `69f4ab79`) lists `nvidia-container-toolkit 1.20.1-1`; Docker's `noble/stable` listed `docker-ce
//!   5:29.7.2-1~ubuntu.24.04~noble` as its newest on 2026-08-11 (an `apt list` transcript against a
//!   mirror of it, third-party).

use super::Version;
use std::fmt;

/// What the bootstrap installs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Runtime {
    DockerEngine,
    NvidiaContainerToolkit,
}

impl fmt::Display for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Runtime::DockerEngine => "Docker Engine",
            Runtime::NvidiaContainerToolkit => "NVIDIA Container Toolkit",
        })
    }
}

/// One known container escape: which versions it affects and where that was read.
#[derive(Debug, Clone, Copy)]
pub struct Escape {
    pub runtime: Runtime,
    pub cves: &'static str,
    pub what: &'static str,
    /// Affected below this version...
    pub fixed_in: Version,
    /// ...except from this version on within its own `major.minor` line (a fix backported to an
    /// older line).
    pub backport: Option<Version>,
    pub source: &'static str,
}

impl Escape {
    pub fn affects(&self, v: Version) -> bool {
        let backported = self
            .backport
            .is_some_and(|b| (v.major, v.minor) == (b.major, b.minor) && v >= b);
        v < self.fixed_in && !backported
    }
}

pub const ESCAPES: &[Escape] = &[
    Escape {
        runtime: Runtime::DockerEngine,
        cves: "CVE-2019-5736",
        what: "a container can overwrite the host's runc binary",
        fixed_in: Version::new(18, 9, 2),
        backport: None,
        source: "docker/engine v18.09.2 milestone: runc updated for CVE-2019-5736",
    },
    Escape {
        runtime: Runtime::DockerEngine,
        cves: "CVE-2024-21626",
        what: "runc before 1.1.12 leaks a host directory descriptor into the container (\"Leaky Vessels\")",
        fixed_in: Version::new(25, 0, 2),
        backport: Some(Version::new(24, 0, 9)),
        source: "moby releases v24.0.9 and v25.0.2, Security",
    },
    Escape {
        runtime: Runtime::NvidiaContainerToolkit,
        cves: "CVE-2025-23359",
        what: "a crafted image gets a host directory mounted into the container",
        fixed_in: Version::new(1, 17, 4),
        backport: None,
        source: "advisory for NVIDIA Container Toolkit 1.17.3 and below (third-party)",
    },
    Escape {
        runtime: Runtime::NvidiaContainerToolkit,
        cves: "CVE-2025-23266, CVE-2025-23267",
        what: "a crafted image runs code in the toolkit's hooks on the host (container escape)",
        fixed_in: Version::new(1, 17, 8),
        backport: None,
        source: "NVIDIA/nvidia-container-toolkit v1.17.8, commit d6f61079",
    },
];

/// The known escapes a version of `runtime` is open to.
pub fn escapes(runtime: Runtime, v: Version) -> impl Iterator<Item = &'static Escape> {
    ESCAPES
        .iter()
        .filter(move |e| e.runtime == runtime && e.affects(v))
}

/// The first version of `runtime` free of every known escape: what an installation sovstack
/// finds on a node must at least be.
pub fn minimum_safe(runtime: Runtime) -> Version {
    ESCAPES
        .iter()
        .filter(|e| e.runtime == runtime)
        .map(|e| e.fixed_in)
        .max()
        .unwrap_or(Version::new(0, 0, 0))
}

/// Docker Engine installed when the stack pins none (`docker-ce 5:<v>-1~<distro>`).
pub const DOCKER_ENGINE_PIN: &str = "29.7.2";
/// NVIDIA Container Toolkit installed when the stack pins none (apt version `<v>-1`).
pub const NVIDIA_CONTAINER_TOOLKIT_PIN: &str = "1.20.1";

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        Version::parse(s).unwrap()
    }

    #[test]
    fn the_default_pins_are_free_of_every_known_escape() {
        assert_eq!(
            escapes(Runtime::DockerEngine, v(DOCKER_ENGINE_PIN)).count(),
            0
        );
        assert_eq!(
            escapes(
                Runtime::NvidiaContainerToolkit,
                v(NVIDIA_CONTAINER_TOOLKIT_PIN)
            )
            .count(),
            0
        );
    }

    #[test]
    fn the_old_pins_are_caught() {
        // What the bootstrap installed before issue 11.
        let ctk: Vec<_> = escapes(Runtime::NvidiaContainerToolkit, v("1.17.3"))
            .map(|e| e.cves)
            .collect();
        assert_eq!(ctk, ["CVE-2025-23359", "CVE-2025-23266, CVE-2025-23267"]);
        assert_eq!(
            escapes(Runtime::NvidiaContainerToolkit, v("1.17.7")).count(),
            1
        );
        assert_eq!(escapes(Runtime::DockerEngine, v("27.3.1")).count(), 0);
    }

    #[test]
    fn a_backported_fix_counts() {
        let leaky = |s| escapes(Runtime::DockerEngine, v(s)).any(|e| e.cves == "CVE-2024-21626");
        assert!(leaky("24.0.8"));
        assert!(!leaky("24.0.9"));
        assert!(leaky("25.0.1"));
        assert!(!leaky("25.0.2"));
        assert!(leaky("23.0.6"));
    }

    #[test]
    fn minimum_safe_is_the_highest_fix() {
        assert_eq!(minimum_safe(Runtime::DockerEngine), v("25.0.2"));
        assert_eq!(minimum_safe(Runtime::NvidiaContainerToolkit), v("1.17.8"));
    }
}
