//! A `collector` block -> the OpenTelemetry Collector's `config.yaml`.
//!
//! Component sections keep declaration order; keys inside a component are sorted. Values are
//! passed through unescaped on purpose: `${env:NAME}` is the collector's own way to read its
//! environment and users may rely on it.

use super::error::RenderError;
use super::resolve::Resolver;
use super::yaml::{self, Canonical, Ordered};
use crate::config::{Collector, ComponentKind};
use serde::Serialize;

#[derive(Serialize)]
struct Doc {
    #[serde(skip_serializing_if = "Ordered::is_empty")]
    receivers: Ordered<Owned>,
    #[serde(skip_serializing_if = "Ordered::is_empty")]
    processors: Ordered<Owned>,
    #[serde(skip_serializing_if = "Ordered::is_empty")]
    exporters: Ordered<Owned>,
    #[serde(skip_serializing_if = "Ordered::is_empty")]
    connectors: Ordered<Owned>,
    #[serde(skip_serializing_if = "Ordered::is_empty")]
    extensions: Ordered<Owned>,
    service: ServiceSection,
}

#[derive(Serialize)]
struct ServiceSection {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    extensions: Vec<String>,
    pipelines: Ordered<PipelineDoc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    telemetry: Option<Owned>,
}

#[derive(Serialize)]
struct PipelineDoc {
    receivers: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    processors: Vec<String>,
    exporters: Vec<String>,
}

struct Owned(serde_json::Value);

impl Serialize for Owned {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        Canonical(&self.0).serialize(s)
    }
}

pub(super) fn render(c: &Collector, r: &mut Resolver<'_>) -> Result<String, RenderError> {
    let section = |kind: ComponentKind, r: &mut Resolver<'_>| {
        Ordered(
            c.components_of(kind)
                .map(|comp| (r.text(&comp.id), Owned(r.json(&comp.config.to_json()))))
                .collect(),
        )
    };
    let names = |l: &[crate::config::Spanned<String>], r: &mut Resolver<'_>| -> Vec<String> {
        l.iter().map(|x| r.text(&x.value)).collect()
    };
    let doc = Doc {
        receivers: section(ComponentKind::Receiver, r),
        processors: section(ComponentKind::Processor, r),
        exporters: section(ComponentKind::Exporter, r),
        connectors: section(ComponentKind::Connector, r),
        extensions: section(ComponentKind::Extension, r),
        service: ServiceSection {
            // A configured extension that is not listed here never starts.
            extensions: c
                .components_of(ComponentKind::Extension)
                .map(|e| r.text(&e.id))
                .collect(),
            pipelines: Ordered(
                c.pipelines
                    .iter()
                    .map(|p| {
                        (
                            r.text(&p.id),
                            PipelineDoc {
                                receivers: names(&p.receivers, r),
                                processors: names(&p.processors, r),
                                exporters: names(&p.exporters, r),
                            },
                        )
                    })
                    .collect(),
            ),
            telemetry: c.telemetry.as_ref().map(|t| Owned(r.json(&t.to_json()))),
        },
    };
    yaml::to_yaml(&doc).map_err(|e| RenderError::yaml(format!("collector {}", c.name), e))
}
