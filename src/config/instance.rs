//! Instances of a block with `count` or `for_each`: how an instance is named (`gpu[0]`,
//! `gpu["fsn1-a"]`), how such a name splits back into block and key, and the provider-side
//! name made from it (`stack-gpu-0`), which must be a valid host name.

/// Which instance of a block: `[0]` (count) or `["a"]` (for_each, a compose file's path).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum InstanceKey {
    Index(u64),
    Key(String),
}

impl std::fmt::Display for InstanceKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            InstanceKey::Index(i) => write!(f, "[{i}]"),
            InstanceKey::Key(k) => write!(f, "[\"{k}\"]"),
        }
    }
}

impl InstanceKey {
    /// Reads `[0]` or `["a"]` at the start of `text`; returns the key and what follows.
    pub fn parse_prefix(text: &str) -> Option<(InstanceKey, &str)> {
        let inner = text.strip_prefix('[')?;
        if let Some(quoted) = inner.strip_prefix('"') {
            let end = quoted.find("\"]")?;
            let key = &quoted[..end];
            return Some((InstanceKey::Key(key.to_string()), &quoted[end + 2..]));
        }
        let end = inner.find(']')?;
        let index = inner[..end].parse().ok()?;
        Some((InstanceKey::Index(index), &inner[end + 1..]))
    }
}

/// Joins a module's name and the name of a block inside it (`signoz·server`): an identifier
/// character that no written name may hold (names are ASCII), so the block's name stays one
/// identifier in references and never collides with a block of the stack.
pub const MODULE_SEPARATOR: char = '\u{b7}';

/// The address of block `name` of `kind` as users read it: `server.gpu`, and for a block
/// inside module `m` (named `m·gpu`) Terraform's `module.m.server.gpu`.
pub fn block_address(kind: &str, name: &str) -> String {
    let (modules, base) = module_path(name);
    let mut out = String::with_capacity(kind.len() + name.len() + 8 * modules.len() + 1);
    for m in modules {
        out.push_str("module.");
        out.push_str(m);
        out.push('.');
    }
    out.push_str(kind);
    out.push('.');
    out.push_str(base);
    out
}

/// `m·n·gpu[0]` -> (`[m, n]`, `gpu[0]`).
pub fn module_path(name: &str) -> (Vec<&str>, &str) {
    let bracket = name.find('[').unwrap_or(name.len());
    match name[..bracket].rfind(MODULE_SEPARATOR) {
        Some(i) => (
            name[..i].split(MODULE_SEPARATOR).collect(),
            &name[i + MODULE_SEPARATOR.len_utf8()..],
        ),
        None => (Vec::new(), name),
    }
}

/// `module.m.server.gpu...` -> (`m·`, `server.gpu...`): the module prefix of an internal
/// name and the rest of the address.
pub fn strip_module_path(text: &str) -> (String, &str) {
    let mut prefix = String::new();
    let mut rest = text;
    while let Some(after) = rest.strip_prefix("module.") {
        let Some((m, tail)) = after.split_once('.') else {
            break;
        };
        prefix.push_str(m);
        prefix.push(MODULE_SEPARATOR);
        rest = tail;
    }
    (prefix, rest)
}

/// The internal name of the block an address names: `module.m.server.x[0]` -> `m·x[0]`,
/// `compose.llm` -> `llm`.
pub fn block_name_of(address: &str) -> String {
    let (module, rest) = strip_module_path(address);
    let name = rest.split_once('.').map_or(rest, |(_, name)| name);
    format!("{module}{name}")
}

/// The name of one instance of block `base`.
pub fn instance_name(base: &str, key: &InstanceKey) -> String {
    format!("{base}{key}")
}

/// `gpu[0]` -> (`gpu`, `[0]`); a plain name has no key.
pub fn split(name: &str) -> (&str, Option<InstanceKey>) {
    match name.find('[') {
        Some(i) => match InstanceKey::parse_prefix(&name[i..]) {
            Some((key, "")) => (&name[..i], Some(key)),
            _ => (name, None),
        },
        None => (name, None),
    }
}

/// The provider-side name of a block's resource: `{stack}-{block}`, and for an instance
/// `{stack}-{block}-{key}` ([`flat_name`]).
pub fn resource_name(stack: &str, name: &str) -> String {
    format!("{stack}-{}", flat_name(name))
}

/// A name without brackets, for what must be a host name or a compose project name:
/// `gpu`, `gpu-0`, `gpu-fsn1-a` (what neither can hold turned into `-`).
pub fn flat_name(name: &str) -> String {
    // A module's blocks: `m--gpu` (two dashes, which a host name may hold).
    if name.contains(MODULE_SEPARATOR) {
        return flat_name(&name.replace(MODULE_SEPARATOR, "--"));
    }
    let (base, key) = split(name);
    match key {
        None => name.to_string(),
        Some(InstanceKey::Index(i)) => format!("{base}-{i}"),
        Some(InstanceKey::Key(k)) => {
            let k: String = k
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || c == '-' {
                        c
                    } else {
                        '-'
                    }
                })
                .collect();
            format!("{base}-{k}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instance_names_split_back_into_block_and_key() {
        assert_eq!(split("gpu"), ("gpu", None));
        assert_eq!(split("gpu[3]"), ("gpu", Some(InstanceKey::Index(3))));
        let key = InstanceKey::Key("fsn1-a".into());
        assert_eq!(split(&instance_name("gpu", &key)), ("gpu", Some(key)));
    }

    #[test]
    fn resource_names_of_instances_are_host_names() {
        assert_eq!(resource_name("s", "gpu"), "s-gpu");
        assert_eq!(resource_name("s", "gpu[0]"), "s-gpu-0");
        assert_eq!(resource_name("s", "gpu[\"fsn1_a.x\"]"), "s-gpu-fsn1-a-x");
        assert_eq!(resource_name("s", "m\u{b7}gpu[0]"), "s-m--gpu-0");
    }

    #[test]
    fn blocks_inside_modules_have_terraforms_addresses() {
        assert_eq!(block_address("server", "gpu"), "server.gpu");
        assert_eq!(
            block_address("server", "a\u{b7}b\u{b7}gpu[\"x.y\"]"),
            "module.a.module.b.server.gpu[\"x.y\"]"
        );
        assert_eq!(
            strip_module_path("module.a.module.b.server.gpu"),
            ("a\u{b7}b\u{b7}".to_string(), "server.gpu")
        );
    }
}
