//! Evaluation of expressions: the context (variables, locals, other blocks' attributes,
//! functions), sensitivity of expressions, and conversion of results to JSON.

use super::diagnostic::Diagnostic;
use super::functions;
use super::instance::InstanceKey;
use super::refs::{self, Reference};
use super::source::Span;
use super::value;
use hcl::eval::{Context, Evaluate};
use hcl_edit::Span as _;
use hcl_edit::expr::Expression;
use hcl_edit::visit_mut::VisitMut as _;
use std::collections::{BTreeMap, BTreeSet};

/// Block kinds that can be referenced as `<kind>.<name>.<attribute>`, with the attributes that
/// are known only after apply.
pub const REFERENCEABLE: &[(&str, &[&str])] = &[
    ("server", &["id", "ipv4_address", "ipv6_address"]),
    ("host", &["address"]),
    ("ssh_key", &["id", "fingerprint"]),
    ("firewall", &["id"]),
    ("volume", &["id", "linux_device"]),
    ("compose", &["directory"]),
    ("collector", &[]),
    ("check", &[]),
];

pub struct Evaluator {
    ctx: Context<'static>,
    locals: hcl::Map<String, hcl::Value>,
    sensitive_vars: BTreeSet<String>,
    /// Sensitive locals, each with the sensitive variables it is made from (through other
    /// locals too: a module's input is a local holding the caller's `var.secret`).
    sensitive_locals: BTreeMap<String, Vec<String>>,
}

impl Evaluator {
    /// `blocks`: kind -> names declared; `known`: `<kind>.<name>.<attr>` values known from state.
    pub fn new(
        vars: &BTreeMap<String, serde_json::Value>,
        sensitive_vars: BTreeSet<String>,
        blocks: &BTreeMap<&'static str, Vec<String>>,
        known: &BTreeMap<String, String>,
        host_addresses: &BTreeMap<String, String>,
        no_instances: &[super::load::NoInstances],
    ) -> Self {
        let mut ctx = Context::new();
        functions::declare_all(&mut ctx);
        let var_obj: hcl::Map<String, hcl::Value> = vars
            .iter()
            .map(|(k, v)| (k.clone(), json_to_hcl(v)))
            .collect();
        ctx.declare_var("var", hcl::Value::Object(var_obj));
        // One buffer for every `<kind>.<name>.<attr>` looked up: a large stack has thousands.
        let mut reference = String::new();
        // Instances of a `count` or `for_each` block, gathered under the block's name.
        let mut instances: BTreeMap<String, BTreeMap<InstanceKey, hcl::Value>> = BTreeMap::new();
        for (kind, attrs) in REFERENCEABLE {
            let names = blocks.get(kind).map_or(&[][..], Vec::as_slice);
            let mut kind_obj = hcl::Map::with_capacity(names.len());
            for name in names {
                let mut obj = hcl::Map::with_capacity(attrs.len() + 1);
                obj.insert("name".to_string(), hcl::Value::from(name.clone()));
                for attr in *attrs {
                    reference.clear();
                    reference.push_str(&super::instance::block_address(kind, name));
                    reference.push('.');
                    reference.push_str(attr);
                    let v = match (kind, *attr) {
                        (&"host", "address") => host_addresses.get(name).cloned(),
                        _ => known.get(reference.as_str()).cloned(),
                    }
                    .unwrap_or_else(|| value::after_apply(&reference));
                    obj.insert((*attr).to_string(), hcl::Value::from(v));
                }
                match super::instance::split(name) {
                    (_, None) => {
                        kind_obj.insert(name.clone(), hcl::Value::Object(obj));
                    }
                    (base, Some(key)) => {
                        let members = instances.entry(base.to_string()).or_default();
                        members.insert(key, hcl::Value::Object(obj));
                    }
                }
            }
            for (base, members) in std::mem::take(&mut instances) {
                kind_obj.insert(base, instances_value(members));
            }
            // Blocks whose `count` or `for_each` made no instances: an empty list or map, so
            // `server.web[*].x` and `values(host.gpu)` are empty rather than undefined.
            for b in no_instances.iter().filter(|b| b.kind == *kind) {
                let empty = if b.count {
                    hcl::Value::Array(Vec::new())
                } else {
                    hcl::Value::Object(hcl::Map::new())
                };
                kind_obj.insert(b.name.clone(), empty);
            }
            ctx.declare_var(*kind, hcl::Value::Object(kind_obj));
        }
        ctx.declare_var("local", hcl::Value::Object(hcl::Map::new()));
        Self {
            ctx,
            locals: hcl::Map::new(),
            sensitive_vars,
            sensitive_locals: BTreeMap::new(),
        }
    }

    /// Knows the variables and the functions only: for what is read before locals and
    /// blocks exist (variables' defaults and given values, hosts' addresses).
    pub fn of_variables(vars: &BTreeMap<String, serde_json::Value>) -> Self {
        Self::new(
            vars,
            BTreeSet::new(),
            &BTreeMap::new(),
            &BTreeMap::new(),
            &BTreeMap::new(),
            &[],
        )
    }

    /// Binds `data.<kind>.<name>.<attr>` for the declared data blocks (`kind.name`): what
    /// reading them found, or "known after apply" until they are read.
    pub fn declare_data(&mut self, declared: &[String], known: &BTreeMap<String, String>) {
        let mut data = hcl::Map::new();
        for full in declared {
            let Some((kind, name)) = full.split_once('.') else {
                continue;
            };
            let attrs = crate::config::model::DATA_KINDS
                .iter()
                .find(|(k, _)| *k == kind)
                .map_or(&[][..], |(_, a)| *a);
            let mut obj = hcl::Map::new();
            for attr in attrs {
                let reference = format!("data.{full}.{attr}");
                let v = known
                    .get(&reference)
                    .cloned()
                    .unwrap_or_else(|| value::after_apply(&reference));
                obj.insert((*attr).to_string(), hcl::Value::from(v));
            }
            let kind_obj = data
                .entry(kind.to_string())
                .or_insert_with(|| hcl::Value::Object(hcl::Map::new()));
            if let hcl::Value::Object(m) = kind_obj {
                m.insert(name.to_string(), hcl::Value::Object(obj));
            }
        }
        self.ctx.declare_var("data", hcl::Value::Object(data));
    }

    /// Records a local's value. It is visible to [`Evaluator::eval_local`] at once, and to
    /// [`Evaluator::eval`] after [`Evaluator::finish_locals`].
    /// `sensitive_sources`: the sensitive variables its expression reads (none: not sensitive).
    pub fn set_local(
        &mut self,
        name: &str,
        value: serde_json::Value,
        sensitive_sources: Vec<String>,
    ) {
        self.locals.insert(name.to_string(), json_to_hcl(&value));
        if !sensitive_sources.is_empty() {
            self.sensitive_locals
                .insert(name.to_string(), sensitive_sources);
        }
    }

    /// Evaluates a local's expression seeing only the locals it names (`uses`), or all of
    /// them when it reads `local` as a whole (`None`). hcl-rs copies the whole `local` object
    /// on every `local.x` it reads, so giving each local every other one made a chain of
    /// locals quadratic.
    pub fn eval_local(
        &mut self,
        expr: &Expression,
        uses: Option<&[String]>,
    ) -> Result<serde_json::Value, Diagnostic> {
        let visible: hcl::Map<String, hcl::Value> = match uses {
            Some(names) => names
                .iter()
                .filter_map(|n| self.locals.get(n).map(|v| (n.clone(), v.clone())))
                .collect(),
            None => self.locals.clone(),
        };
        self.ctx.declare_var("local", hcl::Value::Object(visible));
        eval_in(&self.ctx, expr)
    }

    /// Makes every local visible to [`Evaluator::eval`]: called once all are set.
    pub fn finish_locals(&mut self) {
        self.ctx
            .declare_var("local", hcl::Value::Object(self.locals.clone()));
    }

    /// Binds `var.<name>` alone, for a variable's own validation condition.
    pub fn with_var(&self, name: &str, v: &serde_json::Value) -> Context<'static> {
        let mut ctx = Context::new();
        functions::declare_all(&mut ctx);
        let mut obj = hcl::Map::new();
        obj.insert(name.to_string(), json_to_hcl(v));
        ctx.declare_var("var", hcl::Value::Object(obj));
        ctx
    }

    /// Is local `name` made from a sensitive variable?
    pub fn local_is_sensitive(&self, name: &str) -> bool {
        self.sensitive_locals.contains_key(name)
    }

    /// Does the expression depend on a sensitive variable (directly or through locals)?
    pub fn is_sensitive(&self, expr: &Expression) -> bool {
        // Most stacks have few secrets; most expressions then need no walk at all.
        if self.sensitive_vars.is_empty() && self.sensitive_locals.is_empty() {
            return false;
        }
        refs::collect(expr).iter().any(|r| self.ref_is_sensitive(r))
    }

    /// The sensitive variables an expression depends on, directly or through locals.
    pub fn sensitive_sources(&self, expr: &Expression) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for r in refs::collect(expr)
            .iter()
            .filter(|r| self.ref_is_sensitive(r))
        {
            let first = r.path.first().cloned().unwrap_or_default();
            let found = match r.root.as_str() {
                "local" => self
                    .sensitive_locals
                    .get(&first)
                    .cloned()
                    .unwrap_or_default(),
                _ => vec![first],
            };
            for v in found {
                if !out.contains(&v) {
                    out.push(v);
                }
            }
        }
        out
    }

    fn ref_is_sensitive(&self, r: &Reference) -> bool {
        let first = r.path.first().map(String::as_str).unwrap_or("");
        match r.root.as_str() {
            "var" => self.sensitive_vars.contains(first),
            "local" => self.sensitive_locals.contains_key(first),
            _ => false,
        }
    }

    pub fn eval(&self, expr: &Expression) -> Result<serde_json::Value, Diagnostic> {
        // hcl-rs copies the whole `local` object for every `local.x` it reads: with many
        // locals (a module called once per host of a fleet makes several per host) every
        // expression reading one cost as much as all of them. The locals it reads are put in
        // as their values instead.
        if self.locals.len() > INLINE_LOCALS_FROM && reads_a_local(expr) {
            let mut inlined = expr.clone();
            InlineLocals {
                locals: &self.locals,
            }
            .visit_expr_mut(&mut inlined);
            return eval_at(&self.ctx, &inlined, span_of(expr));
        }
        eval_in(&self.ctx, expr)
    }
}

/// A `count` block's instances as a list (by index; an instance no expression names is
/// null there), a `for_each` block's as a map by key.
fn instances_value(members: BTreeMap<InstanceKey, hcl::Value>) -> hcl::Value {
    if members.keys().all(|k| matches!(k, InstanceKey::Index(_))) {
        let mut list = Vec::new();
        for (k, v) in members {
            if let InstanceKey::Index(i) = k {
                let i = usize::try_from(i).unwrap_or(usize::MAX);
                if list.len() <= i {
                    list.resize(i.saturating_add(1), hcl::Value::Null);
                }
                if let Some(slot) = list.get_mut(i) {
                    *slot = v;
                }
            }
        }
        return hcl::Value::Array(list);
    }
    hcl::Value::Object(
        members
            .into_iter()
            .map(|(k, v)| match k {
                InstanceKey::Key(k) => (k, v),
                InstanceKey::Index(i) => (i.to_string(), v),
            })
            .collect(),
    )
}

/// Locals an evaluator holds before [`Evaluator::eval`] puts the ones an expression reads in as
/// values: below it, copying them all is cheaper than walking the expression.
const INLINE_LOCALS_FROM: usize = 64;

/// Whether `expr` reads `local.<name>` anywhere.
fn reads_a_local(expr: &Expression) -> bool {
    refs::collect(expr)
        .iter()
        .any(|r| r.root == "local" && !r.path.is_empty())
}

/// Replaces each `local.<name>...` by the local's value (then `...`).
struct InlineLocals<'a> {
    locals: &'a hcl::Map<String, hcl::Value>,
}

impl hcl_edit::visit_mut::VisitMut for InlineLocals<'_> {
    fn visit_expr_mut(&mut self, node: &mut Expression) {
        if let Expression::Traversal(t) = node
            && let Expression::Variable(root) = &t.expr
            && root.as_str() == "local"
            && let Some(hcl_edit::expr::TraversalOperator::GetAttr(name)) =
                t.operators.first().map(|o| o.value())
            && let Some(v) = self.locals.get(name.as_str())
        {
            let value: Expression = hcl::Expression::from(v.clone()).into();
            if t.operators.len() == 1 {
                *node = value;
                return;
            }
            t.expr = value;
            t.operators.remove(0);
        }
        hcl_edit::visit_mut::visit_expr_mut(self, node);
    }
}

pub fn eval_in(ctx: &Context<'_>, expr: &Expression) -> Result<serde_json::Value, Diagnostic> {
    eval_at(ctx, expr, span_of(expr))
}

/// [`eval_in`], with findings at `span` (the expression as written, when `expr` is a rewrite).
fn eval_at(
    ctx: &Context<'_>,
    expr: &Expression,
    span: Span,
) -> Result<serde_json::Value, Diagnostic> {
    if let Some(v) = literal(expr) {
        return Ok(v);
    }
    let e: hcl::Expression = expr.clone().into();
    let v = e.evaluate(ctx).map_err(|err| {
        let d = Diagnostic::error(
            "language::evaluation",
            format!("cannot evaluate: {}", clean(&err.to_string())),
        )
        .at(span.clone())
        .label("here");
        match err.kind() {
            hcl::eval::ErrorKind::UndefinedFunc(name) => d.help(super::suggest::help_for_unknown(
                &name.to_string(),
                functions::NAMES.iter().copied(),
                "functions",
            )),
            _ => d,
        }
    })?;
    serde_json::to_value(&v).map_err(|err| {
        Diagnostic::error(
            "language::evaluation",
            format!("cannot convert value: {err}"),
        )
        .at(span)
    })
}

/// The value of an expression made of literals only (most attributes of a stack), read
/// straight from the syntax tree: evaluating through hcl-rs copies and converts the tree first,
/// which was a large share of loading a large stack. `None` for anything else: a reference, a
/// function call, a template, an operation. Values given from outside (`--var`) are read with
/// it, so they can never call a function or read anything.
pub fn literal(expr: &Expression) -> Option<serde_json::Value> {
    use hcl_edit::expr::ObjectKey;
    use serde_json::Value as Json;
    Some(match expr {
        Expression::Null(_) => Json::Null,
        Expression::Bool(b) => Json::Bool(*b.value()),
        Expression::Number(n) => serde_json::to_value(n.value()).ok()?,
        Expression::String(s) => Json::String(s.value().clone()),
        Expression::Array(items) => Json::Array(items.iter().map(literal).collect::<Option<_>>()?),
        Expression::Object(obj) => {
            let mut map = serde_json::Map::new();
            for (key, value) in obj.iter() {
                let key = match key {
                    ObjectKey::Ident(i) => i.as_str().to_string(),
                    ObjectKey::Expression(Expression::String(s)) => s.value().clone(),
                    ObjectKey::Expression(_) => return None,
                };
                map.insert(key, literal(value.expr())?);
            }
            Json::Object(map)
        }
        _ => return None,
    })
}

/// hcl-rs prefixes its messages with the expression; keep only what explains the failure.
fn clean(msg: &str) -> String {
    msg.lines().next().unwrap_or(msg).trim().to_string()
}

pub fn span_of(expr: &Expression) -> Span {
    expr.span().unwrap_or(0..0)
}

pub fn json_to_hcl(v: &serde_json::Value) -> hcl::Value {
    match v {
        serde_json::Value::Null => hcl::Value::Null,
        serde_json::Value::Bool(b) => hcl::Value::Bool(*b),
        serde_json::Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                hcl::Value::from(i)
            } else if let Some(u) = n.as_u64() {
                hcl::Value::from(u)
            } else {
                hcl::Number::from_f64(n.as_f64().unwrap_or(0.0))
                    .map_or(hcl::Value::Null, hcl::Value::Number)
            }
        }
        serde_json::Value::String(s) => hcl::Value::String(s.clone()),
        serde_json::Value::Array(a) => hcl::Value::Array(a.iter().map(json_to_hcl).collect()),
        serde_json::Value::Object(o) => {
            hcl::Value::Object(o.iter().map(|(k, v)| (k.clone(), json_to_hcl(v))).collect())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The way every expression was evaluated before the literal shortcut.
    fn through_hcl_rs(expr: &Expression) -> serde_json::Value {
        let e: hcl::Expression = expr.clone().into();
        serde_json::to_value(e.evaluate(&Context::new()).unwrap()).unwrap()
    }

    #[test]
    fn literals_read_from_the_tree_equal_their_evaluation() {
        for text in [
            "null",
            "true",
            "false",
            "0",
            "-3",
            "18446744073709551615",
            "1.5",
            "1e3",
            r#""plain""#,
            r#""esc\n\"aped\" \u00e9 $${not} %%{not}""#,
            r#"["a", 1, [true, null], {}]"#,
            r#"{ b = 1, a = "x", "quoted key" = [2], nested = { z = false } }"#,
        ] {
            let expr: Expression = text.parse().unwrap();
            let fast = literal(&expr).unwrap_or_else(|| panic!("`{text}` is a literal"));
            assert_eq!(fast, through_hcl_rs(&expr), "{text}");
        }
    }

    #[test]
    fn an_unknown_function_gets_the_closest_name_or_the_list() {
        let mut ctx = Context::new();
        functions::declare_all(&mut ctx);
        let help = |text: &str| {
            let expr: Expression = text.parse().unwrap();
            eval_in(&ctx, &expr).unwrap_err().help
        };
        assert_eq!(
            help(r#"lenght([1])"#).as_deref(),
            Some("did you mean `length`?")
        );
        let list = help(r#"frobnicate(1)"#).unwrap();
        assert!(list.starts_with("valid functions: env, file,"), "{list}");
        // Every listed function exists: none of them is reported as unknown.
        for name in functions::NAMES {
            let expr: Expression = format!("{name}()").parse().unwrap();
            if let Err(err) = eval_in(&ctx, &expr) {
                assert!(
                    !err.message.contains("undefined function"),
                    "{name}: {}",
                    err.message
                );
            }
        }
    }

    #[test]
    fn anything_but_literals_is_left_to_hcl_rs() {
        for text in [
            r#""${var.x}""#,
            "var.x",
            r#"["a", var.x]"#,
            "{ (var.k) = 1 }",
            "1 + 2",
            r#"upper("a")"#,
            "(1)",
        ] {
            let expr: Expression = text.parse().unwrap();
            assert_eq!(literal(&expr), None, "{text}");
        }
    }

    /// With many locals, what reads them evaluates to what it did with the whole `local`
    /// object in the context: values, attributes of objects, indexes, templates, functions.
    #[test]
    fn locals_put_in_as_values_evaluate_as_read_from_the_context() {
        let mut ev = Evaluator::new(
            &BTreeMap::new(),
            BTreeSet::new(),
            &BTreeMap::new(),
            &BTreeMap::new(),
            &BTreeMap::new(),
            &[],
        );
        for i in 0..=INLINE_LOCALS_FROM {
            ev.set_local(&format!("l{i}"), serde_json::json!(i), Vec::new());
        }
        ev.set_local(
            "obj",
            serde_json::json!({ "a": { "b": ["x", "y"] }, "n": 2 }),
            Vec::new(),
        );
        ev.finish_locals();
        for (text, want) in [
            ("local.l3", serde_json::json!(3)),
            ("local.obj.a.b[1]", serde_json::json!("y")),
            (
                "\"${local.obj.a.b[0]}-${local.l7}\"",
                serde_json::json!("x-7"),
            ),
            ("length(local.obj.a.b) + local.obj.n", serde_json::json!(4)),
            ("[for k, v in local.obj : k]", serde_json::json!(["a", "n"])),
            ("local.obj[\"n\"]", serde_json::json!(2)),
        ] {
            let expr: Expression = text.parse().unwrap();
            assert!(reads_a_local(&expr), "{text}");
            assert_eq!(ev.eval(&expr).unwrap(), want, "{text}");
            assert_eq!(eval_in(&ev.ctx, &expr).unwrap(), want, "{text}");
        }
    }
}
