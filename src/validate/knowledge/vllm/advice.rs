//! Facts about individual flags: which are deprecated, and which are valid but still worth a word.

use super::OTLP_TRACES_ENDPOINT_FLAG;

/// A deprecated flag and what to write instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeprecatedFlag {
    pub flag: &'static str,
    pub replacement: &'static str,
    pub why: &'static str,
}

/// Source: wheel `vllm/utils/argparse_utils.py:324-335` (v0.33.0): "With `vllm serve`, you should provide the model
/// as a positional argument ... The `--model` option will be removed in a future version."
pub(super) const DEPRECATED_FLAGS: &[DeprecatedFlag] = &[DeprecatedFlag {
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
pub(super) const FLAG_ADVICE: &[FlagAdvice] = &[
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

/// Advice entries for a registered option string (after [`VllmFlags::lookup`](super::VllmFlags::lookup) canonicalisation).
pub fn flag_advice(flag: &str) -> impl Iterator<Item = &'static FlagAdvice> + '_ {
    FLAG_ADVICE.iter().filter(move |a| a.flag == flag)
}
