//! OpenTelemetry Collector configs, checked against the collector version they target: pipelines
//! and components, component types and keys per version, receiver binding in containers, the audit
//! file exporter, processor order, health, and the image that runs the config.
//!
//! The rules that read the version's tables live in `versioned`, those about the containers that run the
//! config in `container`; this module holds the rest (pipeline wiring, processors, extensions).

mod container;
mod versioned;

use super::common;
use super::knowledge::collector::{self as kc, CollectorKnowledge};
use super::knowledge::{Version, closest};
use crate::config::{
    Collector, ComponentKind, Compose, Diagnostic, Diagnostics, Pipeline, Service, Span, Spanned,
    Stack, value,
};
use serde_json::Value as Json;

/// Collector releases come every two weeks; 26 releases is about a year of fixes and key changes.
const OUTDATED_AFTER_RELEASES: u64 = 26;

pub fn check(stack: &Stack, out: &mut Diagnostics) {
    for c in &stack.collectors {
        let Some(version) = Version::parse(&c.version.value) else {
            if !value::is_unknown(&c.version.value) {
                out.push(
                    Diagnostic::error(
                        "collector::version",
                        format!("`{}` is not a collector release version", c.version.value),
                    )
                    .at(c.version.span.clone())
                    .help("give the release the config targets, e.g. \"0.159.0\": keys and component names change between releases"),
                );
            }
            continue;
        };
        let services = common::collector_services(stack, c);
        let rules = Rules {
            c,
            kn: CollectorKnowledge::for_version(&version),
            services,
        };
        rules.run(out);
    }
}

/// One list of a pipeline: the ids, the component kinds they may name, and what to call them.
type PipelineList<'a> = (&'a [Spanned<String>], &'a [ComponentKind], &'a str);

struct Rules<'a> {
    c: &'a Collector,
    kn: CollectorKnowledge,
    /// The services that run this config.
    services: Vec<(&'a Compose, &'a Service)>,
}

impl Rules<'_> {
    fn run(&self, out: &mut Diagnostics) {
        self.outdated(out);
        self.pipelines(out);
        self.unused(out);
        for comp in &self.c.components {
            self.component_type(comp, out);
            self.keys(comp, out);
        }
        self.telemetry_keys(out);
        self.receiver_endpoints(out);
        self.file_exporters(out);
        self.filter_before_audit(out);
        self.memory_limiter(out);
        self.health_check(out);
        self.image_version(out);
        self.metrics_without_source(out);
        self.resource_attributes(out);
    }

    fn version(&self) -> Version {
        self.kn.version
    }

    /// Pipelines may only name components defined in the same collector.
    fn pipelines(&self, out: &mut Diagnostics) {
        for p in &self.c.pipelines {
            let lists: [PipelineList; 3] = [
                (
                    &p.receivers,
                    &[ComponentKind::Receiver, ComponentKind::Connector],
                    "receiver",
                ),
                (&p.processors, &[ComponentKind::Processor], "processor"),
                (
                    &p.exporters,
                    &[ComponentKind::Exporter, ComponentKind::Connector],
                    "exporter",
                ),
            ];
            for (ids, kinds, what) in lists {
                for id in ids {
                    let defined = self
                        .c
                        .components
                        .iter()
                        .any(|comp| comp.id == id.value && kinds.contains(&comp.kind));
                    if defined {
                        continue;
                    }
                    let candidates = self
                        .c
                        .components
                        .iter()
                        .filter(|comp| kinds.contains(&comp.kind))
                        .map(|comp| comp.id.as_str());
                    let hint = common::did_you_mean(closest(&id.value, candidates));
                    out.push(
                        Diagnostic::error(
                            "collector::undefined-component",
                            format!("pipeline `{}` names {what} `{}`, which collector `{}` does not define", p.id, id.value, self.c.name),
                        )
                        .at(id.span.clone())
                        .label("not defined")
                        .help(format!("{hint}define it with `{what} \"{}\" {{ ... }}` or remove it from the pipeline; the collector refuses to start otherwise", id.value)),
                    );
                }
            }
        }
    }

    fn unused(&self, out: &mut Diagnostics) {
        for comp in &self.c.components {
            if comp.kind == ComponentKind::Extension {
                // Every extension block is enabled in service.extensions.
                continue;
            }
            let used = self.c.pipelines.iter().any(|p| {
                p.receivers
                    .iter()
                    .chain(&p.processors)
                    .chain(&p.exporters)
                    .any(|id| id.value == comp.id)
            });
            if !used {
                out.push(
                    Diagnostic::warning(
                        "collector::unused-component",
                        format!("{} `{}` is used by no pipeline", comp.kind.block(), comp.id),
                    )
                    .at(comp.id_span.clone())
                    .label("unused")
                    .help("add it to a pipeline or remove it: the collector ignores components no pipeline uses"),
                );
            }
        }
    }

    /// A `filter` processor with span conditions drops whole spans; before a file (audit) exporter that
    /// loses the audit record instead of redacting it.
    fn filter_before_audit(&self, out: &mut Diagnostics) {
        for p in self.c.pipelines.iter().filter(|p| p.signal() == "traces") {
            let Some(audit) = p.exporters.iter().find(|e| {
                self.c
                    .component(&e.value)
                    .is_some_and(|c| c.kind == ComponentKind::Exporter && c.type_name() == "file")
            }) else {
                continue;
            };
            for id in &p.processors {
                let Some(comp) = self.c.component(&id.value) else {
                    continue;
                };
                if comp.type_name() != "filter" {
                    continue;
                }
                let drops = ["traces.span", "trace_conditions"].iter().any(|k| {
                    comp.config
                        .lookup(k)
                        .is_some_and(|(_, v)| !is_empty_json(&v))
                });
                if !drops {
                    continue;
                }
                out.push(
                    Diagnostic::warning(
                        "collector::filter-drops-audit",
                        format!("`{}` drops whole spans in pipeline `{}`, before they reach the audit exporter `{}`", id.value, p.id, audit.value),
                    )
                    .at(id.span.clone())
                    .label("drops spans")
                    .related(audit.span.clone(), "audit log")
                    .help("redact instead of dropping: a `transform` processor (`delete_key`, `replace_pattern`, `set(..., SHA256(...))`) or `attributes` with `hash`/`delete` keeps the audit record"),
                );
            }
        }
    }

    fn memory_limiter(&self, out: &mut Diagnostics) {
        for p in &self.c.pipelines {
            let pos = p.processors.iter().position(|id| {
                self.c
                    .component(&id.value)
                    .is_some_and(|c| c.type_name() == "memory_limiter")
            });
            match pos {
                Some(0) => {}
                Some(_) => {
                    let id = &p.processors[pos.unwrap_or(0)];
                    out.push(
                        Diagnostic::warning(
                            "collector::memory-limiter",
                            format!("`{}` is not the first processor of pipeline `{}`", id.value, p.id),
                        )
                        .at(id.span.clone())
                        .label("not first")
                        .help("move it to the front: it can only refuse data before other processors have buffered it"),
                    );
                }
                None => out.push(
                    Diagnostic::warning(
                        "collector::memory-limiter",
                        format!("pipeline `{}` has no memory_limiter", p.id),
                    )
                    .at(pipeline_span(p))
                    .label("no memory_limiter")
                    .help("define `processor \"memory_limiter\" { check_interval = \"1s\" limit_percentage = 80 spike_limit_percentage = 20 }` and put it first: without it a burst can OOM-kill the collector"),
                ),
            }
        }
        for comp in self.c.components_of(ComponentKind::Processor) {
            if comp.type_name() != "memory_limiter" {
                continue;
            }
            let cfg = comp.config.to_json();
            if value::json_is_unknown(&cfg) {
                continue;
            }
            let interval = cfg.get("check_interval").map(|v| match v {
                Json::String(s) => s.clone(),
                other => other.to_string(),
            });
            let num = |k: &str| {
                cfg.get(k).and_then(|v| {
                    v.as_u64()
                        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
                })
            };
            for problem in kc::check_memory_limiter(
                interval.as_deref(),
                num("limit_mib"),
                num("limit_percentage"),
            ) {
                out.push(
                    Diagnostic::error("collector::memory-limiter-config", problem.to_string())
                        .at(comp.id_span.clone())
                        .help("e.g. `check_interval = \"1s\"`, `limit_percentage = 80`, `spike_limit_percentage = 20`"),
                );
            }
        }
    }

    fn health_check(&self, out: &mut Diagnostics) {
        if self
            .c
            .components_of(ComponentKind::Extension)
            .any(|e| e.type_name() == "health_check")
        {
            return;
        }
        out.push(
            Diagnostic::warning(
                "collector::no-health-check",
                format!("collector `{}` has no health_check extension", self.c.name),
            )
            .at(self.c.span.clone())
            .label("no health endpoint")
            .help("add `extension \"health_check\" { endpoint = \"0.0.0.0:13133\" }`: the image is FROM scratch, so a compose healthcheck cannot run inside it, and probes need this endpoint"),
        );
    }

    /// Resource attribute keys that are not (or no longer) OpenTelemetry semantic conventions.
    fn resource_attributes(&self, out: &mut Diagnostics) {
        const NON_SEMCONV: &[(&str, &str, &str)] = &[
            (
                "deployment.region",
                "cloud.region",
                "`deployment.region` is not a semantic-convention key",
            ),
            (
                "deployment.environment",
                "deployment.environment.name",
                "`deployment.environment` is deprecated",
            ),
        ];
        for comp in self.c.components_of(ComponentKind::Processor) {
            if comp.type_name() != "resource" {
                continue;
            }
            let Some((span, Json::Array(items))) = comp.config.lookup("attributes") else {
                continue;
            };
            for item in &items {
                let Some(key) = item.get("key").and_then(Json::as_str) else {
                    continue;
                };
                if let Some((_, instead, why)) = NON_SEMCONV.iter().find(|(k, _, _)| *k == key) {
                    out.push(
                        Diagnostic::warning(
                            "collector::resource-attribute",
                            format!("resource attribute `{key}` in `{}`: {why}", comp.id),
                        )
                        .at(span.clone())
                        .label("non-standard key")
                        .help(format!("use `{instead}` (OpenTelemetry semantic conventions); backends group and filter by the standard keys")),
                    );
                }
            }
        }
    }
}

fn pipeline_span(p: &Pipeline) -> Span {
    p.span.clone()
}

fn is_empty_json(v: &Json) -> bool {
    match v {
        Json::Null => true,
        Json::Array(a) => a.is_empty(),
        Json::Object(o) => o.is_empty(),
        Json::String(s) => s.is_empty(),
        _ => false,
    }
}

#[cfg(test)]
mod tests;
