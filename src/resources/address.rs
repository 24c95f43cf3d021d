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

pub use crate::config::instance::InstanceKey;

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

    /// Parses `kind.name`, `kind.name[N]` or `kind.name["key"]`. The bracket of a keyed
    /// kind (a file's path) is its key; any other bracket names an instance of a block
    /// (`server.gpu[0]`, `file.llm["a"]["compose.yaml"]`), which is part of the name.
    pub fn parse(text: &str) -> Result<Self, AddressError> {
        let syntax = || AddressError::Syntax(text.to_string());
        // `module.m.server.x`: the block `m·x` (`config::instance::MODULE_SEPARATOR`).
        let (module, text_in_module) = crate::config::instance::strip_module_path(text);
        let (kind_name, rest) = text_in_module.split_once('.').ok_or_else(syntax)?;
        let kind = Kind::named(kind_name).ok_or_else(|| AddressError::UnknownKind {
            address: text.to_string(),
            kind: kind_name.to_string(),
        })?;
        let base_end = rest.find('[').unwrap_or(rest.len());
        let base = &rest[..base_end];
        let mut groups = Vec::new();
        let mut tail = &rest[base_end..];
        while !tail.is_empty() {
            let (key, after) = InstanceKey::parse_prefix(tail).ok_or_else(syntax)?;
            groups.push(key);
            tail = after;
        }
        let valid_base = !base.is_empty()
            && base
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        let key = match (groups.len(), kind.get().keyed()) {
            (0, _) => None,
            (1, false) => None,
            (1 | 2, true) => groups.pop(),
            _ => return Err(syntax()),
        };
        if !valid_base {
            return Err(syntax());
        }
        let name = match groups.first() {
            Some(instance) => crate::config::instance::instance_name(base, instance),
            None => base.to_string(),
        };
        let name = format!("{module}{name}");
        Ok(Self { kind, name, key })
    }

    /// The address of the block, without an instance key.
    pub fn block(&self) -> Self {
        Self::new(self.kind, self.name.clone())
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let block = crate::config::instance::block_address(self.kind.name(), &self.name);
        f.write_str(&block)?;
        match &self.key {
            None => Ok(()),
            Some(key) => write!(f, "{key}"),
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
            "file.llm[\"a\"][\"compose.yaml\"]",
            "server.gpu[2]",
            "module.signoz.server.x",
            "module.a.module.b.file.llm[\"compose.yaml\"]",
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
