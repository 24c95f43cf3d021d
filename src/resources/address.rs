//! Typed resource addresses: `server.gpu`, `server.gpu[0]`, `file.llm["compose.yaml"]`.
//! The key is there for instances of one block (a file of a compose project today; `count`
//! and `for_each` instances next), so an address is never split or glued by hand.

use super::kind::ResourceKind;
use std::fmt;

/// A kind from the registry; compares and prints by name.
#[derive(Clone, Copy)]
pub struct Kind(&'static dyn ResourceKind);

impl Kind {
    /// The registered kind called `name`.
    pub fn named(name: &str) -> Option<Self> {
        super::kind(name).map(Kind)
    }

    pub fn name(self) -> &'static str {
        self.0.name()
    }

    pub fn get(self) -> &'static dyn ResourceKind {
        self.0
    }
}

impl PartialEq for Kind {
    fn eq(&self, other: &Self) -> bool {
        self.name() == other.name()
    }
}

impl Eq for Kind {}

impl fmt::Debug for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Which instance of a block: `[0]` (count) or `["a"]` (for_each, a compose file's path).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum InstanceKey {
    Index(u64),
    Key(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    pub kind: Kind,
    pub name: String,
    pub key: Option<InstanceKey>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, miette::Diagnostic)]
pub enum AddressError {
    #[error("`{0}` is not a resource address")]
    #[diagnostic(
        code(sovstack::address::syntax),
        help("addresses look like server.gpu, host.gpu[0] or file.llm[\"compose.yaml\"]")
    )]
    Syntax(String),
    #[error("`{kind}` in `{address}` is not a kind of resource")]
    #[diagnostic(code(sovstack::address::kind))]
    UnknownKind { address: String, kind: String },
}

impl Address {
    pub fn new(kind: Kind, name: impl Into<String>) -> Self {
        Self {
            kind,
            name: name.into(),
            key: None,
        }
    }

    pub fn with_key(mut self, key: InstanceKey) -> Self {
        self.key = Some(key);
        self
    }

    /// Parses `kind.name`, `kind.name[N]` or `kind.name["key"]`.
    pub fn parse(text: &str) -> Result<Self, AddressError> {
        let syntax = || AddressError::Syntax(text.to_string());
        let (kind_name, rest) = text.split_once('.').ok_or_else(syntax)?;
        let kind = Kind::named(kind_name).ok_or_else(|| AddressError::UnknownKind {
            address: text.to_string(),
            kind: kind_name.to_string(),
        })?;
        let (name, key) = match rest.split_once('[') {
            None => (rest, None),
            Some((name, index)) => {
                let inner = index.strip_suffix(']').ok_or_else(syntax)?;
                let key = match inner.strip_prefix('"').and_then(|s| s.strip_suffix('"')) {
                    Some(k) => InstanceKey::Key(k.to_string()),
                    None => InstanceKey::Index(inner.parse().map_err(|_| syntax())?),
                };
                (name, Some(key))
            }
        };
        let valid_name = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !valid_name {
            return Err(syntax());
        }
        Ok(Self {
            kind,
            name: name.to_string(),
            key,
        })
    }

    /// The address of the block, without an instance key.
    pub fn block(&self) -> Self {
        Self::new(self.kind, self.name.clone())
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.kind.name(), self.name)?;
        match &self.key {
            None => Ok(()),
            Some(InstanceKey::Index(i)) => write!(f, "[{i}]"),
            Some(InstanceKey::Key(k)) => write!(f, "[\"{k}\"]"),
        }
    }
}

impl std::str::FromStr for Address {
    type Err = AddressError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_round_trip_through_text() {
        for text in [
            "server.gpu",
            "host.gpu-1[0]",
            "file.llm[\"compose.yaml\"]",
            "firewall.edge[\"fsn1-a\"]",
        ] {
            let a = Address::parse(text).unwrap();
            assert_eq!(a.to_string(), text);
        }
        let a = Address::parse("file.llm[\"files/x/config.yaml\"]").unwrap();
        assert_eq!(a.kind.name(), "file");
        assert_eq!(a.name, "llm");
        assert_eq!(a.key, Some(InstanceKey::Key("files/x/config.yaml".into())));
        assert_eq!(a.block().to_string(), "file.llm");
    }

    #[test]
    fn malformed_addresses_and_unknown_kinds_are_refused() {
        assert!(matches!(
            Address::parse("thing.x"),
            Err(AddressError::UnknownKind { .. })
        ));
        for bad in [
            "server",
            "server.",
            "server.a[",
            "server.a[x]",
            "server.a b",
        ] {
            assert!(
                matches!(Address::parse(bad), Err(AddressError::Syntax(_))),
                "{bad}"
            );
        }
    }
}
