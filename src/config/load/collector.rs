//! OpenTelemetry Collector blocks: components, pipelines and telemetry, whose free-form bodies
//! are kept as trees.

use super::readers::ModelBuilder;
use super::syntax::{blocks, header_span, label};
use crate::config::diagnostic::Diagnostic;
use crate::config::eval::span_of;
use crate::config::model::{
    Collector, Component, ComponentKind, Pipeline, Tree, TreeEntry, TreeMap,
};
use crate::config::source::{Span, Spanned};
use hcl_edit::Span as _;
use hcl_edit::structure::{Block, Body, Structure};

impl ModelBuilder<'_, '_> {
    pub(super) fn collector(&mut self, b: &Block, name: String, span: Span) -> Option<Collector> {
        let version = self.string(&b.body, "version");
        let mut components = Vec::new();
        let mut pipelines = Vec::new();
        let mut telemetry = None;
        for cb in blocks(&b.body) {
            let kind = match cb.ident.as_str() {
                "receiver" => ComponentKind::Receiver,
                "processor" => ComponentKind::Processor,
                "exporter" => ComponentKind::Exporter,
                "extension" => ComponentKind::Extension,
                "connector" => ComponentKind::Connector,
                "pipeline" => {
                    let Some((id, _)) = cb.labels.first().map(label) else {
                        continue;
                    };
                    pipelines.push(Pipeline {
                        id,
                        span: header_span(cb),
                        receivers: self.strings(&cb.body, "receivers"),
                        processors: self.strings(&cb.body, "processors"),
                        exporters: self.strings(&cb.body, "exporters"),
                    });
                    continue;
                }
                "telemetry" => {
                    telemetry = Some(self.tree(&cb.body));
                    continue;
                }
                _ => continue,
            };
            let Some((id, id_span)) = cb.labels.first().map(label) else {
                continue;
            };
            if components
                .iter()
                .any(|c: &Component| c.kind == kind && c.id == id)
            {
                let d = Diagnostic::error(
                    "language::duplicate",
                    format!("{} `{id}` is declared twice", kind.block()),
                )
                .at(id_span.clone());
                self.err(d);
                continue;
            }
            let config = self.tree(&cb.body);
            components.push(Component {
                kind,
                id,
                id_span,
                span: header_span(cb),
                config,
            });
        }
        Some(Collector {
            name,
            span,
            version: version?,
            components,
            pipelines,
            telemetry,
        })
    }

    fn tree(&mut self, body: &Body) -> TreeMap {
        let mut m = TreeMap::default();
        for s in body.iter() {
            match s {
                Structure::Attribute(a) => {
                    if let Some(v) = self.value(a) {
                        m.entries.push(TreeEntry {
                            key: a.key.as_str().to_string(),
                            key_span: a.key.span().unwrap_or(0..0),
                            value: Tree::Value(Spanned::new(v, span_of(&a.value))),
                        });
                    }
                }
                Structure::Block(b) => {
                    let inner = Tree::Map(self.tree(&b.body));
                    // `block "label" { }` nests as block -> label -> body.
                    let mut value = inner;
                    for l in b.labels.iter().rev() {
                        let (name, span) = label(l);
                        value = Tree::Map(TreeMap {
                            entries: vec![TreeEntry {
                                key: name,
                                key_span: span,
                                value,
                            }],
                        });
                    }
                    let key = b.ident.as_str().to_string();
                    let key_span = b.ident.span().unwrap_or(0..0);
                    // Repeated blocks with labels merge into one map.
                    if let (Some(existing), Tree::Map(new)) =
                        (m.entries.iter_mut().find(|e| e.key == key), &value)
                        && let Tree::Map(old) = &mut existing.value
                    {
                        old.entries.extend(new.entries.clone());
                        continue;
                    }
                    m.entries.push(TreeEntry {
                        key,
                        key_span,
                        value,
                    });
                }
            }
        }
        m
    }
}
