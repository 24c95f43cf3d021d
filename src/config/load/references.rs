//! Every reference (`var.x`, `local.y`, `server.gpu.ipv4_address`) checked against what the
//! stack declares, and the blocks referred to collected for the evaluator.

use super::loader::Loader;
use super::syntax::{attrs, label};
use crate::config::diagnostic::Diagnostic;
use crate::config::eval::REFERENCEABLE;
use crate::config::instance::block_address;
use crate::config::model::DATA_KINDS;
use crate::config::refs::{self, Reference};
use crate::config::suggest::help_for_unknown;
use hcl_edit::expr::Expression;
use hcl_edit::structure::{Body, Structure};
use std::collections::{BTreeSet, HashMap, HashSet};

impl Loader<'_> {
    /// Every reference anywhere must name something that exists.
    /// Reports every reference to something undeclared, and returns the blocks referred to
    /// (`(kind, name)`, for the kinds an expression can refer to).
    ///
    /// It also records what each block and each local refers to (`self.uses`): every
    /// reference is an edge of the dependency graph, whether or not its value is known.
    pub(super) fn check_all_references(
        &mut self,
        body: &Body,
    ) -> HashMap<&'static str, HashSet<String>> {
        let mut referenced: HashMap<&'static str, HashSet<String>> = HashMap::new();
        for (owner, exprs) in exprs_by_owner(body) {
            let mut uses = Uses::default();
            for e in exprs {
                for r in refs::collect(e) {
                    // Reported already (a module's reference to what it does not declare).
                    let reported = self.bad_refs.contains(&(r.span.start, r.span.end));
                    if !reported && let Some(d) = self.check_reference(&r) {
                        self.bad_refs.insert((r.span.start, r.span.end));
                        self.err(d);
                    }
                    let Some(name) = r.path.first() else { continue };
                    if r.root == "var" && self.refused_vars.contains(name) {
                        self.bad_refs.insert((r.span.start, r.span.end));
                    }
                    if r.root == "local" {
                        uses.locals.insert(name.clone());
                    } else if let Some((kind, _)) = REFERENCEABLE.iter().find(|(k, _)| *k == r.root)
                    {
                        for name in self.instances_referred(kind, name, &r) {
                            uses.blocks.insert(block_address(kind, &name));
                            referenced.entry(*kind).or_default().insert(name);
                        }
                    }
                }
            }
            if let Some(owner) = owner {
                self.uses.entry(owner).or_default().merge(uses);
            }
        }
        referenced
    }

    /// The blocks a reference to `kind.name` stands for: the block itself, or for a block
    /// with `count` or `for_each` the instance it names (`server.gpu[0]`) or, when it names
    /// none or one computed, every instance.
    fn instances_referred(&self, kind: &str, name: &str, r: &Reference) -> Vec<String> {
        let Some(all) = self.instances.get(&format!("{kind}.{name}")) else {
            return vec![name.to_string()];
        };
        let one = r
            .instance
            .as_ref()
            .map(|k| crate::config::instance::instance_name(name, k))
            .filter(|n| all.contains(n));
        match one {
            Some(n) => vec![n],
            None => all.clone(),
        }
    }

    /// The blocks `owner` (`server.b`, `local.x`) refers to, directly or through locals.
    /// Locals' own sets are complete once [`Loader::close_local_uses`] has run.
    pub(super) fn blocks_used_by(&self, owner: &str) -> BTreeSet<String> {
        let Some(uses) = self.uses.get(owner) else {
            return BTreeSet::new();
        };
        let mut out = uses.blocks.clone();
        for l in &uses.locals {
            if let Some(u) = self.uses.get(&format!("local.{l}")) {
                out.extend(u.blocks.iter().cloned());
            }
        }
        out
    }

    /// Folds into each local the blocks its locals refer to, in dependency order (`order`),
    /// so that each local's set is complete in one pass.
    pub(super) fn close_local_uses(&mut self, order: &[&str]) {
        for name in order {
            let key = format!("local.{name}");
            let blocks = self.blocks_used_by(&key);
            if let Some(u) = self.uses.get_mut(&key) {
                u.blocks = blocks;
            }
        }
    }

    fn check_reference(&self, r: &Reference) -> Option<Diagnostic> {
        match r.root.as_str() {
            "var" => undeclared(r, "variable", &self.var_names, "variables"),
            "local"
                if r.path
                    .first()
                    .is_some_and(|n| self.local_name_set.contains(n)) =>
            {
                None
            }
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
        if self.instances.contains_key(&format!("{kind}.{name}")) {
            return instanced_reference(r, kind, name);
        }
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

/// A reference to a block with `count` or `for_each` names an instance (`server.gpu[0].x`) or
/// takes them all (`server.gpu[*].x`, `values(host.gpu)`); an attribute straight after the
/// block's name reads no instance.
fn instanced_reference(r: &Reference, kind: &str, name: &str) -> Option<Diagnostic> {
    let attr = r.path.get(1)?;
    Some(
        Diagnostic::error(
            "language::undefined-reference",
            format!("`{kind}.{name}` has instances (`count` or `for_each`), so it has no `{attr}` of its own"),
        )
        .at(r.span.clone())
        .help(format!(
            "name one instance (`{kind}.{name}[0].{attr}`, `{kind}.{name}[\"key\"].{attr}`) or take all (`{kind}.{name}[*].{attr}`, `[for x in values({kind}.{name}) : x.{attr}]`)"
        )),
    )
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

/// What one block or local refers to directly: blocks (`server.a`) and locals (`x`).
#[derive(Debug, Default)]
pub(super) struct Uses {
    pub(super) blocks: BTreeSet<String>,
    pub(super) locals: BTreeSet<String>,
}

impl Uses {
    fn merge(&mut self, other: Uses) {
        self.blocks.extend(other.blocks);
        self.locals.extend(other.locals);
    }
}

/// Every expression of the file, grouped by what holds it: a labelled block (`server.b`),
/// one local (`local.x`), or nothing that can depend on anything (`None`).
fn exprs_by_owner(body: &Body) -> Vec<(Option<String>, Vec<&Expression>)> {
    let mut out = Vec::new();
    for s in body.iter() {
        match s {
            Structure::Attribute(a) => out.push((None, vec![&a.value])),
            // Addresses, not references: the old one names a block that is gone.
            Structure::Block(b) if b.ident.as_str() == "moved" => {}
            Structure::Block(b) if b.ident.as_str() == "import" => {
                let exprs = attrs(&b.body)
                    .filter(|a| a.key.as_str() != "to")
                    .map(|a| &a.value)
                    .collect();
                out.push((None, exprs));
            }
            Structure::Block(b) if b.ident.as_str() == "locals" => {
                for a in attrs(&b.body) {
                    out.push((Some(format!("local.{}", a.key.as_str())), vec![&a.value]));
                }
            }
            Structure::Block(b) => {
                let mut exprs = Vec::new();
                collect_exprs(&b.body, &mut exprs);
                let owner = b
                    .labels
                    .first()
                    .map(|l| block_address(b.ident.as_str(), &label(l).0));
                out.push((owner, exprs));
            }
        }
    }
    out
}

/// The expressions of a block's body, nested blocks (a variable's validation conditions
/// too) included. A variable's own type expression (`list(string)`) is not a reference.
fn collect_exprs<'b>(body: &'b Body, out: &mut Vec<&'b Expression>) {
    for s in body.iter() {
        match s {
            Structure::Attribute(a) => {
                if a.key.as_str() != "type" {
                    out.push(&a.value);
                }
            }
            Structure::Block(b) => collect_exprs(&b.body, out),
        }
    }
}
