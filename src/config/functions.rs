//! The functions a stack may call: `env`, `file`, `sha256`, `jsonencode`, `format`, `concat`,
//! `merge`, `lookup`, `join`, `length`, and the collection functions of `collections`
//! (`toset`, `tomap`, `range`, `keys`, `values`, `flatten`). Arguments that are unknown (see `value`) make the result unknown.

use super::value;
use hcl::Value;
use hcl::eval::{Context, FuncArgs, FuncDef, ParamType};
use sha2::{Digest, Sha256};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::PathBuf;

// hcl-rs functions are plain `fn` pointers and cannot capture; the directory `file()` resolves
// against and the environment `env()` reads are set per load on this thread instead.
thread_local! {
    static BASE_DIR: RefCell<PathBuf> = RefCell::new(PathBuf::from("."));
    static ENV: RefCell<BTreeMap<String, String>> = const { RefCell::new(BTreeMap::new()) };
}

/// Sets what `file()` and `env()` see for evaluations on this thread.
pub fn set_environment(base_dir: PathBuf, env: BTreeMap<String, String>) {
    BASE_DIR.with(|b| *b.borrow_mut() = base_dir);
    ENV.with(|e| *e.borrow_mut() = env);
}

pub fn declare_all(ctx: &mut Context<'_>) {
    ctx.declare_func(
        "env",
        FuncDef::builder()
            .param(ParamType::String)
            .variadic_param(ParamType::String)
            .build(env),
    );
    ctx.declare_func(
        "file",
        FuncDef::builder().param(ParamType::String).build(file),
    );
    ctx.declare_func(
        "sha256",
        FuncDef::builder().param(ParamType::String).build(sha256),
    );
    ctx.declare_func(
        "jsonencode",
        FuncDef::builder().param(ParamType::Any).build(jsonencode),
    );
    ctx.declare_func(
        "format",
        FuncDef::builder()
            .param(ParamType::String)
            .variadic_param(ParamType::Any)
            .build(format),
    );
    ctx.declare_func(
        "concat",
        FuncDef::builder()
            .variadic_param(ParamType::array_of(ParamType::Any))
            .build(concat),
    );
    ctx.declare_func(
        "merge",
        FuncDef::builder()
            .variadic_param(ParamType::object_of(ParamType::Any))
            .build(merge),
    );
    ctx.declare_func(
        "lookup",
        FuncDef::builder()
            .param(ParamType::object_of(ParamType::Any))
            .param(ParamType::String)
            .variadic_param(ParamType::Any)
            .build(lookup),
    );
    ctx.declare_func(
        "length",
        FuncDef::builder().param(ParamType::Any).build(length),
    );
    ctx.declare_func(
        "join",
        FuncDef::builder()
            .param(ParamType::String)
            .param(ParamType::array_of(ParamType::Any))
            .build(join),
    );
    super::collections::declare(ctx);
}

/// Names of all functions, for "did you mean" on unknown ones.
pub const NAMES: &[&str] = &[
    "env",
    "file",
    "sha256",
    "jsonencode",
    "format",
    "concat",
    "merge",
    "lookup",
    "join",
    "length",
    "toset",
    "tomap",
    "range",
    "keys",
    "values",
    "flatten",
];

fn str_arg(args: &FuncArgs, i: usize) -> Result<&str, String> {
    args.get(i)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("argument {} must be a string", i + 1))
}

fn env(args: FuncArgs) -> Result<Value, String> {
    let name = str_arg(&args, 0)?;
    let found = ENV.with(|e| e.borrow().get(name).cloned());
    match (found, args.get(1)) {
        (Some(v), _) => Ok(Value::String(v)),
        (None, Some(default)) => Ok(default.clone()),
        (None, None) => Err(format!(
            "environment variable `{name}` is not set; set it, or give a default: env(\"{name}\", \"...\")"
        )),
    }
}

fn file(args: FuncArgs) -> Result<Value, String> {
    let rel = str_arg(&args, 0)?;
    let path = BASE_DIR.with(|b| b.borrow().join(rel));
    std::fs::read_to_string(&path)
        .map(Value::String)
        .map_err(|e| format!("cannot read `{}`: {e}", path.display()))
}

fn sha256(args: FuncArgs) -> Result<Value, String> {
    let s = str_arg(&args, 0)?;
    if value::is_unknown(s) {
        return Ok(Value::String(s.to_string()));
    }
    Ok(Value::String(hex::encode(Sha256::digest(s.as_bytes()))))
}

fn jsonencode(args: FuncArgs) -> Result<Value, String> {
    let v = args.first().cloned().unwrap_or(Value::Null);
    serde_json::to_string(&v)
        .map(Value::String)
        .map_err(|e| format!("cannot encode as JSON: {e}"))
}

fn display(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        other => serde_json::to_string(other).unwrap_or_default(),
    }
}

/// A subset of Terraform's `format`: `%s`, `%d`, `%v`, `%q` and `%%`.
fn format(args: FuncArgs) -> Result<Value, String> {
    let spec = str_arg(&args, 0)?;
    let mut rest = args.iter().skip(1);
    let mut out = String::new();
    let mut chars = spec.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let verb = chars.next().ok_or("format string ends with a lone `%`")?;
        if verb == '%' {
            out.push('%');
            continue;
        }
        let arg = rest
            .next()
            .ok_or_else(|| format!("not enough arguments for `%{verb}`"))?;
        match verb {
            's' | 'v' => out.push_str(&display(arg)),
            'd' => match arg {
                Value::Number(n) if n.as_i64().is_some() => out.push_str(&n.to_string()),
                Value::String(s) if value::is_unknown(s) => out.push_str(s),
                _ => return Err(format!("`%d` needs a whole number, got {}", display(arg))),
            },
            'q' => out.push_str(&serde_json::to_string(&display(arg)).unwrap_or_default()),
            other => return Err(format!("unsupported format verb `%{other}`")),
        }
    }
    if rest.next().is_some() {
        return Err("too many arguments for the format string".into());
    }
    Ok(Value::String(out))
}

fn concat(args: FuncArgs) -> Result<Value, String> {
    let mut out = Vec::new();
    for a in args.iter() {
        if let Value::Array(items) = a {
            out.extend(items.iter().cloned());
        }
    }
    Ok(Value::Array(out))
}

fn merge(args: FuncArgs) -> Result<Value, String> {
    let mut out = hcl::Map::new();
    for a in args.iter() {
        if let Value::Object(o) = a {
            for (k, v) in o {
                out.insert(k.clone(), v.clone());
            }
        }
    }
    Ok(Value::Object(out))
}

fn lookup(args: FuncArgs) -> Result<Value, String> {
    let key = str_arg(&args, 1)?;
    let found = args
        .first()
        .and_then(|m| m.as_object())
        .and_then(|m| m.get(key));
    match (found, args.get(2)) {
        (Some(v), _) => Ok(v.clone()),
        (None, Some(default)) => Ok(default.clone()),
        (None, None) => Err(format!("key `{key}` not found and no default given")),
    }
}

fn length(args: FuncArgs) -> Result<Value, String> {
    match args.first() {
        Some(Value::Array(a)) => Ok(Value::from(a.len() as u64)),
        Some(Value::Object(o)) => Ok(Value::from(o.len() as u64)),
        Some(Value::String(s)) => Ok(Value::from(s.chars().count() as u64)),
        _ => Err("length() takes a list, a map or a string".into()),
    }
}

fn join(args: FuncArgs) -> Result<Value, String> {
    let sep = str_arg(&args, 0)?;
    let items = args
        .get(1)
        .and_then(|v| v.as_array())
        .cloned()
        .unwrap_or_default();
    Ok(Value::String(
        items.iter().map(display).collect::<Vec<_>>().join(sep),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use hcl::eval::Evaluate;

    fn eval(src: &str) -> Result<Value, String> {
        let mut ctx = Context::new();
        declare_all(&mut ctx);
        let expr: hcl::Expression = src.parse().map_err(|e| format!("{e}"))?;
        expr.evaluate(&ctx).map_err(|e| e.to_string())
    }

    #[test]
    fn functions_compute() {
        assert_eq!(
            eval(r#"format("%s:%d", "a", 7)"#).unwrap(),
            Value::from("a:7")
        );
        assert_eq!(
            eval(r#"join(",", ["a", "b"])"#).unwrap(),
            Value::from("a,b")
        );
        assert_eq!(
            eval(r#"sha256("abc")"#).unwrap(),
            Value::from("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        );
        assert_eq!(eval(r#"lookup({a = 1}, "b", 2)"#).unwrap(), Value::from(2));
        assert_eq!(
            eval(r#"concat([1], [2, 3])"#).unwrap(),
            eval("[1, 2, 3]").unwrap()
        );
        assert_eq!(
            eval(r#"merge({a = 1}, {a = 2, b = 3})"#).unwrap(),
            eval("{a = 2, b = 3}").unwrap()
        );
        assert_eq!(
            eval(r#"jsonencode({a = [1]})"#).unwrap(),
            Value::from(r#"{"a":[1]}"#)
        );
        assert!(eval(r#"format("%d", "x")"#).is_err());
        assert!(eval(r#"lookup({}, "k")"#).is_err());
    }

    #[test]
    fn env_reads_the_load_environment() {
        set_environment(
            PathBuf::from("."),
            BTreeMap::from([("A".into(), "1".into())]),
        );
        assert_eq!(eval(r#"env("A")"#).unwrap(), Value::from("1"));
        assert_eq!(eval(r#"env("B", "d")"#).unwrap(), Value::from("d"));
        assert!(eval(r#"env("B")"#).unwrap_err().contains("not set"));
    }
}
