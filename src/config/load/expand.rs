//! `count` and `for_each`: a block with either becomes one block per instance, labelled with
//! the instance's name (`gpu[0]`, `gpu["fsn1-a"]`), with `count.index`, `each.key` and
//! `each.value` replaced by their values. Everything after works on the expanded file as if
//! each instance had been written out by hand.
//!
//! The counts and collections are evaluated first, by a loader that sees variables and locals
//! (a scratch run of passes 1 and 2): like Terraform, they must be known before apply, so they
//! may not depend on what only apply learns.

use crate::config::diagnostic::Diagnostic;
use crate::config::eval::{Evaluator, REFERENCEABLE, json_to_hcl, span_of};
use crate::config::instance::{InstanceKey, instance_name};
use crate::config::value;
use hcl_edit::expr::{Expression, Traversal, TraversalOperator};
use hcl_edit::structure::{Block, BlockLabel, Body, Structure};
use hcl_edit::visit_mut::{VisitMut, visit_expr_mut};
use serde_json::Value as Json;

/// The block types that take `count` and `for_each`.
pub const EXPANDABLE: &[&str] = &[
    "server", "host", "volume", "firewall", "ssh_key", "compose", "check",
];

/// Whether any block of the file has `count` or `for_each` (most stacks have none and skip
/// the extra pass).
pub(super) fn has_instances(body: &Body) -> bool {
    body.iter().any(|s| match s {
        Structure::Block(b) => meta_argument(b).is_some(),
        Structure::Attribute(_) => false,
    })
}

/// `count` or `for_each` of an expandable block, with its name.
fn meta_argument(b: &Block) -> Option<(&'static str, &Expression)> {
    if !EXPANDABLE.contains(&b.ident.as_str()) {
        return None;
    }
    count_or_for_each(b)
}

/// `count` or `for_each` of any block (a module call's too), with its name.
pub(super) fn count_or_for_each(b: &Block) -> Option<(&'static str, &Expression)> {
    ["count", "for_each"]
        .into_iter()
        .find_map(|name| super::syntax::find_attr(&b.body, name).map(|a| (name, &a.value)))
}

/// One instance: its key and what `count`/`each` read in it.
pub(super) struct Instance {
    pub key: InstanceKey,
    /// `each.value` (for_each only).
    pub value: Option<Json>,
}

/// A block whose `count` or `for_each` made no instances: it still exists to refer to, as an
/// empty list (`count`) or map (`for_each`).
#[derive(Debug, Clone)]
pub struct NoInstances {
    pub kind: String,
    pub name: String,
    pub count: bool,
}

/// What expanding made: the file, diagnostics for blocks that cannot be expanded (kept once,
/// without the argument, so the rest still loads), and the blocks with no instances.
pub(super) struct Expanded {
    pub body: Body,
    pub diagnostics: Vec<Diagnostic>,
    pub empty: Vec<NoInstances>,
}

/// The file with every `count`/`for_each` block expanded.
pub(super) fn expand(body: &Body, ev: &Evaluator) -> Expanded {
    let mut out = Body::builder();
    let mut diags = Vec::new();
    let mut empty = Vec::new();
    for s in body.iter() {
        let Structure::Block(b) = s else {
            out = out.structure(s.clone());
            continue;
        };
        let Some((arg, expr)) = meta_argument(b) else {
            out = out.structure(s.clone());
            continue;
        };
        if let Some(d) = both_given(b) {
            diags.push(d);
        }
        match instances(arg, expr, ev) {
            Ok(list) if list.is_empty() => {
                if let Some(l) = b.labels.first() {
                    empty.push(NoInstances {
                        kind: b.ident.as_str().to_string(),
                        name: super::syntax::label(l).0,
                        count: arg == "count",
                    });
                }
            }
            Ok(list) => {
                for i in list {
                    out = out.block(instance_block(b, &i));
                }
            }
            Err(d) => {
                diags.push(d);
                out = out.block(without_meta(b));
            }
        }
    }
    Expanded {
        body: out.build(),
        diagnostics: diags,
        empty,
    }
}

fn both_given(b: &Block) -> Option<Diagnostic> {
    let has = |n: &str| {
        b.body
            .iter()
            .any(|s| matches!(s, Structure::Attribute(a) if a.key.as_str() == n))
    };
    (has("count") && has("for_each")).then(|| {
        Diagnostic::error(
            "language::count-for-each",
            format!("`{}` has both `count` and `for_each`", b.ident.as_str()),
        )
        .at(super::syntax::header_span(b))
        .help("use one: `count` for N alike instances, `for_each` for one per key")
    })
}

/// The instances `count = N` or `for_each = <set or map>` make.
pub(super) fn instances(
    arg: &str,
    expr: &Expression,
    ev: &Evaluator,
) -> Result<Vec<Instance>, Diagnostic> {
    // Other blocks are read before they are expanded themselves: what they would give here is
    // not their instances.
    let reads_a_block = crate::config::refs::collect(expr)
        .into_iter()
        .find(|r| REFERENCEABLE.iter().any(|(k, _)| *k == r.root));
    if let Some(r) = reads_a_block {
        return Err(Diagnostic::error(
            "language::count-for-each",
            format!("`{arg}` reads `{}`; it may read only variables, locals and literals", r.display()),
        )
        .at(r.span)
        .help("give the keys from the variable or local the other block's `for_each` reads (`for_each = var.gex`)"));
    }
    let v = ev.eval(expr)?;
    let unknown = |v: &Json| v.as_str().is_some_and(value::is_unknown);
    let fail = |what: &str| {
        Diagnostic::error("language::count-for-each", format!("`{arg}` {what}"))
            .at(span_of(expr))
            .help(match arg {
                "count" => "give a whole number from variables, locals or literals (`count = 3`, `count = length(var.hosts)`)",
                _ => "give a map or a set of strings from variables, locals or literals (`for_each = var.hosts`, `for_each = toset([\"a\", \"b\"])`)",
            })
    };
    if unknown(&v) || contains_unknown(&v) {
        return Err(fail(
            "depends on a value known only after apply; it must be known when planning",
        ));
    }
    match (arg, v) {
        ("count", Json::Number(n)) => match n.as_u64() {
            Some(n) => Ok((0..n)
                .map(|i| Instance {
                    key: InstanceKey::Index(i),
                    value: None,
                })
                .collect()),
            None => Err(fail("must be a whole number, 0 or more")),
        },
        ("count", other) => Err(fail(&format!("must be a number, found {}", kind(&other)))),
        (_, Json::Object(map)) => Ok(map
            .into_iter()
            .map(|(k, v)| Instance {
                key: InstanceKey::Key(k),
                value: Some(v),
            })
            .collect()),
        (_, Json::Array(items)) => {
            let mut keys = Vec::with_capacity(items.len());
            for item in items {
                match item {
                    Json::String(s) => keys.push(s),
                    other => {
                        return Err(fail(&format!(
                            "over a list must be over strings (a set), found {}",
                            kind(&other)
                        )));
                    }
                }
            }
            keys.sort();
            keys.dedup();
            Ok(keys
                .into_iter()
                .map(|k| Instance {
                    value: Some(Json::String(k.clone())),
                    key: InstanceKey::Key(k),
                })
                .collect())
        }
        (_, other) => Err(fail(&format!(
            "must be a map or a set of strings, found {}",
            kind(&other)
        ))),
    }
}

fn contains_unknown(v: &Json) -> bool {
    match v {
        Json::String(s) => value::is_unknown(s),
        Json::Array(a) => a.iter().any(contains_unknown),
        Json::Object(o) => o
            .iter()
            .any(|(k, v)| value::is_unknown(k) || contains_unknown(v)),
        _ => false,
    }
}

fn kind(v: &Json) -> &'static str {
    super::readers::json_kind(v)
}

/// The block without `count`/`for_each`.
pub(super) fn without_meta(b: &Block) -> Block {
    let mut out = b.clone();
    out.body = b
        .body
        .iter()
        .filter(|s| !matches!(s, Structure::Attribute(a) if matches!(a.key.as_str(), "count" | "for_each")))
        .cloned()
        .collect();
    out
}

/// One instance of `b`: labelled with its name, `count.*` and `each.*` replaced.
fn instance_block(b: &Block, i: &Instance) -> Block {
    let mut out = without_meta(b);
    if let Some(first) = out.labels.first_mut() {
        // The new label has no span: diagnostics about the block point at its type instead.
        let (base, _) = super::syntax::label(first);
        let name = instance_name(&base, &i.key);
        *first = BlockLabel::String(hcl_edit::Decorated::new(name));
    }
    substitute(&mut out.body, i);
    out
}

/// `count.index`, `each.key` and `each.value` in `body` replaced by instance `i`'s values.
pub(super) fn substitute(body: &mut Body, i: &Instance) {
    Substitute { instance: i }.visit_body_mut(body);
}

struct Substitute<'a> {
    instance: &'a Instance,
}

impl Substitute<'_> {
    /// The value `root.attr` stands for in this instance, if it is one of ours.
    fn value_of(&self, root: &str, attr: &str) -> Option<Json> {
        match (root, attr, &self.instance.key) {
            ("count", "index", InstanceKey::Index(i)) => Some(Json::from(*i)),
            ("each", "key", InstanceKey::Key(k)) => Some(Json::String(k.clone())),
            ("each", "value", _) => self.instance.value.clone(),
            _ => None,
        }
    }
}

impl VisitMut for Substitute<'_> {
    fn visit_expr_mut(&mut self, node: &mut Expression) {
        if let Expression::Traversal(t) = node
            && let Some(replaced) = self.replace(t)
        {
            *node = replaced;
        }
        visit_expr_mut(self, node);
    }
}

impl Substitute<'_> {
    fn replace(&self, t: &Traversal) -> Option<Expression> {
        let Expression::Variable(root) = &t.expr else {
            return None;
        };
        let Some(TraversalOperator::GetAttr(attr)) = t.operators.first().map(|o| o.value()) else {
            return None;
        };
        let v = self.value_of(root.as_str(), attr.as_str())?;
        let literal: Expression = hcl::Expression::from(json_to_hcl(&v)).into();
        if t.operators.len() == 1 {
            return Some(literal);
        }
        let mut rest = t.clone();
        rest.expr = literal;
        rest.operators.remove(0);
        Some(Expression::Traversal(Box::new(rest)))
    }
}

#[cfg(test)]
mod tests {
    use crate::config::{LoadOptions, Loaded, diagnostic, load_str};
    use std::path::Path;

    fn load(text: &str) -> Loaded {
        load_str("stack.hcl", text, Path::new("."), &LoadOptions::default())
    }

    const KEY: &str = "stack \"s\" {}\nssh_key \"k\" {\n  public_key = \"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHjnsxkcV8lBTYD+jNVRMH3xx6UXzdeDRxQJFOB9ueSt k\"\n}\n";

    #[test]
    fn instances_are_named_by_index_and_key_and_see_their_values() {
        let text = format!(
            "{KEY}variable \"n\" {{\n  type    = number\n  default = 2\n}}\nlocals {{\n  sizes = {{ a = 10, b = 20 }}\n}}\nvolume \"v\" {{\n  for_each = local.sizes\n  size     = each.value\n  location = \"fsn1\"\n  labels   = {{ key = each.key }}\n}}\nserver \"s\" {{\n  count       = var.n\n  server_type = \"cx23\"\n  location    = \"nbg1\"\n  image       = \"ubuntu-24.04\"\n  ssh_keys    = [ssh_key.k]\n  labels      = {{ n = \"${{count.index}}\" }}\n}}\noutput \"o\" {{\n  value = [server.s[*].name, keys(volume.v), volume.v[\"b\"].name]\n}}\n"
        );
        let l = load(&text);
        assert!(!l.diagnostics.has_errors(), "{:?}", l.diagnostics);
        let stack = l.stack.expect("a stack");
        let names: Vec<(&str, u32, &str)> = stack
            .volumes
            .iter()
            .map(|v| (v.name.as_str(), v.size_gb.value, v.labels["key"].as_str()))
            .collect();
        assert_eq!(names, [("v[\"a\"]", 10, "a"), ("v[\"b\"]", 20, "b")]);
        let servers: Vec<(&str, &str)> = stack
            .servers
            .iter()
            .map(|s| (s.name.as_str(), s.labels["n"].as_str()))
            .collect();
        assert_eq!(servers, [("s[0]", "0"), ("s[1]", "1")]);
        assert_eq!(
            stack.outputs[0].value.value,
            serde_json::json!([["s[0]", "s[1]"], ["a", "b"], "v[\"b\"]"])
        );
    }

    /// `count = 0` (the `enabled ? 1 : 0` idiom) and an empty map leave blocks to refer to,
    /// with no instances.
    #[test]
    fn blocks_without_instances_are_empty_not_undefined() {
        let text = format!(
            "{KEY}variable \"on\" {{\n  type    = bool\n  default = false\n}}\nvolume \"v\" {{\n  count    = var.on ? 1 : 0\n  size     = 10\n  location = \"fsn1\"\n}}\nvolume \"w\" {{\n  for_each = {{}}\n  size     = 10\n  location = \"fsn1\"\n}}\noutput \"o\" {{\n  value = [length(volume.v[*].name), length(values(volume.w))]\n}}\n"
        );
        let l = load(&text);
        assert!(!l.diagnostics.has_errors(), "{:?}", l.diagnostics);
        let stack = l.stack.expect("a stack");
        assert!(stack.volumes.is_empty());
        assert_eq!(stack.outputs[0].value.value, serde_json::json!([0, 0]));
    }

    #[test]
    fn for_each_over_another_blocks_instances_is_refused() {
        let text = format!(
            "{KEY}volume \"a\" {{\n  for_each = toset([\"x\"])\n  size     = 10\n  location = \"fsn1\"\n}}\nvolume \"b\" {{\n  for_each = volume.a\n  size     = 10\n  location = \"fsn1\"\n}}\n"
        );
        let l = load(&text);
        let d = l
            .diagnostics
            .iter()
            .find(|d| d.code == "language::count-for-each")
            .expect("reported");
        assert_eq!(
            d.message,
            "`for_each` reads `volume.a`; it may read only variables, locals and literals"
        );
    }

    #[test]
    fn a_block_of_instances_declared_twice_is_reported_at_the_second() {
        let block = "volume \"v\" {\n  count    = 1\n  size     = 10\n  location = \"fsn1\"\n}\n";
        let text = format!("{KEY}{block}{block}");
        let l = load(&text);
        let d = l
            .diagnostics
            .iter()
            .find(|d| d.code == "language::duplicate")
            .expect("reported");
        let at = d.span.clone().expect("located");
        assert_eq!(l.source.line_col(at.start).0, 10, "{d:?}");
    }

    #[test]
    fn counts_and_collections_that_cannot_make_instances_are_located() {
        let text = format!(
            "{KEY}volume \"a\" {{\n  count    = -1\n  size     = 10\n  location = \"fsn1\"\n}}\nvolume \"b\" {{\n  for_each = [1, 2]\n  size     = 10\n  location = \"fsn1\"\n}}\nlocals {{\n  key_id = ssh_key.k.id\n}}\nvolume \"c\" {{\n  for_each = local.key_id\n  size     = 10\n  location = \"fsn1\"\n}}\nvolume \"d\" {{\n  count    = 1\n  for_each = toset([\"x\"])\n  size     = 10\n  location = \"fsn1\"\n}}\n"
        );
        let l = load(&text);
        insta::assert_snapshot!(diagnostic::render(&l.diagnostics, &l.source));
    }

    #[test]
    fn an_attribute_read_from_the_block_of_instances_itself_says_how_to_name_one() {
        let text = format!(
            "{KEY}volume \"v\" {{\n  count    = 2\n  size     = 10\n  location = \"fsn1\"\n}}\noutput \"o\" {{\n  value = volume.v.name\n}}\n"
        );
        let l = load(&text);
        let d = l
            .diagnostics
            .iter()
            .find(|d| d.code == "language::undefined-reference")
            .expect("reported");
        assert!(
            d.help.as_deref().unwrap_or("").contains("volume.v[0].name"),
            "{d:?}"
        );
    }
}
