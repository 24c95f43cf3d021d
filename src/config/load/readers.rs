//! Pass 3's shared attribute readers: evaluate an attribute and check it is the type the model
//! wants (string, bool, number, lists, maps, references to blocks), reporting at its span.

use super::loader::Loader;
use super::syntax::{as_block_ref, find_attr, object_key};
use crate::config::diagnostic::Diagnostic;
use crate::config::eval::{Evaluator, span_of};
use crate::config::refs;
use crate::config::source::{Span, Spanned};
use hcl_edit::expr::Expression;
use hcl_edit::structure::{Attribute, Body};
use serde_json::Value as Json;
use std::collections::BTreeMap;

/// The kind of a value as type errors name it.
pub(super) fn json_kind(v: &Json) -> &'static str {
    match v {
        Json::Null => "null",
        Json::Bool(_) => "bool",
        Json::Number(_) => "number",
        Json::String(_) => "string",
        Json::Array(_) => "list",
        Json::Object(_) => "object",
    }
}

/// Builds the typed model from the syntax tree, with the evaluator of pass 2.
pub(super) struct ModelBuilder<'l, 'a> {
    pub(super) l: &'l mut Loader<'a>,
    pub(super) ev: &'l Evaluator,
}

impl ModelBuilder<'_, '_> {
    pub(super) fn err(&mut self, d: Diagnostic) {
        self.l.err(d);
    }

    /// True when the expression holds a reference already reported as undefined.
    fn has_bad_ref(&self, e: &Expression) -> bool {
        !self.l.bad_refs.is_empty()
            && refs::collect(e)
                .iter()
                .any(|r| self.l.bad_refs.contains(&(r.span.start, r.span.end)))
    }

    /// Evaluates, reporting failures, unless an undefined reference was already reported.
    pub(super) fn eval_expr(&mut self, e: &Expression) -> Option<Json> {
        if self.has_bad_ref(e) {
            return None;
        }
        match self.ev.eval(e) {
            Ok(v) => Some(v),
            Err(d) => {
                self.err(d);
                None
            }
        }
    }

    /// The value of `<kind>.<name>.<attribute>` as state knows it, or its after-apply marker.
    pub(super) fn known_or_after_apply(&self, reference: &str) -> String {
        let marker = || crate::config::value::after_apply(reference);
        match reference.parse::<Expression>().map(|e| self.ev.eval(&e)) {
            Ok(Ok(Json::String(s))) => s,
            _ => marker(),
        }
    }

    /// Evaluates an attribute that must not carry a sensitive value.
    pub(super) fn value(&mut self, a: &Attribute) -> Option<Json> {
        if self.ev.is_sensitive(&a.value) {
            let sources = self.ev.sensitive_sources(&a.value);
            let d = Diagnostic::error(
                "language::sensitive-leak",
                format!(
                    "sensitive value{} used in `{}`, which is not secret",
                    if sources.is_empty() { String::new() } else { format!(" (var.{})", sources.join(", var.")) },
                    a.key.as_str()
                ),
            )
            .at(span_of(&a.value))
            .label("sensitive")
            .help("secrets may only flow into `secret_environment` or a `sensitive = true` output, so they never reach compose.yaml, state or logs");
            self.err(d);
            return None;
        }
        self.eval_expr(&a.value)
    }

    pub(super) fn type_error(&mut self, a: &Attribute, want: &str, got: &Json) {
        let d = Diagnostic::error(
            "language::type",
            format!(
                "`{}` must be {want}, found {}",
                a.key.as_str(),
                json_kind(got)
            ),
        )
        .at(span_of(&a.value))
        .label(format!("expected {want}"));
        self.err(d);
    }

    pub(super) fn string(&mut self, body: &Body, name: &str) -> Option<Spanned<String>> {
        let a = find_attr(body, name)?;
        let v = self.value(a)?;
        let s = match &v {
            Json::String(s) => s.clone(),
            Json::Number(n) => n.to_string(),
            Json::Bool(b) => b.to_string(),
            other => {
                self.type_error(a, "a string", other);
                return None;
            }
        };
        Some(Spanned::new(s, span_of(&a.value)))
    }

    pub(super) fn bool(&mut self, body: &Body, name: &str, default: bool) -> Spanned<bool> {
        let Some(a) = find_attr(body, name) else {
            return Spanned::new(default, 0..0);
        };
        match self.value(a) {
            Some(Json::Bool(b)) => Spanned::new(b, span_of(&a.value)),
            Some(other) => {
                self.type_error(a, "true or false", &other);
                Spanned::new(default, span_of(&a.value))
            }
            None => Spanned::new(default, span_of(&a.value)),
        }
    }

    pub(super) fn u32(&mut self, body: &Body, name: &str) -> Option<Spanned<u32>> {
        let a = find_attr(body, name)?;
        match self.value(a)? {
            Json::Number(n) if n.as_u64().is_some_and(|x| x <= u64::from(u32::MAX)) => Some(
                Spanned::new(n.as_u64().unwrap_or(0) as u32, span_of(&a.value)),
            ),
            Json::String(s) if s.parse::<u32>().is_ok() => {
                Some(Spanned::new(s.parse().unwrap_or(0), span_of(&a.value)))
            }
            other => {
                self.type_error(a, "a whole number", &other);
                None
            }
        }
    }

    /// A list of strings, each with its own span when written as a literal list.
    pub(super) fn string_list(
        &mut self,
        body: &Body,
        name: &str,
    ) -> Option<Spanned<Vec<Spanned<String>>>> {
        let a = find_attr(body, name)?;
        let whole = span_of(&a.value);
        if let Expression::Array(arr) = &a.value {
            let mut items = Vec::new();
            if self.ev.is_sensitive(&a.value) {
                self.value(a);
                return None;
            }
            for e in arr.iter() {
                match self.eval_expr(e) {
                    None => {}
                    Some(Json::String(s)) => items.push(Spanned::new(s, span_of(e))),
                    Some(Json::Number(n)) => items.push(Spanned::new(n.to_string(), span_of(e))),
                    Some(other) => {
                        let d = Diagnostic::error(
                            "language::type",
                            format!(
                                "`{}` must be a list of strings, found a {} element",
                                name,
                                json_kind(&other)
                            ),
                        )
                        .at(span_of(e));
                        self.err(d);
                    }
                }
            }
            return Some(Spanned::new(items, whole));
        }
        match self.value(a)? {
            Json::Array(items) => {
                let mut out = Vec::new();
                for i in items {
                    match i {
                        Json::String(s) => out.push(Spanned::new(s, whole.clone())),
                        Json::Number(n) => out.push(Spanned::new(n.to_string(), whole.clone())),
                        other => {
                            self.type_error(a, "a list of strings", &other);
                            return None;
                        }
                    }
                }
                Some(Spanned::new(out, whole))
            }
            other => {
                self.type_error(a, "a list of strings", &other);
                None
            }
        }
    }

    /// The items of a list of strings with their spans; none when absent or not a list.
    pub(super) fn strings(&mut self, body: &Body, name: &str) -> Vec<Spanned<String>> {
        self.string_list(body, name)
            .map(|l| l.value)
            .unwrap_or_default()
    }

    /// A list of strings as plain values, with the span of the whole list.
    pub(super) fn string_values(
        &mut self,
        body: &Body,
        name: &str,
    ) -> Option<Spanned<Vec<String>>> {
        self.string_list(body, name)
            .map(|l| l.map(|v| v.into_iter().map(|s| s.value).collect()))
    }

    /// A list of strings as plain values; none when absent or not a list.
    pub(super) fn plain_list(&mut self, body: &Body, name: &str) -> Vec<String> {
        self.strings(body, name)
            .into_iter()
            .map(|s| s.value)
            .collect()
    }

    /// A map of strings with per-entry value spans when written as a literal object.
    pub(super) fn string_map(
        &mut self,
        body: &Body,
        name: &str,
    ) -> BTreeMap<String, Spanned<String>> {
        let mut out = BTreeMap::new();
        let Some(a) = find_attr(body, name) else {
            return out;
        };
        if let Expression::Object(obj) = &a.value {
            for (k, v) in obj.iter() {
                let key = object_key(k);
                let vspan = span_of(v.expr());
                if self.ev.is_sensitive(v.expr()) {
                    let d = Diagnostic::error(
                        "language::sensitive-leak",
                        format!("sensitive value in `{name}.{key}`, which is not secret"),
                    )
                    .at(vspan)
                    .label("sensitive")
                    .help(if name == "environment" {
                        "move it to `secret_environment`: it is then delivered in the service's env file (mode 0600), never in compose.yaml"
                    } else {
                        "secrets may only flow into `secret_environment` or a sensitive output"
                    });
                    self.err(d);
                    continue;
                }
                match self.eval_expr(v.expr()) {
                    None => {}
                    Some(Json::String(s)) => {
                        out.insert(key, Spanned::new(s, vspan));
                    }
                    Some(Json::Number(n)) => {
                        out.insert(key, Spanned::new(n.to_string(), vspan));
                    }
                    Some(Json::Bool(b)) => {
                        out.insert(key, Spanned::new(b.to_string(), vspan));
                    }
                    Some(other) => {
                        let d = Diagnostic::error(
                            "language::type",
                            format!(
                                "`{name}.{key}` must be a string, found {}",
                                json_kind(&other)
                            ),
                        )
                        .at(vspan);
                        self.err(d);
                    }
                }
            }
            return out;
        }
        let whole = span_of(&a.value);
        match self.value(a) {
            Some(Json::Object(o)) => {
                for (k, v) in o {
                    let s = match v {
                        Json::String(s) => s,
                        other => other.to_string(),
                    };
                    out.insert(k, Spanned::new(s, whole.clone()));
                }
            }
            // Compose also accepts `["KEY=value", ...]`.
            Some(Json::Array(items)) if name == "environment" => {
                let elems: Vec<Span> = match &a.value {
                    Expression::Array(arr) => arr.iter().map(span_of).collect(),
                    _ => Vec::new(),
                };
                for (i, item) in items.iter().enumerate() {
                    let span = elems.get(i).cloned().unwrap_or(whole.clone());
                    match item.as_str().and_then(|s| s.split_once('=')) {
                        Some((k, v)) => {
                            out.insert(k.to_string(), Spanned::new(v.to_string(), span));
                        }
                        None => {
                            let d = Diagnostic::error(
                                "language::type",
                                "environment entries must be `KEY=value`",
                            )
                            .at(span);
                            self.err(d);
                        }
                    }
                }
            }
            Some(other) => self.type_error(a, "a map of strings", &other),
            None => {}
        }
        out
    }

    pub(super) fn labels_map(&mut self, body: &Body) -> BTreeMap<String, String> {
        self.string_map(body, "labels")
            .into_iter()
            .map(|(k, v)| (k, v.value))
            .collect()
    }

    /// References computed from instances of `count` and `for_each` blocks (`server.web[*]`,
    /// `values(host.gpu)`, a `for` expression): the blocks whose values the expression gives,
    /// found by their names. False when it gives anything else.
    fn evaluated_block_refs(
        &mut self,
        e: &Expression,
        kinds: &[&str],
        out: &mut Vec<(String, Spanned<String>)>,
    ) -> bool {
        let Ok(v) = self.ev.eval(e) else {
            return false;
        };
        let mut objects = Vec::new();
        flatten_objects(&v, &mut objects);
        let mut found = Vec::new();
        for o in &objects {
            let Some(name) = o.get("name").and_then(Json::as_str) else {
                return false;
            };
            let kind = kinds.iter().find(|k| {
                self.l
                    .name_sets
                    .get(**k)
                    .is_some_and(|set| set.contains(name))
            });
            let Some(kind) = kind else { return false };
            found.push((kind.to_string(), Spanned::new(name.to_string(), span_of(e))));
        }
        out.extend(found);
        true
    }

    /// The first of `block_refs`, for an attribute that refers to one block.
    pub(super) fn block_ref(
        &mut self,
        body: &Body,
        name: &str,
        kinds: &[&str],
    ) -> Option<(String, Spanned<String>)> {
        self.block_refs(body, name, kinds).into_iter().next()
    }

    /// The names of the blocks of one kind a list of references refers to.
    pub(super) fn block_names(
        &mut self,
        body: &Body,
        name: &str,
        kind: &str,
    ) -> Vec<Spanned<String>> {
        self.block_refs(body, name, &[kind])
            .into_iter()
            .map(|(_, n)| n)
            .collect()
    }

    /// A structural reference to another block: `server.gpu` (or a list of them).
    pub(super) fn block_refs(
        &mut self,
        body: &Body,
        name: &str,
        kinds: &[&str],
    ) -> Vec<(String, Spanned<String>)> {
        let Some(a) = find_attr(body, name) else {
            return Vec::new();
        };
        let items: Vec<&Expression> = match &a.value {
            Expression::Array(arr) => arr.iter().collect(),
            e => vec![e],
        };
        let mut out = Vec::new();
        for e in items {
            match as_block_ref(e) {
                Some((kind, target, span)) if kinds.contains(&kind.as_str()) => {
                    out.push((kind, Spanned::new(target, span)));
                }
                _ if self.evaluated_block_refs(e, kinds, &mut out) => {}
                _ => {
                    let want = kinds
                        .iter()
                        .map(|k| format!("`{k}.<name>`"))
                        .collect::<Vec<_>>()
                        .join(" or ");
                    let d = Diagnostic::error(
                        "language::type",
                        format!("`{name}` must reference {want}"),
                    )
                    .at(span_of(e))
                    .help(format!(
                        "write a reference such as `{}.main`, not a string",
                        kinds[0]
                    ));
                    self.err(d);
                }
            }
        }
        out
    }
}

/// The objects of a value: itself, or those of a list of them (nested lists flattened).
fn flatten_objects<'v>(v: &'v Json, out: &mut Vec<&'v serde_json::Map<String, Json>>) {
    match v {
        Json::Object(o) => out.push(o),
        Json::Array(items) => items.iter().for_each(|i| flatten_objects(i, out)),
        _ => {}
    }
}
