//! OpenTelemetry Collector configs, checked against the collector version they target: pipelines
//! and components, component types and keys per version, receiver binding in containers, the audit
//! file exporter, processor order, health, and the image that runs the config.

use super::common::{self, ImageRef, Mount};
use super::knowledge::collector::{
    self as kc, CollectorKnowledge, ComponentStatus, KeyStatus, LATEST_KNOWN,
};
use super::knowledge::vllm as kv;
use super::knowledge::{Version, closest};
use crate::config::{
    Collector, Component, ComponentKind, Compose, Diagnostic, Diagnostics, Pipeline, Service, Span,
    Spanned, Stack, Tree, TreeMap, value,
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

    fn outdated(&self, out: &mut Diagnostics) {
        let v = self.version();
        if v.major != LATEST_KNOWN.major || v.minor + OUTDATED_AFTER_RELEASES > LATEST_KNOWN.minor {
            return;
        }
        out.push(
            Diagnostic::warning(
                "collector::outdated",
                format!(
                    "collector `{}` targets {v}, {} releases behind {LATEST_KNOWN}",
                    self.c.name,
                    LATEST_KNOWN.minor - v.minor
                ),
            )
            .at(self.c.version.span.clone())
            .label("old release")
            .help(format!("target a current release (e.g. {}) and pin the image to it: receivers, exporters and telemetry keys changed in between", LATEST_KNOWN.to_string().trim_start_matches('v'))),
        );
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

    fn component_type(&self, comp: &Component, out: &mut Diagnostics) {
        let ty = comp.type_name();
        let kind = comp.kind.block();
        let v = self.version();
        let d = match self.kn.component(comp.kind, &comp.id) {
            ComponentStatus::Known(_) | ComponentStatus::Unchecked => return,
            ComponentStatus::Unknown { suggestion: None } => return,
            ComponentStatus::Unknown { suggestion: Some(s) } => Diagnostic::error(
                "collector::component-type",
                format!("`{ty}` is not a {kind} type of collector {v}"),
            )
            .label("unknown type")
            .help(format!("did you mean `{s}`?")),
            ComponentStatus::Removed { since, use_instead } => Diagnostic::error(
                "collector::component-type",
                format!("the `{ty}` {kind} was removed in {since}; collector {v} refuses to start"),
            )
            .label("removed")
            .help(format!("use the `{use_instead}` {kind} instead")),
            ComponentStatus::Renamed { to, since } => Diagnostic::error(
                "collector::component-type",
                format!("the `{ty}` {kind} was renamed to `{to}` in {since} and the old name no longer loads in {v}"),
            )
            .label("old name")
            .help(format!("write `{to}` (keep the `/name` part of the id)")),
            ComponentStatus::NotYet { since } => Diagnostic::error(
                "collector::component-type",
                format!("the `{ty}` {kind} does not exist yet in collector {v} (it appears {})", describe_since(since)),
            )
            .label("too new")
            .help(match self.kn.info(comp.kind, ty).and_then(|i| i.renamed_from) {
                Some((old, _)) => format!("in {v} it is called `{old}`: write that, or target a newer collector version"),
                None => "target a newer collector version, or use a component that exists in this one".to_string(),
            }),
            ComponentStatus::DeprecatedAlias { of, since, .. } => Diagnostic::warning(
                "collector::deprecated-component",
                format!("`{ty}` is a deprecated alias of the `{of}` {kind} since {since}"),
            )
            .label("deprecated alias")
            .help(format!("write `{of}`: the collector logs a deprecation warning for the old name and will drop it")),
            ComponentStatus::Deprecated { since, use_instead, .. } => Diagnostic::warning(
                "collector::deprecated-component",
                format!("the `{ty}` {kind} is deprecated since {since}"),
            )
            .label("deprecated")
            .help(format!("use the `{use_instead}` {kind} instead")),
        };
        out.push(d.at(comp.id_span.clone()));
    }

    fn keys(&self, comp: &Component, out: &mut Diagnostics) {
        let mut paths = Vec::new();
        collect_paths(&comp.config, "", &mut paths);
        let subject = format!("{} `{}`", comp.kind.block(), comp.id);
        self.report_keys(
            &paths,
            &subject,
            |p| self.kn.key_status(comp.kind, &comp.id, p),
            out,
        );
    }

    fn telemetry_keys(&self, out: &mut Diagnostics) {
        let Some(t) = &self.c.telemetry else { return };
        let mut paths = Vec::new();
        collect_paths(t, "telemetry", &mut paths);
        self.report_keys(
            &paths,
            "`telemetry`",
            |p| self.kn.service_key_status(p),
            out,
        );
    }

    fn report_keys(
        &self,
        paths: &[(String, Span)],
        subject: &str,
        status: impl Fn(&str) -> KeyStatus,
        out: &mut Diagnostics,
    ) {
        let v = self.version();
        let mut reported: Vec<&str> = Vec::new();
        for (path, span) in paths {
            if reported
                .iter()
                .any(|r| common::is_under(&path.replace('.', "/"), &r.replace('.', "/")))
            {
                continue;
            }
            let shown = path
                .strip_prefix("telemetry.")
                .map_or(path.clone(), |p| format!("telemetry.{p}"));
            let d = match status(path) {
                KeyStatus::Known(_) | KeyStatus::Unchecked => continue,
                KeyStatus::Unknown { suggestion } => Diagnostic::error(
                    "collector::invalid-key",
                    format!("{subject} has no key `{shown}` in collector {v}"),
                )
                .label("unknown key")
                .help(match suggestion {
                    Some(s) => format!("did you mean `{s}`? The collector refuses unknown keys"),
                    None => "remove it: the collector refuses unknown keys".to_string(),
                }),
                KeyStatus::Removed { since, why } => Diagnostic::error(
                    "collector::invalid-key",
                    format!("`{shown}` of {subject} is not accepted by collector {v} (removed in {since})"),
                )
                .label("removed")
                .help(format!("remove it: {why}")),
                KeyStatus::NotYet { since } => Diagnostic::error(
                    "collector::invalid-key",
                    format!("`{shown}` of {subject} does not exist yet in collector {v} (it appears {})", describe_since(since)),
                )
                .label("too new")
                .help("remove it, or target a newer collector version"),
                KeyStatus::Deprecated { since, use_instead, why, .. } => Diagnostic::warning(
                    "collector::deprecated-key",
                    format!("`{shown}` of {subject} is deprecated since {since}"),
                )
                .label("deprecated")
                .help(format!("use `{use_instead}`: {why}")),
            };
            reported.push(path);
            out.push(d.at(span.clone()));
        }
    }

    /// From v0.104.0 receivers without an endpoint bind `localhost`: in a container nothing else can
    /// reach them (core CHANGELOG v0.104.0).
    fn receiver_endpoints(&self, out: &mut Diagnostics) {
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
    fn file_exporters(&self, out: &mut Diagnostics) {
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

    /// The image must run the release the config was checked against.
    fn image_version(&self, out: &mut Diagnostics) {
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
    fn metrics_without_source(&self, out: &mut Diagnostics) {
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

fn describe_since(since: kc::Since) -> String {
    match since {
        kc::Since::Exact(v) => format!("in {v}"),
        kc::Since::Between { absent, present } => format!("after {absent}, by {present}"),
        kc::Since::SeenIn(v) => format!("by {v}"),
    }
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

/// Every key path in a component config, with the span that best points at it. Object values given
/// as one attribute share that attribute's span.
fn collect_paths(map: &TreeMap, prefix: &str, out: &mut Vec<(String, Span)>) {
    for e in &map.entries {
        let path = join(prefix, &e.key);
        out.push((path.clone(), e.key_span.clone()));
        match &e.value {
            Tree::Map(m) => collect_paths(m, &path, out),
            Tree::Value(v) => collect_json(&v.value, &path, &v.span, out),
        }
    }
}

fn collect_json(v: &Json, prefix: &str, span: &Span, out: &mut Vec<(String, Span)>) {
    match v {
        Json::Object(o) => {
            for (k, child) in o {
                let path = join(prefix, k);
                out.push((path.clone(), span.clone()));
                collect_json(child, &path, span, out);
            }
        }
        Json::Array(items) => {
            for item in items {
                if item.is_object() {
                    collect_json(item, prefix, span, out);
                }
            }
        }
        _ => {}
    }
}

fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_string()
    } else {
        format!("{prefix}.{key}")
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{pointed, run, with_code};
    use crate::config::Severity;

    /// A correct collector run by a service; tests break one thing at a time.
    const GOOD: &str = r#"
stack "t" {}
host "h" {
  address = "203.0.113.1"
}
collector "c" {
  version = "VERSION"
  receiver "otlp" {
    protocols {
      grpc {
        endpoint = "0.0.0.0:4317"
      }
    }
  }
  processor "memory_limiter" {
    check_interval   = "1s"
    limit_percentage = 80
  }
  processor "batch" {}
  exporter "EXPORTER" {
    endpoint = "ingest.example.com:4317"
  }
  exporter "file/audit" {
    path = "/var/lib/otelcol/audit/spans.jsonl"
  }
  extension "health_check" {
    endpoint = "0.0.0.0:13133"
  }
  pipeline "traces" {
    receivers  = ["otlp"]
    processors = ["memory_limiter", "batch"]
    exporters  = ["EXPORTER", "file/audit"]
  }
}
compose "p" {
  on = host.h
  service "otel-collector" {
    image   = "otel/opentelemetry-collector-contrib:VERSION"
    volumes = ["./audit:/var/lib/otelcol/audit"]
    file "/etc/otelcol-contrib/config.yaml" {
      collector = collector.c
    }
  }
}
"#;

    fn good(version: &str) -> String {
        let exporter = if version == "0.102.0" {
            "otlp"
        } else {
            "otlp_grpc"
        };
        GOOD.replace("VERSION", version)
            .replace("EXPORTER", exporter)
    }

    fn collector_findings(text: &str) -> Vec<crate::config::Diagnostic> {
        run(text)
            .into_iter()
            .filter(|d| d.code.starts_with("collector::"))
            .collect()
    }

    #[test]
    fn good_configs_are_silent() {
        assert!(
            collector_findings(&good("0.159.0")).is_empty(),
            "{:#?}",
            collector_findings(&good("0.159.0"))
        );
        let old: Vec<_> = collector_findings(&good("0.102.0"))
            .into_iter()
            .map(|d| d.code)
            .collect();
        assert_eq!(old, vec!["collector::outdated"]);
    }

    #[test]
    fn undefined_and_unused_components() {
        let text = good("0.159.0").replace(
            "[\"memory_limiter\", \"batch\"]",
            "[\"memory_limiter\", \"bacth\"]",
        );
        let d = with_code(&text, "collector::undefined-component");
        assert_eq!(d.len(), 1);
        assert_eq!(pointed(&text, &d[0]), "\"bacth\"");
        assert!(
            d[0].help
                .as_deref()
                .unwrap()
                .contains("did you mean `batch`")
        );
        let unused = with_code(&text, "collector::unused-component");
        assert_eq!(unused.len(), 1);
        assert_eq!(pointed(&text, &unused[0]), "\"batch\"");
    }

    #[test]
    fn component_types_per_version() {
        // `otlp` is a deprecated alias from v0.144.0: a warning.
        let text = GOOD
            .replace("VERSION", "0.159.0")
            .replace("EXPORTER", "otlp");
        let d = with_code(&text, "collector::deprecated-component");
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].severity, Severity::Warning);
        // `otlp_grpc` does not exist before v0.144.0: an error that names the old type.
        let text = GOOD
            .replace("VERSION", "0.102.0")
            .replace("EXPORTER", "otlp_grpc");
        let d = with_code(&text, "collector::component-type");
        assert_eq!(d.len(), 1);
        assert!(d[0].help.as_deref().unwrap().contains("`otlp`"));
        // `logging` was removed in v0.111.0.
        let text = good("0.159.0").replace(
            "exporter \"file/audit\"",
            "exporter \"logging\" {}\n exporter \"file/audit\"",
        );
        let d = with_code(&text, "collector::component-type");
        assert_eq!(d.len(), 1);
        assert!(d[0].message.contains("removed"));
    }

    #[test]
    fn telemetry_metrics_address_is_invalid_from_0_128() {
        let tele =
            "telemetry {\n metrics {\n address = \"0.0.0.0:8888\"\n }\n }\n pipeline \"traces\"";
        let text = good("0.159.0").replacen("pipeline \"traces\"", tele, 1);
        let d = with_code(&text, "collector::invalid-key");
        assert_eq!(d.len(), 1, "{d:#?}");
        assert!(d[0].message.contains("telemetry.metrics.address"));
        let text = good("0.102.0").replacen("pipeline \"traces\"", tele, 1);
        assert!(with_code(&text, "collector::invalid-key").is_empty());
    }

    #[test]
    fn unknown_key_in_complete_table() {
        let text = good("0.159.0").replace("send_batch_size", "x").replace(
            "processor \"batch\" {}",
            "processor \"batch\" {\n send_batch_szie = 10\n }",
        );
        let d = with_code(&text, "collector::invalid-key");
        assert_eq!(d.len(), 1);
        assert!(d[0].help.as_deref().unwrap().contains("send_batch_size"));
    }

    #[test]
    fn receiver_without_endpoint_binds_localhost() {
        let text = good("0.159.0").replace(
            "grpc {\n        endpoint = \"0.0.0.0:4317\"\n      }",
            "grpc {}",
        );
        let d = with_code(&text, "collector::receiver-endpoint");
        assert_eq!(d.len(), 1, "{d:#?}");
        assert_eq!(d[0].severity, Severity::Error);
        let text = good("0.102.0").replace(
            "grpc {\n        endpoint = \"0.0.0.0:4317\"\n      }",
            "grpc {}",
        );
        let d = with_code(&text, "collector::receiver-endpoint");
        assert_eq!(d[0].severity, Severity::Warning);
    }

    #[test]
    fn file_exporter_needs_a_volume() {
        let text =
            good("0.159.0").replace("/var/lib/otelcol/audit/spans.jsonl", "/tmp/spans.jsonl");
        let d = with_code(&text, "collector::file-tmp");
        assert_eq!(d.len(), 1);
        assert_eq!(pointed(&text, &d[0]), "\"/tmp/spans.jsonl\"");
        let text = good("0.159.0").replace("./audit:/var/lib/otelcol/audit", "./audit:/data");
        assert_eq!(with_code(&text, "collector::file-not-on-volume").len(), 1);
        let text = good("0.159.0").replace(
            "./audit:/var/lib/otelcol/audit",
            "./audit:/var/lib/otelcol/audit:ro",
        );
        assert_eq!(with_code(&text, "collector::file-not-on-volume").len(), 1);
    }

    #[test]
    fn filter_dropping_spans_before_audit() {
        let filter = "processor \"filter/pii\" {\n traces {\n span = [\"attributes[\\\"user.email\\\"] != nil\"]\n }\n }\n processor \"batch\" {}";
        let text = good("0.159.0")
            .replace("processor \"batch\" {}", filter)
            .replace(
                "[\"memory_limiter\", \"batch\"]",
                "[\"memory_limiter\", \"filter/pii\", \"batch\"]",
            );
        let d = with_code(&text, "collector::filter-drops-audit");
        assert_eq!(d.len(), 1, "{d:#?}");
        assert_eq!(pointed(&text, &d[0]), "\"filter/pii\"");
    }

    #[test]
    fn memory_limiter_first() {
        let text = good("0.159.0").replace(
            "[\"memory_limiter\", \"batch\"]",
            "[\"batch\", \"memory_limiter\"]",
        );
        let d = with_code(&text, "collector::memory-limiter");
        assert_eq!(d.len(), 1);
        assert_eq!(pointed(&text, &d[0]), "\"memory_limiter\"");
        let text = good("0.159.0").replace("limit_percentage = 80", "");
        assert_eq!(
            with_code(&text, "collector::memory-limiter-config").len(),
            1
        );
    }

    #[test]
    fn health_check_missing() {
        let text = good("0.159.0").replace("extension \"health_check\"", "extension \"pprof\"");
        assert_eq!(with_code(&text, "collector::no-health-check").len(), 1);
    }

    #[test]
    fn image_must_match_the_config_version() {
        let text = good("0.159.0").replace("contrib:0.159.0", "contrib:0.158.0");
        let d = with_code(&text, "collector::image-version");
        assert_eq!(d.len(), 1);
        assert_eq!(
            pointed(&text, &d[0]),
            "\"otel/opentelemetry-collector-contrib:0.158.0\""
        );
    }

    #[test]
    fn resource_attributes_use_semconv() {
        let res = "processor \"resource\" {\n attributes = [{ key = \"deployment.region\", value = \"x\", action = \"upsert\" }]\n }\n processor \"batch\" {}";
        let text = good("0.159.0")
            .replace("processor \"batch\" {}", res)
            .replace(
                "[\"memory_limiter\", \"batch\"]",
                "[\"memory_limiter\", \"resource\", \"batch\"]",
            );
        assert_eq!(with_code(&text, "collector::resource-attribute").len(), 1);
        let fixed = text.replace("deployment.region", "cloud.region");
        assert!(with_code(&fixed, "collector::resource-attribute").is_empty());
    }

    #[test]
    fn metrics_pipeline_fed_only_by_vllm_otlp() {
        let vllm = r#"
  service "vllm" {
    image   = "vllm/vllm-openai:v0.33.0"
    command = ["m", "--otlp-traces-endpoint", "http://otel-collector:4317"]
  }
  service "otel-collector" {"#;
        let metrics = "pipeline \"metrics\" {\n receivers = [\"otlp\"]\n processors = [\"memory_limiter\"]\n exporters = [\"otlp_grpc\"]\n }\n pipeline \"traces\"";
        let text = good("0.159.0")
            .replace("  service \"otel-collector\" {", vllm)
            .replacen("pipeline \"traces\"", metrics, 1);
        assert_eq!(with_code(&text, "collector::metrics-no-source").len(), 1);
        // Without vLLM feeding it, other OTLP senders may exist: no finding.
        let text = good("0.159.0").replacen("pipeline \"traces\"", metrics, 1);
        assert!(with_code(&text, "collector::metrics-no-source").is_empty());
    }
}
