//! Every reference (`var.x`, `local.y`, `server.gpu.ipv4_address`) checked against what the
//! stack declares, and the blocks referred to collected for the evaluator.

use super::loader::Loader;
use super::syntax::{attrs, blocks};
use crate::config::diagnostic::Diagnostic;
use crate::config::eval::REFERENCEABLE;
use crate::config::model::DATA_KINDS;
use crate::config::refs::{self, Reference};
use crate::config::suggest::help_for_unknown;
use hcl_edit::expr::Expression;
use hcl_edit::structure::{Body, Structure};
use std::collections::{HashMap, HashSet};

impl Loader<'_> {
    /// Every reference anywhere must name something that exists.
    /// Reports every reference to something undeclared, and returns the blocks referred to
    /// (`(kind, name)`, for the kinds an expression can refer to).
    pub(super) fn check_all_references(
        &mut self,
        body: &Body,
    ) -> HashMap<&'static str, HashSet<String>> {
        let mut exprs: Vec<&Expression> = Vec::new();
        collect_exprs(body, &mut exprs);
        let mut referenced: HashMap<&'static str, HashSet<String>> = HashMap::new();
        for e in exprs {
            for r in refs::collect(e) {
                if let Some(d) = self.check_reference(&r) {
                    self.bad_refs.insert((r.span.start, r.span.end));
                    self.err(d);
                }
                if let (Some((kind, _)), Some(name)) = (
                    REFERENCEABLE.iter().find(|(k, _)| *k == r.root),
                    r.path.first(),
                ) {
                    referenced.entry(*kind).or_default().insert(name.clone());
                }
            }
        }
        referenced
    }

    fn check_reference(&self, r: &Reference) -> Option<Diagnostic> {
        match r.root.as_str() {
            "var" => undeclared(r, "variable", &self.var_names, "variables"),
            "local" => undeclared(r, "local", &self.local_names, "locals"),
            "data" => self.check_data_reference(r),
            root => self.check_block_reference(r, root),
        }
    }

    /// `data.<kind>.<name>.<attribute>`: a declared data block and one of its kind's attributes.
    fn check_data_reference(&self, r: &Reference) -> Option<Diagnostic> {
        let (kind, name) = (r.path.first()?, r.path.get(1));
        let declared = self.names.get("data").map_or(&[][..], Vec::as_slice);
        let full = format!("{kind}.{}", name.map_or("", String::as_str));
        if name.is_none() || !declared.contains(&full) {
            return Some(
                Diagnostic::error(
                    "language::undefined-reference",
                    format!("undefined reference `data.{full}`"),
                )
                .at(r.span.clone())
                .label("no data block by that kind and name")
                .help(help_for_unknown(
                    &full,
                    declared.iter().map(String::as_str),
                    "data blocks",
                )),
            );
        }
        let attrs = DATA_KINDS
            .iter()
            .find(|(k, _)| k == kind)
            .map_or(&[][..], |(_, a)| *a);
        let attr = r.path.get(2)?;
        if attrs.contains(&attr.as_str()) {
            return None;
        }
        Some(
            Diagnostic::error(
                "language::undefined-reference",
                format!("`data.{full}` has no attribute `{attr}`"),
            )
            .at(r.span.clone())
            .help(format!("a data {kind} has: {}", attrs.join(", "))),
        )
    }

    /// `<kind>.<name>.<attribute>`: the kind must be referenceable, the block declared, and
    /// the attribute one a block of that kind has.
    fn check_block_reference(&self, r: &Reference, root: &str) -> Option<Diagnostic> {
        let Some((kind, attrs)) = REFERENCEABLE.iter().find(|(k, _)| *k == root) else {
            let mut roots: Vec<&str> = vec!["var", "local"];
            roots.extend(REFERENCEABLE.iter().map(|(k, _)| *k));
            return Some(
                Diagnostic::error(
                    "language::undefined-reference",
                    format!("unknown name `{root}`"),
                )
                .at(r.span.clone())
                .label("not a variable, local or block")
                .help(help_for_unknown(root, roots.iter().copied(), "names")),
            );
        };
        let name = r.path.first()?;
        if !self.name_sets.get(kind).is_some_and(|s| s.contains(name)) {
            let declared = self.names.get(kind).map_or(&[][..], Vec::as_slice);
            return Some(
                Diagnostic::error(
                    "language::undefined-reference",
                    format!("undefined reference `{kind}.{name}`"),
                )
                .at(r.span.clone())
                .label(format!("no {kind} block named `{name}`"))
                .help(help_for_unknown(
                    name,
                    declared.iter().map(String::as_str),
                    "names",
                )),
            );
        }
        let attr = r.path.get(1)?;
        if attr != "name" && !attrs.contains(&attr.as_str()) {
            let mut known: Vec<&str> = vec!["name"];
            known.extend(attrs.iter().copied());
            return Some(
                Diagnostic::error(
                    "language::undefined-reference",
                    format!("`{kind}.{name}` has no attribute `{attr}` to reference"),
                )
                .at(r.span.clone())
                .help(format!(
                    "referenceable attributes of a {kind}: {}",
                    known.join(", ")
                )),
            );
        }
        None
    }
}

/// `var.<name>` or `local.<name>` that `declared` does not hold (`noun`: what one is called,
/// `plural`: what the suggestion lists).
fn undeclared(r: &Reference, noun: &str, declared: &[String], plural: &str) -> Option<Diagnostic> {
    let name = r.path.first()?;
    if declared.contains(name) {
        return None;
    }
    Some(
        Diagnostic::error(
            "language::undefined-reference",
            format!("undefined {noun} `{}.{name}`", r.root),
        )
        .at(r.span.clone())
        .label("not declared")
        .help(help_for_unknown(
            name,
            declared.iter().map(String::as_str),
            plural,
        )),
    )
}

fn collect_exprs<'b>(body: &'b Body, out: &mut Vec<&'b Expression>) {
    for s in body.iter() {
        match s {
            Structure::Attribute(a) => {
                // A variable's own type expression (`list(string)`) is not a reference.
                if a.key.as_str() != "type" {
                    out.push(&a.value);
                }
            }
            Structure::Block(b) => {
                if b.ident.as_str() == "moved" {
                    // Addresses, not references: the old one names a block that is gone.
                    continue;
                }
                if b.ident.as_str() == "import" {
                    out.extend(
                        attrs(&b.body)
                            .filter(|a| a.key.as_str() != "to")
                            .map(|a| &a.value),
                    );
                    continue;
                }
                if b.ident.as_str() == "variable" {
                    for a in attrs(&b.body).filter(|a| a.key.as_str() != "type") {
                        out.push(&a.value);
                    }
                    // Validation conditions reference the variable itself; checked with it.
                    for vb in blocks(&b.body) {
                        collect_exprs(&vb.body, out);
                    }
                } else {
                    collect_exprs(&b.body, out);
                }
            }
        }
    }
}
