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
    // Most strings hold no marker: one scan, no iterator (this runs for every desired string).
    if !is_unknown(s) {
        return Vec::new();
    }
    pieces(s)
        .filter_map(|(_, marker)| marker.map(|m| m.reference.to_string()))
        .collect()
}

/// The markers of `s` alone, without the text around them: the value of something computed
/// from `s` (its hash, say) while `s` is unknown. It waits for what `s` waits for, and prints
/// as `(known after apply)` when that is one value.
pub fn markers_only(s: &str) -> String {
    pieces(s)
        .filter_map(|(_, marker)| marker.map(|m| m.whole))
        .collect()
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
    let mut out = String::with_capacity(s.len());
    for (text, marker) in pieces(s) {
        out.push_str(text);
        if let Some(m) = marker {
            out.push_str("${");
            out.push_str(m.reference);
            out.push('}');
        }
    }
    out
}

/// Replaces every marker whose reference is in `known`; others stay.
pub fn resolve(s: &str, known: &BTreeMap<String, String>) -> String {
    if !is_unknown(s) {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    for (text, marker) in pieces(s) {
        out.push_str(text);
        if let Some(m) = marker {
            out.push_str(known.get(m.reference).map_or(m.whole, String::as_str));
        }
    }
    out
}

/// One marker in a string: as written, and the reference it waits for.
struct Marker<'s> {
    whole: &'s str,
    reference: &'s str,
}

/// The string cut before and after every marker: each piece is the text up to a marker and
/// that marker; the last is the text after the last marker, with none. A marker left open
/// (no `CLOSE`) stays text: only whole markers are read or replaced.
fn pieces(s: &str) -> impl Iterator<Item = (&str, Option<Marker<'_>>)> {
    let mut rest = Some(s);
    std::iter::from_fn(move || {
        let r = rest?;
        if let Some(start) = r.find(OPEN)
            && let Some(len) = r[start + OPEN.len_utf8()..].find(CLOSE)
        {
            let end = start + OPEN.len_utf8() + len + CLOSE.len_utf8();
            let inner = &r[start + OPEN.len_utf8()..end - CLOSE.len_utf8()];
            let marker = Marker {
                whole: &r[start..end],
                reference: inner.split_once(':').map_or(inner, |(_, r)| r),
            };
            rest = Some(&r[end..]);
            return Some((&r[..start], Some(marker)));
        }
        rest = None;
        Some((r, None))
    })
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

    /// Only whole markers are read or replaced; a cut-off one stays as it is, once.
    #[test]
    fn a_marker_left_open_stays_text() {
        let ip = after_apply("server.gpu.ipv4_address");
        let cut = format!("http://{}", &ip[..ip.len() - 1]);
        let known = BTreeMap::from([(
            "server.gpu.ipv4_address".to_string(),
            "127.0.0.1".to_string(),
        )]);
        assert!(unknowns(&cut).is_empty());
        assert_eq!(resolve(&cut, &known), cut);
        assert_eq!(describe(&cut), cut);
        let url = format!("{ip}:{}", &ip[..ip.len() - 1]);
        assert_eq!(
            resolve(&url, &known),
            format!("127.0.0.1:{}", &ip[..ip.len() - 1])
        );
    }

    #[test]
    fn a_value_derived_from_an_unknown_one_waits_for_the_same() {
        let ip = after_apply("server.a.ipv4_address");
        let derived = markers_only(&format!("echo {ip} > /etc/peer"));
        assert_eq!(derived, ip);
        assert_eq!(describe(&derived), "(known after apply)");
        assert_eq!(unknowns(&derived), vec!["server.a.ipv4_address"]);
        assert_eq!(markers_only("no marker"), "");
    }

    #[test]
    fn unset_variables_are_unknown() {
        let v = unset_var("token");
        assert!(is_unknown(&v));
        assert_eq!(unknowns(&v), vec!["var.token"]);
    }
}
