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
    }
}
