//! Values only known after apply, and values not provided, travel through evaluation as
//! marker strings. A marker survives string interpolation and functions, so "does this
//! value depend on something unknown?" is a substring test, and filling it in later is a
//! substitution.

use std::collections::BTreeMap;

const OPEN: char = '\u{1}';
const CLOSE: char = '\u{2}';

/// The marker for `<address>.<attribute>`, known only after apply (e.g. `server.gpu.ipv4_address`).
pub fn after_apply(reference: &str) -> String {
    format!("{OPEN}after-apply:{reference}{CLOSE}")
}

/// The marker for a variable that has no value (yet).
pub fn unset_var(name: &str) -> String {
    format!("{OPEN}unset:var.{name}{CLOSE}")
}

/// Does the string contain any marker?
pub fn is_unknown(s: &str) -> bool {
    s.contains(OPEN)
}

pub fn json_is_unknown(v: &serde_json::Value) -> bool {
    match v {
        serde_json::Value::String(s) => is_unknown(s),
        serde_json::Value::Array(a) => a.iter().any(json_is_unknown),
        serde_json::Value::Object(o) => o.values().any(json_is_unknown),
        _ => false,
    }
}

/// The references (`server.gpu.ipv4_address`, `var.x`) a string is waiting for.
pub fn unknowns(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = s;
    while let Some(start) = rest.find(OPEN) {
        let after = &rest[start + OPEN.len_utf8()..];
        let Some(end) = after.find(CLOSE) else { break };
        let inner = &after[..end];
        let reference = inner.split_once(':').map_or(inner, |(_, r)| r);
        out.push(reference.to_string());
        rest = &after[end + CLOSE.len_utf8()..];
    }
    out
}

/// Human form: a string that is wholly unknown prints as `(known after apply)`; a partly
/// unknown one shows the placeholders inline, e.g. `http://${server.gpu.ipv4_address}:4317`.
pub fn describe(s: &str) -> String {
    if !is_unknown(s) {
        return s.to_string();
    }
    let trimmed = s.trim_start_matches(OPEN);
    if s.starts_with(OPEN)
        && s.ends_with(CLOSE)
        && unknowns(s).len() == 1
        && !trimmed.contains(OPEN)
    {
        return "(known after apply)".to_string();
    }
    substitute(s, &mut |r| format!("${{{r}}}"))
}

/// Replaces every marker whose reference is in `known`; others stay.
pub fn resolve(s: &str, known: &BTreeMap<String, String>) -> String {
    if !is_unknown(s) {
        return s.to_string();
    }
    let mut out = String::new();
    let mut rest = s;
    while let Some(start) = rest.find(OPEN) {
        out.push_str(&rest[..start]);
        let after = &rest[start + OPEN.len_utf8()..];
        let Some(end) = after.find(CLOSE) else {
            out.push_str(&rest[start..]);
            return out;
        };
        let inner = &after[..end];
        let reference = inner.split_once(':').map_or(inner, |(_, r)| r);
        match known.get(reference) {
            Some(v) => out.push_str(v),
            None => {
                out.push(OPEN);
                out.push_str(inner);
                out.push(CLOSE);
            }
        }
        rest = &after[end + CLOSE.len_utf8()..];
    }
    out.push_str(rest);
    out
}

fn substitute(s: &str, f: &mut dyn FnMut(&str) -> String) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(start) = rest.find(OPEN) {
        out.push_str(&rest[..start]);
        let after = &rest[start + OPEN.len_utf8()..];
        let Some(end) = after.find(CLOSE) else {
            break;
        };
        let inner = &after[..end];
        let reference = inner.split_once(':').map_or(inner, |(_, r)| r);
        out.push_str(&f(reference));
        rest = &after[end + CLOSE.len_utf8()..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_survive_interpolation_and_resolve() {
        let ip = after_apply("server.gpu.ipv4_address");
        let url = format!("http://{ip}:4317");
        assert!(is_unknown(&url));
        assert_eq!(unknowns(&url), vec!["server.gpu.ipv4_address"]);
        assert_eq!(describe(&ip), "(known after apply)");
        assert_eq!(describe(&url), "http://${server.gpu.ipv4_address}:4317");
        let known = BTreeMap::from([(
            "server.gpu.ipv4_address".to_string(),
            "127.0.0.1".to_string(),
        )]);
        assert_eq!(resolve(&url, &known), "http://127.0.0.1:4317");
        assert!(!is_unknown(&resolve(&url, &known)));
    }

    #[test]
    fn unset_variables_are_unknown() {
        let v = unset_var("token");
        assert!(is_unknown(&v));
        assert_eq!(unknowns(&v), vec!["var.token"]);
    }
}
