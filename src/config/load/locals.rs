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
use std::collections::{BTreeMap, BTreeSet, HashMap};

impl Loader<'_> {
    pub(super) fn locals(&mut self, body: &Body, ev: &mut Evaluator) {
        let mut defs: BTreeMap<&str, &Attribute> = BTreeMap::new();
        for b in blocks(body).filter(|b| b.ident.as_str() == "locals") {
            for a in attrs(&b.body) {
                defs.entry(a.key.as_str()).or_insert(a);
            }
        }
        // The locals each one names (with where), and those that read `local` as a whole.
        let mut deps: BTreeMap<&str, Vec<(&str, Span)>> = BTreeMap::new();
        let mut whole: BTreeSet<&str> = BTreeSet::new();
        for (n, a) in &defs {
            let mut d = Vec::new();
            for r in refs::collect(&a.value)
                .into_iter()
                .filter(|r| r.root == "local")
            {
                match r.path.first() {
                    Some(p) => d.extend(defs.get_key_value(p.as_str()).map(|(k, _)| (*k, r.span))),
                    None => {
                        whole.insert(n);
                    }
                }
            }
            deps.insert(n, d);
        }
        let order = self.local_order(&defs, &deps);
        self.close_local_uses(&order);
        for name in order {
            let Some(a) = defs.get(name) else { continue };
            let sensitive = ev.sensitive_sources(&a.value);
            let uses: Option<Vec<String>> = (!whole.contains(name)).then(|| {
                deps.get(name)
                    .map(|d| d.iter().map(|(n, _)| (*n).to_string()).collect())
                    .unwrap_or_default()
            });
            match ev.eval_local(&a.value, uses.as_deref()) {
                Ok(v) => ev.set_local(name, v, sensitive.clone()),
                Err(d) => {
                    // Only report when the cause is not an earlier reference error.
                    if !self.diags.has_errors() {
                        self.err(d);
                    }
                    ev.set_local(
                        name,
                        Json::String(value::after_apply(&format!("local.{name}"))),
                        sensitive,
                    );
                }
            }
        }
        ev.finish_locals();
    }

    /// The locals in dependency order (depth first, no recursion: a chain may be long). A back
    /// edge is a cycle, reported whole, once.
    fn local_order<'b>(
        &mut self,
        defs: &BTreeMap<&'b str, &Attribute>,
        deps: &BTreeMap<&'b str, Vec<(&'b str, Span)>>,
    ) -> Vec<&'b str> {
        let mut state: HashMap<&str, u8> = HashMap::with_capacity(defs.len());
        let mut order = Vec::with_capacity(defs.len());
        let mut reported: BTreeSet<BTreeSet<&str>> = BTreeSet::new();
        for &start in defs.keys() {
            if state.get(start).copied().unwrap_or(0) != 0 {
                continue;
            }
            state.insert(start, 1);
            let mut stack: Vec<(&str, usize)> = vec![(start, 0)];
            while let Some(&(node, i)) = stack.last() {
                let Some(&(next, _)) = deps.get(node).and_then(|e| e.get(i)) else {
                    state.insert(node, 2);
                    order.push(node);
                    stack.pop();
                    continue;
                };
                if let Some(top) = stack.last_mut() {
                    top.1 += 1;
                }
                match state.get(next).copied().unwrap_or(0) {
                    0 => {
                        state.insert(next, 1);
                        stack.push((next, 0));
                    }
                    1 => {
                        let pos = stack.iter().position(|(n, _)| *n == next).unwrap_or(0);
                        let cycle: Vec<&str> = stack[pos..].iter().map(|(n, _)| *n).collect();
                        if reported.insert(cycle.iter().copied().collect()) {
                            self.report_cycle(&cycle, deps, defs);
                        }
                    }
                    _ => {}
                }
            }
        }
        order
    }
    fn report_cycle(
        &mut self,
        cycle: &[&str],
        deps: &BTreeMap<&str, Vec<(&str, Span)>>,
        defs: &BTreeMap<&str, &Attribute>,
    ) {
        let mut path = cycle.to_vec();
        path.push(cycle[0]);
        let shown = path
            .iter()
            .map(|n| format!("local.{n}"))
            .collect::<Vec<_>>()
            .join(" -> ");
        let first_span = defs
            .get(cycle[0])
            .map(|a| a.key.span().unwrap_or(0..0))
            .unwrap_or(0..0);
        let mut d = Diagnostic::error("language::cycle", format!("reference cycle: {shown}"))
            .at(first_span)
            .label(format!("local.{} starts the cycle", cycle[0]))
            .help("break the cycle: one of these locals must not depend on the others");
        for w in path.windows(2) {
            if let Some((_, span)) = deps
                .get(w[0])
                .and_then(|e| e.iter().find(|(n, _)| *n == w[1]))
            {
                d = d.related(span.clone(), format!("local.{} uses local.{}", w[0], w[1]));
            }
        }
        self.err(d);
    }
}
