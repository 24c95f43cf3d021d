//! Names made from block names must stay distinct. A resource's provider-side name is
//! `{stack}-{flat name}` and a compose project's default name is its flat name, where a
//! module's block `m·x` flattens to `m--x` and an instance `m["a"]` of a module to `m-a`: so
//! a block `m--x`, or a module `m-a`, can make the same name as another block. Two servers
//! cannot share a name at Hetzner, and two compose blocks sharing a project on one host would
//! overwrite each other's files and containers, so both are errors before anything is made.

use crate::config::instance::{block_address, flat_name};
use crate::config::{Diagnostic, Diagnostics, Span, Stack};
use std::collections::BTreeMap;

pub fn check(stack: &Stack, out: &mut Diagnostics) {
    let cloud = [
        ("server", named(&stack.servers, |s| (&s.name, &s.span))),
        ("volume", named(&stack.volumes, |v| (&v.name, &v.span))),
        ("firewall", named(&stack.firewalls, |f| (&f.name, &f.span))),
        ("ssh_key", named(&stack.ssh_keys, |k| (&k.name, &k.span))),
    ];
    for (kind, blocks) in cloud {
        distinct(
            kind,
            blocks.into_iter().map(|(n, s)| (flat_name(n), n, s)),
            "name",
            out,
        );
    }
    // Projects are per host: the same project name on two hosts is two projects.
    let mut by_target: BTreeMap<String, Vec<(String, &String, &Span)>> = BTreeMap::new();
    for c in &stack.composes {
        by_target
            .entry(format!("{:?}", c.on.value))
            .or_default()
            .push((c.project.clone(), &c.name, &c.span));
    }
    for projects in by_target.into_values() {
        distinct("compose", projects.into_iter(), "project name", out);
    }
}

fn named<T>(items: &[T], f: impl Fn(&T) -> (&String, &Span)) -> Vec<(&String, &Span)> {
    items.iter().map(f).collect()
}

/// Reports each block whose made name an earlier block of `kind` already has.
fn distinct<'a>(
    kind: &str,
    blocks: impl Iterator<Item = (String, &'a String, &'a Span)>,
    what: &str,
    out: &mut Diagnostics,
) {
    let mut seen: BTreeMap<String, (&String, &Span)> = BTreeMap::new();
    for (made, name, span) in blocks {
        match seen.get(&made) {
            Some((first, first_span)) => out.push(
                Diagnostic::error(
                    "names::collision",
                    format!(
                        "`{}` and `{}` would both have the {what} `{made}`",
                        block_address(kind, first),
                        block_address(kind, name)
                    ),
                )
                .at((*span).clone())
                .related((*first_span).clone(), "the other block")
                .help("rename one of the blocks (or module calls): `--` and a module's instance keys are part of the names sovstack makes"),
            ),
            None => {
                seen.insert(made, (name, span));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::validate::test_support::with_code;

    const SERVER: &str =
        "  server_type = \"cx23\"\n  location    = \"nbg1\"\n  image       = \"ubuntu-24.04\"\n";

    #[test]
    fn blocks_whose_made_names_collide_are_refused() {
        let text = format!(
            "stack \"s\" {{}}\nserver \"web-a\" {{\n{SERVER}}}\nserver \"web\" {{\n  for_each = toset([\"a\"])\n{SERVER}}}\n"
        );
        let found = with_code(&text, "names::collision");
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(
            found[0].message,
            "`server.web-a` and `server.web[\"a\"]` would both have the name `web-a`"
        );
        let fine = format!(
            "stack \"s\" {{}}\nserver \"web-a\" {{\n{SERVER}}}\nserver \"web\" {{\n  for_each = toset([\"b\"])\n{SERVER}}}\n"
        );
        assert!(with_code(&fine, "names::collision").is_empty());
    }
}
