//! What the collector stand-in reads from the rendered `config.yaml`, checked the way the real
//! collector checks it before it starts: every pipeline names components that are defined,
//! has a receiver and an exporter, and every component type is one the stand-in knows.
//!
//! Implemented: `otlp` receivers (traces over gRPC and HTTP), `file` exporters, `otlp` and
//! `otlp_grpc` exporters in plain text (`tls: {insecure: true}`), the `health_check` extension.
//! Known but inert (accepted so the reference stack's config loads, and listed in the
//! stand-in's docs): every other type in [`INERT`], and OTLP exporters that would use TLS.

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::PathBuf;

/// Component types the stand-in accepts without implementing them, by section.
pub const INERT: [(&str, &[&str]); 4] = [
    ("receivers", &["prometheus"]),
    (
        "processors",
        &[
            "batch",
            "memory_limiter",
            "resource",
            "transform",
            "attributes",
        ],
    ),
    ("exporters", &["otlphttp", "debug"]),
    ("extensions", &[]),
];

/// Types the stand-in implements, by section.
const IMPLEMENTED: [(&str, &[&str]); 4] = [
    ("receivers", &["otlp"]),
    ("processors", &[]),
    ("exporters", &["file", "otlp", "otlp_grpc"]),
    ("extensions", &["health_check"]),
];

/// The exporter types that send traces on over OTLP/gRPC.
const OTLP_GRPC_EXPORTERS: [&str; 2] = ["otlp", "otlp_grpc"];

/// The default endpoints of the `otlp` receiver's protocols (collector >= 0.104).
const DEFAULT_GRPC: &str = "localhost:4317";
const DEFAULT_HTTP: &str = "localhost:4318";
const DEFAULT_HEALTH: &str = "localhost:13133";

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ConfigError {
    #[error("cannot parse the config as YAML: {0}")]
    Yaml(String),
    #[error("'{section}' has invalid keys: {id}: unknown type: \"{kind}\"")]
    UnknownType {
        section: String,
        id: String,
        kind: String,
    },
    #[error(
        "service::pipelines::{pipeline}: references {section} \"{id}\" which is not configured"
    )]
    Undefined {
        pipeline: String,
        section: String,
        id: String,
    },
    #[error("service::pipelines::{pipeline}: must have at least one {what}")]
    Empty { pipeline: String, what: String },
    #[error("service must have at least one pipeline")]
    NoPipelines,
    #[error("{what}: endpoint \"{endpoint}\" is not host:port")]
    Endpoint { what: String, endpoint: String },
    #[error("{what}: {why}")]
    Invalid { what: String, why: String },
}

/// An `otlp` receiver: where it listens, and which files its traces go to.
#[derive(Debug, Clone, PartialEq)]
pub struct OtlpReceiver {
    pub id: String,
    pub grpc: Option<SocketAddr>,
    pub http: Option<SocketAddr>,
    /// Paths of the `file` exporters of every traces pipeline this receiver feeds.
    pub trace_files: Vec<PathBuf>,
    /// Endpoints (`host:port`) of the plain-text OTLP/gRPC exporters of those pipelines.
    pub trace_forwards: Vec<String>,
}

/// Where the traces of one receiver go.
#[derive(Debug, Default, Clone)]
struct Outputs {
    files: BTreeSet<PathBuf>,
    forwards: BTreeSet<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CollectorConfig {
    pub receivers: Vec<OtlpReceiver>,
    /// The `health_check` extension's endpoint, when the service enables it.
    pub health_check: Option<SocketAddr>,
}

fn section<'a>(doc: &'a Value, name: &str) -> BTreeMap<&'a str, &'a Value> {
    doc.get(name)
        .and_then(Value::as_object)
        .map(|m| m.iter().map(|(k, v)| (k.as_str(), v)).collect())
        .unwrap_or_default()
}

fn component_type(id: &str) -> &str {
    id.split('/').next().unwrap_or(id)
}

fn known(table: &[(&str, &[&str])], section: &str, kind: &str) -> bool {
    table
        .iter()
        .any(|(s, kinds)| *s == section && kinds.contains(&kind))
}

fn check_types(doc: &Value) -> Result<(), ConfigError> {
    for (name, _) in IMPLEMENTED {
        for id in section(doc, name).keys() {
            let kind = component_type(id);
            if !known(&IMPLEMENTED, name, kind) && !known(&INERT, name, kind) {
                return Err(ConfigError::UnknownType {
                    section: name.to_string(),
                    id: id.to_string(),
                    kind: kind.to_string(),
                });
            }
        }
    }
    Ok(())
}

fn endpoint(what: &str, value: Option<&Value>, default: &str) -> Result<SocketAddr, ConfigError> {
    let text = value
        .and_then(|v| v.get("endpoint"))
        .and_then(Value::as_str)
        .unwrap_or(default);
    let bad = || ConfigError::Endpoint {
        what: what.to_string(),
        endpoint: text.to_string(),
    };
    let (host, port) = text.rsplit_once(':').ok_or_else(bad)?;
    let port: u16 = port.parse().map_err(|_| bad())?;
    let ip = match host {
        "" | "0.0.0.0" => std::net::Ipv4Addr::UNSPECIFIED.into(),
        "localhost" => std::net::Ipv4Addr::LOCALHOST.into(),
        other => other.parse().map_err(|_| bad())?,
    };
    Ok(SocketAddr::new(ip, port))
}

fn names<'a>(pipeline: &'a Value, key: &str) -> Vec<&'a str> {
    pipeline
        .get(key)
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

/// Checks one pipeline's references; returns its receivers and exporters.
fn pipeline_refs<'a>(
    doc: &Value,
    name: &str,
    pipeline: &'a Value,
) -> Result<(Vec<&'a str>, Vec<&'a str>), ConfigError> {
    for (key, sect) in [
        ("receivers", "receivers"),
        ("processors", "processors"),
        ("exporters", "exporters"),
    ] {
        let defined = section(doc, sect);
        if let Some(id) = names(pipeline, key)
            .into_iter()
            .find(|id| !defined.contains_key(id))
        {
            return Err(ConfigError::Undefined {
                pipeline: name.to_string(),
                section: sect.trim_end_matches('s').to_string(),
                id: id.to_string(),
            });
        }
    }
    let (receivers, exporters) = (names(pipeline, "receivers"), names(pipeline, "exporters"));
    for (list, what) in [(&receivers, "receiver"), (&exporters, "exporter")] {
        if list.is_empty() {
            return Err(ConfigError::Empty {
                pipeline: name.to_string(),
                what: what.to_string(),
            });
        }
    }
    Ok((receivers, exporters))
}

fn file_path(doc: &Value, id: &str) -> Result<PathBuf, ConfigError> {
    section(doc, "exporters")
        .get(id)
        .and_then(|v| v.get("path"))
        .and_then(Value::as_str)
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .ok_or_else(|| ConfigError::Invalid {
            what: format!("exporters::{id}"),
            why: "path must be non-empty".to_string(),
        })
}

/// The endpoint of an OTLP/gRPC exporter that sends in plain text; `None` for one that would
/// use TLS, which the stand-in cannot (it stays inert, as if it dropped what it gets).
fn plain_forward(doc: &Value, id: &str) -> Result<Option<String>, ConfigError> {
    let config = section(doc, "exporters").get(id).copied();
    let endpoint = config
        .and_then(|v| v.get("endpoint"))
        .and_then(Value::as_str)
        .filter(|e| !e.is_empty())
        .ok_or_else(|| ConfigError::Invalid {
            what: format!("exporters::{id}"),
            why: "requires a non-empty \"endpoint\"".to_string(),
        })?;
    let insecure = config
        .and_then(|v| v.get("tls"))
        .and_then(|t| t.get("insecure"))
        .and_then(Value::as_bool)
        .unwrap_or(false);
    Ok(insecure.then(|| endpoint.to_string()))
}

/// Where each receiver's traces go, over every traces pipeline.
fn trace_outputs(doc: &Value) -> Result<BTreeMap<String, Outputs>, ConfigError> {
    let service = doc.get("service").cloned().unwrap_or(Value::Null);
    let pipelines = section(&service, "pipelines");
    if pipelines.is_empty() {
        return Err(ConfigError::NoPipelines);
    }
    let mut out: BTreeMap<String, Outputs> = BTreeMap::new();
    for (name, pipeline) in pipelines {
        let (receivers, exporters) = pipeline_refs(doc, name, pipeline)?;
        if component_type(name) != "traces" {
            continue;
        }
        let mut outputs = Outputs::default();
        for id in &exporters {
            let kind = component_type(id);
            if kind == "file" {
                outputs.files.insert(file_path(doc, id)?);
            } else if OTLP_GRPC_EXPORTERS.contains(&kind) {
                outputs.forwards.extend(plain_forward(doc, id)?);
            }
        }
        for r in receivers {
            let mine = out.entry(r.to_string()).or_default();
            mine.files.extend(outputs.files.iter().cloned());
            mine.forwards.extend(outputs.forwards.iter().cloned());
        }
    }
    Ok(out)
}

/// `Some(config)` when the protocol is listed (its config may be empty: `grpc:`), else `None`.
fn protocol<'a>(protocols: Option<&'a Value>, name: &str) -> Option<Option<&'a Value>> {
    let listed = protocols?.as_object()?.get(name)?;
    Some(Some(listed).filter(|v| !v.is_null()))
}

fn health_check(doc: &Value) -> Result<Option<SocketAddr>, ConfigError> {
    let enabled = doc
        .get("service")
        .and_then(|s| s.get("extensions"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .find(|id| component_type(id) == "health_check");
    let Some(id) = enabled else {
        return Ok(None);
    };
    let extensions = section(doc, "extensions");
    let config = extensions.get(id).ok_or_else(|| ConfigError::Invalid {
        what: "service::extensions".to_string(),
        why: format!("references extension \"{id}\" which is not configured"),
    })?;
    endpoint(&format!("extensions::{id}"), Some(config), DEFAULT_HEALTH).map(Some)
}

impl CollectorConfig {
    pub fn parse(yaml: &str) -> Result<CollectorConfig, ConfigError> {
        let doc: Value =
            serde_saphyr::from_str(yaml).map_err(|e| ConfigError::Yaml(e.to_string()))?;
        check_types(&doc)?;
        let outputs = trace_outputs(&doc)?;
        let mut receivers = Vec::new();
        for (id, config) in section(&doc, "receivers") {
            if component_type(id) != "otlp" {
                continue;
            }
            let protocols = config.get("protocols");
            let (grpc, http) = (protocol(protocols, "grpc"), protocol(protocols, "http"));
            if grpc.is_none() && http.is_none() {
                return Err(ConfigError::Invalid {
                    what: format!("receivers::{id}"),
                    why: "must specify at least one protocol when using the OTLP receiver"
                        .to_string(),
                });
            }
            let what = format!("receivers::{id}::protocols");
            receivers.push(OtlpReceiver {
                id: id.to_string(),
                grpc: grpc
                    .map(|g| endpoint(&format!("{what}::grpc"), g, DEFAULT_GRPC))
                    .transpose()?,
                http: http
                    .map(|h| endpoint(&format!("{what}::http"), h, DEFAULT_HTTP))
                    .transpose()?,
                trace_files: outputs
                    .get(id)
                    .into_iter()
                    .flat_map(|o| o.files.clone())
                    .collect(),
                trace_forwards: outputs
                    .get(id)
                    .into_iter()
                    .flat_map(|o| o.forwards.clone())
                    .collect(),
            });
        }
        Ok(CollectorConfig {
            receivers,
            health_check: health_check(&doc)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shape sovstack renders for the reference stack's sidecar.
    const REFERENCE: &str = r#"
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 0.0.0.0:4317
      http:
        endpoint: 0.0.0.0:4318
  prometheus:
    config:
      scrape_configs:
      - job_name: vllm
        static_configs:
        - targets:
          - vllm:8000
processors:
  memory_limiter:
    check_interval: 1s
  transform/redact:
    error_mode: ignore
  resource:
    attributes: []
  batch:
    timeout: 5s
exporters:
  otlp_grpc/signoz:
    endpoint: 192.0.2.10:4317
  file/audit:
    path: /var/lib/otelcol/audit/spans.jsonl
extensions:
  health_check:
    endpoint: 0.0.0.0:13133
service:
  extensions:
  - health_check
  pipelines:
    traces:
      receivers: [otlp]
      processors: [memory_limiter, transform/redact, resource, batch]
      exporters: [otlp_grpc/signoz, file/audit]
    metrics:
      receivers: [prometheus, otlp]
      processors: [memory_limiter, resource, batch]
      exporters: [otlp_grpc/signoz]
"#;

    #[test]
    fn the_reference_sidecar() {
        let c = CollectorConfig::parse(REFERENCE).unwrap();
        assert_eq!(
            c.receivers,
            [OtlpReceiver {
                id: "otlp".into(),
                grpc: Some("0.0.0.0:4317".parse().unwrap()),
                http: Some("0.0.0.0:4318".parse().unwrap()),
                trace_files: vec!["/var/lib/otelcol/audit/spans.jsonl".into()],
                trace_forwards: vec![],
            }]
        );
        assert_eq!(c.health_check, Some("0.0.0.0:13133".parse().unwrap()));
    }

    /// An OTLP/gRPC exporter sends on in plain text when its TLS is off, and is inert otherwise.
    #[test]
    fn plain_text_otlp_exporters_forward() {
        let yaml = |tls: &str| {
            format!(
                "receivers:\n  otlp:\n    protocols:\n      grpc:\nexporters:\n  otlp_grpc/signoz:\n    endpoint: 10.0.0.2:4317\n{tls}  otlp:\n    endpoint: 10.0.0.3:4317\n    tls:\n      insecure: true\nservice:\n  pipelines:\n    traces:\n      receivers: [otlp]\n      exporters: [otlp_grpc/signoz, otlp]\n"
            )
        };
        let plain = CollectorConfig::parse(&yaml("    tls:\n      insecure: true\n")).unwrap();
        assert_eq!(
            plain.receivers[0].trace_forwards,
            ["10.0.0.2:4317", "10.0.0.3:4317"]
        );
        let with_tls = CollectorConfig::parse(&yaml("")).unwrap();
        assert_eq!(with_tls.receivers[0].trace_forwards, ["10.0.0.3:4317"]);
        let without_endpoint = "receivers:\n  otlp:\n    protocols:\n      grpc:\nexporters:\n  otlp: {}\nservice:\n  pipelines:\n    traces:\n      receivers: [otlp]\n      exporters: [otlp]\n";
        assert!(matches!(
            CollectorConfig::parse(without_endpoint),
            Err(ConfigError::Invalid { .. })
        ));
    }

    #[test]
    fn defaults_for_an_empty_protocol() {
        let yaml = "receivers:\n  otlp:\n    protocols:\n      grpc:\nexporters:\n  debug: {}\nservice:\n  pipelines:\n    traces:\n      receivers: [otlp]\n      exporters: [debug]\n";
        let c = CollectorConfig::parse(yaml).unwrap();
        assert_eq!(c.receivers[0].grpc, Some("127.0.0.1:4317".parse().unwrap()));
        assert_eq!(c.receivers[0].http, None);
        assert!(c.receivers[0].trace_files.is_empty());
        assert_eq!(c.health_check, None);
    }

    #[test]
    fn refused_like_the_real_collector() {
        let cases = [
            ("receivers: {}\n", ConfigError::NoPipelines),
            (
                "receivers:\n  kafka: {}\nservice:\n  pipelines: {}\n",
                ConfigError::UnknownType {
                    section: "receivers".into(),
                    id: "kafka".into(),
                    kind: "kafka".into(),
                },
            ),
            (
                "receivers:\n  otlp:\n    protocols:\n      grpc:\nservice:\n  pipelines:\n    traces:\n      receivers: [otlp]\n      exporters: [file/x]\n",
                ConfigError::Undefined {
                    pipeline: "traces".into(),
                    section: "exporter".into(),
                    id: "file/x".into(),
                },
            ),
            (
                "receivers:\n  otlp:\n    protocols:\n      grpc:\nservice:\n  pipelines:\n    traces:\n      receivers: [otlp]\n",
                ConfigError::Empty {
                    pipeline: "traces".into(),
                    what: "exporter".into(),
                },
            ),
        ];
        for (yaml, want) in cases {
            assert_eq!(CollectorConfig::parse(yaml), Err(want), "{yaml}");
        }
    }
}
