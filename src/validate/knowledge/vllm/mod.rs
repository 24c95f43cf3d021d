//! vLLM `vllm serve` facts: the CLI flags per release, how the parser reads a command line, environment variables
//! that mislead, and which images carry the OpenTelemetry packages.
//!
//! Sources (see `shared/reference/stack-content.md` §1 and §5):
//! - flags: `data/flags-v0.33.0.{txt,tsv}`, produced from the v0.33.0 PyPI wheel's real parser and cross-checked
//!   against `vllm serve --help=all` (435 option strings);
//! - parser behaviour: wheel `vllm/utils/argparse_utils.py:324-409,516-645` (FlexibleArgumentParser);
//! - tracing: wheel `vllm/config/observability.py`, `vllm/tracing/otel.py`, `vllm/envs.py`;
//! - image: `docker/Dockerfile` @ `dead20ba` (`ENTRYPOINT ["vllm", "serve"]`).
//!
//! One module per concern: the flag tables and single-flag lookups (`flags`), advice on individual flags
//! (`advice`), reading a whole command line (`command`), environment variables and the trace endpoint
//! (`tracing`), and image facts by release (`image`).

mod advice;
mod command;
mod flags;
mod image;
mod tracing;

pub use advice::{AdviceKind, DeprecatedFlag, FlagAdvice, deprecated_flag, flag_advice};
pub use command::{CommandProblem, ModelArg, ModelSource, ParsedCommand, ParsedFlag};
pub use flags::{FlagInfo, FlagLookup, Nargs, VllmFlags};
pub use image::{OtelPackages, image_otel_packages};
pub use tracing::{
    EnvVarFact, EnvVarInfo, OTLP_PROTOCOLS, OtlpEndpointProblem, check_trace_endpoint, env_var,
};

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

#[cfg(test)]
mod tests;
