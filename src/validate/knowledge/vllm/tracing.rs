//! Tracing facts: environment variables set on the vLLM container, and what the trace endpoint must look like.

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
