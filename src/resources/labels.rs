//! The labels sovstack puts on every cloud resource it creates, in the form Hetzner accepts.

use serde_json::Value as Json;
use std::collections::BTreeMap;

/// Labels sovstack puts on every cloud resource it creates, so that a create whose response
/// was lost can be found and adopted instead of duplicated.
pub fn ownership_labels(stack: &str, address: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("sovstack.stack".to_string(), label_value(stack)),
        ("sovstack.address".to_string(), label_value(address)),
    ])
}

/// Hetzner label values: up to 63 characters of `[a-z0-9A-Z._-]`, alphanumeric at both ends.
pub fn label_value(s: &str) -> String {
    // Most values (stack names, plain addresses) are valid as they are.
    let valid_char = |b: &u8| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-');
    let bytes = s.as_bytes();
    if bytes.len() <= 63
        && bytes.iter().all(valid_char)
        && bytes.first().is_some_and(u8::is_ascii_alphanumeric)
        && bytes.last().is_some_and(u8::is_ascii_alphanumeric)
    {
        return s.to_string();
    }
    label_value_mapped(s)
}

/// [`label_value`] the long way: every character mapped, then trimmed and cut.
fn label_value_mapped(s: &str) -> String {
    let mapped: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let trimmed = mapped.trim_matches(|c: char| !c.is_ascii_alphanumeric());
    trimmed
        .chars()
        .take(63)
        .collect::<String>()
        .trim_end_matches(|c: char| !c.is_ascii_alphanumeric())
        .to_string()
}

/// A JSON object of string labels merged with sovstack's own.
pub(crate) fn labels_json(stack: &str, address: &str, user: &BTreeMap<String, String>) -> Json {
    let mut all: serde_json::Map<String, Json> = user
        .iter()
        .map(|(k, v)| (k.clone(), Json::String(v.clone())))
        .collect();
    for (k, v) in ownership_labels(stack, address) {
        all.insert(k, Json::String(v));
    }
    Json::Object(all)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_follow_hetzner_rules() {
        assert_eq!(
            label_value("file.llm[\"compose.yaml\"]"),
            "file.llm__compose.yaml"
        );
        assert_eq!(label_value("server.gpu"), "server.gpu");
        assert!(label_value(&"x".repeat(100)).len() <= 63);
    }

    proptest::proptest! {
        #[test]
        fn the_label_shortcut_agrees_with_the_long_way(s in "[a-z0-9._\\-\\[\\]\"é ]{0,70}") {
            proptest::prop_assert_eq!(label_value(&s), label_value_mapped(&s));
        }
    }
}
