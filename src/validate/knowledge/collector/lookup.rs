//! Reading the tables for one release: what a component type or a config key path is at that version.

use super::schema::{ComponentInfo, KeyDef, Shape};
use super::tables::{COMPONENTS, SERVICE};
use super::versions::{Completeness, Phase, Since};
use super::{LATEST_KNOWN, OLDEST_KNOWN};
use crate::config::ComponentKind;
use crate::validate::knowledge::{Version, closest};

/// The type part of a component id: `otlp/signoz` -> `otlp`.
pub fn component_type(id: &str) -> &str {
    id.split_once('/').map_or(id, |(t, _)| t)
}

/// What a component type is at a collector version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ComponentStatus {
    /// Valid under this name.
    Known(&'static ComponentInfo),
    /// Still valid but deprecated (e.g. `logging` from v0.86.0).
    Deprecated {
        info: &'static ComponentInfo,
        since: Version,
        use_instead: &'static str,
    },
    /// An old name that still loads but warns (`otlp` -> `otlp_grpc` from v0.144.0).
    DeprecatedAlias {
        of: &'static str,
        since: Version,
        info: &'static ComponentInfo,
    },
    /// An old name that no longer loads at all.
    Renamed { to: &'static str, since: Version },
    Removed {
        since: Version,
        use_instead: &'static str,
    },
    /// A type that only exists in later releases (`otlp_grpc` at v0.102.0).
    NotYet { since: Since },
    /// In the tables for a later version; presence at this version not checked.
    Unchecked,
    /// Not in our (partial) list. `suggestion` is a close known name, i.e. likely a typo.
    Unknown { suggestion: Option<&'static str> },
}

/// Facts about a key at a collector version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyFacts {
    pub shape: Shape,
    pub note: Option<&'static str>,
}

/// What a config key is at a collector version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyStatus {
    Known(KeyFacts),
    /// The level's key set is complete and this is not in it.
    Unknown {
        suggestion: Option<&'static str>,
    },
    /// The key set at this level is not known to be complete (or the component is not in the tables).
    Unchecked,
    Removed {
        since: Version,
        why: &'static str,
    },
    NotYet {
        since: Since,
    },
    /// The key (or one of its parents) is deprecated.
    Deprecated {
        since: Version,
        use_instead: &'static str,
        why: &'static str,
        facts: KeyFacts,
    },
}

/// The collector knowledge for one target version.
#[derive(Debug, Clone, Copy)]
pub struct CollectorKnowledge {
    pub version: Version,
    pub(super) components: &'static [ComponentInfo],
}

impl CollectorKnowledge {
    pub fn for_version(version: &Version) -> Self {
        Self {
            version: *version,
            components: COMPONENTS,
        }
    }

    /// From an image tag (`0.159.0`, `v0.159.0`); `None` for `latest` and other non-versions.
    pub fn for_image_tag(tag: &str) -> Option<Self> {
        Version::parse(tag).map(|v| Self::for_version(&v))
    }

    /// Whether the version is newer than anything the tables were built from.
    pub fn is_newer_than_known(&self) -> bool {
        self.version > LATEST_KNOWN
    }

    /// Whether the version is older than anything the tables were built from.
    pub fn is_older_than_known(&self) -> bool {
        self.version < OLDEST_KNOWN
    }

    /// Look up a component by type or full id (`otlp/signoz`).
    pub fn component(&self, kind: ComponentKind, type_or_id: &str) -> ComponentStatus {
        let ty = component_type(type_or_id);
        let ver = self.version;
        for info in self.components.iter().filter(|c| c.kind == kind) {
            if let Some((old, since)) = info.renamed_from
                && old == ty
            {
                if ver < since {
                    return self.lifecycle(info);
                }
                if info.alias_removed.is_some_and(|r| ver >= r) {
                    return ComponentStatus::Renamed {
                        to: info.name,
                        since,
                    };
                }
                return ComponentStatus::DeprecatedAlias {
                    of: info.name,
                    since,
                    info,
                };
            }
            if info.name == ty {
                if let Some((_, since)) = info.renamed_from
                    && ver < since
                {
                    return ComponentStatus::NotYet {
                        since: Since::Exact(since),
                    };
                }
                return self.lifecycle(info);
            }
        }
        ComponentStatus::Unknown {
            suggestion: closest(ty, self.names_valid(kind)),
        }
    }

    fn lifecycle(&self, info: &'static ComponentInfo) -> ComponentStatus {
        match info.lifespan().phase_at(self.version) {
            Phase::Removed(since, use_instead) => ComponentStatus::Removed { since, use_instead },
            Phase::NotYet(since) => ComponentStatus::NotYet { since },
            Phase::Unchecked => ComponentStatus::Unchecked,
            Phase::Deprecated(since, use_instead) => ComponentStatus::Deprecated {
                info,
                since,
                use_instead,
            },
            Phase::Current => ComponentStatus::Known(info),
        }
    }

    /// Type names (current or, before a rename, old) valid at this version, for suggestions.
    fn names_valid(&self, kind: ComponentKind) -> Vec<&'static str> {
        let mut names = Vec::new();
        for info in self.components.iter().filter(|c| c.kind == kind) {
            match info.renamed_from {
                Some((old, since)) if self.version < since => names.push(old),
                _ => {
                    if info.lifespan().available_at(self.version) {
                        names.push(info.name);
                    }
                }
            }
        }
        names
    }

    /// The component's table entry regardless of status (for rules that explain a rename or removal).
    pub fn info(&self, kind: ComponentKind, type_or_id: &str) -> Option<&'static ComponentInfo> {
        let ty = component_type(type_or_id);
        self.components.iter().find(|c| {
            c.kind == kind && (c.name == ty || c.renamed_from.is_some_and(|(old, _)| old == ty))
        })
    }

    /// Status of a config key of a component, by dotted path (`protocols.grpc.endpoint`, `traces.span`,
    /// `attributes[0].action` / `attributes.0.action`). Unchecked when the component is not in the tables.
    pub fn key_status(&self, kind: ComponentKind, type_or_id: &str, key_path: &str) -> KeyStatus {
        match self.info(kind, type_or_id) {
            Some(info) => walk_keys(self.version, info.keys, info.keys_complete, key_path),
            None => KeyStatus::Unchecked,
        }
    }

    /// Status of a key under `service` (`telemetry.metrics.address`, `extensions`).
    pub fn service_key_status(&self, key_path: &str) -> KeyStatus {
        walk_keys(self.version, SERVICE, Completeness::Never, key_path)
    }
}

/// Split `a.b[0].c` / `a.b.0.c` into `[a, b, c]`: list indices do not change which key is meant.
fn path_segments(path: &str) -> Vec<&str> {
    path.split('.')
        .map(|s| s.split('[').next().unwrap_or(s))
        .filter(|s| !s.is_empty() && !s.bytes().all(|b| b.is_ascii_digit()))
        .collect()
}

fn walk_keys(
    version: Version,
    mut level: &'static [KeyDef],
    mut complete: Completeness,
    path: &str,
) -> KeyStatus {
    let segments = path_segments(path);
    if segments.is_empty() {
        return KeyStatus::Unchecked;
    }
    let mut deprecation: Option<(Version, &'static str, &'static str)> = None;
    for (i, segment) in segments.iter().enumerate() {
        let Some(def) = level.iter().find(|k| k.name == *segment) else {
            if complete.at(version) {
                let candidates = level
                    .iter()
                    .filter(|k| k.lifespan().available_at(version))
                    .map(|k| k.name);
                return KeyStatus::Unknown {
                    suggestion: closest(segment, candidates),
                };
            }
            return KeyStatus::Unchecked;
        };
        match def.lifespan().phase_at(version) {
            Phase::Removed(since, why) => return KeyStatus::Removed { since, why },
            Phase::NotYet(since) => return KeyStatus::NotYet { since },
            Phase::Unchecked => return KeyStatus::Unchecked,
            // The first deprecated level names the replacement: a deprecated group deprecates its keys.
            Phase::Deprecated(since, (use_instead, why)) => {
                deprecation.get_or_insert((since, use_instead, why));
            }
            Phase::Current => {}
        }
        if i + 1 == segments.len() {
            let facts = KeyFacts {
                shape: def.shape,
                note: def.note,
            };
            return match deprecation {
                Some((since, use_instead, why)) => KeyStatus::Deprecated {
                    since,
                    use_instead,
                    why,
                    facts,
                },
                None => KeyStatus::Known(facts),
            };
        }
        if def.shape == Shape::Scalar || def.shape == Shape::List {
            // Keys below a scalar: the collector will refuse the structure, but say so only where we are sure.
            return KeyStatus::Unchecked;
        }
        level = def.children;
        complete = def.children_complete;
    }
    KeyStatus::Unchecked
}
