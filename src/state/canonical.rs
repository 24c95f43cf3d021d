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

/// `sha256:<hex>` of the canonical form of a JSON document given as text whose keys are already
/// in canonical (sorted) order and whose first member is `skip`, computed as that text with the
/// `skip` member and insignificant whitespace removed. Nothing is parsed or built: this is the
/// cost of reading the text once, where a parsed tree was most of the cost of loading a large
/// state. Our writer produces exactly such text (every map is sorted, struct fields are declared
/// in key order, and a test holds it to that).
///
/// The result equals [`checksum_without`] of the parsed document only when the text is in
/// canonical order and spells strings and numbers the way serde_json writes them. Text written
/// otherwise (hand-edited, reordered, `1.0` for `1`, other escapes) gives a different hash, and
/// callers then fall back to the parsed form: a match can only come from the bytes the writer
/// hashed. `None` when the text does not open with the `skip` member.
pub fn checksum_of_sorted_text_without(text: &[u8], skip: &str) -> Option<String> {
    let mut pos = skip_ws(text, 0);
    let expect = |expected: &[u8], pos: &mut usize| -> Option<()> {
        *pos = skip_ws(text, *pos);
        text.get(*pos..)?
            .starts_with(expected)
            .then(|| *pos += expected.len())
    };
    expect(b"{", &mut pos)?;
    expect(b"\"", &mut pos)?;
    expect(skip.as_bytes(), &mut pos)?;
    expect(b"\"", &mut pos)?;
    expect(b":", &mut pos)?;
    pos = skip_ws(text, pos);
    if text.get(pos) != Some(&b'"') {
        return None;
    }
    pos = string_end(text, pos)?;
    expect(b",", &mut pos)?;

    let mut hasher = Sha256::new();
    hasher.update(b"{");
    // Fed in blocks: the hasher is slow on one- and two-byte pieces.
    let mut block: Vec<u8> = Vec::with_capacity(HASH_BLOCK + 256);
    loop {
        pos = skip_ws(text, pos);
        let Some(&b) = text.get(pos) else { break };
        if b == b'"' {
            let end = string_end(text, pos)?;
            block.extend_from_slice(&text[pos..end]);
            pos = end;
        } else {
            block.push(b);
            pos += 1;
        }
        if block.len() >= HASH_BLOCK {
            hasher.update(&block);
            block.clear();
        }
    }
    hasher.update(&block);
    Some(format!("sha256:{}", hex::encode(hasher.finalize())))
}

const HASH_BLOCK: usize = 64 * 1024;

fn skip_ws(text: &[u8], mut pos: usize) -> usize {
    // Pretty-printed text is mostly indentation: eight spaces at a time first.
    const SPACES: u64 = u64::from_ne_bytes([b' '; 8]);
    while let Some(chunk) = text.get(pos..pos + 8) {
        match <[u8; 8]>::try_from(chunk) {
            Ok(c) if u64::from_ne_bytes(c) == SPACES => pos += 8,
            _ => break,
        }
    }
    while let Some(b' ' | b'\n' | b'\r' | b'\t') = text.get(pos) {
        pos += 1;
    }
    pos
}

/// The position after the closing quote of the string that opens at `pos`.
fn string_end(text: &[u8], mut pos: usize) -> Option<usize> {
    pos += 1;
    loop {
        // Most of a state is string content: jump to the next quote or backslash.
        pos += memchr::memchr2(b'"', b'\\', text.get(pos..)?)?;
        if text[pos] == b'"' {
            return Some(pos + 1);
        }
        pos += 2;
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

    fn arb_json() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(Value::from),
            "\\PC{0,8}|[\"\\\\\n\t\u{1}/é ]{0,4}".prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 64, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                proptest::collection::btree_map("[a-zA-Z_é0-9 ]{0,6}", inner, 0..6)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest::proptest! {
        #[test]
        fn sorted_text_checksum_matches_the_parsed_one_for_what_serde_json_writes(
            v in arb_json(),
            sum in "[a-z0-9:]{0,10}",
        ) {
            // serde_json writes maps in key order; "checksum" sorts before the other keys.
            let mut doc = serde_json::Map::new();
            doc.insert("checksum".into(), Value::String(sum));
            doc.insert("d".into(), v.clone());
            doc.insert("e".into(), v);
            let doc = Value::Object(doc);
            let expected = checksum_without(&doc, "checksum");
            for text in [serde_json::to_vec_pretty(&doc).unwrap(), serde_json::to_vec(&doc).unwrap()] {
                let got = checksum_of_sorted_text_without(&text, "checksum");
                proptest::prop_assert_eq!(got, Some(expected.clone()));
            }
        }
    }

    #[test]
    fn sorted_text_checksum_sees_every_difference_the_parsed_one_sees() {
        let base = checksum_without(
            &json!({"a": [1, {"b": "x y"}], "checksum": "c"}),
            "checksum",
        );
        let text = |t: &str| checksum_of_sorted_text_without(t.as_bytes(), "checksum");
        assert_eq!(
            text("{ \"checksum\": \"zz\",\n \"a\": [ 1 , {\"b\":\"x y\"} ] }").unwrap(),
            base
        );
        // Spelled or ordered other than our writer does: a different hash (callers fall back).
        assert_ne!(
            text(r#"{"checksum": "c", "a": [1.0, {"b": "x y"}]}"#).unwrap(),
            base
        );
        assert_ne!(
            text(r#"{"checksum": "c", "a": [1, {"b": "x\u0020y"}]}"#).unwrap(),
            base
        );
        assert_ne!(
            text(r#"{"checksum": "c", "a": [1, {"b": "x y"}], "0": 1}"#).unwrap(),
            base
        );
        // Not followed: the skipped member elsewhere than first, not a string, cut short.
        assert_eq!(text(r#"{"a": [1, {"b": "x y"}], "checksum": "c"}"#), None);
        assert_eq!(text(r#"{"checksum": 1, "a": 2}"#), None);
        assert_eq!(text(r#"{"checksum": "c"}"#), None);
        assert_eq!(text(r#"{"checksum": "c", "a": "x"#), None);
        assert_eq!(text(""), None);
    }
}
