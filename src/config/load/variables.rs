//! Variables: their types, values (`--var`, environment, variable files, default) and
//! validation blocks, and
//! hosts' addresses, which other blocks read as values before the rest is evaluated.

use super::loader::Loader;
use super::readers::json_kind;
use super::syntax::{blocks, find_attr, header_span, label};
use super::var_files::FileValue;
use crate::config::diagnostic::Diagnostic;
use crate::config::eval::{self, Evaluator, span_of};
use crate::config::model::{VarOrigin, VarType, Variable};
use crate::config::suggest::help_for_unknown;
use crate::config::value;
use hcl_edit::expr::Expression;
use hcl_edit::structure::{Block, Body};
use serde_json::Value as Json;
use std::collections::{BTreeMap, BTreeSet};

impl Loader<'_> {
    /// Every `variable` block with the value in force, the values by name (an unset marker
    /// where there is none) and the names of the sensitive ones.
    pub(super) fn variables(
        &mut self,
        body: &Body,
    ) -> (Vec<Variable>, BTreeMap<String, Json>, BTreeSet<String>) {
        let mut out: Vec<Variable> = Vec::new();
        let mut values = BTreeMap::new();
        let mut sensitive = BTreeSet::new();
        // Defaults and given values are read before anything else exists to refer to.
        let empty = Evaluator::of_variables(&BTreeMap::new());
        let declared: Vec<(String, &Block)> = blocks(body)
            .filter(|b| b.ident.as_str() == "variable")
            .filter_map(|b| Some((b.labels.first().map(label)?.0, b)))
            .collect();
        let names: Vec<&str> = declared.iter().map(|(n, _)| n.as_str()).collect();
        let from_files = self.file_values(&names);
        for (name, b) in &declared {
            let v = self.variable(b, name.clone(), &empty, from_files.get(name));
            values.insert(
                v.name.clone(),
                v.value
                    .clone()
                    .unwrap_or_else(|| Json::String(value::unset_var(&v.name))),
            );
            if v.sensitive {
                sensitive.insert(v.name.clone());
            }
            out.push(v);
        }
        for given in self.opts.vars.keys() {
            if !out.iter().any(|v| &v.name == given) {
                let names: Vec<&str> = out.iter().map(|v| v.name.as_str()).collect();
                let d = Diagnostic::error(
                    "language::undeclared-variable",
                    format!("--var {given}: the stack declares no variable `{given}`"),
                )
                .help(help_for_unknown(given, names.iter().copied(), "variables"));
                self.err(d);
            }
        }
        (out, values, sensitive)
    }

    fn variable(
        &mut self,
        b: &Block,
        name: String,
        empty: &Evaluator,
        from_file: Option<&FileValue>,
    ) -> Variable {
        let ty = match find_attr(&b.body, "type") {
            Some(a) => match parse_type(&a.value) {
                Some(t) => t,
                None => {
                    let d = Diagnostic::error("language::type", "unknown variable type")
                        .at(span_of(&a.value))
                        .help("use string, number, bool, list(string), list(number), map(string) or any");
                    self.err(d);
                    VarType::Any
                }
            },
            None => VarType::String,
        };
        let is_sensitive = match find_attr(&b.body, "sensitive") {
            Some(a) => matches!(empty.eval(&a.value), Ok(Json::Bool(true))),
            None => false,
        };
        let description = find_attr(&b.body, "description")
            .and_then(|a| empty.eval(&a.value).ok())
            .and_then(|v| v.as_str().map(str::to_string));
        let (value, origin) = match self.variable_value(b, &name, ty, empty, from_file) {
            Some((v, origin)) => (Some(v), origin),
            None => (None, VarOrigin::Unset),
        };
        Variable {
            name,
            span: header_span(b),
            ty,
            description,
            sensitive: is_sensitive,
            value,
            origin,
        }
    }

    /// The value in force and where it came from: `--var`, else `SOVSTACK_VAR_<name>`, else
    /// the last variable file setting it, else the default; `None` when there is none or it
    /// is not of the variable's type.
    fn variable_value(
        &mut self,
        b: &Block,
        name: &str,
        ty: VarType,
        empty: &Evaluator,
        from_file: Option<&FileValue>,
    ) -> Option<(Json, VarOrigin)> {
        let env_key = format!("SOVSTACK_VAR_{name}");
        let given = self
            .opts
            .vars
            .get(name)
            .map(|s| (s, "--var", VarOrigin::CommandLine))
            .or_else(|| {
                let env = self.opts.env.get(&env_key);
                env.map(|s| (s, "environment", VarOrigin::Environment))
            });
        if let Some((raw, from, origin)) = given {
            return match parse_var_value(raw, ty) {
                Ok(v) => Some((v, origin)),
                Err(e) => {
                    let d = Diagnostic::error(
                        e.code(),
                        format!(
                            "value of variable `{name}` from {from} is not a {}: {e}",
                            ty.describe()
                        ),
                    )
                    .at(header_span(b))
                    .label(format!("the variable given from {from}"))
                    .help(format!("{from} takes a value, never an expression: a string as it is, a number, true or false, or a list or map of those written literally (`[\"10.0.0.0/8\"]`, `{{ role = \"app\" }}`)"));
                    self.err(d);
                    self.refused_vars.insert(name.to_string());
                    None
                }
            };
        }
        if let Some(f) = from_file {
            return self.file_value(name, ty, f);
        }
        let a = find_attr(&b.body, "default")?;
        match empty.eval(&a.value) {
            Ok(v) => match check_type(&v, ty) {
                Ok(()) => Some((v, VarOrigin::Default)),
                Err(e) => {
                    let d = Diagnostic::error(
                        "language::type",
                        format!("default of `{name}` is not a {}: {e}", ty.describe()),
                    )
                    .at(span_of(&a.value));
                    self.err(d);
                    None
                }
            },
            Err(d) => {
                self.err(d);
                None
            }
        }
    }

    /// A variable file's value, checked against the variable's type at its place in the file.
    fn file_value(&mut self, name: &str, ty: VarType, f: &FileValue) -> Option<(Json, VarOrigin)> {
        match check_type(&f.value, ty) {
            Ok(()) => Some((f.value.clone(), VarOrigin::File)),
            Err(e) => {
                let d = Diagnostic::error(
                    "language::type",
                    format!("value of variable `{name}` is not a {}: {e}", ty.describe()),
                )
                .at(f.span.clone())
                .in_file(&f.file)
                .help(format!("give `{name}` a {} here", ty.describe()));
                self.err(d);
                self.refused_vars.insert(name.to_string());
                None
            }
        }
    }

    /// Hosts' addresses are needed as values before the rest (`host.x.address`).
    pub(super) fn host_addresses(
        &mut self,
        body: &Body,
        vars: &BTreeMap<String, Json>,
    ) -> BTreeMap<String, String> {
        let ev = Evaluator::of_variables(vars);
        let mut out = BTreeMap::new();
        for b in blocks(body).filter(|b| b.ident.as_str() == "host") {
            let Some((name, _)) = b.labels.first().map(label) else {
                continue;
            };
            if let Some(a) = find_attr(&b.body, "address")
                && let Ok(Json::String(s)) = ev.eval(&a.value)
            {
                out.insert(name, s);
            }
        }
        out
    }

    pub(super) fn variable_validations(&mut self, body: &Body, vars: &[Variable], ev: &Evaluator) {
        for b in blocks(body).filter(|b| b.ident.as_str() == "variable") {
            let Some((name, _)) = b.labels.first().map(label) else {
                continue;
            };
            let Some(value) = vars
                .iter()
                .find(|v| v.name == name)
                .and_then(|v| v.value.clone())
            else {
                continue;
            };
            for vb in blocks(&b.body).filter(|x| x.ident.as_str() == "validation") {
                let (Some(cond), Some(msg)) = (
                    find_attr(&vb.body, "condition"),
                    find_attr(&vb.body, "error_message"),
                ) else {
                    continue;
                };
                let ctx = ev.with_var(&name, &value);
                match eval::eval_in(&ctx, &cond.value) {
                    Ok(Json::Bool(true)) => {}
                    Ok(Json::Bool(false)) => {
                        let text = eval::eval_in(&ctx, &msg.value)
                            .ok()
                            .and_then(|v| v.as_str().map(str::to_string))
                            .unwrap_or_else(|| "validation failed".into());
                        let d = Diagnostic::error(
                            "language::variable-validation",
                            format!("invalid value for variable `{name}`: {text}"),
                        )
                        .at(span_of(&cond.value))
                        .label("this condition is false")
                        .help(format!("give `{name}` a value that meets the condition (SOVSTACK_VAR_{name} or --var)"));
                        self.err(d);
                    }
                    Ok(_) => {
                        let d = Diagnostic::error(
                            "language::type",
                            "a validation condition must be true or false",
                        )
                        .at(span_of(&cond.value));
                        self.err(d);
                    }
                    Err(d) => self.err(d),
                }
            }
        }
    }
}

pub(super) fn parse_type(e: &Expression) -> Option<VarType> {
    match e {
        Expression::Variable(v) => match v.as_str() {
            "string" => Some(VarType::String),
            "number" => Some(VarType::Number),
            "bool" => Some(VarType::Bool),
            "any" => Some(VarType::Any),
            _ => None,
        },
        Expression::FuncCall(f) => {
            let inner = f.args.iter().next()?;
            let inner = match inner {
                Expression::Variable(v) => v.as_str().to_string(),
                _ => return None,
            };
            match (f.name.name.as_str(), inner.as_str()) {
                ("list", "string") => Some(VarType::ListOfString),
                ("list", "number") => Some(VarType::ListOfNumber),
                ("map", "string") => Some(VarType::MapOfString),
                _ => None,
            }
        }
        _ => None,
    }
}

pub(super) fn check_type(v: &Json, ty: VarType) -> Result<(), String> {
    let ok = match ty {
        VarType::String => v.is_string(),
        VarType::Number => v.is_number(),
        VarType::Bool => v.is_boolean(),
        VarType::ListOfString => v.as_array().is_some_and(|a| a.iter().all(Json::is_string)),
        VarType::ListOfNumber => v.as_array().is_some_and(|a| a.iter().all(Json::is_number)),
        VarType::MapOfString => v
            .as_object()
            .is_some_and(|o| o.values().all(Json::is_string)),
        VarType::Any => true,
    };
    if ok {
        Ok(())
    } else {
        Err(format!("found {}", json_kind(v)))
    }
}

/// Why a value from the command line or environment is refused.
#[derive(Debug)]
enum VarValueError {
    /// Not HCL at all.
    Syntax(String),
    /// HCL, but an expression (a call, a reference, a template), not a value.
    Expression,
    /// A value of another type.
    Type(String),
}

impl VarValueError {
    fn code(&self) -> &'static str {
        match self {
            VarValueError::Expression => "language::var-value",
            VarValueError::Syntax(_) | VarValueError::Type(_) => "language::type",
        }
    }
}

impl std::fmt::Display for VarValueError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            VarValueError::Syntax(e) | VarValueError::Type(e) => f.write_str(e),
            VarValueError::Expression => f.write_str(
                "it is an expression (a function call, a reference or a template), not a value",
            ),
        }
    }
}

/// Values from the command line or environment: strings as they are, others as HCL literals
/// only. Evaluating them would let `--var 'x=[file("/etc/shadow")]'` read a local file into
/// the plan.
fn parse_var_value(raw: &str, ty: VarType) -> Result<Json, VarValueError> {
    if ty == VarType::String {
        return Ok(Json::String(raw.to_string()));
    }
    let expr: Expression = raw
        .parse()
        .map_err(|e: hcl_edit::parser::Error| VarValueError::Syntax(e.message().to_string()))?;
    let v = eval::literal(&expr).ok_or(VarValueError::Expression)?;
    check_type(&v, ty).map_err(VarValueError::Type)?;
    Ok(v)
}
