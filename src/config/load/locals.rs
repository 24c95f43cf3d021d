//! Locals, evaluated in dependency order; a cycle among them is reported whole.

use super::loader::Loader;
use super::syntax::{attrs, blocks};
use crate::config::diagnostic::Diagnostic;
use crate::config::eval::Evaluator;
use crate::config::refs;
use crate::config::source::Span;
use crate::config::value;
use hcl_edit::Span as _;
use hcl_edit::structure::{Attribute, Body};
use serde_json::Value as Json;
use std::collections::{BTreeMap, BTreeSet};

impl Loader<'_> {
    pub(super) fn locals(&mut self, body: &Body, ev: &mut Evaluator) {
        let mut defs: BTreeMap<String, &Attribute> = BTreeMap::new();
        for b in blocks(body).filter(|b| b.ident.as_str() == "locals") {
            for a in attrs(&b.body) {
                defs.entry(a.key.as_str().to_string()).or_insert(a);
            }
        }
        let deps: BTreeMap<String, Vec<(String, Span)>> = defs
            .iter()
            .map(|(n, a)| {
                let d = refs::collect(&a.value)
                    .into_iter()
                    .filter(|r| r.root == "local")
                    .filter_map(|r| r.path.first().map(|p| (p.clone(), r.span.clone())))
                    .filter(|(p, _)| defs.contains_key(p))
                    .collect();
                (n.clone(), d)
            })
            .collect();
        // Depth-first topological order; a back edge is a cycle, reported whole.
        let mut state: BTreeMap<String, u8> = BTreeMap::new();
        let mut order = Vec::new();
        let mut reported: BTreeSet<BTreeSet<String>> = BTreeSet::new();
        for start in defs.keys() {
            let mut stack: Vec<(String, usize)> = vec![(start.clone(), 0)];
            if state.get(start).copied().unwrap_or(0) != 0 {
                continue;
            }
            state.insert(start.clone(), 1);
            while let Some((node, i)) = stack.last().cloned() {
                let edges = deps.get(&node).cloned().unwrap_or_default();
                if i < edges.len() {
                    if let Some(top) = stack.last_mut() {
                        top.1 += 1;
                    }
                    let (next, _) = &edges[i];
                    match state.get(next).copied().unwrap_or(0) {
                        0 => {
                            state.insert(next.clone(), 1);
                            stack.push((next.clone(), 0));
                        }
                        1 => {
                            let pos = stack.iter().position(|(n, _)| n == next).unwrap_or(0);
                            let cycle: Vec<String> =
                                stack[pos..].iter().map(|(n, _)| n.clone()).collect();
                            let key: BTreeSet<String> = cycle.iter().cloned().collect();
                            if reported.insert(key) {
                                self.report_cycle(&cycle, &deps, &defs);
                            }
                        }
                        _ => {}
                    }
                } else {
                    state.insert(node.clone(), 2);
                    order.push(node);
                    stack.pop();
                }
            }
        }
        self.close_local_uses(&order);
        for name in order {
            let Some(a) = defs.get(&name) else { continue };
            let sensitive = ev.is_sensitive(&a.value);
            let uses = local_uses(&a.value);
            match ev.eval_local(&a.value, uses.as_deref()) {
                Ok(v) => ev.set_local(&name, v, sensitive),
                Err(d) => {
                    // Only report when the cause is not an earlier reference error.
                    if !self.diags.has_errors() {
                        self.err(d);
                    }
                    ev.set_local(
                        &name,
                        Json::String(value::after_apply(&format!("local.{name}"))),
                        sensitive,
                    );
                }
            }
        }
        ev.finish_locals();
    }

    fn report_cycle(
        &mut self,
        cycle: &[String],
        deps: &BTreeMap<String, Vec<(String, Span)>>,
        defs: &BTreeMap<String, &Attribute>,
    ) {
        let mut path = cycle.to_vec();
        path.push(cycle[0].clone());
        let shown = path
            .iter()
            .map(|n| format!("local.{n}"))
            .collect::<Vec<_>>()
            .join(" -> ");
        let first_span = defs
            .get(&cycle[0])
            .map(|a| a.key.span().unwrap_or(0..0))
            .unwrap_or(0..0);
        let mut d = Diagnostic::error("language::cycle", format!("reference cycle: {shown}"))
            .at(first_span)
            .label(format!("local.{} starts the cycle", cycle[0]))
            .help("break the cycle: one of these locals must not depend on the others");
        for w in path.windows(2) {
            if let Some((_, span)) = deps
                .get(&w[0])
                .and_then(|e| e.iter().find(|(n, _)| *n == w[1]))
            {
                d = d.related(span.clone(), format!("local.{} uses local.{}", w[0], w[1]));
            }
        }
        self.err(d);
    }
}

/// The locals an expression names (`local.x`), or `None` when it reads `local` as a whole
/// (`local["x"]`), which needs all of them.
fn local_uses(expr: &hcl_edit::expr::Expression) -> Option<Vec<String>> {
    let mut out = Vec::new();
    for r in refs::collect(expr) {
        if r.root == "local" {
            out.push(r.path.into_iter().next()?);
        }
    }
    Some(out)
}
