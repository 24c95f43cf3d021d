//! Collector rules about the containers that run the config: where receivers bind, where the file exporter
//! writes, which image release runs it, and what vLLM beside it can feed it.

use super::{Rules, pipeline_span};
use crate::config::{ComponentKind, Diagnostic, Diagnostics, value};
use crate::validate::common::{self, ImageRef, Mount};
use crate::validate::knowledge::Version;
use crate::validate::knowledge::collector as kc;
use crate::validate::knowledge::vllm as kv;
use serde_json::Value as Json;

impl Rules<'_> {
    /// From v0.104.0 receivers without an endpoint bind `localhost`: in a container nothing else can
    /// reach them (core CHANGELOG v0.104.0).
    pub(super) fn receiver_endpoints(&self, out: &mut Diagnostics) {
        if self.services.is_empty() {
            return;
        }
        let v = self.version();
        let default_host = kc::default_receiver_host(v);
        for comp in self.c.components_of(ComponentKind::Receiver) {
            if comp.type_name() != "otlp" {
                continue;
            }
            let Some(protocols) = comp.config.get("protocols") else {
                let d = if default_host == "0.0.0.0" {
                    Diagnostic::warning(
                        "collector::receiver-endpoint",
                        format!(
                            "receiver `{}` sets no protocols and relies on the pre-v0.104.0 default host 0.0.0.0",
                            comp.id
                        ),
                    )
                } else {
                    Diagnostic::error(
                        "collector::receiver-endpoint",
                        format!(
                            "receiver `{}` sets no protocols, so it listens on nothing other containers can reach",
                            comp.id
                        ),
                    )
                };
                out.push(
                    d.at(comp.id_span.clone())
                        .help("add `protocols { grpc { endpoint = \"0.0.0.0:4317\" } http { endpoint = \"0.0.0.0:4318\" } }`"),
                );
                continue;
            };
            for (proto, port) in [("grpc", 4317), ("http", 4318)] {
                let Some((span, cfg)) = comp.config.lookup(&format!("protocols.{proto}")) else {
                    continue;
                };
                if cfg.get("endpoint").is_some() {
                    continue;
                }
                let span = if span.is_empty() {
                    protocols.key_span.clone()
                } else {
                    span
                };
                let d = if default_host == "0.0.0.0" {
                    Diagnostic::warning(
                        "collector::receiver-endpoint",
                        format!("`{}` {proto} has no endpoint: it binds 0.0.0.0 in {v} only because of a default that changed in v0.104.0", comp.id),
                    )
                    .label("implicit endpoint")
                } else {
                    Diagnostic::error(
                        "collector::receiver-endpoint",
                        format!("`{}` {proto} has no endpoint, so collector {v} binds localhost:{port} inside its container: no other container can reach it", comp.id),
                    )
                    .label("binds localhost")
                };
                out.push(
                    d.at(span)
                        .help(format!("set `endpoint = \"0.0.0.0:{port}\"`")),
                );
            }
        }
    }

    /// The file exporter writes inside a `FROM scratch` image running as UID 10001: the path must be on a
    /// writable mount, and there is no `/tmp` (fileexporter README; image Dockerfile).
    pub(super) fn file_exporters(&self, out: &mut Diagnostics) {
        if self.services.is_empty() {
            return;
        }
        for comp in self.c.components_of(ComponentKind::Exporter) {
            if comp.type_name() != "file" {
                continue;
            }
            let Some((span, Json::String(path))) = comp.config.lookup("path") else {
                continue;
            };
            if value::is_unknown(&path) {
                continue;
            }
            for (_, service) in &self.services {
                let mounted = service
                    .volumes
                    .iter()
                    .filter_map(|v| Mount::parse(&v.value))
                    .any(|m| m.covers(&path) && !m.read_only);
                if mounted {
                    continue;
                }
                let d = if common::is_under(&path, "/tmp") {
                    Diagnostic::error(
                        "collector::file-tmp",
                        format!("exporter `{}` writes to `{path}`, but the collector image is FROM scratch and has no /tmp", comp.id),
                    )
                    .label("no /tmp in the image")
                    .help(format!("mount a volume into service `{}` (e.g. `./audit:/var/lib/otelcol/audit`) and point `path` into it; /tmp would not persist anyway", service.name))
                } else {
                    Diagnostic::error(
                        "collector::file-not-on-volume",
                        format!("exporter `{}` writes to `{path}`, which is on no writable volume of service `{}`", comp.id, service.name),
                    )
                    .label("not on a volume")
                    .help("mount a volume at the file's directory (writable by UID 10001), e.g. `./audit:/var/lib/otelcol/audit`: the exporter fails to start if the directory is missing, and the file must outlive the container")
                };
                out.push(d.at(span.clone()));
            }
        }
    }

    /// The image must run the release the config was checked against.
    pub(super) fn image_version(&self, out: &mut Diagnostics) {
        let want = self.version();
        for (_, service) in &self.services {
            let Some(image) = ImageRef::parse(&service.image.value) else {
                continue;
            };
            let Some(tag) = &image.tag else { continue };
            let Some(have) = Version::parse(tag) else {
                continue;
            };
            if !image.repository.contains("opentelemetry-collector") || have == want {
                continue;
            }
            out.push(
                Diagnostic::error(
                    "collector::image-version",
                    format!("service `{}` runs collector {have}, but collector `{}` is written for {want}", service.name, self.c.name),
                )
                .at(service.image.span.clone())
                .label("image release")
                .help(format!("use `{}:{}` or change the collector's `version`: keys and component names differ between releases", image.repository, want.to_string().trim_start_matches('v'))),
            );
        }
    }

    /// vLLM pushes no OTLP metrics (only Prometheus text on /metrics), so a metrics pipeline fed only by
    /// OTLP receives nothing from it.
    pub(super) fn metrics_without_source(&self, out: &mut Diagnostics) {
        let fed_by_vllm = self.services.iter().any(|(compose, collector_service)| {
            compose.services.iter().any(|s| {
                common::is_image(s, common::VLLM_IMAGE)
                    && s.command.as_ref().is_some_and(|args| {
                        let values = args.values();
                        values
                            .iter()
                            .position(|a| {
                                a == kv::OTLP_TRACES_ENDPOINT_FLAG
                                    || a.starts_with("--otlp-traces-endpoint=")
                            })
                            .and_then(|i| {
                                values[i]
                                    .split_once('=')
                                    .map(|(_, v)| v.to_string())
                                    .or_else(|| values.get(i + 1).cloned())
                            })
                            .and_then(|e| common::Endpoint::parse(&e))
                            .is_some_and(|e| e.host == collector_service.name)
                    })
            })
        });
        if !fed_by_vllm {
            return;
        }
        for p in self.c.pipelines.iter().filter(|p| p.signal() == "metrics") {
            let only_otlp = !p.receivers.is_empty()
                && p.receivers.iter().all(|r| {
                    self.c.component(&r.value).is_some_and(|c| {
                        c.kind == ComponentKind::Receiver && c.type_name() == "otlp"
                    })
                });
            if !only_otlp {
                continue;
            }
            out.push(
                Diagnostic::warning(
                    "collector::metrics-no-source",
                    format!("pipeline `{}` only receives OTLP, but vLLM pushes no OTLP metrics", p.id),
                )
                .at(pipeline_span(p))
                .label("receives nothing from vLLM")
                .help(format!("add a `prometheus` receiver scraping `vllm:{}{}` (vLLM exposes its metrics only as Prometheus text)", kv::DEFAULT_PORT, kv::METRICS_PATH)),
            );
        }
    }
}
