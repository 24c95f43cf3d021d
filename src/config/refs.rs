//! References inside expressions (`var.x`, `local.y`, `server.gpu.ipv4_address`), collected
//! with their spans before evaluation, so that undefined names and cycles are reported at the
//! exact place they are written.

use super::instance::InstanceKey;
use super::source::Span;
use hcl_edit::Span as _;
use hcl_edit::expr::{Expression, TraversalOperator};
use hcl_edit::visit::{Visit, visit_expr};

/// `root.attr1.attr2...` as written, up to the first non-attribute operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    pub root: String,
    pub path: Vec<String>,
    pub span: Span,
    /// A literal index right after the first name (`server.gpu[0]`, `host.gpu["a"]`): the one
    /// instance of a `count` or `for_each` block referred to.
    pub instance: Option<InstanceKey>,
}

impl Reference {
    pub fn display(&self) -> String {
        let mut s = self.root.clone();
        for p in &self.path {
            s.push('.');
            s.push_str(p);
        }
        s
    }
}

#[derive(Default)]
struct Collector {
    refs: Vec<Reference>,
    /// Names bound by `for` expressions, which are not references.
    bound: Vec<String>,
}

impl Visit for Collector {
    fn visit_expr(&mut self, node: &Expression) {
        match node {
            Expression::Variable(v) => {
                let name = v.as_str().to_string();
                if !self.bound.contains(&name) {
                    self.refs.push(Reference {
                        root: name,
                        path: Vec::new(),
                        span: v.span().unwrap_or(0..0),
                        instance: None,
                    });
                }
            }
            Expression::Traversal(t) => {
                if let Expression::Variable(v) = &t.expr {
                    let name = v.as_str().to_string();
                    if !self.bound.contains(&name) {
                        let mut path = Vec::new();
                        let mut instance = None;
                        for op in &t.operators {
                            match op.value() {
                                TraversalOperator::GetAttr(id) => {
                                    path.push(id.as_str().to_string())
                                }
                                TraversalOperator::Index(e) if path.len() == 1 => {
                                    instance = literal_key(e);
                                    break;
                                }
                                _ => break,
                            }
                        }
                        self.refs.push(Reference {
                            root: name,
                            path,
                            span: t.span().unwrap_or(0..0),
                            instance,
                        });
                    }
                    // Index expressions may hold references of their own.
                    for op in &t.operators {
                        if let TraversalOperator::Index(e) = op.value() {
                            self.visit_expr(e);
                        }
                    }
                } else {
                    visit_expr(self, node);
                }
            }
            Expression::ForExpr(f) => {
                let mut names = vec![f.intro.value_var.as_str().to_string()];
                if let Some(k) = &f.intro.key_var {
                    names.push(k.as_str().to_string());
                }
                self.visit_expr(&f.intro.collection_expr);
                let before = self.bound.len();
                self.bound.extend(names);
                if let Some(k) = &f.key_expr {
                    self.visit_expr(k);
                }
                self.visit_expr(&f.value_expr);
                if let Some(c) = &f.cond {
                    self.visit_expr(&c.expr);
                }
                self.bound.truncate(before);
            }
            _ => visit_expr(self, node),
        }
    }
}

/// `[0]` or `["a"]` written literally.
fn literal_key(e: &Expression) -> Option<InstanceKey> {
    match e {
        Expression::Number(n) => n.as_u64().map(InstanceKey::Index),
        Expression::String(s) => Some(InstanceKey::Key(s.value().to_string())),
        _ => None,
    }
}

/// Every reference in an expression, in source order.
pub fn collect(expr: &Expression) -> Vec<Reference> {
    let mut c = Collector::default();
    c.visit_expr(expr);
    c.refs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_references_in_templates_and_calls() {
        let e: Expression =
            r#"format("%s:%d", server.gpu.ipv4_address, var.port) == "${local.x}-${var.y[0]}""#
                .parse()
                .unwrap();
        let names: Vec<String> = collect(&e).iter().map(Reference::display).collect();
        assert_eq!(
            names,
            vec!["server.gpu.ipv4_address", "var.port", "local.x", "var.y"]
        );
    }

    #[test]
    fn for_variables_are_not_references() {
        let e: Expression = "[for c in var.cidrs : c if c != local.skip]"
            .parse()
            .unwrap();
        let names: Vec<String> = collect(&e).iter().map(Reference::display).collect();
        assert_eq!(names, vec!["var.cidrs", "local.skip"]);
    }
}
