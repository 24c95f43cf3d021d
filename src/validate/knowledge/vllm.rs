//! vLLM `vllm serve` facts: the CLI flags per release, how the parser reads a command line, environment variables
//! that mislead, and which images carry the OpenTelemetry packages.
//!
//! Sources (see `shared/reference/stack-content.md` §1 and §5):
//! - flags: `data/flags-v0.33.0.{txt,tsv}`, produced from the v0.33.0 PyPI wheel's real parser and cross-checked
//!   against `vllm serve --help=all` (435 option strings);
//! - parser behaviour: wheel `vllm/utils/argparse_utils.py:324-409,516-645` (FlexibleArgumentParser);
//! - tracing: wheel `vllm/config/observability.py`, `vllm/tracing/otel.py`, `vllm/envs.py`;
//! - image: `docker/Dockerfile` @ `dead20ba` (`ENTRYPOINT ["vllm", "serve"]`).

use std::collections::HashMap;
use std::sync::OnceLock;

use super::{Version, closest};

/// The image's entrypoint: compose `command:` is appended to it, so it starts with the model, not `serve`.
/// Source: vLLM `docker/Dockerfile` @ `dead20ba`, final stage.
pub const IMAGE_ENTRYPOINT: [&str; 2] = ["vllm", "serve"];

/// Default listen port of the OpenAI-compatible server. Source: `vllm serve --help=all` (v0.33.0).
pub const DEFAULT_PORT: u16 = 8000;

/// Health endpoint: 200, or 503 once the engine is dead; empty body.
/// Source: `vllm/entrypoints/serve/instrumentator/health.py:22-32` (v0.33.0).
pub const HEALTH_PATH: &str = "/health";

/// Prometheus metrics endpoint (vLLM pushes no OTLP metrics; scrape this).
/// Source: `vllm/entrypoints/serve/instrumentator/metrics.py:66-80` (v0.33.0).
pub const METRICS_PATH: &str = "/metrics";

/// The flag that turns tracing on (tracing is on iff it is set). Source: `vllm/config/observability.py:38`.
pub const OTLP_TRACES_ENDPOINT_FLAG: &str = "--otlp-traces-endpoint";

// -------------------------------------------------------------------------------------------------------------
// Flag tables
// -------------------------------------------------------------------------------------------------------------

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
    include_str!("../data/flags-v0.33.0.tsv"),
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

// -------------------------------------------------------------------------------------------------------------
// Facts about individual flags
// -------------------------------------------------------------------------------------------------------------

/// A deprecated flag and what to write instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeprecatedFlag {
    pub flag: &'static str,
    pub replacement: &'static str,
    pub why: &'static str,
}

/// Source: wheel `vllm/utils/argparse_utils.py:324-335` (v0.33.0): "With `vllm serve`, you should provide the model
/// as a positional argument ... The `--model` option will be removed in a future version."
const DEPRECATED_FLAGS: &[DeprecatedFlag] = &[DeprecatedFlag {
    flag: "--model",
    replacement: "the model as the first positional argument of `command` (the image's entrypoint is `vllm serve`)",
    why: "with `vllm serve`, `--model` logs a deprecation warning and \"will be removed in a future version\"",
}];

pub fn deprecated_flag(flag: &str) -> Option<&'static DeprecatedFlag> {
    DEPRECATED_FLAGS.iter().find(|d| d.flag == flag)
}

/// Why a valid flag is still worth a diagnostic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdviceKind {
    /// Sets what is already the default for generative models.
    Redundant,
    /// Accepted, but nothing in this release reads it.
    NoEffect,
    /// Only meaningful together with another flag.
    Requires(&'static str),
    /// Risky together with another flag.
    RiskyWith(&'static str),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlagAdvice {
    /// Registered option string the advice is about.
    pub flag: &'static str,
    pub kind: AdviceKind,
    pub why: &'static str,
    pub source: &'static str,
}

/// Flag advice for v0.33.0. A flag may have several entries.
const FLAG_ADVICE: &[FlagAdvice] = &[
    FlagAdvice {
        flag: "--enable-chunked-prefill",
        kind: AdviceKind::Redundant,
        why: "chunked prefill defaults to on for generative decoder models (e.g. Qwen2.5); the flag changes nothing",
        source: "vllm/engine/arg_utils.py:3041-3090 (v0.33.0)",
    },
    FlagAdvice {
        flag: "--enable-prefix-caching",
        kind: AdviceKind::Redundant,
        why: "prefix caching defaults to on for generative decoder models (e.g. Qwen2.5); the flag changes nothing",
        source: "vllm/engine/arg_utils.py:3041-3090 (v0.33.0)",
    },
    FlagAdvice {
        flag: "--collect-detailed-traces",
        kind: AdviceKind::Requires(OTLP_TRACES_ENDPOINT_FLAG),
        why: "vLLM refuses to start: \"collect_detailed_traces requires `--otlp-traces-endpoint` to be set\"",
        source: "vllm/config/observability.py:216-221 (v0.33.0)",
    },
    FlagAdvice {
        flag: "--collect-detailed-traces",
        kind: AdviceKind::NoEffect,
        why: "the derived collect_model_forward_time/execute_time settings are read nowhere in v0.33.0 (V1 engine); \
              it adds no spans",
        source: "grep of the v0.33.0 wheel; vllm/config/observability.py:16,41",
    },
    FlagAdvice {
        flag: "--disable-log-stats",
        kind: AdviceKind::RiskyWith(OTLP_TRACES_ENDPOINT_FLAG),
        why: "request tracing asserts iteration stats exist, and they are only collected when stats logging is on \
              (inferred from code, not run)",
        source: "vllm/v1/engine/output_processor.py:941-948, async_llm.py:884 (v0.33.0)",
    },
];

/// Advice entries for a registered option string (after [`VllmFlags::lookup`] canonicalisation).
pub fn flag_advice(flag: &str) -> impl Iterator<Item = &'static FlagAdvice> + '_ {
    FLAG_ADVICE.iter().filter(move |a| a.flag == flag)
}

// -------------------------------------------------------------------------------------------------------------
// Environment variables
// -------------------------------------------------------------------------------------------------------------

/// What an environment variable set on the vLLM container does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnvVarFact {
    /// vLLM never reads it; the intended effect needs something else.
    DoesNotExist {
        use_instead: &'static str,
        why: &'static str,
    },
    /// Exists but does harm in a deployment.
    Harmful { why: &'static str },
    /// Read, with a fixed set of valid values (anything else fails at start-up).
    Enumerated {
        values: &'static [&'static str],
        default: &'static str,
        why: &'static str,
    },
    /// Read, but overwritten or ignored by vLLM itself.
    Ignored { why: &'static str },
    /// Read and useful.
    Effective { why: &'static str },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EnvVarInfo {
    pub name: &'static str,
    pub fact: EnvVarFact,
    pub source: &'static str,
}

/// The OTLP protocols vLLM's tracing accepts. Source: `vllm/tracing/otel.py:94-102` (v0.33.0).
pub const OTLP_PROTOCOLS: &[&str] = &["grpc", "http/protobuf"];

const ENV_VARS: &[EnvVarInfo] = &[
    EnvVarInfo {
        name: "VLLM_OTLP_TRACES_ENDPOINT",
        fact: EnvVarFact::DoesNotExist {
            use_instead: "--otlp-traces-endpoint <url> in `command`",
            why: "vLLM has no such variable (no OTLP variable at all in vllm/envs.py); tracing stays off",
        },
        source: "vllm/envs.py, vllm/config/observability.py:38 (v0.33.0)",
    },
    EnvVarInfo {
        name: "VLLM_TRACE_FUNCTION",
        fact: EnvVarFact::Harmful {
            why: "a Python call tracer for debugging hangs, unrelated to OpenTelemetry: it traces every call into \
                  /tmp/<user>/vllm/..., slows everything down and fills /tmp",
        },
        source: "vllm/envs.py:880-883, vllm/config/vllm.py:894-913, vllm/logger.py:405-418 (v0.33.0)",
    },
    EnvVarInfo {
        name: "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
        fact: EnvVarFact::Enumerated {
            values: OTLP_PROTOCOLS,
            default: "grpc",
            why: "any other value fails with ValueError(\"Unsupported OTLP protocol ...\"); with http/protobuf the \
                  endpoint is used verbatim and must end in /v1/traces",
        },
        source: "vllm/tracing/otel.py:94-102 (v0.33.0)",
    },
    EnvVarInfo {
        name: "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        fact: EnvVarFact::Ignored {
            why: "vLLM sets it itself from --otlp-traces-endpoint so workers inherit it; without the flag tracing \
                  stays off",
        },
        source: "vllm/tracing/otel.py:73-74,112-114 (v0.33.0)",
    },
    EnvVarInfo {
        name: "OTEL_EXPORTER_OTLP_TRACES_INSECURE",
        fact: EnvVarFact::Ignored {
            why: "the gRPC exporter is built with insecure=True explicitly",
        },
        source: "vllm/tracing/otel.py:94-102 (v0.33.0)",
    },
    EnvVarInfo {
        name: "OTEL_SERVICE_NAME",
        fact: EnvVarFact::Effective {
            why: "names the service on vLLM's spans; without it they arrive as unknown_service",
        },
        source: "vllm/tracing/otel.py:76-81 (Resource.create); upstream example sets vllm-server",
    },
    EnvVarInfo {
        name: "OTEL_RESOURCE_ATTRIBUTES",
        fact: EnvVarFact::Effective {
            why: "adds resource attributes to vLLM's spans",
        },
        source: "vllm/tracing/otel.py:76-81 (Resource.create)",
    },
    EnvVarInfo {
        name: "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
        fact: EnvVarFact::Effective {
            why: "read by the OTLP span exporter",
        },
        source: "opentelemetry-exporter-otlp (stack-content.md §1.1)",
    },
    EnvVarInfo {
        name: "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
        fact: EnvVarFact::Effective {
            why: "read by the OTLP span exporter",
        },
        source: "opentelemetry-exporter-otlp (stack-content.md §1.1)",
    },
    EnvVarInfo {
        name: "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION",
        fact: EnvVarFact::Effective {
            why: "read by the OTLP span exporter",
        },
        source: "opentelemetry-exporter-otlp (stack-content.md §1.1)",
    },
];

/// What we know about an environment variable on the vLLM container; `None` = no fact recorded (not an error).
pub fn env_var(name: &str) -> Option<&'static EnvVarInfo> {
    ENV_VARS.iter().find(|e| e.name == name)
}

/// Problems with the trace endpoint for the chosen protocol.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OtlpEndpointProblem {
    #[error("OTLP protocol `{0}` is not supported by vLLM (use grpc or http/protobuf)")]
    UnsupportedProtocol(String),
    #[error(
        "with http/protobuf vLLM sends to the endpoint verbatim, so it must end in /v1/traces (got `{0}`)"
    )]
    HttpPathMissing(String),
    #[error("the trace endpoint `{0}` has no scheme (use http://host:port)")]
    NoScheme(String),
}

/// Check `--otlp-traces-endpoint` against `OTEL_EXPORTER_OTLP_TRACES_PROTOCOL` (`None` = unset = grpc).
///
/// gRPC: the Python exporter strips the scheme and keeps host:port, so `http://otel-collector:4317` is right.
/// HTTP: the endpoint is used verbatim (`vllm/tracing/otel.py:94-102`; example README uses `.../v1/traces`).
pub fn check_trace_endpoint(
    protocol: Option<&str>,
    endpoint: &str,
) -> Result<(), OtlpEndpointProblem> {
    let protocol = protocol.unwrap_or("grpc");
    if !OTLP_PROTOCOLS.contains(&protocol) {
        return Err(OtlpEndpointProblem::UnsupportedProtocol(
            protocol.to_owned(),
        ));
    }
    if !endpoint.contains("://") {
        return Err(OtlpEndpointProblem::NoScheme(endpoint.to_owned()));
    }
    if protocol == "http/protobuf" && !endpoint.trim_end_matches('/').ends_with("/v1/traces") {
        return Err(OtlpEndpointProblem::HttpPathMissing(endpoint.to_owned()));
    }
    Ok(())
}

// -------------------------------------------------------------------------------------------------------------
// Images
// -------------------------------------------------------------------------------------------------------------

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

// -------------------------------------------------------------------------------------------------------------
// Command-line parsing
// -------------------------------------------------------------------------------------------------------------

/// How the model was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelSource {
    Positional,
    /// `--model X` or `--model=X` (deprecated).
    ModelFlag,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelArg {
    pub value: String,
    /// Index in the argument list of the value.
    pub index: usize,
    pub source: ModelSource,
}

/// One flag occurrence on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedFlag {
    /// As written (`--max_model_len=8192`).
    pub written: String,
    /// The registered option string (`--max-model-len`); for dotted JSON args the base flag.
    pub flag: &'static str,
    pub dest: &'static str,
    /// Index of the flag in the argument list.
    pub index: usize,
    /// Values with the index they came from (an inline `=value` has the flag's own index).
    pub values: Vec<(String, usize)>,
    /// For `--json-arg.key value`: the dotted key.
    pub json_key: Option<String>,
}

/// Something the real parser would reject or warn about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandProblem {
    /// `serve` (or `vllm serve`) at the start: the entrypoint already is `vllm serve`, so it would be taken as the
    /// model name.
    LeadingServe {
        index: usize,
    },
    UnknownFlag {
        index: usize,
        written: String,
        suggestion: Option<&'static str>,
    },
    DeprecatedFlag {
        index: usize,
        flag: &'static str,
        replacement: &'static str,
        why: &'static str,
    },
    Abbreviated {
        index: usize,
        written: String,
        full: &'static str,
    },
    MissingValue {
        index: usize,
        flag: &'static str,
    },
    /// `--switch=value`: argparse rejects "ignored explicit argument".
    UnexpectedValue {
        index: usize,
        flag: &'static str,
    },
    InvalidChoice {
        index: usize,
        flag: &'static str,
        value: String,
        choices: Vec<&'static str>,
    },
    /// A positional after the model: argparse fails with "unrecognized arguments".
    ExtraPositional {
        index: usize,
        value: String,
    },
    /// The same destination set twice; the later one wins (or, for enable/disable pairs, they contradict).
    Duplicate {
        first: usize,
        second: usize,
        dest: &'static str,
    },
    /// Both a positional model and `--model`.
    ModelGivenTwice {
        positional: usize,
        flag: usize,
    },
    /// `--served-model-name` without a positional model or `--config`: vLLM raises "`model` should be provided as
    /// the first positional argument" (argparse_utils.py:357-367).
    ServedNameWithoutModel {
        index: usize,
    },
    /// No model at all (neither positional, `--model`, nor `--config` that might hold one).
    NoModel,
    /// A `nargs='+'` flag swallowed what looks like the model (`--served-model-name a Qwen/Qwen2.5`).
    ModelSwallowed {
        flag_index: usize,
        value_index: usize,
    },
}

/// A `vllm serve` command line (the compose `command`, without the entrypoint), read like the real parser does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedCommand {
    pub model: Option<ModelArg>,
    pub flags: Vec<ParsedFlag>,
    /// `--config <file>`: a YAML file that may set more flags (and the model); its content is not checked here.
    pub config_file: Option<(String, usize)>,
    pub problems: Vec<CommandProblem>,
}

impl ParsedCommand {
    /// The occurrences of a registered flag (or any flag with the same destination, e.g. `-tp`).
    pub fn find(&self, flag: &str) -> impl Iterator<Item = &ParsedFlag> {
        let dest = VllmFlags::latest_dest(flag);
        self.flags
            .iter()
            .filter(move |f| f.flag == flag || dest.is_some_and(|d| d == f.dest))
    }

    /// The last value given for a flag (argparse: last one wins).
    pub fn value_of(&self, flag: &str) -> Option<&str> {
        self.find(flag)
            .filter_map(|f| f.values.last())
            .last()
            .map(|(v, _)| v.as_str())
    }

    pub fn has(&self, flag: &str) -> bool {
        self.find(flag).next().is_some()
    }

    /// Advice that applies to this command: redundant flags, missing companions, risky combinations.
    pub fn advice(&self) -> Vec<(usize, &'static FlagAdvice)> {
        let mut out = Vec::new();
        for f in &self.flags {
            for a in flag_advice(f.flag) {
                let applies = match a.kind {
                    AdviceKind::Redundant | AdviceKind::NoEffect => true,
                    AdviceKind::Requires(other) => !self.has(other),
                    AdviceKind::RiskyWith(other) => self.has(other),
                };
                if applies {
                    out.push((f.index, a));
                }
            }
        }
        out
    }
}

impl VllmFlags {
    /// Destinations are stable across releases, so any table that knows the flag answers.
    fn latest_dest(flag: &str) -> Option<&'static str> {
        all_tables()
            .iter()
            .find_map(|t| t.get(flag))
            .map(|i| i.dest)
    }

    /// Read a `vllm serve` argument list (the compose `command`), the way FlexibleArgumentParser + argparse would.
    pub fn parse_command(&self, args: &[String]) -> ParsedCommand {
        let mut out = ParsedCommand {
            model: None,
            flags: Vec::new(),
            config_file: None,
            problems: Vec::new(),
        };
        let mut positionals: Vec<(String, usize)> = Vec::new();
        let mut model_flag: Option<(String, usize)> = None;
        let mut i = 0;

        // The entrypoint already is `vllm serve`; a leading `serve` / `vllm serve` becomes the model name.
        if args.first().is_some_and(|a| a == "serve" || a == "vllm") {
            out.problems.push(CommandProblem::LeadingServe { index: 0 });
            i = if args[0] == "vllm" && args.get(1).is_some_and(|a| a == "serve") {
                2
            } else {
                1
            };
        }

        let mut only_positionals = false;
        while i < args.len() {
            let arg = &args[i];
            if only_positionals || !looks_like_flag(arg) {
                positionals.push((arg.clone(), i));
                i += 1;
                continue;
            }
            if arg == "--" {
                only_positionals = true;
                i += 1;
                continue;
            }
            let (name, inline) = match arg.split_once('=') {
                Some((k, v)) => (k, Some(v.to_owned())),
                None => (arg.as_str(), None),
            };
            // `-O3`, `-O=3`, `-Odecode`: one argument carrying the optimization level.
            if name.starts_with("-O") && !name.starts_with("--") && arg != "-O" {
                let level = arg
                    .strip_prefix("-O=")
                    .or_else(|| arg.strip_prefix("-O"))
                    .unwrap_or_default();
                if let Some(info) = self.get("--optimization-level") {
                    out.flags.push(ParsedFlag {
                        written: arg.clone(),
                        flag: info.flag,
                        dest: info.dest,
                        index: i,
                        values: vec![(level.to_owned(), i)],
                        json_key: None,
                    });
                }
                i += 1;
                continue;
            }
            // A lone `-O` is only rewritten when a level 0-3 follows; otherwise argparse does not know it.
            if arg == "-O"
                && !args
                    .get(i + 1)
                    .is_some_and(|n| ["0", "1", "2", "3"].contains(&n.as_str()))
            {
                out.problems.push(CommandProblem::UnknownFlag {
                    index: i,
                    written: arg.clone(),
                    suggestion: Some("--optimization-level"),
                });
                i += 1;
                continue;
            }
            let lookup = self.lookup(name);
            let (info, json_key) = match lookup {
                FlagLookup::Known(info) => (info, None),
                FlagLookup::Deprecated {
                    info,
                    replacement,
                    why,
                } => {
                    out.problems.push(CommandProblem::DeprecatedFlag {
                        index: i,
                        flag: info.flag,
                        replacement,
                        why,
                    });
                    (info, None)
                }
                FlagLookup::Abbreviation { of } => {
                    out.problems.push(CommandProblem::Abbreviated {
                        index: i,
                        written: name.to_owned(),
                        full: of.flag,
                    });
                    (of, None)
                }
                FlagLookup::DottedJson { base, key } => (base, Some(key)),
                FlagLookup::Unknown { suggestion } => {
                    out.problems.push(CommandProblem::UnknownFlag {
                        index: i,
                        written: name.to_owned(),
                        suggestion,
                    });
                    // Unknown arity: a following non-flag is most likely its value, not the model.
                    i += 1;
                    if inline.is_none() && args.get(i).is_some_and(|a| !looks_like_flag(a)) {
                        i += 1;
                    }
                    continue;
                }
            };
            let flag_index = i;
            i += 1;
            let mut values: Vec<(String, usize)> = Vec::new();
            if json_key.is_some() {
                // vLLM takes the next argument unconditionally as the value of a dotted key.
                match inline {
                    Some(v) => values.push((v, flag_index)),
                    None => match args.get(i) {
                        Some(v) => {
                            values.push((v.clone(), i));
                            i += 1;
                        }
                        None => out.problems.push(CommandProblem::MissingValue {
                            index: flag_index,
                            flag: info.flag,
                        }),
                    },
                }
            } else {
                match (info.nargs, inline) {
                    (Nargs::Zero, Some(_)) => out.problems.push(CommandProblem::UnexpectedValue {
                        index: flag_index,
                        flag: info.flag,
                    }),
                    (Nargs::Zero, None) => {}
                    (_, Some(v)) => values.push((v, flag_index)),
                    (Nargs::One, None) => match args.get(i) {
                        Some(v) if !looks_like_flag(v) => {
                            values.push((v.clone(), i));
                            i += 1;
                        }
                        _ => out.problems.push(CommandProblem::MissingValue {
                            index: flag_index,
                            flag: info.flag,
                        }),
                    },
                    (Nargs::Optional, None) => {
                        if let Some(v) = args.get(i).filter(|v| !looks_like_flag(v)) {
                            values.push((v.clone(), i));
                            i += 1;
                        }
                    }
                    (Nargs::OneOrMore, None) => {
                        while let Some(v) = args.get(i).filter(|v| !looks_like_flag(v)) {
                            values.push((v.clone(), i));
                            i += 1;
                        }
                        if values.is_empty() {
                            out.problems.push(CommandProblem::MissingValue {
                                index: flag_index,
                                flag: info.flag,
                            });
                        }
                    }
                }
                if !info.choices.is_empty() {
                    for (v, _) in &values {
                        if !info.choices.contains(&v.as_str()) {
                            out.problems.push(CommandProblem::InvalidChoice {
                                index: flag_index,
                                flag: info.flag,
                                value: v.clone(),
                                choices: info.choices.clone(),
                            });
                        }
                    }
                }
            }
            if info.flag == "--model"
                && json_key.is_none()
                && let Some((v, vi)) = values.first()
            {
                model_flag = Some((v.clone(), *vi));
            }
            if info.flag == "--config"
                && let Some((v, vi)) = values.first()
            {
                out.config_file = Some((v.clone(), *vi));
            }
            out.flags.push(ParsedFlag {
                written: arg.clone(),
                flag: info.flag,
                dest: info.dest,
                index: flag_index,
                values,
                json_key,
            });
        }

        // argparse fills the single optional positional (`model_tag`) with the first positional it meets.
        let mut positionals = positionals.into_iter();
        let positional_model = positionals.next();
        for (value, index) in positionals {
            out.problems
                .push(CommandProblem::ExtraPositional { index, value });
        }
        match (positional_model, model_flag) {
            (Some((value, index)), Some((_, flag_index))) => {
                out.problems.push(CommandProblem::ModelGivenTwice {
                    positional: index,
                    flag: flag_index,
                });
                out.model = Some(ModelArg {
                    value,
                    index,
                    source: ModelSource::Positional,
                });
            }
            (Some((value, index)), None) => {
                out.model = Some(ModelArg {
                    value,
                    index,
                    source: ModelSource::Positional,
                })
            }
            (None, Some((value, index))) => {
                out.model = Some(ModelArg {
                    value,
                    index,
                    source: ModelSource::ModelFlag,
                })
            }
            (None, None) => {
                if out.config_file.is_none() {
                    if let Some(f) = out.flags.iter().find(|f| f.dest == "served_model_name") {
                        out.problems
                            .push(CommandProblem::ServedNameWithoutModel { index: f.index });
                        if let Some((_, vi)) = f.values.get(1)
                            && f.values.len() > 1
                        {
                            out.problems.push(CommandProblem::ModelSwallowed {
                                flag_index: f.index,
                                value_index: *vi,
                            });
                        }
                    } else {
                        out.problems.push(CommandProblem::NoModel);
                    }
                }
            }
        }
        // A `+` flag that swallowed a model-looking value while no model was found elsewhere.
        if out.model.is_none() {
            for f in &out.flags {
                if f.dest != "served_model_name"
                    && self
                        .get(f.flag)
                        .is_some_and(|i| i.nargs == Nargs::OneOrMore)
                    && f.values.len() > 1
                    && let Some((_, vi)) = f.values.last()
                {
                    out.problems.push(CommandProblem::ModelSwallowed {
                        flag_index: f.index,
                        value_index: *vi,
                    });
                }
            }
        }

        // Duplicates by destination: later wins silently in argparse, which hides mistakes.
        let mut seen: HashMap<&'static str, usize> = HashMap::new();
        for f in &out.flags {
            if f.json_key.is_some() || self.get(f.flag).is_some_and(FlagInfo::repeatable) {
                continue;
            }
            if let Some(first) = seen.insert(f.dest, f.index) {
                out.problems.push(CommandProblem::Duplicate {
                    first,
                    second: f.index,
                    dest: f.dest,
                });
            }
        }
        out
    }
}

/// argparse treats an argument as a flag when it starts with `-` and is not a negative number (vLLM registers no
/// option that looks like a negative number, so `-1` is a value).
fn looks_like_flag(arg: &str) -> bool {
    if !arg.starts_with('-') || arg == "-" {
        return false;
    }
    let rest = &arg[1..];
    !(rest.parse::<f64>().is_ok()
        && rest
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_digit() || c == '.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v33() -> &'static VllmFlags {
        VllmFlags::for_version("0.33.0").expect("table for 0.33.0")
    }

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn table_has_all_435_option_strings_of_v0_33_0() {
        let t = v33();
        assert_eq!(t.len(), 435);
        assert_eq!(t.version, Version::new(0, 33, 0));
        // Same set as the .txt file (the two data files must not drift apart).
        let txt = include_str!("../data/flags-v0.33.0.txt");
        let mut from_txt: Vec<&str> = txt
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .collect();
        from_txt.sort_unstable();
        assert_eq!(from_txt, t.names());
    }

    #[test]
    fn version_lookup_accepts_v_prefix_and_rejects_unknown() {
        assert!(VllmFlags::for_version("v0.33.0").is_some());
        assert!(VllmFlags::for_version("0.32.0").is_none());
        assert!(VllmFlags::for_version("latest").is_none());
        assert_eq!(VllmFlags::latest().version, Version::new(0, 33, 0));
        assert_eq!(VllmFlags::known_versions(), vec![Version::new(0, 33, 0)]);
    }

    #[test]
    fn otlp_traces_endpoint_is_known_and_takes_one_value() {
        let FlagLookup::Known(info) = v33().lookup("--otlp-traces-endpoint") else {
            panic!("expected known");
        };
        assert!(info.takes_value);
        assert_eq!(info.nargs, Nargs::One);
        assert_eq!(info.dest, "otlp_traces_endpoint");
        assert_eq!(info.group, "ObservabilityConfig");
    }

    #[test]
    fn underscore_and_equals_spellings_resolve_to_the_registered_flag() {
        for w in [
            "--max_model_len",
            "--max-model-len=8192",
            "--max_model_len=8192",
        ] {
            match v33().lookup(w) {
                FlagLookup::Known(info) => assert_eq!(info.flag, "--max-model-len", "{w}"),
                other => panic!("{w}: {other:?}"),
            }
        }
        // Single-dash aliases are not normalised, and keep their own registration.
        assert!(
            matches!(v33().lookup("-tp"), FlagLookup::Known(i) if i.dest == "tensor_parallel_size")
        );
    }

    #[test]
    fn optimization_level_short_forms() {
        for w in ["-O3", "-O=3", "-O", "-Odecode"] {
            assert!(
                matches!(v33().lookup(w), FlagLookup::Known(i) if i.flag == "--optimization-level"),
                "{w}"
            );
        }
    }

    #[test]
    fn model_flag_is_deprecated() {
        match v33().lookup("--model") {
            FlagLookup::Deprecated {
                info, replacement, ..
            } => {
                assert_eq!(info.flag, "--model");
                assert!(replacement.contains("positional"));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            v33().lookup("--model=X"),
            FlagLookup::Deprecated { .. }
        ));
    }

    #[test]
    fn negative_forms_are_listed_flags_sharing_the_dest() {
        let t = v33();
        let FlagLookup::Known(on) = t.lookup("--enable-prefix-caching") else {
            panic!()
        };
        let FlagLookup::Known(off) = t.lookup("--disable-prefix-caching") else {
            panic!()
        };
        assert_eq!(on.dest, off.dest);
        assert_eq!(on.nargs, Nargs::Zero);
        assert!(matches!(
            t.lookup("--no-kv-sharing-fast-prefill"),
            FlagLookup::Known(_)
        ));
        // Not every flag has a `--no-` form.
        assert!(matches!(
            t.lookup("--no-enable-prefix-caching"),
            FlagLookup::Unknown { .. }
        ));
        assert_eq!(
            t.same_dest("--tensor-parallel-size"),
            vec!["--tensor-parallel-size", "-tp"]
        );
    }

    #[test]
    fn typo_is_unknown_with_suggestion() {
        assert_eq!(
            v33().lookup("--max-model-lenght"),
            FlagLookup::Unknown {
                suggestion: Some("--max-model-len")
            }
        );
        assert_eq!(
            v33().lookup("--otlp-trace-endpoint"),
            FlagLookup::Unknown {
                suggestion: Some("--otlp-traces-endpoint")
            }
        );
        assert_eq!(
            v33().lookup("--zzzzzzzzzzzzzzzz"),
            FlagLookup::Unknown { suggestion: None }
        );
    }

    #[test]
    fn unique_prefix_is_an_abbreviation_ambiguous_prefix_is_unknown() {
        assert!(matches!(
            v33().lookup("--otlp-traces"),
            FlagLookup::Abbreviation { of } if of.flag == "--otlp-traces-endpoint"
        ));
        // `--max-` prefixes many flags: argparse calls it ambiguous.
        assert!(matches!(v33().lookup("--max-"), FlagLookup::Unknown { .. }));
    }

    #[test]
    fn dotted_json_keys_attach_to_their_base_flag() {
        match v33().lookup("--compilation-config.mode") {
            FlagLookup::DottedJson { base, key } => {
                assert_eq!(base.flag, "--compilation-config");
                assert_eq!(key, "mode");
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            v33().lookup("--compilation_config.pass_config.x+"),
            FlagLookup::DottedJson { key, .. } if key == "pass_config.x"
        ));
        assert!(matches!(
            v33().lookup("-cc.mode"),
            FlagLookup::DottedJson { .. }
        ));
        assert!(matches!(
            v33().lookup("--nope.mode"),
            FlagLookup::Unknown { .. }
        ));
        // A switch has no JSON value to set keys in.
        assert!(matches!(
            v33().lookup("--enforce-eager.x"),
            FlagLookup::Unknown { .. }
        ));
    }

    #[test]
    fn advice_table() {
        let redundant: Vec<_> = flag_advice("--enable-chunked-prefill").collect();
        assert_eq!(redundant.len(), 1);
        assert_eq!(redundant[0].kind, AdviceKind::Redundant);
        assert!(flag_advice("--enable-prefix-caching").any(|a| a.kind == AdviceKind::Redundant));
        assert!(flag_advice("--max-model-len").next().is_none());
        // Every advised flag exists in the table.
        for a in FLAG_ADVICE {
            assert!(v33().get(a.flag).is_some(), "{}", a.flag);
        }
        for d in DEPRECATED_FLAGS {
            assert!(v33().get(d.flag).is_some(), "{}", d.flag);
        }
    }

    #[test]
    fn parse_finds_positional_model_and_flag_values() {
        let p = v33().parse_command(&args(&[
            "Qwen/Qwen2.5-1.5B-Instruct",
            "--max-model-len",
            "8192",
        ]));
        assert_eq!(
            p.model,
            Some(ModelArg {
                value: "Qwen/Qwen2.5-1.5B-Instruct".into(),
                index: 0,
                source: ModelSource::Positional
            })
        );
        assert_eq!(p.flags.len(), 1);
        assert_eq!(p.flags[0].flag, "--max-model-len");
        assert_eq!(p.flags[0].index, 1);
        assert_eq!(p.flags[0].values, vec![("8192".to_string(), 2)]);
        assert!(p.problems.is_empty(), "{:?}", p.problems);
        assert_eq!(p.value_of("--max-model-len"), Some("8192"));
    }

    #[test]
    fn parse_model_after_flags_is_still_positional() {
        let p = v33().parse_command(&args(&[
            "--max-model-len",
            "8192",
            "Qwen/Q",
            "--enforce-eager",
        ]));
        assert_eq!(
            p.model.as_ref().map(|m| (m.value.as_str(), m.index)),
            Some(("Qwen/Q", 2))
        );
        assert!(p.problems.is_empty(), "{:?}", p.problems);
    }

    #[test]
    fn parse_model_flag_is_found_and_reported_deprecated() {
        let p = v33().parse_command(&args(&["--model", "X"]));
        assert_eq!(
            p.model,
            Some(ModelArg {
                value: "X".into(),
                index: 1,
                source: ModelSource::ModelFlag
            })
        );
        assert!(matches!(
            p.problems[..],
            [CommandProblem::DeprecatedFlag {
                index: 0,
                flag: "--model",
                ..
            }]
        ));
        let p = v33().parse_command(&args(&["--model=X"]));
        assert_eq!(p.model.as_ref().map(|m| m.index), Some(0));
    }

    #[test]
    fn parse_leading_serve_is_reported() {
        let p = v33().parse_command(&args(&["serve", "Qwen/Q"]));
        assert_eq!(p.problems[0], CommandProblem::LeadingServe { index: 0 });
        assert_eq!(p.model.as_ref().map(|m| m.value.as_str()), Some("Qwen/Q"));
        let p = v33().parse_command(&args(&["vllm", "serve", "Qwen/Q"]));
        assert_eq!(p.problems, vec![CommandProblem::LeadingServe { index: 0 }]);
        assert_eq!(p.model.as_ref().map(|m| m.index), Some(2));
    }

    #[test]
    fn parse_tutorial_command() {
        // The tutorial's shape (stack-content.md §5 items 3, 4): `--model` plus a redundant switch.
        let p = v33().parse_command(&args(&[
            "--model",
            "Qwen/Qwen2.5-1.5B-Instruct",
            "--enable-chunked-prefill",
            "--otlp-traces-endpoint",
            "http://otel-collector:4317",
            "--collect-detailed-traces",
            "all",
        ]));
        assert_eq!(
            p.model.as_ref().map(|m| m.source),
            Some(ModelSource::ModelFlag)
        );
        assert_eq!(p.problems.len(), 1, "{:?}", p.problems);
        let advice: Vec<_> = p
            .advice()
            .into_iter()
            .map(|(i, a)| (i, a.flag, a.kind))
            .collect();
        assert_eq!(
            advice,
            vec![
                (2, "--enable-chunked-prefill", AdviceKind::Redundant),
                (5, "--collect-detailed-traces", AdviceKind::NoEffect),
            ]
        );
    }

    #[test]
    fn advice_on_flag_combinations() {
        let p = v33().parse_command(&args(&["M", "--collect-detailed-traces", "model,worker"]));
        assert!(
            p.advice()
                .iter()
                .any(|(_, a)| a.kind == AdviceKind::Requires("--otlp-traces-endpoint"))
        );
        let p = v33().parse_command(&args(&["M", "--disable-log-stats"]));
        assert!(p.advice().is_empty());
        let p = v33().parse_command(&args(&[
            "M",
            "--disable-log-stats",
            "--otlp-traces-endpoint",
            "http://c:4317",
        ]));
        assert!(
            p.advice()
                .iter()
                .any(|(i, a)| *i == 1 && matches!(a.kind, AdviceKind::RiskyWith(_)))
        );
    }

    #[test]
    fn parse_invalid_choice_and_missing_value() {
        let p = v33().parse_command(&args(&["M", "--collect-detailed-traces", "everything"]));
        assert!(
            matches!(&p.problems[..], [CommandProblem::InvalidChoice { value, .. }] if value == "everything")
        );
        let p = v33().parse_command(&args(&["M", "--max-model-len"]));
        assert_eq!(
            p.problems,
            vec![CommandProblem::MissingValue {
                index: 1,
                flag: "--max-model-len"
            }]
        );
        let p = v33().parse_command(&args(&["M", "--max-model-len", "--enforce-eager"]));
        assert!(matches!(
            p.problems[..],
            [CommandProblem::MissingValue { index: 1, .. }]
        ));
    }

    #[test]
    fn parse_switch_with_inline_value_is_rejected() {
        let p = v33().parse_command(&args(&["M", "--enforce-eager=true"]));
        assert_eq!(
            p.problems,
            vec![CommandProblem::UnexpectedValue {
                index: 1,
                flag: "--enforce-eager"
            }]
        );
    }

    #[test]
    fn parse_unknown_flag_does_not_eat_the_model_detection() {
        let p = v33().parse_command(&args(&[
            "M",
            "--max-model-lenght",
            "8192",
            "--port",
            "8000",
        ]));
        assert_eq!(p.model.as_ref().map(|m| m.value.as_str()), Some("M"));
        assert_eq!(
            p.problems,
            vec![CommandProblem::UnknownFlag {
                index: 1,
                written: "--max-model-lenght".into(),
                suggestion: Some("--max-model-len")
            }]
        );
        assert_eq!(p.value_of("--port"), Some("8000"));
    }

    #[test]
    fn parse_extra_positional_and_double_model() {
        let p = v33().parse_command(&args(&["A", "B"]));
        assert_eq!(
            p.problems,
            vec![CommandProblem::ExtraPositional {
                index: 1,
                value: "B".into()
            }]
        );
        let p = v33().parse_command(&args(&["A", "--model", "B"]));
        assert!(p.problems.contains(&CommandProblem::ModelGivenTwice {
            positional: 0,
            flag: 2
        }));
    }

    #[test]
    fn parse_served_model_name_without_model() {
        let p = v33().parse_command(&args(&["--served-model-name", "qwen", "--port", "8000"]));
        assert_eq!(p.model, None);
        assert_eq!(
            p.problems,
            vec![CommandProblem::ServedNameWithoutModel { index: 0 }]
        );
        // nargs='+' swallows what was meant as the model.
        let p = v33().parse_command(&args(&["--served-model-name", "qwen", "Qwen/Q"]));
        assert_eq!(p.model, None);
        assert!(p.problems.contains(&CommandProblem::ModelSwallowed {
            flag_index: 0,
            value_index: 2
        }));
        // With --config the model may come from the file.
        let p = v33().parse_command(&args(&["--config", "c.yaml", "--served-model-name", "q"]));
        assert!(p.problems.is_empty(), "{:?}", p.problems);
        assert_eq!(p.config_file, Some(("c.yaml".to_string(), 1)));
    }

    #[test]
    fn parse_no_model() {
        let p = v33().parse_command(&args(&["--port", "8000"]));
        assert_eq!(p.problems, vec![CommandProblem::NoModel]);
    }

    #[test]
    fn parse_duplicates_by_dest_including_aliases_and_negations() {
        let p = v33().parse_command(&args(&["M", "-tp", "2", "--tensor-parallel-size", "4"]));
        assert_eq!(
            p.problems,
            vec![CommandProblem::Duplicate {
                first: 1,
                second: 3,
                dest: "tensor_parallel_size"
            }]
        );
        assert_eq!(p.value_of("-tp"), Some("4"));
        let p = v33().parse_command(&args(&[
            "M",
            "--enable-prefix-caching",
            "--disable-prefix-caching",
        ]));
        assert!(matches!(p.problems[..], [CommandProblem::Duplicate { .. }]));
        // Append actions may repeat.
        let p = v33().parse_command(&args(&["M", "--middleware", "a", "--middleware", "b"]));
        assert!(p.problems.is_empty(), "{:?}", p.problems);
    }

    #[test]
    fn parse_short_optimization_level_and_negative_numbers() {
        let p = v33().parse_command(&args(&["M", "-O3", "--seed", "-1"]));
        assert!(p.problems.is_empty(), "{:?}", p.problems);
        assert_eq!(p.value_of("--optimization-level"), Some("3"));
        assert_eq!(p.value_of("--seed"), Some("-1"));
    }

    #[test]
    fn parse_lone_o_needs_a_level() {
        let p = v33().parse_command(&args(&["M", "-O", "2"]));
        assert!(p.problems.is_empty(), "{:?}", p.problems);
        assert_eq!(p.value_of("--optimization-level"), Some("2"));
        let p = v33().parse_command(&args(&["M", "-O", "--port", "8000"]));
        assert!(matches!(
            &p.problems[..],
            [CommandProblem::UnknownFlag { index: 1, .. }]
        ));
    }

    #[test]
    fn parse_dotted_json_consumes_next_value() {
        let p = v33().parse_command(&args(&[
            "M",
            "--compilation-config.mode",
            "3",
            "--port",
            "8001",
        ]));
        assert!(p.problems.is_empty(), "{:?}", p.problems);
        assert_eq!(p.flags[0].json_key.as_deref(), Some("mode"));
        assert_eq!(p.flags[0].values, vec![("3".to_string(), 2)]);
        assert_eq!(p.model.as_ref().map(|m| m.index), Some(0));
    }

    #[test]
    fn env_var_facts() {
        assert!(matches!(
            env_var("VLLM_OTLP_TRACES_ENDPOINT").map(|e| e.fact),
            Some(EnvVarFact::DoesNotExist { use_instead, .. }) if use_instead.contains("--otlp-traces-endpoint")
        ));
        assert!(matches!(
            env_var("VLLM_TRACE_FUNCTION").map(|e| e.fact),
            Some(EnvVarFact::Harmful { .. })
        ));
        assert!(matches!(
            env_var("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL").map(|e| e.fact),
            Some(EnvVarFact::Enumerated { values, default: "grpc", .. }) if values == ["grpc", "http/protobuf"]
        ));
        assert!(env_var("HF_HOME").is_none());
    }

    #[test]
    fn trace_endpoint_checks() {
        assert_eq!(
            check_trace_endpoint(None, "http://otel-collector:4317"),
            Ok(())
        );
        assert_eq!(
            check_trace_endpoint(Some("grpc"), "http://otel-collector:4317"),
            Ok(())
        );
        assert_eq!(
            check_trace_endpoint(Some("http/protobuf"), "http://c:4318/v1/traces"),
            Ok(())
        );
        assert!(matches!(
            check_trace_endpoint(Some("http/protobuf"), "http://c:4318"),
            Err(OtlpEndpointProblem::HttpPathMissing(_))
        ));
        assert!(matches!(
            check_trace_endpoint(Some("http/json"), "http://c:4318/v1/traces"),
            Err(OtlpEndpointProblem::UnsupportedProtocol(_))
        ));
        assert!(matches!(
            check_trace_endpoint(None, "otel-collector:4317"),
            Err(OtlpEndpointProblem::NoScheme(_))
        ));
    }

    #[test]
    fn image_otel_package_ranges() {
        let v = |a, b, c| image_otel_packages(Version::new(a, b, c));
        assert_eq!(v(0, 8, 5), OtelPackages::Bundled);
        assert_eq!(v(0, 9, 0), OtelPackages::Bundled);
        assert_eq!(v(0, 9, 1), OtelPackages::Unknown);
        assert_eq!(v(0, 9, 2), OtelPackages::Missing);
        assert_eq!(v(0, 15, 0), OtelPackages::Missing);
        assert_eq!(v(0, 16, 0), OtelPackages::Missing);
        assert_eq!(v(0, 17, 0), OtelPackages::Bundled);
        assert_eq!(v(0, 33, 0), OtelPackages::Bundled);
        assert_eq!(v(0, 34, 0), OtelPackages::Unknown);
        assert_eq!(v(0, 8, 4), OtelPackages::Unknown);
    }

    #[test]
    fn looks_like_flag_matches_argparse() {
        assert!(looks_like_flag("--port"));
        assert!(looks_like_flag("-tp"));
        assert!(!looks_like_flag("-1"));
        assert!(!looks_like_flag("-0.5"));
        assert!(!looks_like_flag("8192"));
        assert!(!looks_like_flag("-"));
    }
}
