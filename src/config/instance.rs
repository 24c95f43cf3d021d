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

/// Marks an instance key inside a module's part of an internal name: `m‿gex-a·llm` is block
/// `llm` of instance `["gex-a"]` of module `m`, `m⁀0·llm` of instance `[0]`. Both are
/// identifier characters (connector punctuation) no written name holds, so the whole internal
/// name stays one identifier in references; a module's instance keys are limited to letters,
/// digits, `-` and `_` ([`module_key_is_valid`]) so that they need no quoting here.
pub const MODULE_KEY: char = '\u{203f}';
pub const MODULE_INDEX: char = '\u{2040}';

/// Whether `key` may name an instance of a module (`for_each` key): see [`MODULE_KEY`].
pub fn module_key_is_valid(key: &str) -> bool {
    !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// The internal name of instance `key` of module `module` (`m‿a`, `m⁀0`).
pub fn module_instance(module: &str, key: &InstanceKey) -> String {
    match key {
        InstanceKey::Index(i) => format!("{module}{MODULE_INDEX}{i}"),
        InstanceKey::Key(k) => format!("{module}{MODULE_KEY}{k}"),
    }
}

/// A module's part of an internal name as users read it: `m`, `m["a"]`, `m[0]`.
pub fn module_shown(segment: &str) -> String {
    if let Some((m, k)) = segment.split_once(MODULE_KEY) {
        format!("{m}[\"{k}\"]")
    } else if let Some((m, i)) = segment.split_once(MODULE_INDEX) {
        format!("{m}[{i}]")
    } else {
        segment.to_string()
    }
}

/// The address of block `name` of `kind` as users read it: `server.gpu`, and for a block
/// inside module `m` (named `m·gpu`) Terraform's `module.m.server.gpu`
/// (`module.m["a"].server.gpu` inside an instance of a module with `for_each`).
pub fn block_address(kind: &str, name: &str) -> String {
    let (modules, base) = module_path(name);
    let mut out = String::with_capacity(kind.len() + name.len() + 8 * modules.len() + 1);
    for m in modules {
        out.push_str("module.");
        out.push_str(&module_shown(m));
        out.push('.');
    }
    out.push_str(kind);
    out.push('.');
    out.push_str(base);
    out
}

/// An internal name with each module part written as users read it: `m["a"].llm` for
/// `m‿a·llm`, for messages that name a block without its kind.
pub fn shown_name(name: &str) -> String {
    let (modules, base) = module_path(name);
    let mut out = String::new();
    for m in modules {
        out.push_str("module.");
        out.push_str(&module_shown(m));
        out.push('.');
    }
    out.push_str(base);
    out
}

/// The internal name of a block named as [`shown_name`] writes it: `module.m["a"].web` ->
/// `m‿a·web`; a name outside modules is itself (as is an internal name, which state written
/// before names were shown may hold).
pub fn name_from_shown(shown: &str) -> String {
    let (prefix, rest) = strip_module_path(shown);
    format!("{prefix}{rest}")
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
/// name and the rest of the address (`module.m["a"].` and `module.m[0].` name instances).
pub fn strip_module_path(text: &str) -> (String, &str) {
    let mut prefix = String::new();
    let mut rest = text;
    while let Some(after) = rest.strip_prefix("module.") {
        let end = after.find(['.', '[']).unwrap_or(after.len());
        let m = &after[..end];
        let mut tail = &after[end..];
        let mut segment = m.to_string();
        if tail.starts_with('[') {
            let Some((key, after_key)) = InstanceKey::parse_prefix(tail) else {
                break;
            };
            segment = module_instance(m, &key);
            tail = after_key;
        }
        let Some(tail) = tail.strip_prefix('.') else {
            break;
        };
        prefix.push_str(&segment);
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
    // An instance of a module: `m-a--gpu` (its key is letters, digits, `-` and `_`).
    if name.contains(MODULE_SEPARATOR) {
        let (modules, base) = module_path(name);
        let mut out = String::new();
        for m in modules {
            let flat: String = m
                .chars()
                .map(|c| match c {
                    MODULE_KEY | MODULE_INDEX | '_' => '-',
                    c => c,
                })
                .collect();
            out.push_str(&flat);
            out.push_str("--");
        }
        out.push_str(&flat_name(base));
        return out;
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
        let inst = module_instance("m", &InstanceKey::Key("gex_a".into()));
        assert_eq!(
            resource_name("s", &format!("{inst}\u{b7}gpu")),
            "s-m-gex-a--gpu"
        );
        let inst = module_instance("m", &InstanceKey::Index(2));
        assert_eq!(
            resource_name("s", &format!("{inst}\u{b7}gpu")),
            "s-m-2--gpu"
        );
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

    #[test]
    fn instances_of_modules_have_terraforms_addresses() {
        let a = module_instance("m", &InstanceKey::Key("gex-a".into()));
        let zero = module_instance("n", &InstanceKey::Index(0));
        let name = format!("{a}\u{b7}{zero}\u{b7}gpu[1]");
        let address = "module.m[\"gex-a\"].module.n[0].server.gpu[1]";
        assert_eq!(block_address("server", &name), address);
        assert_eq!(block_name_of(address), name);
        assert_eq!(shown_name(&name), "module.m[\"gex-a\"].module.n[0].gpu[1]");
        assert_eq!(name_from_shown(&shown_name(&name)), name);
        assert_eq!(name_from_shown("gpu"), "gpu");
        assert_eq!(
            split(&name),
            (
                format!("{a}\u{b7}{zero}\u{b7}gpu").as_str(),
                Some(InstanceKey::Index(1))
            )
        );
    }
}
