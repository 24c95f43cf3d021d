//! Collection functions for `count`, `for_each` and references to instances: `toset`,
//! `tomap`, `range`, `keys`, `values`, `flatten`, with Terraform's meaning (a set is a sorted
//! list without duplicates; keys and values come in key order).

use hcl::Value;
use hcl::eval::{Context, FuncArgs, FuncDef, ParamType};

pub fn declare(ctx: &mut Context<'_>) {
    let one = |f: fn(FuncArgs) -> Result<Value, String>, ty: ParamType| {
        FuncDef::builder().param(ty).build(f)
    };
    ctx.declare_func("toset", one(toset, ParamType::array_of(ParamType::Any)));
    ctx.declare_func("tomap", one(tomap, ParamType::object_of(ParamType::Any)));
    ctx.declare_func("keys", one(keys, ParamType::object_of(ParamType::Any)));
    ctx.declare_func("values", one(values, ParamType::object_of(ParamType::Any)));
    ctx.declare_func("flatten", one(flatten, ParamType::array_of(ParamType::Any)));
    ctx.declare_func(
        "range",
        FuncDef::builder()
            .param(ParamType::Number)
            .variadic_param(ParamType::Number)
            .build(range),
    );
}

fn array(args: &FuncArgs) -> Vec<Value> {
    args.first()
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

fn object(args: &FuncArgs) -> hcl::Map<String, Value> {
    args.first()
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default()
}

/// Sorted and without duplicates. Terraform's sets of strings sort lexically, which is what a
/// `for_each` over one iterates in.
fn toset(args: FuncArgs) -> Result<Value, String> {
    let mut items = array(&args);
    items.sort_by_key(|v| serde_json::to_string(v).unwrap_or_default());
    items.dedup();
    Ok(Value::Array(items))
}

fn tomap(args: FuncArgs) -> Result<Value, String> {
    Ok(Value::Object(object(&args)))
}

fn sorted(args: &FuncArgs) -> Vec<(String, Value)> {
    let mut pairs: Vec<(String, Value)> = object(args).into_iter().collect();
    pairs.sort_by(|a, b| a.0.cmp(&b.0));
    pairs
}

fn keys(args: FuncArgs) -> Result<Value, String> {
    Ok(Value::Array(
        sorted(&args)
            .into_iter()
            .map(|(k, _)| Value::String(k))
            .collect(),
    ))
}

fn values(args: FuncArgs) -> Result<Value, String> {
    Ok(Value::Array(
        sorted(&args).into_iter().map(|(_, v)| v).collect(),
    ))
}

fn flatten(args: FuncArgs) -> Result<Value, String> {
    fn into(v: Value, out: &mut Vec<Value>) {
        match v {
            Value::Array(items) => items.into_iter().for_each(|i| into(i, out)),
            other => out.push(other),
        }
    }
    let mut out = Vec::new();
    into(Value::Array(array(&args)), &mut out);
    Ok(Value::Array(out))
}

/// `range(n)`, `range(start, end)`, `range(start, end, step)`; at most 10,000 elements.
fn range(args: FuncArgs) -> Result<Value, String> {
    let n = |i: usize| args.get(i).and_then(Value::as_f64);
    let (start, end, step) = match args.len() {
        1 => (0.0, n(0).unwrap_or(0.0), 1.0),
        2 => (n(0).unwrap_or(0.0), n(1).unwrap_or(0.0), 1.0),
        3 => (
            n(0).unwrap_or(0.0),
            n(1).unwrap_or(0.0),
            n(2).unwrap_or(1.0),
        ),
        _ => return Err("range takes 1 to 3 numbers".into()),
    };
    if step == 0.0 {
        return Err("range: the step must not be 0".into());
    }
    let mut out = Vec::new();
    let mut x = start;
    while (step > 0.0 && x < end) || (step < 0.0 && x > end) {
        if out.len() >= 10_000 {
            return Err("range: more than 10000 elements".into());
        }
        out.push(number(x));
        x += step;
    }
    Ok(Value::Array(out))
}

fn number(x: f64) -> Value {
    if x.fract() == 0.0 && x.abs() < 9.0e15 {
        #[allow(clippy::cast_possible_truncation)]
        return Value::from(x as i64);
    }
    hcl::Number::from_f64(x).map_or(Value::Null, Value::Number)
}

#[cfg(test)]
mod tests {
    use crate::config::{LoadOptions, load_str};
    use std::path::Path;

    #[test]
    fn collection_functions_behave_as_terraforms() {
        let text = r#"
stack "s" {}
locals {
  m = { b = 2, a = 1 }
}
output "o" {
  value = [
    toset(["b", "a", "b"]),
    keys(local.m),
    values(local.m),
    flatten([[1, [2]], 3]),
    range(3),
    range(1, 7, 2),
    length(tomap(local.m)),
  ]
}
"#;
        let l = load_str("s.hcl", text, Path::new("."), &LoadOptions::default());
        assert!(!l.diagnostics.has_errors(), "{:?}", l.diagnostics);
        let stack = l.stack.expect("a stack");
        assert_eq!(
            stack.outputs[0].value.value,
            serde_json::json!([
                ["a", "b"],
                ["a", "b"],
                [1, 2],
                [1, 2, 3],
                [0, 1, 2],
                [1, 3, 5],
                2
            ])
        );
    }
}
