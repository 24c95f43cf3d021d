//! Reading the hcl-edit syntax tree: blocks, attributes, labels, object keys, and the spans
//! diagnostics point at.

use crate::config::eval::span_of;
use crate::config::source::Span;
use hcl_edit::Span as _;
use hcl_edit::expr::{Expression, ObjectKey, TraversalOperator};
use hcl_edit::structure::{Attribute, Block, BlockLabel, Body, Structure};

/// Span of the block's header (ident and labels), where diagnostics about the block point.
pub(super) fn header_span(b: &Block) -> Span {
    let start = b.ident.span().map_or(0, |s| s.start);
    let end = b
        .labels
        .last()
        .and_then(|l| match l {
            BlockLabel::Ident(i) => i.span(),
            BlockLabel::String(s) => s.span(),
        })
        .or_else(|| b.ident.span())
        .map_or(start, |s| s.end);
    start..end
}

pub(super) fn label(l: &BlockLabel) -> (String, Span) {
    match l {
        BlockLabel::Ident(i) => (i.as_str().to_string(), i.span().unwrap_or(0..0)),
        BlockLabel::String(s) => (s.value().to_string(), s.span().unwrap_or(0..0)),
    }
}

pub(super) fn attrs(body: &Body) -> impl Iterator<Item = &Attribute> {
    body.iter().filter_map(|s| match s {
        Structure::Attribute(a) => Some(a),
        Structure::Block(_) => None,
    })
}

pub(super) fn blocks(body: &Body) -> impl Iterator<Item = &Block> {
    body.iter().filter_map(|s| match s {
        Structure::Block(b) => Some(b),
        Structure::Attribute(_) => None,
    })
}

pub(super) fn find_attr<'b>(body: &'b Body, name: &str) -> Option<&'b Attribute> {
    attrs(body).find(|a| a.key.as_str() == name)
}

pub(super) fn attr_span(a: &Attribute) -> Span {
    a.span().unwrap_or_else(|| span_of(&a.value))
}

pub(super) fn object_key(k: &ObjectKey) -> String {
    match k {
        ObjectKey::Ident(i) => i.as_str().to_string(),
        ObjectKey::Expression(Expression::String(s)) => s.value().to_string(),
        ObjectKey::Expression(e) => e.to_string().trim().trim_matches('"').to_string(),
    }
}

pub(super) fn object_key_span(k: &ObjectKey) -> Span {
    match k {
        ObjectKey::Ident(i) => i.span().unwrap_or(0..0),
        ObjectKey::Expression(e) => span_of(e),
    }
}

/// `kind.name` written as a bare traversal.
pub(super) fn as_block_ref(e: &Expression) -> Option<(String, String, Span)> {
    let Expression::Traversal(t) = e else {
        return None;
    };
    let Expression::Variable(root) = &t.expr else {
        return None;
    };
    let attr = |i: usize| match t.operators.get(i).map(|o| o.value()) {
        Some(TraversalOperator::GetAttr(name)) => Some(name.as_str().to_string()),
        _ => None,
    };
    // `data.<kind>.<name>` refers to a data block as `kind.name` refers to a resource block;
    // `kind.name[0]` and `kind.name["a"]` to one instance of a `count` or `for_each` block.
    let (kind, name) = match (root.as_str(), t.operators.len()) {
        ("data", 2) => (format!("data.{}", attr(0)?), attr(1)?),
        (_, 1) => (root.as_str().to_string(), attr(0)?),
        (_, 2) => {
            let key = match t.operators.get(1).map(|o| o.value()) {
                Some(TraversalOperator::Index(Expression::Number(n))) => {
                    crate::config::instance::InstanceKey::Index(n.as_u64()?)
                }
                Some(TraversalOperator::Index(Expression::String(s))) => {
                    crate::config::instance::InstanceKey::Key(s.value().to_string())
                }
                _ => return None,
            };
            let name = crate::config::instance::instance_name(&attr(0)?, &key);
            (root.as_str().to_string(), name)
        }
        _ => return None,
    };
    Some((kind, name, t.span().unwrap_or(0..0)))
}
