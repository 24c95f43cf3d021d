//! Labels and the label-selector query language, as the spec's overview ("Labels", "Label Selector") defines them.
//!
//! Selector semantics follow the Kubernetes model Hetzner's grammar is taken from: `k!=v` and `k notin (..)` also
//! match resources that do not carry `k` at all.

use std::collections::BTreeMap;

use super::names::{is_dns_name, is_segment};

/// One requirement of a selector; a selector is the AND of its requirements.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Requirement {
    Equals(String, String),
    NotEquals(String, String),
    Exists(String),
    NotExists(String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
}

/// A parsed label selector (`env=prod,!tmp,tier in (a,b)`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Selector {
    pub requirements: Vec<Requirement>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid label selector `{selector}`: {reason}")]
pub struct SelectorError {
    pub selector: String,
    pub reason: String,
}

impl Selector {
    pub fn parse(input: &str) -> Result<Self, SelectorError> {
        let fail = |reason: String| SelectorError {
            selector: input.to_owned(),
            reason,
        };
        let mut requirements = Vec::new();
        for part in split_top_level(input).map_err(&fail)? {
            let part = part.trim();
            if part.is_empty() {
                return Err(fail("empty requirement".into()));
            }
            requirements.push(parse_requirement(part).map_err(&fail)?);
        }
        Ok(Self { requirements })
    }

    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.requirements.iter().all(|r| match r {
            Requirement::Equals(k, v) => labels.get(k) == Some(v),
            Requirement::NotEquals(k, v) => labels.get(k) != Some(v),
            Requirement::Exists(k) => labels.contains_key(k),
            Requirement::NotExists(k) => !labels.contains_key(k),
            Requirement::In(k, vs) => labels.get(k).is_some_and(|v| vs.contains(v)),
            Requirement::NotIn(k, vs) => labels.get(k).is_none_or(|v| !vs.contains(v)),
        })
    }
}

/// Splits on commas that are not inside a `( ... )` value list.
fn split_top_level(input: &str) -> Result<Vec<&str>, String> {
    let mut parts = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    for (i, c) in input.char_indices() {
        match c {
            '(' => {
                if depth > 0 {
                    return Err("nested parentheses".into());
                }
                depth += 1;
            }
            ')' => {
                if depth == 0 {
                    return Err("unbalanced `)`".into());
                }
                depth -= 1;
            }
            ',' if depth == 0 => {
                parts.push(&input[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if depth != 0 {
        return Err("unbalanced `(`".into());
    }
    parts.push(&input[start..]);
    Ok(parts)
}

fn parse_requirement(part: &str) -> Result<Requirement, String> {
    if let Some(open) = part.find('(') {
        let close = part
            .rfind(')')
            .filter(|c| *c == part.len() - 1)
            .ok_or("a value list must end with `)`")?;
        let head = part[..open].trim_end();
        let (key, op) = head
            .rsplit_once(char::is_whitespace)
            .ok_or("expected `<key> in (..)` or `<key> notin (..)`")?;
        let key = checked_key(key.trim())?;
        let values: Vec<String> = part[open + 1..close]
            .split(',')
            .map(|v| checked_value(v.trim()))
            .collect::<Result<_, _>>()?;
        if values.iter().all(String::is_empty) && values.len() == 1 {
            return Err("empty value list".into());
        }
        return match op {
            "in" => Ok(Requirement::In(key, values)),
            "notin" => Ok(Requirement::NotIn(key, values)),
            other => Err(format!("unknown set operator `{other}`")),
        };
    }
    if let Some(key) = part.strip_prefix('!') {
        if key.contains(['=', '!']) {
            return Err("`!` only negates a bare key".into());
        }
        return Ok(Requirement::NotExists(checked_key(key.trim())?));
    }
    if let Some((k, v)) = part.split_once("!=") {
        return Ok(Requirement::NotEquals(
            checked_key(k.trim())?,
            checked_value(v.trim())?,
        ));
    }
    if let Some((k, v)) = part.split_once("==") {
        return Ok(Requirement::Equals(
            checked_key(k.trim())?,
            checked_value(v.trim())?,
        ));
    }
    if let Some((k, v)) = part.split_once('=') {
        return Ok(Requirement::Equals(
            checked_key(k.trim())?,
            checked_value(v.trim())?,
        ));
    }
    Ok(Requirement::Exists(checked_key(part)?))
}

fn checked_key(key: &str) -> Result<String, String> {
    key_problem(key).map_or_else(|| Ok(key.to_owned()), Err)
}

fn checked_value(value: &str) -> Result<String, String> {
    value_problem(value).map_or_else(|| Ok(value.to_owned()), Err)
}

/// Label keys' names and label values are segments of at most 63 characters.
const SEGMENT_MAX: usize = 63;

/// Why `key` is not a valid label key, or `None` when it is.
pub fn key_problem(key: &str) -> Option<String> {
    let (prefix, name) = match key.split_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, key),
    };
    if let Some(prefix) = prefix {
        if !is_dns_name(prefix) {
            return Some(format!("label key `{key}` has an invalid prefix"));
        }
        if prefix == "hetzner.cloud" {
            return Some(format!(
                "label key `{key}` uses the reserved prefix hetzner.cloud/"
            ));
        }
    }
    if !is_segment(name, SEGMENT_MAX) {
        return Some(format!(
            "label key `{key}` must be 1-63 characters, start and end alphanumeric, with -_. inside"
        ));
    }
    None
}

/// Why `value` is not a valid label value, or `None` when it is.
pub fn value_problem(value: &str) -> Option<String> {
    if value.is_empty() || is_segment(value, SEGMENT_MAX) {
        None
    } else {
        Some(format!(
            "label value `{value}` must be empty or 1-63 characters, start and end alphanumeric, with -_. inside"
        ))
    }
}

/// Every problem with a label map, for `details.fields` of an `invalid_input` error.
pub fn label_problems(labels: &BTreeMap<String, String>) -> Vec<String> {
    labels
        .iter()
        .flat_map(|(k, v)| key_problem(k).into_iter().chain(value_problem(v)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn sel(s: &str) -> Selector {
        Selector::parse(s).unwrap()
    }

    #[test]
    fn parses_every_operator() {
        use Requirement::*;
        let s = sel("a=1,b==2,c!=3,d,!e,f in (x, y),g notin (z)");
        assert_eq!(
            s.requirements,
            vec![
                Equals("a".into(), "1".into()),
                Equals("b".into(), "2".into()),
                NotEquals("c".into(), "3".into()),
                Exists("d".into()),
                NotExists("e".into()),
                In("f".into(), vec!["x".into(), "y".into()]),
                NotIn("g".into(), vec!["z".into()]),
            ]
        );
    }

    #[test]
    fn spec_examples_match_as_documented() {
        let prod_web = labels(&[("env", "production"), ("type", "web")]);
        let prod_db = labels(&[("env", "production"), ("type", "database")]);
        let staging = labels(&[("env", "staging")]);
        let s = sel("env=production,type!=database");
        assert!(s.matches(&prod_web));
        assert!(!s.matches(&prod_db));
        assert!(!s.matches(&staging));
        let s = sel("env in (testing,staging)");
        assert!(s.matches(&staging));
        assert!(!s.matches(&prod_web));
        let s = sel("!type");
        assert!(s.matches(&staging));
        assert!(!s.matches(&prod_web));
    }

    #[test]
    fn negations_match_absent_keys() {
        let none = labels(&[]);
        assert!(sel("k!=v").matches(&none));
        assert!(sel("k notin (a,b)").matches(&none));
        assert!(!sel("k in (a,b)").matches(&none));
        assert!(!sel("k").matches(&none));
    }

    #[test]
    fn prefixed_keys_and_empty_values() {
        let l = labels(&[("sovstack.dev/stack", "demo"), ("just-a-key", "")]);
        assert!(sel("sovstack.dev/stack=demo,just-a-key").matches(&l));
        assert!(sel("just-a-key=").matches(&l));
    }

    #[test]
    fn rejects_malformed_selectors() {
        for bad in [
            "",
            "a=1,",
            "k in (a,b",
            "k in a,b)",
            "k between (a)",
            "k in ()",
            "-bad=1",
            "k=v!",
            "!k=v",
            "hetzner.cloud/x=1",
            "a b",
        ] {
            assert!(Selector::parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn validates_label_maps() {
        assert!(
            label_problems(&labels(&[("env", "prod"), ("example.com/my", "label")])).is_empty()
        );
        assert_eq!(
            label_problems(&labels(&[("bad key", "v"), ("ok", "-x")])).len(),
            2
        );
        assert_eq!(label_problems(&labels(&[(&"k".repeat(64), "")])).len(), 1);
    }
}
