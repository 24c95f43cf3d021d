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

/// `sha256:<hex>` of the canonical form of a JSON document given as text, with the top-level
/// key `skip` removed, written straight from the bytes: no tree is built, which is most of the
/// cost of loading a large state.
///
/// Strings and numbers are copied as they appear, so the result equals [`checksum_without`] of
/// the parsed document only when the text spells them the way serde_json writes them, which is
/// how our writer spelled them. A document spelled otherwise (hand-edited escapes, `1.0` for
/// `1`) gives a different hash; callers then fall back to the parsed form. `None` when the text
/// is not JSON this scanner can follow, or an object key holds an escape (its sort order would
/// need the unescaped text).
pub fn checksum_of_text_without(text: &[u8], skip: &str) -> Option<String> {
    let mut scanner = RawCanonical {
        text,
        pos: 0,
        depth: 0,
        pool: Vec::new(),
    };
    let mut out = Vec::with_capacity(text.len());
    scanner.value(&mut out, Some(skip.as_bytes()))?;
    scanner.skip_ws();
    (scanner.pos == text.len()).then(|| sha256_tagged(&out))
}

/// Deepest nesting followed; deeper documents take the parsed path (and serde_json's own limit).
const MAX_DEPTH: usize = 128;

type Members = Vec<((usize, usize), (usize, usize))>;

struct RawCanonical<'a> {
    text: &'a [u8],
    pos: usize,
    /// Containers open around `pos`.
    depth: usize,
    /// Buffers of objects that have been closed, for reuse: members' values as written, and
    /// each member's (key span in the text, value span in the values).
    pool: Vec<(Vec<u8>, Members)>,
}

impl RawCanonical<'_> {
    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.text.get(self.pos) {
            self.pos += 1;
        }
    }

    fn value(&mut self, out: &mut Vec<u8>, skip: Option<&[u8]>) -> Option<()> {
        self.skip_ws();
        match *self.text.get(self.pos)? {
            b'{' | b'[' if self.depth >= MAX_DEPTH => None,
            b'{' => {
                self.depth += 1;
                let r = self.object(out, skip);
                self.depth -= 1;
                r
            }
            b'[' => {
                self.depth += 1;
                let r = self.array(out);
                self.depth -= 1;
                r
            }
            b'"' => {
                let (start, end, _) = self.string()?;
                out.extend_from_slice(&self.text[start..end]);
                Some(())
            }
            _ => {
                let start = self.pos;
                while let Some(b) = self.text.get(self.pos) {
                    if matches!(b, b',' | b']' | b'}' | b' ' | b'\n' | b'\r' | b'\t') {
                        break;
                    }
                    self.pos += 1;
                }
                (self.pos > start).then(|| out.extend_from_slice(&self.text[start..self.pos]))
            }
        }
    }

    /// Scans the string at `pos`: its span with quotes, and whether it holds an escape.
    fn string(&mut self) -> Option<(usize, usize, bool)> {
        let start = self.pos;
        self.pos += 1;
        let mut escaped = false;
        loop {
            // Most of a state is string content: jump to the next quote or backslash.
            let rest = self.text.get(self.pos..)?;
            self.pos += memchr::memchr2(b'"', b'\\', rest)?;
            if self.text[self.pos] == b'"' {
                self.pos += 1;
                return Some((start, self.pos, escaped));
            }
            escaped = true;
            self.pos += 2;
        }
    }

    fn expect(&mut self, byte: u8) -> Option<()> {
        self.skip_ws();
        (self.text.get(self.pos) == Some(&byte)).then(|| self.pos += 1)
    }

    fn array(&mut self, out: &mut Vec<u8>) -> Option<()> {
        self.pos += 1;
        out.push(b'[');
        self.skip_ws();
        if self.text.get(self.pos) == Some(&b']') {
            self.pos += 1;
            out.push(b']');
            return Some(());
        }
        loop {
            self.value(out, None)?;
            self.skip_ws();
            match *self.text.get(self.pos)? {
                b',' => out.push(b','),
                b']' => {
                    self.pos += 1;
                    out.push(b']');
                    return Some(());
                }
                _ => return None,
            }
            self.pos += 1;
        }
    }

    /// Members' values are written to a buffer of this object's as read, then copied out in key
    /// order (each byte is copied once per enclosing object: depth is small in a state).
    fn object(&mut self, out: &mut Vec<u8>, skip: Option<&[u8]>) -> Option<()> {
        self.pos += 1;
        let (mut buf, mut members) = self.pool.pop().unwrap_or_default();
        buf.clear();
        members.clear();
        self.skip_ws();
        if self.text.get(self.pos) == Some(&b'}') {
            self.pos += 1;
        } else {
            loop {
                self.skip_ws();
                if self.text.get(self.pos) != Some(&b'"') {
                    return None;
                }
                let (ks, ke, escaped) = self.string()?;
                if escaped {
                    return None;
                }
                self.expect(b':')?;
                let vs = buf.len();
                self.value(&mut buf, None)?;
                members.push(((ks + 1, ke - 1), (vs, buf.len())));
                self.skip_ws();
                match *self.text.get(self.pos)? {
                    b',' => self.pos += 1,
                    b'}' => {
                        self.pos += 1;
                        break;
                    }
                    _ => return None,
                }
            }
        }
        let text = self.text;
        members.sort_by(|a, b| text[a.0.0..a.0.1].cmp(&text[b.0.0..b.0.1]));
        out.push(b'{');
        let mut first = true;
        for &((ks, ke), (vs, ve)) in &members {
            if skip == Some(&text[ks..ke]) {
                continue;
            }
            if !first {
                out.push(b',');
            }
            first = false;
            out.push(b'"');
            out.extend_from_slice(&text[ks..ke]);
            out.extend_from_slice(b"\":");
            out.extend_from_slice(&buf[vs..ve]);
        }
        out.push(b'}');
        self.pool.push((buf, members));
        Some(())
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
            "\\PC{0,8}|[\"\\\\\n\t\u{1}/é]{0,4}".prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 64, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                proptest::collection::btree_map("[a-zA-Z_é0-9]{0,6}", inner, 0..6)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest::proptest! {
        #[test]
        fn text_checksum_matches_the_parsed_one_for_what_serde_json_writes(
            v in arb_json(),
            sum in "[a-z0-9:]{0,10}",
        ) {
            let mut doc = serde_json::Map::new();
            doc.insert("body".into(), v.clone());
            doc.insert("checksum".into(), Value::String(sum));
            doc.insert("aa".into(), v);
            let doc = Value::Object(doc);
            let expected = checksum_without(&doc, "checksum");
            for text in [serde_json::to_vec_pretty(&doc).unwrap(), serde_json::to_vec(&doc).unwrap()] {
                let got = checksum_of_text_without(&text, "checksum");
                proptest::prop_assert_eq!(got, Some(expected.clone()));
            }
        }
    }

    #[test]
    fn text_checksum_sees_every_difference_the_parsed_one_sees() {
        let base = checksum_without(&json!({"a": [1, {"b": "x"}], "checksum": "c"}), "checksum");
        let text = |t: &str| checksum_of_text_without(t.as_bytes(), "checksum");
        assert_eq!(
            text(r#"{"checksum": "zz", "a": [ 1 , {"b":"x"} ] }"#).unwrap(),
            base
        );
        // Spelled other than serde_json writes: a different hash, and the caller falls back.
        assert_ne!(
            text(r#"{"a": [1.0, {"b": "x"}], "checksum": "c"}"#).unwrap(),
            base
        );
        assert_ne!(
            text(r#"{"a": [1, {"b": "\u0078"}], "checksum": "c"}"#).unwrap(),
            base
        );
        // Not followed: escaped keys, trailing garbage, cut short, too deep.
        assert_eq!(text(r#"{"\u0061": [1, {"b": "x"}]}"#), None);
        assert_eq!(text(r#"{"a": 1} x"#), None);
        assert_eq!(text(r#"{"a": [1, {"b": "x"#), None);
        assert_eq!(
            text(&format!("{}1{}", "[".repeat(500), "]".repeat(500))),
            None
        );
        assert_eq!(text(""), None);
    }
}
