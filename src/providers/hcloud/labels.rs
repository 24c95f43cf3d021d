//! Labels and label selectors.
//!
//! The selector grammar (`k=v`, `k!=v`, `k`, `!k`, `k in (a,b)`, `k notin (a,b)`, joined by `,`) has
//! no escaping: a value containing `,` or `)` would silently change the query's meaning. So the builder
//! validates every key and value against the label syntax before rendering, and the rendered string is
//! percent-encoded as a query parameter by the transport.

use std::collections::BTreeMap;

use miette::Diagnostic;
use thiserror::Error;

/// Labels as the API stores them: a string map. `BTreeMap` keeps serialisation deterministic.
pub type Labels = BTreeMap<String, String>;

const NAME_MAX: usize = 63;
const PREFIX_MAX: usize = 253;
const RESERVED_PREFIX: &str = "hetzner.cloud";

#[derive(Debug, Clone, PartialEq, Eq, Error, Diagnostic)]
pub enum LabelError {
    #[error("invalid label key `{key}`: {reason}")]
    #[diagnostic(
        code(hcloud::label_key),
        help(
            "a key is an optional DNS-subdomain prefix and `/`, then a name of at most 63 characters that starts and ends with a letter or digit and may contain `-`, `_` and `.`"
        )
    )]
    Key { key: String, reason: &'static str },
    #[error("invalid value `{value}` for label `{key}`: {reason}")]
    #[diagnostic(
        code(hcloud::label_value),
        help(
            "a value is empty or at most 63 characters that start and end with a letter or digit, with `-`, `_` and `.` allowed inside"
        )
    )]
    Value {
        key: String,
        value: String,
        reason: &'static str,
    },
    #[error("label selector expression `{key} {operator} ()` needs at least one value")]
    #[diagnostic(code(hcloud::label_selector_empty_set))]
    EmptySet { key: String, operator: &'static str },
}

fn is_alnum(c: char) -> bool {
    c.is_ascii_alphanumeric()
}

/// Checks the name part shared by keys and values: alnum at both ends, `-_.` allowed inside.
fn check_name(s: &str) -> Result<(), &'static str> {
    if s.len() > NAME_MAX {
        return Err("longer than 63 characters");
    }
    let (Some(first), Some(last)) = (s.chars().next(), s.chars().last()) else {
        return Err("is empty");
    };
    if !is_alnum(first) || !is_alnum(last) {
        return Err("must start and end with a letter or digit");
    }
    if !s
        .chars()
        .all(|c| is_alnum(c) || matches!(c, '-' | '_' | '.'))
    {
        return Err("may only contain letters, digits, `-`, `_` and `.`");
    }
    Ok(())
}

fn check_dns_subdomain(prefix: &str) -> Result<(), &'static str> {
    if prefix.is_empty() || prefix.len() > PREFIX_MAX {
        return Err("the prefix must be a DNS subdomain of 1 to 253 characters");
    }
    for part in prefix.split('.') {
        let ok = !part.is_empty()
            && part.len() <= 63
            && part
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && !part.starts_with('-')
            && !part.ends_with('-');
        if !ok {
            return Err("the prefix must be a lower-case DNS subdomain");
        }
    }
    Ok(())
}

/// Validates a label key for reading (selectors may name any key, including reserved ones).
pub fn validate_key(key: &str) -> Result<(), LabelError> {
    let err = |reason| LabelError::Key {
        key: key.to_owned(),
        reason,
    };
    match key.split_once('/') {
        Some((prefix, name)) => {
            check_dns_subdomain(prefix).map_err(err)?;
            check_name(name).map_err(err)
        }
        None => check_name(key).map_err(err),
    }
}

/// Validates a label value; the empty value is allowed.
pub fn validate_value(key: &str, value: &str) -> Result<(), LabelError> {
    if value.is_empty() {
        return Ok(());
    }
    check_name(value).map_err(|reason| LabelError::Value {
        key: key.to_owned(),
        value: value.to_owned(),
        reason,
    })
}

/// Validates labels we are about to write: syntax plus Hetzner's reserved `hetzner.cloud/` prefix.
pub fn validate_labels(labels: &Labels) -> Result<(), LabelError> {
    for (key, value) in labels {
        validate_key(key)?;
        if key
            .split_once('/')
            .is_some_and(|(prefix, _)| prefix == RESERVED_PREFIX)
        {
            return Err(LabelError::Key {
                key: key.clone(),
                reason: "the prefix `hetzner.cloud/` is reserved",
            });
        }
        validate_value(key, value)?;
    }
    Ok(())
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Requirement {
    Eq(String, String),
    Ne(String, String),
    Exists(String),
    Absent(String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
}

/// Builds a `label_selector` query value; requirements are ANDed.
///
/// ```
/// use sovstack::providers::hcloud::LabelSelector;
/// let s = LabelSelector::new().eq("sovstack.stack", "prod").exists("sovstack.address");
/// assert_eq!(s.render().unwrap(), "sovstack.stack=prod,sovstack.address");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LabelSelector {
    requirements: Vec<Requirement>,
}

impl LabelSelector {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one requirement; every builder below is this with its own kind.
    fn require(mut self, requirement: Requirement) -> Self {
        self.requirements.push(requirement);
        self
    }

    /// `key` against a set of values: the one step of [`Self::any_of`] and [`Self::none_of`].
    fn require_set<V: Into<String>>(
        self,
        kind: fn(String, Vec<String>) -> Requirement,
        key: impl Into<String>,
        values: impl IntoIterator<Item = V>,
    ) -> Self {
        let values = values.into_iter().map(Into::into).collect();
        self.require(kind(key.into(), values))
    }

    /// `key=value`
    pub fn eq(self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.require(Requirement::Eq(key.into(), value.into()))
    }

    /// `key!=value`
    pub fn ne(self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.require(Requirement::Ne(key.into(), value.into()))
    }

    /// `key` (present, any value)
    pub fn exists(self, key: impl Into<String>) -> Self {
        self.require(Requirement::Exists(key.into()))
    }

    /// `!key`
    pub fn absent(self, key: impl Into<String>) -> Self {
        self.require(Requirement::Absent(key.into()))
    }

    /// `key in (v1,v2)`
    pub fn any_of<I, V>(self, key: impl Into<String>, values: I) -> Self
    where
        I: IntoIterator<Item = V>,
        V: Into<String>,
    {
        self.require_set(Requirement::In, key, values)
    }

    /// `key notin (v1,v2)`
    pub fn none_of<I, V>(self, key: impl Into<String>, values: I) -> Self
    where
        I: IntoIterator<Item = V>,
        V: Into<String>,
    {
        self.require_set(Requirement::NotIn, key, values)
    }

    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }

    /// Renders the selector in the API's grammar (not yet percent-encoded), or says which key or
    /// value would break it.
    pub fn render(&self) -> Result<String, LabelError> {
        let mut parts = Vec::with_capacity(self.requirements.len());
        for requirement in &self.requirements {
            parts.push(match requirement {
                Requirement::Eq(k, v) => {
                    validate_key(k)?;
                    validate_value(k, v)?;
                    format!("{k}={v}")
                }
                Requirement::Ne(k, v) => {
                    validate_key(k)?;
                    validate_value(k, v)?;
                    format!("{k}!={v}")
                }
                Requirement::Exists(k) => {
                    validate_key(k)?;
                    k.clone()
                }
                Requirement::Absent(k) => {
                    validate_key(k)?;
                    format!("!{k}")
                }
                Requirement::In(k, vs) => render_set(k, "in", vs)?,
                Requirement::NotIn(k, vs) => render_set(k, "notin", vs)?,
            });
        }
        Ok(parts.join(","))
    }
}

fn render_set(key: &str, operator: &'static str, values: &[String]) -> Result<String, LabelError> {
    validate_key(key)?;
    if values.is_empty() {
        return Err(LabelError::EmptySet {
            key: key.to_owned(),
            operator,
        });
    }
    for v in values {
        // An empty member would render as `k in (a,)`, which the grammar does not define.
        if v.is_empty() {
            return Err(LabelError::Value {
                key: key.to_owned(),
                value: String::new(),
                reason: "set members must not be empty",
            });
        }
        validate_value(key, v)?;
    }
    Ok(format!("{key} {operator} ({})", values.join(",")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_every_operator() {
        let s = LabelSelector::new()
            .eq("env", "production")
            .ne("type", "database")
            .exists("sovstack.address")
            .absent("legacy")
            .any_of("env", ["testing", "staging"])
            .none_of("tier", vec!["a".to_string(), "b".to_string()]);
        assert_eq!(
            s.render().unwrap(),
            "env=production,type!=database,sovstack.address,!legacy,env in (testing,staging),tier notin (a,b)"
        );
        assert_eq!(LabelSelector::new().render().unwrap(), "");
    }

    #[test]
    fn prefixed_keys_and_empty_values() {
        let s = LabelSelector::new()
            .eq("example.com/my", "label")
            .eq("just-a-key", "");
        assert_eq!(s.render().unwrap(), "example.com/my=label,just-a-key=");
    }

    #[test]
    fn rejects_values_that_would_change_the_query() {
        for bad in ["a,b", "x)", "a b", "-lead", "trail.", "a=b", "ä"] {
            let err = LabelSelector::new().eq("k", bad).render().unwrap_err();
            assert!(matches!(err, LabelError::Value { .. }), "{bad}: {err:?}");
        }
        for bad in ["", "a,b", "!k", "Upper.Case/x", "x/", "/x", &"k".repeat(64)] {
            let err = LabelSelector::new().exists(bad).render().unwrap_err();
            assert!(matches!(err, LabelError::Key { .. }), "{bad}: {err:?}");
        }
        assert!(matches!(
            LabelSelector::new()
                .any_of("k", Vec::<String>::new())
                .render(),
            Err(LabelError::EmptySet { .. })
        ));
        assert!(
            LabelSelector::new()
                .any_of("k", ["a", ""])
                .render()
                .is_err()
        );
    }

    #[test]
    fn label_maps_reject_reserved_prefix() {
        let mut labels = Labels::new();
        labels.insert("sovstack.stack".into(), "prod".into());
        labels.insert("empty".into(), "".into());
        validate_labels(&labels).unwrap();
        labels.insert("hetzner.cloud/x".into(), "y".into());
        assert!(validate_labels(&labels).is_err());
    }

    #[test]
    fn length_limits() {
        let name63 = "a".repeat(63);
        validate_key(&name63).unwrap();
        validate_value("k", &name63).unwrap();
        assert!(validate_value("k", &"a".repeat(64)).is_err());
        validate_key(&format!("{}/{}", "a".repeat(63), name63)).unwrap();
    }
}
