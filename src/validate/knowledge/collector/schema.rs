//! The row types of the collector tables: a component type and its config keys, each with the releases it holds
//! for, plus the `const` builders the tables are written with.

use super::versions::{Completeness, Lifespan, Since};
use crate::config::ComponentKind;
use crate::validate::knowledge::Version;

/// What a key's value looks like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    Scalar,
    /// A YAML sequence of scalars.
    List,
    Map,
    /// A YAML sequence of maps (`attributes: [{key, action}]`); nested keys apply to each item.
    ListOfMaps,
}

/// One config key of a component (or of `service`), with its history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyDef {
    pub name: &'static str,
    pub shape: Shape,
    pub since: Option<Since>,
    /// (since, use instead, why)
    pub deprecated: Option<(Version, &'static str, &'static str)>,
    /// (since, why)
    pub removed: Option<(Version, &'static str)>,
    pub note: Option<&'static str>,
    pub children: &'static [KeyDef],
    pub children_complete: Completeness,
}

pub(super) const fn key(name: &'static str) -> KeyDef {
    KeyDef {
        name,
        shape: Shape::Scalar,
        since: None,
        deprecated: None,
        removed: None,
        note: None,
        children: &[],
        children_complete: Completeness::Never,
    }
}

impl KeyDef {
    /// The releases the key holds for; deprecation carries (use instead, why), removal carries why.
    pub(super) fn lifespan(&self) -> Lifespan<(&'static str, &'static str), &'static str> {
        Lifespan {
            since: self.since,
            deprecated: self
                .deprecated
                .map(|(since, use_instead, why)| (since, (use_instead, why))),
            removed: self.removed,
        }
    }

    pub(super) const fn shape(mut self, shape: Shape) -> Self {
        self.shape = shape;
        self
    }
    pub(super) const fn list(self) -> Self {
        self.shape(Shape::List)
    }
    pub(super) const fn since(mut self, since: Since) -> Self {
        self.since = Some(since);
        self
    }
    pub(super) const fn note(mut self, note: &'static str) -> Self {
        self.note = Some(note);
        self
    }
    pub(super) const fn deprecated(
        mut self,
        since: Version,
        use_instead: &'static str,
        why: &'static str,
    ) -> Self {
        self.deprecated = Some((since, use_instead, why));
        self
    }
    pub(super) const fn removed(mut self, since: Version, why: &'static str) -> Self {
        self.removed = Some((since, why));
        self
    }
    /// A map with the given children.
    pub(super) const fn map(mut self, children: &'static [KeyDef], complete: Completeness) -> Self {
        self.shape = Shape::Map;
        self.children = children;
        self.children_complete = complete;
        self
    }
    /// A list of maps with the given item keys.
    pub(super) const fn items(
        mut self,
        children: &'static [KeyDef],
        complete: Completeness,
    ) -> Self {
        self.shape = Shape::ListOfMaps;
        self.children = children;
        self.children_complete = complete;
        self
    }
}

/// A component type with its history and key table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ComponentInfo {
    pub kind: ComponentKind,
    /// The current type name (`otlp_grpc`).
    pub name: &'static str,
    /// Earlier name and the release that renamed it; from then on the old name is a deprecated alias.
    pub renamed_from: Option<(&'static str, Version)>,
    /// Release from which the old name is no longer accepted at all.
    pub alias_removed: Option<Version>,
    pub since: Option<Since>,
    /// (since, use instead)
    pub deprecated: Option<(Version, &'static str)>,
    /// (since, use instead)
    pub removed: Option<(Version, &'static str)>,
    pub keys: &'static [KeyDef],
    pub keys_complete: Completeness,
    pub source: &'static str,
}

pub(super) const fn component(
    kind: ComponentKind,
    name: &'static str,
    source: &'static str,
) -> ComponentInfo {
    ComponentInfo {
        kind,
        name,
        renamed_from: None,
        alias_removed: None,
        since: None,
        deprecated: None,
        removed: None,
        keys: &[],
        keys_complete: Completeness::Never,
        source,
    }
}

impl ComponentInfo {
    /// The releases the type holds for under its current name; deprecation and removal carry what to use instead.
    pub(super) fn lifespan(&self) -> Lifespan<&'static str, &'static str> {
        Lifespan {
            since: self.since,
            deprecated: self.deprecated,
            removed: self.removed,
        }
    }

    pub(super) const fn keys(mut self, keys: &'static [KeyDef], complete: Completeness) -> Self {
        self.keys = keys;
        self.keys_complete = complete;
        self
    }
    pub(super) const fn renamed_from(mut self, old: &'static str, since: Version) -> Self {
        self.renamed_from = Some((old, since));
        self
    }
    pub(super) const fn since(mut self, since: Since) -> Self {
        self.since = Some(since);
        self
    }
    pub(super) const fn deprecated(mut self, since: Version, use_instead: &'static str) -> Self {
        self.deprecated = Some((since, use_instead));
        self
    }
    pub(super) const fn removed(mut self, since: Version, use_instead: &'static str) -> Self {
        self.removed = Some((since, use_instead));
        self
    }
}
