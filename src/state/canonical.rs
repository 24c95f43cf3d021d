//! Canonical JSON bytes and content hashes.
//!
//! Checksums must not depend on formatting or on whether serde_json keeps maps in insertion order (a feature any
//! dependency can switch on), so objects are written with sorted keys and no whitespace.

use serde_json::Value;
use sha2::{Digest, Sha256};

/// Serializes `value` with sorted object keys and no insignificant whitespace.
pub fn canonical_json(value: &Value) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    write_value(value, &mut out);
    out
}

fn write_value(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Object(map) => write_object(map, None, out),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(item, out);
            }
            out.push(b']');
        }
        Value::String(s) => write_string(s, out),
        Value::Number(n) => out.extend_from_slice(n.to_string().as_bytes()),
        Value::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Null => out.extend_from_slice(b"null"),
    }
}

fn write_object(map: &serde_json::Map<String, Value>, skip: Option<&str>, out: &mut Vec<u8>) {
    let mut entries: Vec<(&String, &Value)> = map
        .iter()
        .filter(|(k, _)| Some(k.as_str()) != skip)
        .collect();
    entries.sort_by(|a, b| a.0.cmp(b.0));
    out.push(b'{');
    for (i, (key, v)) in entries.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_string(key, out);
        out.push(b':');
        write_value(v, out);
    }
    out.push(b'}');
}

fn write_string(s: &str, out: &mut Vec<u8>) {
    // A `Value::String` always serializes; the fallback only keeps this function total.
    // Written straight into `out`: a buffer per string was most of the checksum's allocations.
    let mark = out.len();
    if serde_json::to_writer(&mut *out, s).is_err() {
        out.truncate(mark);
        out.extend_from_slice(b"\"\"");
    }
}

/// `sha256:<hex>` of `bytes`.
pub fn sha256_tagged(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// `sha256:<hex>` of the canonical form of `value` with the top-level key `skip` removed (the field that will hold
/// the result).
pub fn checksum_without(value: &Value, skip: &str) -> String {
    match value {
        // Written in place rather than from a copy without `skip`: the copy was a deep clone of
        // the whole state on every load and save.
        Value::Object(map) if map.contains_key(skip) => {
            let mut out = Vec::with_capacity(256);
            write_object(map, Some(skip), &mut out);
            sha256_tagged(&out)
        }
        other => sha256_tagged(&canonical_json(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keys_are_sorted_at_every_level_and_whitespace_is_dropped() {
        let v = json!({"b": 1, "a": {"z": [1, "x\n"], "c": null}, "A": true});
        assert_eq!(
            String::from_utf8(canonical_json(&v)).unwrap(),
            r#"{"A":true,"a":{"c":null,"z":[1,"x\n"]},"b":1}"#
        );
    }

    #[test]
    fn checksum_ignores_the_named_field_only() {
        let a = json!({"x": 1, "checksum": "one"});
        let b = json!({"x": 1, "checksum": "two"});
        let c = json!({"x": 2, "checksum": "one"});
        assert_eq!(
            checksum_without(&a, "checksum"),
            checksum_without(&b, "checksum")
        );
        assert_ne!(
            checksum_without(&a, "checksum"),
            checksum_without(&c, "checksum")
        );
        assert!(checksum_without(&a, "checksum").starts_with("sha256:"));
    }
}
