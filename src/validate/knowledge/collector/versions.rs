//! The vocabulary for "which releases a fact holds for": when a row appeared, whether a key level is complete
//! from some release on, and the phase a row (component or key) is in at one release.

use crate::validate::knowledge::Version;

/// When a key (or component) appeared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Since {
    /// Dated by the CHANGELOG or a read source.
    Exact(Version),
    /// Absent at `absent`, present at `present`; the release in between is not known.
    Between { absent: Version, present: Version },
    /// Present at this version; earlier versions not checked.
    SeenIn(Version),
}

/// Whether a key level lists every key the collector accepts there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Completeness {
    Never,
    Always,
    /// Complete for this version and newer (the source read was that version's struct or schema).
    From(Version),
}

impl Completeness {
    pub(super) fn at(self, version: Version) -> bool {
        match self {
            Completeness::Never => false,
            Completeness::Always => true,
            Completeness::From(from) => version >= from,
        }
    }
}

/// The releases a row holds for: it appears at `since` (always, when `None`), is deprecated from `deprecated`
/// and refused from `removed`. `D` and `R` are what the row says about its deprecation and removal (what to use
/// instead, why), handed back by [`Lifespan::phase_at`] so components and keys share one reading of the range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Lifespan<D, R> {
    pub since: Option<Since>,
    pub deprecated: Option<(Version, D)>,
    pub removed: Option<(Version, R)>,
}

/// Where a row stands at one release.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Phase<D, R> {
    /// It appears in a later release.
    NotYet(Since),
    /// It is known from a later release on; whether this one has it was not read.
    Unchecked,
    Current,
    Deprecated(Version, D),
    Removed(Version, R),
}

impl<D: Copy, R: Copy> Lifespan<D, R> {
    /// Removal wins over everything: a removed row is refused even if we never dated its first release.
    pub fn phase_at(&self, version: Version) -> Phase<D, R> {
        if let Some((since, removal)) = self.removed
            && version >= since
        {
            return Phase::Removed(since, removal);
        }
        match self.since {
            Some(Since::Exact(s)) if version < s => return Phase::NotYet(Since::Exact(s)),
            Some(since @ Since::Between { absent, .. }) if version <= absent => {
                return Phase::NotYet(since);
            }
            Some(Since::Between { present, .. }) | Some(Since::SeenIn(present))
                if version < present =>
            {
                return Phase::Unchecked;
            }
            _ => {}
        }
        match self.deprecated {
            Some((since, deprecation)) if version >= since => Phase::Deprecated(since, deprecation),
            _ => Phase::Current,
        }
    }

    /// Whether the release accepts the row (deprecated counts): only such rows are offered as suggestions.
    pub fn available_at(&self, version: Version) -> bool {
        matches!(
            self.phase_at(version),
            Phase::Current | Phase::Deprecated(..)
        )
    }
}
