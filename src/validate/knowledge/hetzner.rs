//! Hetzner facts: Cloud locations (country, network zone, EU residency), Cloud server types, dedicated GPU products,
//! and commonly used images.
//!
//! Sources: `shared/reference/hcloud-api.md` §13 (locations: network zones quoted in the official OpenAPI spec,
//! cities from docs.hetzner.com cloud/networks/faq), `shared/reference/terraform-hcloud.md` §4.1 (no GPU in Cloud
//! server types; GEX dedicated servers). The Cloud API is the authority on server types and images and is asked
//! again at refresh: these tables give early, offline help, so rules must treat an unknown server type or image as
//! a warning, never as proof that it does not exist.

use super::closest;

// -------------------------------------------------------------------------------------------------------------
// Locations
// -------------------------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Location {
    pub name: &'static str,
    pub city: &'static str,
    /// ISO 3166-1 alpha-2.
    pub country: &'static str,
    pub network_zone: &'static str,
}

impl Location {
    pub fn is_eu(&self) -> bool {
        is_eu(self.country)
    }
}

/// Source: hcloud-api.md §13. `country` for fsn1/nbg1 is confirmed by Hetzner's fixtures (`locations_list__two.json`);
/// FI/US/SG are the ISO codes of the documented cities (no Hetzner fixture shows them).
pub const LOCATIONS: &[Location] = &[
    Location {
        name: "fsn1",
        city: "Falkenstein",
        country: "DE",
        network_zone: "eu-central",
    },
    Location {
        name: "nbg1",
        city: "Nuremberg",
        country: "DE",
        network_zone: "eu-central",
    },
    Location {
        name: "hel1",
        city: "Helsinki",
        country: "FI",
        network_zone: "eu-central",
    },
    Location {
        name: "ash",
        city: "Ashburn, VA",
        country: "US",
        network_zone: "us-east",
    },
    Location {
        name: "hil",
        city: "Hillsboro, OR",
        country: "US",
        network_zone: "us-west",
    },
    Location {
        name: "sin",
        city: "Singapore",
        country: "SG",
        network_zone: "ap-southeast",
    },
];

/// The locations a stack may use when it says nothing: the EU ones.
pub const DEFAULT_ALLOWED_LOCATIONS: &[&str] = &["fsn1", "nbg1", "hel1"];

/// The network zone whose locations are all in the EU (policy check on the API's own location object:
/// `network_zone == "eu-central"` and `country` in the EU; hcloud-api.md §13).
pub const EU_NETWORK_ZONE: &str = "eu-central";

pub fn location(name: &str) -> Option<&'static Location> {
    LOCATIONS.iter().find(|l| l.name == name)
}

/// A known location close to a misspelt one (`fns1` -> `fsn1`).
pub fn suggest_location(name: &str) -> Option<&'static str> {
    closest(name, LOCATIONS.iter().map(|l| l.name))
}

/// The 27 EU member states by ISO 3166-1 alpha-2 code (Greece also as `EL`, the code EU institutions use).
/// Source: the EU's list of member countries (european-union.europa.eu), as of 2020 after the UK left.
const EU_COUNTRIES: &[&str] = &[
    "AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "EL", "HU", "IE", "IT",
    "LV", "LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE",
];

/// Whether an ISO country code is an EU member state (case-insensitive).
pub fn is_eu(country: &str) -> bool {
    EU_COUNTRIES.iter().any(|c| c.eq_ignore_ascii_case(country))
}

// -------------------------------------------------------------------------------------------------------------
// Server types
// -------------------------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Architecture {
    X86,
    Arm,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CpuType {
    Shared,
    Dedicated,
}

/// A Hetzner Cloud server type. None has a GPU: the official schema has no accelerator field
/// (hcloud-go `hcloud/schema/server_type.go`; terraform-hcloud.md §4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerType {
    pub name: &'static str,
    pub cores: u32,
    pub memory_gb: u32,
    pub disk_gb: u32,
    pub architecture: Architecture,
    pub cpu_type: CpuType,
    /// Where the numbers come from. The references only name `cpx12`/`cpx22`; the rest is third-party.
    pub source: &'static str,
}

impl ServerType {
    /// Cloud server types have no GPU (see the type's docs); kept as a method so rules read naturally.
    pub fn has_gpu(&self) -> bool {
        false
    }
}

const GIST: &str = "public Geekbench gist (derhuerst), third-party, 2025-10";
const CNAP: &str = "docs.cnap.tech Hetzner provider page, third-party";
const RECALLED: &str = "Hetzner price list as of 2025-10, not verified here";

const fn st(
    name: &'static str,
    cores: u32,
    memory_gb: u32,
    disk_gb: u32,
    architecture: Architecture,
    cpu_type: CpuType,
    source: &'static str,
) -> ServerType {
    ServerType {
        name,
        cores,
        memory_gb,
        disk_gb,
        architecture,
        cpu_type,
        source,
    }
}

use Architecture::{Arm, X86};
use CpuType::{Dedicated, Shared};

/// Current Cloud server types (generation introduced 2025-10). The API (`GET /server_types`) is authoritative;
/// provider e2e tests use `cpx12`/`cpx22` (terraform-hcloud.md §4.1).
pub const SERVER_TYPES: &[ServerType] = &[
    st("cx23", 2, 4, 40, X86, Shared, CNAP),
    st("cx33", 4, 8, 80, X86, Shared, CNAP),
    st("cx43", 8, 16, 160, X86, Shared, CNAP),
    st("cx53", 16, 32, 320, X86, Shared, RECALLED),
    st("cpx12", 1, 2, 40, X86, Shared, GIST),
    st("cpx22", 2, 4, 80, X86, Shared, GIST),
    st("cpx32", 4, 8, 160, X86, Shared, GIST),
    st("cpx42", 8, 16, 320, X86, Shared, RECALLED),
    st("cpx52", 12, 24, 480, X86, Shared, RECALLED),
    st("cpx62", 16, 32, 640, X86, Shared, RECALLED),
    st("cax11", 2, 4, 40, Arm, Shared, CNAP),
    st("cax21", 4, 8, 80, Arm, Shared, CNAP),
    st("cax31", 8, 16, 160, Arm, Shared, CNAP),
    st("cax41", 16, 32, 320, Arm, Shared, RECALLED),
    st("ccx13", 2, 8, 80, X86, Dedicated, RECALLED),
    st("ccx23", 4, 16, 160, X86, Dedicated, RECALLED),
    st("ccx33", 8, 32, 240, X86, Dedicated, RECALLED),
    st("ccx43", 16, 64, 360, X86, Dedicated, RECALLED),
    st("ccx53", 32, 128, 600, X86, Dedicated, RECALLED),
    st("ccx63", 48, 192, 960, X86, Dedicated, RECALLED),
];

/// A dedicated (Robot) GPU server: not a Cloud resource, reached as a `host` block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DedicatedGpuProduct {
    pub name: &'static str,
    pub gpu: &'static str,
    pub gpu_memory_gb: u32,
    pub source: &'static str,
}

/// Source: terraform-hcloud.md §4.1. GEX44/GEX130 are referenced in many user repos (third-party); GEX45/GEX63 from a
/// 2026 price comparison citing Hetzner press releases (third-party, not verified against hetzner.com).
pub const DEDICATED_GPU_PRODUCTS: &[DedicatedGpuProduct] = &[
    DedicatedGpuProduct {
        name: "GEX44",
        gpu: "NVIDIA RTX 4000 SFF Ada",
        gpu_memory_gb: 20,
        source: "third-party user repos (terraform-hcloud.md §4.1)",
    },
    DedicatedGpuProduct {
        name: "GEX130",
        gpu: "NVIDIA RTX 6000 Ada",
        gpu_memory_gb: 48,
        source: "third-party user repos (terraform-hcloud.md §4.1)",
    },
    DedicatedGpuProduct {
        name: "GEX45",
        gpu: "NVIDIA RTX PRO 4000 Blackwell SFF",
        gpu_memory_gb: 24,
        source: "third-party price comparison, 2026 (terraform-hcloud.md §4.1)",
    },
    DedicatedGpuProduct {
        name: "GEX63",
        gpu: "NVIDIA RTX PRO 6000 Blackwell Max-Q",
        gpu_memory_gb: 96,
        source: "third-party price comparison, 2026 (terraform-hcloud.md §4.1)",
    },
];

/// What a `server_type` value is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerTypeLookup {
    Known(&'static ServerType),
    /// A dedicated GPU product given as a Cloud server type: it cannot be created through the Cloud API; declare
    /// the machine as a `host` block instead.
    DedicatedGpu(&'static DedicatedGpuProduct),
    /// Not in the table (the API may still know it: warn, do not fail). `suggestion` = close known name.
    Unknown {
        suggestion: Option<&'static str>,
    },
}

/// Look up a Cloud server type by name (the API's names are lower case; `GEX44` matches in any case).
pub fn server_type(name: &str) -> ServerTypeLookup {
    if let Some(t) = SERVER_TYPES.iter().find(|t| t.name == name) {
        return ServerTypeLookup::Known(t);
    }
    if let Some(p) = DEDICATED_GPU_PRODUCTS
        .iter()
        .find(|p| p.name.eq_ignore_ascii_case(name))
    {
        return ServerTypeLookup::DedicatedGpu(p);
    }
    ServerTypeLookup::Unknown {
        suggestion: closest(name, SERVER_TYPES.iter().map(|t| t.name)),
    }
}

// -------------------------------------------------------------------------------------------------------------
// Images
// -------------------------------------------------------------------------------------------------------------

/// System images commonly used with our cloud-init (names as the API takes them). `ubuntu-24.04` is the one the
/// references name (spec example for `POST /servers`; terraform provider e2e default); the others are the usual
/// Hetzner system images, not verified against `GET /images` here.
pub const COMMON_IMAGES: &[&str] = &["ubuntu-24.04", "ubuntu-22.04", "debian-12", "debian-13"];

pub fn is_common_image(name: &str) -> bool {
    COMMON_IMAGES.contains(&name)
}

/// A common image close to a misspelt one (`ubuntu-24.4` -> `ubuntu-24.04`).
pub fn suggest_image(name: &str) -> Option<&'static str> {
    closest(name, COMMON_IMAGES.iter().copied())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eu_locations_and_countries() {
        assert!(location("fsn1").is_some_and(|l| l.is_eu() && l.country == "DE"));
        assert!(location("nbg1").is_some_and(Location::is_eu));
        assert!(location("hel1").is_some_and(|l| l.is_eu() && l.country == "FI"));
        for non_eu in ["ash", "hil", "sin"] {
            assert!(location(non_eu).is_some_and(|l| !l.is_eu()), "{non_eu}");
        }
        assert!(location("fra1").is_none());
        assert!(is_eu("de") && is_eu("EL") && is_eu("GR"));
        assert!(!is_eu("US") && !is_eu("GB") && !is_eu("CH") && !is_eu("NO") && !is_eu(""));
    }

    #[test]
    fn default_allowed_set_is_exactly_the_eu_locations() {
        let eu: Vec<&str> = LOCATIONS
            .iter()
            .filter(|l| l.is_eu())
            .map(|l| l.name)
            .collect();
        assert_eq!(eu, DEFAULT_ALLOWED_LOCATIONS);
        for name in DEFAULT_ALLOWED_LOCATIONS {
            assert_eq!(
                location(name).map(|l| l.network_zone),
                Some(EU_NETWORK_ZONE)
            );
        }
    }

    #[test]
    fn location_suggestion() {
        assert_eq!(suggest_location("fns1"), Some("fsn1"));
        assert_eq!(suggest_location("hel2"), Some("hel1"));
        assert_eq!(suggest_location("frankfurt"), None);
    }

    #[test]
    fn server_type_lookup() {
        match server_type("cpx22") {
            ServerTypeLookup::Known(t) => {
                assert_eq!((t.cores, t.memory_gb, t.disk_gb), (2, 4, 80));
                assert_eq!(t.architecture, Architecture::X86);
                assert!(!t.has_gpu());
            }
            other => panic!("{other:?}"),
        }
        assert!(
            matches!(server_type("cax11"), ServerTypeLookup::Known(t) if t.architecture == Architecture::Arm)
        );
        assert_eq!(
            server_type("cpx222"),
            ServerTypeLookup::Unknown {
                suggestion: Some("cpx22")
            }
        );
        assert_eq!(
            server_type("gpu-large"),
            ServerTypeLookup::Unknown { suggestion: None }
        );
        assert!(
            matches!(server_type("gex44"), ServerTypeLookup::DedicatedGpu(p) if p.gpu_memory_gb == 20)
        );
        assert!(
            matches!(server_type("GEX130"), ServerTypeLookup::DedicatedGpu(p) if p.gpu_memory_gb == 48)
        );
    }

    #[test]
    fn server_type_names_unique_and_lower_case() {
        let mut names: Vec<&str> = SERVER_TYPES.iter().map(|t| t.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), SERVER_TYPES.len());
        assert!(names.iter().all(|n| {
            n.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        }));
    }

    #[test]
    fn images() {
        assert!(is_common_image("ubuntu-24.04"));
        assert!(!is_common_image("ubuntu-24.4"));
        assert_eq!(suggest_image("ubuntu-24.4"), Some("ubuntu-24.04"));
        assert_eq!(suggest_image("debian12"), Some("debian-12"));
        assert_eq!(suggest_image("windows"), None);
    }
}
