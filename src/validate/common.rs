//! Small parsers and lookups the rules share: image references, endpoints, volume mounts, and which
//! services run which collector config.
//!
use super::knowledge::images;
use crate::config::{Collector, Compose, FileSource, Service, Stack, value};

/// A container image reference, split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    /// Repository without the default registry and `library/` prefix: `vllm/vllm-openai`, `postgres`.
    pub repository: String,
    pub tag: Option<String>,
    pub digest: Option<String>,
}

impl ImageRef {
    /// `None` when the reference is not known yet (it depends on a value only known after apply) or
    /// is malformed (reported by the compose rules).
    pub fn parse(text: &str) -> Option<Self> {
        if value::is_unknown(text) {
            return None;
        }
        let parsed = images::ImageRef::parse(text).ok()?;
        let repository = if parsed.is_docker_hub() {
            parsed.short_repository().to_string()
        } else {
            format!(
                "{}/{}",
                parsed.registry.as_deref().unwrap_or_default(),
                parsed.repository
            )
        };
        Some(Self {
            repository,
            tag: parsed.tag,
            digest: parsed.digest,
        })
    }

    /// Pinned means a digest, or a tag other than `latest`.
    pub fn is_pinned(&self) -> bool {
        self.digest.is_some() || self.tag.as_deref().is_some_and(|t| t != "latest")
    }
}

/// The image repository of a service, if known.
pub fn repository(service: &Service) -> Option<String> {
    ImageRef::parse(&service.image.value).map(|i| i.repository)
}

pub const VLLM_IMAGE: &str = "vllm/vllm-openai";
pub const SIGNOZ_IMAGE: &str = "signoz/signoz";
pub const SIGNOZ_COLLECTOR_IMAGE: &str = "signoz/signoz-otel-collector";
pub const CLICKHOUSE_IMAGE: &str = "clickhouse/clickhouse-server";

pub fn is_image(service: &Service, repo: &str) -> bool {
    repository(service).is_some_and(|r| r == repo)
}

/// The start of a help line naming a close match ("did you mean `x`? "), or nothing when there is none, so
/// every rule words a typo hint the same way.
pub fn did_you_mean(suggestion: Option<&str>) -> String {
    suggestion.map_or_else(String::new, |s| format!("did you mean `{s}`? "))
}

/// `scheme://host:port/path` or `host:port`, as the OTLP exporters and vLLM take it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub scheme: Option<String>,
    pub host: String,
    pub port: Option<u16>,
    pub path: String,
}

impl Endpoint {
    pub fn parse(text: &str) -> Option<Self> {
        if value::is_unknown(text) {
            return None;
        }
        let (scheme, rest) = match text.split_once("://") {
            Some((s, r)) => (Some(s.to_string()), r),
            None => (None, text),
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], rest[i..].to_string()),
            None => (rest, String::new()),
        };
        let authority = authority.rsplit('@').next().unwrap_or(authority);
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (h, after) = v6.split_once(']')?;
            (
                h.to_string(),
                after.strip_prefix(':').and_then(|p| p.parse().ok()),
            )
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h.to_string(), Some(p.parse().ok()?)),
                None => (authority.to_string(), None),
            }
        };
        if host.is_empty() {
            return None;
        }
        Some(Self {
            scheme,
            host,
            port,
            path,
        })
    }

    /// `localhost` or a loopback address: inside a container, the container itself.
    pub fn is_loopback(&self) -> bool {
        self.host == "localhost" || self.host.starts_with("127.") || self.host == "::1"
    }

    /// A bare name such as `otel-collector`: resolved by the compose network, so it must be a service.
    pub fn is_single_label_name(&self) -> bool {
        !self.host.contains('.')
            && !self.host.contains(':')
            && self.host != "localhost"
            && self.host.parse::<std::net::IpAddr>().is_err()
    }
}

/// A compose short-syntax volume entry: `source:target[:mode]` or just `target` (anonymous).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    pub source: Option<String>,
    pub target: String,
    pub read_only: bool,
}

impl Mount {
    pub fn parse(text: &str) -> Option<Self> {
        if value::is_unknown(text) {
            return None;
        }
        let parts: Vec<&str> = text.split(':').collect();
        match parts.as_slice() {
            [target] => Some(Self {
                source: None,
                target: target.to_string(),
                read_only: false,
            }),
            [source, target] => Some(Self {
                source: Some(source.to_string()),
                target: target.to_string(),
                read_only: false,
            }),
            [source, target, mode] => Some(Self {
                source: Some(source.to_string()),
                target: target.to_string(),
                read_only: mode.split(',').any(|m| m == "ro"),
            }),
            _ => None,
        }
    }

    /// A bind mount names a host path; anything else is a named volume.
    pub fn is_bind(&self) -> bool {
        self.source
            .as_deref()
            .is_some_and(|s| s.starts_with('/') || s.starts_with('.') || s.starts_with('~'))
    }

    pub fn named_volume(&self) -> Option<&str> {
        match &self.source {
            Some(s) if !self.is_bind() => Some(s),
            _ => None,
        }
    }

    /// Whether `path` (inside the container) is this mount's target or below it.
    pub fn covers(&self, path: &str) -> bool {
        is_under(path, &self.target)
    }
}

/// `path` equals `dir` or lies below it (on a `/` boundary).
pub fn is_under(path: &str, dir: &str) -> bool {
    let dir = dir.trim_end_matches('/');
    if dir.is_empty() {
        return path.starts_with('/');
    }
    path == dir || path.strip_prefix(dir).is_some_and(|r| r.starts_with('/'))
}

/// Lexically normalise an absolute path (`/a/./b/../c` -> `/a/c`).
pub fn normalise_path(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for p in path.split('/') {
        match p {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    format!("/{}", parts.join("/"))
}

/// The services (with their compose project) that mount the rendered config of `collector`.
pub fn collector_services<'a>(
    stack: &'a Stack,
    collector: &Collector,
) -> Vec<(&'a Compose, &'a Service)> {
    let mut out = Vec::new();
    for compose in &stack.composes {
        for service in &compose.services {
            let mounts_it = service.files.iter().any(
                |f| matches!(&f.source, FileSource::Collector(name) if name.value == collector.name),
            );
            if mounts_it {
                out.push((compose, service));
            }
        }
    }
    out
}

/// The collectors a service runs (by its mounted config files).
pub fn collectors_of<'a>(stack: &'a Stack, service: &Service) -> Vec<&'a Collector> {
    service
        .files
        .iter()
        .filter_map(|f| match &f.source {
            FileSource::Collector(name) => stack.collector(&name.value),
            FileSource::Content(_) => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_references_split_like_docker() {
        let i = ImageRef::parse("vllm/vllm-openai:v0.33.0").unwrap();
        assert_eq!(i.repository, "vllm/vllm-openai");
        assert_eq!(i.tag.as_deref(), Some("v0.33.0"));
        assert!(i.is_pinned());
        let i = ImageRef::parse("registry.example:5000/team/app").unwrap();
        assert_eq!(i.repository, "registry.example:5000/team/app");
        assert_eq!(i.tag, None);
        assert!(!i.is_pinned());
        assert!(!ImageRef::parse("signoz/signoz:latest").unwrap().is_pinned());
        let digest = format!("docker.io/library/postgres@sha256:{}", "a".repeat(64));
        assert!(ImageRef::parse(&digest).unwrap().is_pinned());
        assert_eq!(ImageRef::parse("Bad/Name:1"), None);
        assert_eq!(
            ImageRef::parse("docker.io/library/postgres:16")
                .unwrap()
                .repository,
            "postgres"
        );
        assert_eq!(ImageRef::parse(&value::after_apply("x.y")), None);
    }

    #[test]
    fn endpoints_parse_with_and_without_scheme() {
        let e = Endpoint::parse("http://otel-collector:4317").unwrap();
        assert_eq!(
            (e.host.as_str(), e.port, e.path.as_str()),
            ("otel-collector", Some(4317), "")
        );
        assert!(e.is_single_label_name());
        let e = Endpoint::parse("signoz:4317").unwrap();
        assert_eq!((e.scheme, e.host.as_str()), (None, "signoz"));
        let e = Endpoint::parse("http://[::1]:4318/v1/traces").unwrap();
        assert!(e.is_loopback());
        assert_eq!(e.path, "/v1/traces");
        assert!(
            !Endpoint::parse("10.0.0.2:4317")
                .unwrap()
                .is_single_label_name()
        );
        assert!(
            !Endpoint::parse("ingest.example.com:4317")
                .unwrap()
                .is_single_label_name()
        );
    }

    #[test]
    fn mounts_tell_bind_from_named() {
        let m = Mount::parse("./audit:/var/lib/otelcol/audit").unwrap();
        assert!(m.is_bind());
        assert!(m.covers("/var/lib/otelcol/audit/spans.jsonl"));
        assert!(!m.covers("/var/lib/otelcol/auditx"));
        let m = Mount::parse("hf-cache:/root/.cache/huggingface:ro").unwrap();
        assert_eq!(m.named_volume(), Some("hf-cache"));
        assert!(m.read_only);
        assert_eq!(
            normalise_path("/opt/x/./audit/../audit/s"),
            "/opt/x/audit/s"
        );
    }
}
