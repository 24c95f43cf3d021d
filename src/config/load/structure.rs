//! Pass 1: every block and attribute against the schema, and the names blocks declare.

use super::loader::Loader;
use super::syntax::{attrs, blocks, find_attr, header_span, label};
use crate::config::diagnostic::Diagnostic;
use crate::config::model::DATA_KINDS;
use crate::config::schema::{self, BlockSchema};
use crate::config::source::Span;
use crate::config::suggest::help_for_unknown;
use hcl_edit::Span as _;
use hcl_edit::structure::Block;

impl Loader<'_> {
    pub(super) fn check_top_block(&mut self, b: &Block) {
        let ident = b.ident.as_str();
        let Some(schema) = schema::top(ident) else {
            let names: Vec<&str> = schema::top_level().map(|s| s.path).collect();
            let d = Diagnostic::error(
                "language::unknown-block",
                format!("unknown block type `{ident}`"),
            )
            .at(header_span(b))
            .label("not a sovstack block")
            .help(help_for_unknown(ident, names.iter().copied(), "blocks"));
            self.err(d);
            return;
        };
        self.check_block(b, schema);
        let declared = if ident == "data" {
            self.data_name(b)
        } else {
            b.labels.first().map(label)
        };
        if let Some((name, span)) = declared {
            // An instance's label was made by expanding `count`/`for_each` and has no span of
            // its own: point at the block instead.
            let span = if span.is_empty() {
                header_span(b)
            } else {
                span
            };
            let kind: &'static str = schema.path;
            let (base, instance) = crate::config::instance::split(&name);
            let shown = base
                .rsplit(['.', crate::config::instance::MODULE_SEPARATOR])
                .next()
                .unwrap_or(base);
            if !valid_name(shown) {
                let d = Diagnostic::error(
                    "language::invalid-name",
                    format!("`{name}` is not a valid name"),
                )
                .at(span.clone())
                .help("names start with a letter and use letters, digits, `_` and `-`");
                self.err(d);
            }
            let duplicate = match kind {
                "variable" => self.var_names.contains(&name),
                _ => !self.name_sets.entry(kind).or_default().insert(name.clone()),
            };
            let list = match kind {
                "variable" => &mut self.var_names,
                _ => self.names.entry(kind).or_default(),
            };
            if duplicate {
                let d = Diagnostic::error(
                    "language::duplicate",
                    format!("{kind} `{name}` is declared twice"),
                )
                .at(span)
                .help("names of blocks of one type must be unique; rename one of them");
                self.err(d);
            } else {
                if instance.is_some() {
                    let block = format!("{kind}.{base}");
                    self.instances.entry(block).or_default().push(name.clone());
                }
                list.push(name);
            }
        }
        if ident == "locals" {
            for a in attrs(&b.body) {
                let name = a.key.as_str().to_string();
                if !self.local_name_set.insert(name.clone()) {
                    let d = Diagnostic::error(
                        "language::duplicate",
                        format!("local `{name}` is declared twice"),
                    )
                    .at(a.key.span().unwrap_or(0..0));
                    self.err(d);
                } else {
                    self.local_names.push(name);
                }
            }
        }
    }

    /// A `data` block's declared name, `<kind>.<name>`; its kind must be one data can look up.
    fn data_name(&mut self, b: &Block) -> Option<(String, Span)> {
        let (kind, kind_span) = b.labels.first().map(label)?;
        let (name, span) = b.labels.get(1).map(label)?;
        if !DATA_KINDS.iter().any(|(k, _)| *k == kind) {
            let d = Diagnostic::error("language::value", format!("`data` cannot look up `{kind}`"))
                .at(kind_span)
                .help(help_for_unknown(
                    &kind,
                    DATA_KINDS.iter().map(|(k, _)| *k),
                    "kinds",
                ));
            self.err(d);
            return None;
        }
        Some((format!("{kind}.{name}"), span))
    }

    fn check_block(&mut self, b: &Block, schema: &'static BlockSchema) {
        let labels: Vec<(String, Span)> = b.labels.iter().map(label).collect();
        if labels.len() != schema.labels.len() {
            let want = if schema.labels.is_empty() {
                "no labels".to_string()
            } else {
                schema
                    .labels
                    .iter()
                    .map(|l| format!("\"<{l}>\""))
                    .collect::<Vec<_>>()
                    .join(" ")
            };
            let d = Diagnostic::error(
                "language::labels",
                format!("`{}` takes {}, found {}", schema.name(), want, labels.len()),
            )
            .at(header_span(b))
            .help(format!(
                "write it as `{} {} {{ ... }}`",
                schema.name(),
                want
            ));
            self.err(d);
        }
        if schema.free_form {
            return;
        }
        for a in attrs(&b.body) {
            let name = a.key.as_str();
            if schema.attr(name).is_none() {
                let candidates: Vec<&str> = schema.attrs.iter().map(|a| a.name).collect();
                let d = Diagnostic::error(
                    "language::unknown-attribute",
                    format!("`{}` has no attribute `{name}`", schema.path),
                )
                .at(a.key.span().unwrap_or(0..0))
                .label("unknown attribute")
                .help(help_for_unknown(
                    name,
                    candidates.iter().copied(),
                    "attributes",
                ));
                self.err(d);
            }
        }
        for req in schema.attrs.iter().filter(|a| a.required) {
            if find_attr(&b.body, req.name).is_none() {
                let d = Diagnostic::error(
                    "language::missing-attribute",
                    format!("`{}` needs the attribute `{}`", schema.path, req.name),
                )
                .at(header_span(b))
                .help(format!("add `{} = ...`: {}", req.name, req.doc));
                self.err(d);
            }
        }
        for nested in blocks(&b.body) {
            let name = nested.ident.as_str();
            match schema.child(name) {
                Some(child) => self.check_block(nested, child),
                None => {
                    let candidates: Vec<&str> = schema.children().map(|c| c.name()).collect();
                    let mut d = Diagnostic::error(
                        "language::unknown-block",
                        format!("`{}` has no block `{name}`", schema.path),
                    )
                    .at(header_span(nested))
                    .label("unknown block");
                    if schema.attr(name).is_some() {
                        d = d.help(format!(
                            "`{name}` is an attribute here: write `{name} = ...`"
                        ));
                    } else {
                        d = d.help(help_for_unknown(name, candidates.iter().copied(), "blocks"));
                    }
                    self.err(d);
                }
            }
        }
    }
}

fn valid_name(n: &str) -> bool {
    let mut chars = n.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}
