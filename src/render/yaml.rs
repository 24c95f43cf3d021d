//! YAML output that is byte-stable: object keys are sorted here (not left to whichever map type
//! serde_json happens to be compiled with), and scalars are quoted rather than folded, so a long
//! command or OTTL statement is never re-wrapped.

use serde::ser::{Serialize, SerializeMap, Serializer};

pub fn options() -> serde_saphyr::SerializerOptions {
    let mut o = serde_saphyr::SerializerOptions::default();
    o.prefer_block_scalars = false;
    o
}

/// Options for documents that carry multi-line values people read (keys in cloud-init).
pub fn block_options() -> serde_saphyr::SerializerOptions {
    serde_saphyr::SerializerOptions::default()
}

pub fn to_yaml<T: Serialize>(v: &T) -> Result<String, serde_saphyr::SerializeError> {
    serde_saphyr::to_string_with_options(v, options())
}

/// A JSON value serialised with object keys in byte order and whole floats as integers
/// (HCL numbers arrive as floats; `limit_percentage: 80.0` would otherwise reach the collector).
pub struct Canonical<'a>(pub &'a serde_json::Value);

impl Serialize for Canonical<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde_json::Value;
        match self.0 {
            Value::Null => s.serialize_unit(),
            Value::Bool(b) => s.serialize_bool(*b),
            Value::Number(n) => {
                if let Some(i) = n.as_i64() {
                    s.serialize_i64(i)
                } else if let Some(u) = n.as_u64() {
                    s.serialize_u64(u)
                } else {
                    let f = n.as_f64().unwrap_or(0.0);
                    if f.fract() == 0.0 && f.abs() < 9.0e15 {
                        s.serialize_i64(f as i64)
                    } else {
                        s.serialize_f64(f)
                    }
                }
            }
            Value::String(x) => s.serialize_str(x),
            Value::Array(a) => s.collect_seq(a.iter().map(Canonical)),
            Value::Object(o) => {
                let mut entries: Vec<_> = o.iter().collect();
                entries.sort_by(|a, b| a.0.cmp(b.0));
                let mut m = s.serialize_map(Some(entries.len()))?;
                for (k, v) in entries {
                    m.serialize_entry(k, &Canonical(v))?;
                }
                m.end()
            }
        }
    }
}

/// A map that keeps the order it was built in (collector components in declaration order).
pub struct Ordered<V>(pub Vec<(String, V)>);

impl<V: Serialize> Serialize for Ordered<V> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

impl<V> Ordered<V> {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keys_are_sorted_and_whole_floats_become_integers() {
        let v = json!({"b": 80.0, "a": [1.5, "x"], "c": {"z": true, "y": null}});
        let y = to_yaml(&Canonical(&v)).unwrap();
        // `y` is a YAML 1.1 boolean, so it is quoted.
        assert_eq!(y, "a:\n- 1.5\n- x\nb: 80\nc:\n  \"y\": null\n  z: true\n");
    }

    #[test]
    fn ambiguous_strings_stay_strings_after_a_round_trip() {
        let v = json!({"a": "yes", "b": "1", "c": "on", "d": "a: b", "e": "line1\nline2", "f": "x".repeat(120)});
        let y = to_yaml(&Canonical(&v)).unwrap();
        let back: serde_json::Value = serde_saphyr::from_str(&y).unwrap();
        assert_eq!(back, v);
    }
}
