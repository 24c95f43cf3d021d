//! Evaluation of expressions: the context (variables, locals, other blocks' attributes,
//! functions), sensitivity of expressions, and conversion of results to JSON.

use super::diagnostic::Diagnostic;
use super::functions;
use super::refs::{self, Reference};
use super::source::Span;
use super::value;
use hcl::eval::{Context, Evaluate};
use hcl_edit::Span as _;
use hcl_edit::expr::Expression;
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
    sensitive_locals: BTreeSet<String>,
}

impl Evaluator {
    /// `blocks`: kind -> names declared; `known`: `<kind>.<name>.<attr>` values known from state.
    pub fn new(
        vars: &BTreeMap<String, serde_json::Value>,
        sensitive_vars: BTreeSet<String>,
        blocks: &BTreeMap<&'static str, Vec<String>>,
        known: &BTreeMap<String, String>,
        host_addresses: &BTreeMap<String, String>,
    ) -> Self {
        let mut ctx = Context::new();
        functions::declare_all(&mut ctx);
        let var_obj: hcl::Map<String, hcl::Value> = vars
            .iter()
            .map(|(k, v)| (k.clone(), json_to_hcl(v)))
            .collect();
        ctx.declare_var("var", hcl::Value::Object(var_obj));
        for (kind, attrs) in REFERENCEABLE {
            let mut kind_obj = hcl::Map::new();
            for name in blocks.get(kind).into_iter().flatten() {
                let mut obj = hcl::Map::new();
                obj.insert("name".to_string(), hcl::Value::from(name.clone()));
                for attr in *attrs {
                    let reference = format!("{kind}.{name}.{attr}");
                    let v = match (kind, *attr) {
                        (&"host", "address") => host_addresses.get(name).cloned(),
                        _ => known.get(&reference).cloned(),
                    }
                    .unwrap_or_else(|| value::after_apply(&reference));
                    obj.insert((*attr).to_string(), hcl::Value::from(v));
                }
                kind_obj.insert(name.clone(), hcl::Value::Object(obj));
            }
            ctx.declare_var(*kind, hcl::Value::Object(kind_obj));
        }
        ctx.declare_var("local", hcl::Value::Object(hcl::Map::new()));
        Self {
            ctx,
            locals: hcl::Map::new(),
            sensitive_vars,
            sensitive_locals: BTreeSet::new(),
        }
    }

    pub fn set_local(&mut self, name: &str, value: serde_json::Value, sensitive: bool) {
        self.locals.insert(name.to_string(), json_to_hcl(&value));
        self.ctx
            .declare_var("local", hcl::Value::Object(self.locals.clone()));
        if sensitive {
            self.sensitive_locals.insert(name.to_string());
        }
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

    /// Does the expression depend on a sensitive variable (directly or through locals)?
    pub fn is_sensitive(&self, expr: &Expression) -> bool {
        refs::collect(expr).iter().any(|r| self.ref_is_sensitive(r))
    }

    /// The sensitive variables an expression depends on.
    pub fn sensitive_sources(&self, expr: &Expression) -> Vec<String> {
        refs::collect(expr)
            .iter()
            .filter(|r| r.root == "var" && self.ref_is_sensitive(r))
            .filter_map(|r| r.path.first().cloned())
            .collect()
    }

    fn ref_is_sensitive(&self, r: &Reference) -> bool {
        let first = r.path.first().map(String::as_str).unwrap_or("");
        match r.root.as_str() {
            "var" => self.sensitive_vars.contains(first),
            "local" => self.sensitive_locals.contains(first),
            _ => false,
        }
    }

    pub fn eval(&self, expr: &Expression) -> Result<serde_json::Value, Diagnostic> {
        eval_in(&self.ctx, expr)
    }
}

pub fn eval_in(ctx: &Context<'_>, expr: &Expression) -> Result<serde_json::Value, Diagnostic> {
    let span = span_of(expr);
    let e: hcl::Expression = expr.clone().into();
    let v = e.evaluate(ctx).map_err(|err| {
        Diagnostic::error(
            "language::evaluation",
            format!("cannot evaluate: {}", clean(&err.to_string())),
        )
        .at(span.clone())
        .label("here")
    })?;
    serde_json::to_value(&v).map_err(|err| {
        Diagnostic::error(
            "language::evaluation",
            format!("cannot convert value: {err}"),
        )
        .at(span)
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
