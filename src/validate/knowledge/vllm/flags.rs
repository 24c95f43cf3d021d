//! The `vllm serve` flag tables, one per release, and how the parser resolves a single option string.

use std::collections::HashMap;
use std::sync::OnceLock;

use super::advice::deprecated_flag;
use crate::validate::knowledge::{Version, closest};

/// How many values a flag consumes (argparse `nargs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nargs {
    /// A switch: no value (`store_true`, vLLM's enable/disable actions, help).
    Zero,
    /// Exactly one value (`nargs=None` on a storing action).
    One,
    /// Zero or one value (`nargs='?'`).
    Optional,
    /// One or more values (`nargs='+'`): argparse consumes every following argument that does not look like a flag,
    /// including what was meant as the positional model.
    OneOrMore,
}

/// One option string of `vllm serve`, as the real parser defines it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlagInfo {
    /// The option string exactly as registered (`--max-model-len`, `-tp`, `--disable-prefix-caching`).
    pub flag: &'static str,
    /// Config group (`ModelConfig`, `ObservabilityConfig`, `Frontend`, `options`, ...).
    pub group: &'static str,
    /// argparse destination; aliases and negative forms share it (`-tp` and `--tensor-parallel-size`).
    pub dest: &'static str,
    pub takes_value: bool,
    pub nargs: Nargs,
    /// Allowed values, when the parser restricts them (empty = any).
    pub choices: Vec<&'static str>,
    /// argparse action class name (`_StoreAction`, `EnableDisableAction`, `_AppendAction`, ...).
    pub action: &'static str,
}

impl FlagInfo {
    /// Whether giving the flag twice adds values rather than overwriting (`--middleware`).
    pub fn repeatable(&self) -> bool {
        self.action == "_AppendAction"
    }
}

/// All `vllm serve` flags of one release.
#[derive(Debug)]
pub struct VllmFlags {
    pub version: Version,
    flags: HashMap<&'static str, FlagInfo>,
    /// Sorted option strings, for deterministic suggestions.
    names: Vec<&'static str>,
}

/// The releases we have flag tables for: (version, TSV data). Add a release by saving its TSV next to the others.
const FLAG_TABLES: &[(Version, &str)] = &[(
    Version::new(0, 33, 0),
    include_str!("../../data/flags-v0.33.0.tsv"),
)];

/// What the parser makes of one option string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FlagLookup<'a> {
    /// Accepted; `FlagInfo::flag` is the registered spelling (`--max_model_len` -> `--max-model-len`).
    Known(&'a FlagInfo),
    /// Accepted, but deprecated or slated for removal.
    Deprecated {
        info: &'a FlagInfo,
        replacement: &'static str,
        why: &'static str,
    },
    /// A unique prefix of a long flag: argparse (`allow_abbrev` default) accepts it, but it breaks as soon as a
    /// new flag shares the prefix.
    Abbreviation { of: &'a FlagInfo },
    /// `--<json-arg>.<key>` (or `--<json-arg>.<key>+`): sets one key of a JSON-valued flag.
    DottedJson { base: &'a FlagInfo, key: String },
    /// Not a flag of this release.
    Unknown { suggestion: Option<&'static str> },
}

impl VllmFlags {
    /// The flag table for a release (`"0.33.0"` or `"v0.33.0"`).
    pub fn for_version(version: &str) -> Option<&'static VllmFlags> {
        let wanted = Version::parse(version)?;
        Self::for_parsed_version(wanted)
    }

    pub fn for_parsed_version(wanted: Version) -> Option<&'static VllmFlags> {
        all_tables().iter().find(|t| t.version == wanted)
    }

    /// The releases with a table, oldest first.
    pub fn known_versions() -> Vec<Version> {
        let mut v: Vec<Version> = FLAG_TABLES.iter().map(|(v, _)| *v).collect();
        v.sort();
        v
    }

    /// The newest release with a table (what `validate` assumes when the image tag says nothing).
    pub fn latest() -> &'static VllmFlags {
        let tables = all_tables();
        let mut newest = &tables[0];
        for t in tables {
            if t.version > newest.version {
                newest = t;
            }
        }
        newest
    }

    /// Exact lookup of a registered option string (no normalisation).
    pub fn get(&self, flag: &str) -> Option<&FlagInfo> {
        self.flags.get(flag)
    }

    /// All registered option strings, sorted.
    pub fn names(&self) -> &[&'static str] {
        &self.names
    }

    pub fn len(&self) -> usize {
        self.flags.len()
    }

    pub fn is_empty(&self) -> bool {
        self.flags.is_empty()
    }

    /// Look up a flag the way vLLM's parser reads it: `--x_y` = `--x-y` (underscores before the first `.`),
    /// `--flag=value` (only the part before `=` is looked at), `-O3`/`-O=3`/`-O` = `--optimization-level`,
    /// dotted JSON sub-keys, and unique prefixes of long flags.
    pub fn lookup(&self, written: &str) -> FlagLookup<'_> {
        let name = written.split_once('=').map_or(written, |(k, _)| k);
        if name.starts_with("-O") {
            // `-O`, `-O3`, `-Odecode` all become `--optimization-level` (argparse_utils.py, "-O" handling).
            if let Some(info) = self.flags.get("--optimization-level") {
                return FlagLookup::Known(info);
            }
        }
        let normalised = normalise_flag(name);
        if let Some((base, key)) = normalised.split_once('.')
            && base.starts_with('-')
        {
            let base_name = base;
            let key = key.strip_suffix('+').unwrap_or(key);
            return match self.flags.get(base_name) {
                Some(info) if info.takes_value && !key.is_empty() => FlagLookup::DottedJson {
                    base: info,
                    key: key.to_owned(),
                },
                _ => FlagLookup::Unknown {
                    suggestion: self.suggest(base_name),
                },
            };
        }
        if let Some(info) = self.flags.get(normalised.as_str()) {
            if let Some(dep) = deprecated_flag(info.flag) {
                return FlagLookup::Deprecated {
                    info,
                    replacement: dep.replacement,
                    why: dep.why,
                };
            }
            return FlagLookup::Known(info);
        }
        if normalised.starts_with("--") && normalised.len() > 2 {
            let mut matches = self
                .names
                .iter()
                .filter(|n| n.starts_with("--") && n.starts_with(normalised.as_str()));
            if let (Some(only), None) = (matches.next(), matches.next())
                && let Some(info) = self.flags.get(only)
            {
                return FlagLookup::Abbreviation { of: info };
            }
        }
        FlagLookup::Unknown {
            suggestion: self.suggest(&normalised),
        }
    }

    /// Destinations are stable across releases, so any table that knows the flag answers.
    pub(super) fn latest_dest(flag: &str) -> Option<&'static str> {
        all_tables()
            .iter()
            .find_map(|t| t.get(flag))
            .map(|i| i.dest)
    }

    fn suggest(&self, name: &str) -> Option<&'static str> {
        closest(name, self.names.iter().copied())
    }

    /// All option strings that share a destination with `flag` (aliases and negative forms).
    pub fn same_dest(&self, flag: &str) -> Vec<&'static str> {
        match self.flags.get(flag) {
            None => Vec::new(),
            Some(info) => self
                .names
                .iter()
                .copied()
                .filter(|n| self.flags.get(n).is_some_and(|i| i.dest == info.dest))
                .collect(),
        }
    }
}

/// `--x_y` -> `--x-y`, only between the leading dashes and the first `.`, as FlexibleArgumentParser does
/// (`pattern = r"(?<=--)[^\.]*"`). Single-dash flags are left alone.
fn normalise_flag(name: &str) -> String {
    match name.strip_prefix("--") {
        None => name.to_owned(),
        Some(rest) => {
            let (head, tail) = match rest.find('.') {
                Some(i) => rest.split_at(i),
                None => (rest, ""),
            };
            format!("--{}{}", head.replace('_', "-"), tail)
        }
    }
}

fn all_tables() -> &'static [VllmFlags] {
    static TABLES: OnceLock<Vec<VllmFlags>> = OnceLock::new();
    TABLES.get_or_init(|| {
        FLAG_TABLES
            .iter()
            .map(|(version, tsv)| parse_flag_table(*version, tsv))
            .collect()
    })
}

/// Parse the embedded TSV. The data is compiled in and covered by tests, so a malformed line is a bug in the
/// data, not a user error; such lines are skipped rather than aborting validation.
fn parse_flag_table(version: Version, tsv: &'static str) -> VllmFlags {
    let mut flags = HashMap::new();
    for line in tsv.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let cols: Vec<&'static str> = line.split('\t').collect();
        if cols.len() < 7 {
            continue;
        }
        let takes_value = cols[3] == "yes";
        let nargs = match (takes_value, cols[4]) {
            (false, _) => Nargs::Zero,
            (true, "+") => Nargs::OneOrMore,
            (true, "?") => Nargs::Optional,
            (true, _) => Nargs::One,
        };
        let choices = if cols[5].is_empty() {
            Vec::new()
        } else {
            cols[5].split('|').collect()
        };
        flags.insert(
            cols[0],
            FlagInfo {
                flag: cols[0],
                group: cols[1],
                dest: cols[2],
                takes_value,
                nargs,
                choices,
                action: cols[6],
            },
        );
    }
    let mut names: Vec<&'static str> = flags.keys().copied().collect();
    names.sort_unstable();
    VllmFlags {
        version,
        flags,
        names,
    }
}
