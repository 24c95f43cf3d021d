//! Facts about the software and the cloud the stack runs on, as data, with lookups the validation rules use.
//!
//! Every table carries its source in a comment. Where the references do not say something, the tables say
//! "unchecked" rather than guess: a rule must never fail a stack because of a fact we invented.

pub mod collector;
pub mod hetzner;
pub mod images;
pub mod vllm;

use std::cmp::Ordering;
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

/// Optimal-string-alignment distance (Damerau-Levenshtein restricted to adjacent transpositions), on chars.
///
/// Transpositions count as one edit because they are the commonest typo (`lenght`, `recievers`).
pub fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    if a.is_empty() {
        return b.len();
    }
    if b.is_empty() {
        return a.len();
    }
    // Three rolling rows: the transposition step looks two rows back.
    let mut prev2: Vec<usize> = vec![0; b.len() + 1];
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur: Vec<usize> = vec![0; b.len() + 1];
    for i in 1..=a.len() {
        cur[0] = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(prev2[j - 2] + 1);
            }
            cur[j] = best;
        }
        std::mem::swap(&mut prev2, &mut prev);
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// How many edits a "did you mean" suggestion may be away from what was written.
///
/// A third of the length (at least one edit, at most four) keeps `otel` from suggesting `otlp` while still catching
/// `--max-model-lenght`.
fn max_suggestion_distance(len: usize) -> usize {
    (len / 3).clamp(1, 4)
}

/// The candidate closest to `name`, for "did you mean" help, or `None` when nothing is close enough.
///
/// Comparison ignores ASCII case and treats `_` and `-` alike (both are common slips in flag and key names).
/// Ties go to the lexicographically smallest candidate, so the answer does not depend on table order.
pub fn closest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let wanted = normalise_for_similarity(name);
    if wanted.is_empty() {
        return None;
    }
    let limit = max_suggestion_distance(wanted.chars().count());
    let mut best: Option<(usize, &'a str)> = None;
    for candidate in candidates {
        let normalised = normalise_for_similarity(candidate);
        if normalised == wanted && candidate != name {
            // Same after normalisation (`MAX_model_len`): the best possible suggestion.
            return Some(candidate);
        }
        let distance = edit_distance(&wanted, &normalised);
        if distance == 0 || distance > limit {
            continue;
        }
        best = match best {
            None => Some((distance, candidate)),
            Some((d, c)) => match distance.cmp(&d) {
                Ordering::Less => Some((distance, candidate)),
                Ordering::Equal if candidate < c => Some((distance, candidate)),
                _ => Some((d, c)),
            },
        };
    }
    best.map(|(_, c)| c)
}

fn normalise_for_similarity(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c == '_' {
                '-'
            } else {
                c.to_ascii_lowercase()
            }
        })
        .collect()
}

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

    #[test]
    fn edit_distance_counts_transposition_as_one() {
        assert_eq!(edit_distance("", ""), 0);
        assert_eq!(edit_distance("abc", ""), 3);
        assert_eq!(edit_distance("", "ab"), 2);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("lenght", "length"), 1);
        assert_eq!(edit_distance("recievers", "receivers"), 1);
        assert_eq!(edit_distance("ca", "abc"), 3); // OSA, not unrestricted Damerau (which gives 2)
        assert_eq!(edit_distance("otlp", "otlp"), 0);
    }

    #[test]
    fn closest_suggests_within_threshold_only() {
        let flags = ["--max-model-len", "--max-num-seqs", "--model", "--port"];
        assert_eq!(
            closest("--max-model-lenght", flags),
            Some("--max-model-len")
        );
        assert_eq!(closest("--prot", flags), Some("--port"));
        assert_eq!(closest("--completely-different", flags), None);
        // Exact match is not a suggestion.
        assert_eq!(closest("--port", flags), None);
        assert_eq!(closest("", flags), None);
    }

    #[test]
    fn closest_ignores_case_and_underscore_dash() {
        assert_eq!(
            closest("--MAX_MODEL_LEN", ["--max-model-len", "--max-num-seqs"]),
            Some("--max-model-len")
        );
    }

    #[test]
    fn closest_short_names_need_near_exact_match() {
        // `otel` is two edits from `otlp`: too far for a 4-letter name.
        assert_eq!(closest("otel", ["otlp", "file", "debug"]), None);
        assert_eq!(closest("otpl", ["otlp", "file", "debug"]), Some("otlp"));
    }

    #[test]
    fn closest_breaks_ties_deterministically() {
        assert_eq!(closest("abd", ["abe", "abc"]), Some("abc"));
        assert_eq!(closest("abd", ["abc", "abe"]), Some("abc"));
    }
}
