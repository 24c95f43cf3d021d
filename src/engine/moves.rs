//! Moving resources to new addresses without touching them: `moved` blocks and `state mv`.
//!
//! A move changes only the address state records the resource under (and the addresses other
//! resources record as their dependencies). The `sovstack.address` label on a cloud resource
//! follows as an in-place update on the next apply; refresh matches cloud resources by their
//! recorded id, so no plan in between takes the moved resource for deleted or an orphan.
//! Moving a block moves the resources named after it: `host.gpu` carries `bootstrap.gpu`,
//! `compose.llm` carries every `file.llm[...]`.

use crate::config::diagnostic::{Diagnostic, Diagnostics};
use crate::config::model::Moved;
use crate::config::source::Span;
use crate::resources::{Address, KINDS};
use crate::state::{ResourceStatus, StateFile, StateOp};
use std::collections::{BTreeMap, BTreeSet};

/// Moves resolved against a state: old address -> new, for every resource in state that moves
/// (those named after a moved block included).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Moves {
    pairs: BTreeMap<String, String>,
    /// (New) address -> (old provider-side name, new), for resources whose name follows their
    /// block or stack (`cloud-only-admin` -> `cloud-only-ops`): resources that depend on one
    /// and recorded its name (a server's `ssh_keys`) record the new one, so a rename is not a
    /// difference that would replace them.
    renames: BTreeMap<String, (String, String)>,
}

/// What the stack declares: every address, with the provider-side `name` it will have.
pub type Declared = BTreeMap<String, Option<String>>;

/// Why a move cannot be made, with the span of the `moved` block when there is one.
#[derive(Debug, Clone, PartialEq)]
pub struct MoveProblem {
    pub span: Option<Span>,
    pub message: String,
    pub help: String,
}

impl MoveProblem {
    fn new(span: Option<&Span>, message: String, help: impl Into<String>) -> Self {
        Self {
            span: span.cloned(),
            message,
            help: help.into(),
        }
    }

    pub fn diagnostic(&self) -> Diagnostic {
        Diagnostic::error("language::moved", self.message.clone())
            .at(self.span.clone().unwrap_or(0..0))
            .help(self.help.clone())
    }
}

impl Moves {
    /// Moves already checked (by [`plan_move`]).
    pub fn from_pairs(
        pairs: Vec<(String, String)>,
        state: &StateFile,
        declared: &Declared,
    ) -> Self {
        let mut moves = Self::default();
        moves.add(pairs, state, declared);
        moves
    }

    fn add(&mut self, pairs: Vec<(String, String)>, state: &StateFile, declared: &Declared) {
        for (from, to) in pairs {
            self.note_rename(&from, &to, state, declared);
            self.pairs.insert(from, to);
        }
    }

    fn note_rename(&mut self, from: &str, to: &str, state: &StateFile, declared: &Declared) {
        let old = state
            .resources
            .get(from)
            .and_then(|r| r.attributes.get("name"))
            .and_then(|n| n.as_str());
        if let (Some(old), Some(Some(new))) = (old, declared.get(to))
            && old != new
        {
            self.renames
                .insert(to.to_string(), (old.to_string(), new.clone()));
        }
    }

    /// A renamed stack: no address moves, but every name made from the stack's changes.
    pub fn stack_renamed(state: &StateFile, declared: &Declared) -> Self {
        let mut moves = Self::default();
        for address in state.resources.keys() {
            moves.note_rename(address, address, state, declared);
        }
        moves
    }

    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty() && self.renames.is_empty()
    }

    /// New address -> old, for the plan to say where each moved resource came from.
    pub fn sources(&self) -> BTreeMap<String, String> {
        self.pairs
            .iter()
            .map(|(from, to)| (to.clone(), from.clone()))
            .collect()
    }

    /// The state with every move made: entries under their new addresses, and recorded
    /// dependencies on a moved address pointing at its new one.
    pub fn apply_to(&self, state: &StateFile) -> StateFile {
        let mut out = state.clone();
        if self.is_empty() {
            return out;
        }
        out.resources = state
            .resources
            .iter()
            .map(|(address, r)| {
                let mut r = r.clone();
                for d in &mut r.dependencies {
                    if let Some(to) = self.pairs.get(d) {
                        d.clone_from(to);
                    }
                    if let Some((old, new)) = self.renames.get(d) {
                        for v in r.attributes.values_mut() {
                            rename_in(v, old, new);
                        }
                    }
                }
                let address = self.pairs.get(address).unwrap_or(address).clone();
                (address, r)
            })
            .collect();
        out
    }

    /// The state operations that record the moves in `state`.
    pub fn ops(&self, state: &StateFile) -> Vec<StateOp> {
        let moved = self.apply_to(state);
        let mut ops: Vec<StateOp> = moved
            .resources
            .iter()
            .filter(|(a, r)| state.resources.get(*a) != Some(*r))
            .map(|(address, resource)| StateOp::Upsert {
                address: address.clone(),
                resource: resource.clone(),
            })
            .collect();
        // Upserts first: a crash between the two leaves the resource recorded twice (the
        // next run's refresh sees one id under two addresses), never not at all.
        ops.extend(
            state
                .resources
                .keys()
                .filter(|a| !moved.resources.contains_key(*a))
                .map(|a| StateOp::Remove { address: a.clone() }),
        );
        ops
    }
}

/// Replaces `old` by `new` in `v` (a string, or strings in a list).
fn rename_in(v: &mut serde_json::Value, old: &str, new: &str) {
    match v {
        serde_json::Value::String(s) if s == old => *s = new.to_string(),
        serde_json::Value::Array(items) => items.iter_mut().for_each(|i| rename_in(i, old, new)),
        _ => {}
    }
}

/// The addresses in `state` that a move of `from` to `to` carries: the block's own resources
/// and those of kinds named after its kind.
pub fn expand(from: &Address, to: &Address, state: &StateFile) -> Vec<(String, String)> {
    let follows = |kind: &'static str| {
        KINDS
            .iter()
            .find(|k| k.name() == kind)
            .is_some_and(|k| k.named_after().contains(&from.kind.name()))
    };
    let mut out = Vec::new();
    for address in state.resources.keys() {
        let Ok(a) = Address::parse(address) else {
            continue;
        };
        if a.name != from.name {
            continue;
        }
        let own = a.kind == from.kind && (from.key.is_none() || a.key == from.key);
        if !own && !follows(a.kind.name()) {
            continue;
        }
        let key = if own { to.key.clone().or(a.key) } else { a.key };
        let new = Address {
            kind: a.kind,
            name: to.name.clone(),
            key,
        };
        out.push((address.clone(), new.to_string()));
    }
    out
}

/// Resources in `state` of a block's own kind (not one named after another block) that the
/// stack no longer declares at their address and no move carries, with their addresses parsed.
fn unmoved<'a>(
    state: &'a StateFile,
    declared: &'a Declared,
    moves: &'a Moves,
) -> impl Iterator<Item = (&'a String, Address)> + 'a {
    state
        .resources
        .keys()
        .filter(|a| !declared.contains_key(*a) && !moves.pairs.contains_key(*a))
        .filter_map(|address| Some((address, Address::parse(address).ok()?)))
        .filter(|(_, a)| a.kind.get().named_after().is_empty())
}

/// Blocks recorded in `state` without instances that the stack now declares only as instances
/// (`server.gpu` in state, `server.gpu["a"]` in the stack) and no move carries: the plan would
/// destroy the resource and create each instance anew. Warnings that say which `moved` block
/// keeps it.
pub fn unmoved_to_instances(
    state: &StateFile,
    declared: &Declared,
    moves: &Moves,
) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for (address, a) in unmoved(state, declared, moves) {
        if a.key.is_some() || a.name.contains('[') {
            continue;
        }
        let prefix = format!("{address}[");
        let Some(first) = declared.keys().find(|d| d.starts_with(&prefix)) else {
            continue;
        };
        out.push(
            Diagnostic::warning(
                "language::moved-to-instances",
                format!("{address} is in state, but its block now has `count` or `for_each`: the plan destroys it and creates {first} anew"),
            )
            .help(format!(
                "to keep the resource as one instance, add `moved {{ from = {address}  to = {first} }}`"
            )),
        );
    }
    out
}

/// Resources recorded in `state` whose block the stack no longer declares where it was, but
/// declares under another module path (`server.app` in state, `module.web.server.app` or
/// `module.web["a"].server.app` in the stack), with no move carrying them: the plan would
/// destroy each and create it anew inside the module. Warnings that say which `moved` block
/// keeps it (the instance of the module with the same key, when there is one).
pub fn unmoved_into_modules(
    state: &StateFile,
    declared: &Declared,
    moves: &Moves,
) -> Vec<Diagnostic> {
    use crate::config::instance::{module_path, split};
    let block_of = |name: &str| {
        let (modules, base) = module_path(name);
        let (block, key) = split(base);
        let module_keys: Vec<String> = modules.iter().map(|m| m.to_string()).collect();
        (module_keys, block.to_string(), key)
    };
    let mut out = Vec::new();
    for (address, a) in unmoved(state, declared, moves) {
        let (modules, block, key) = block_of(&a.name);
        let candidates: Vec<&String> = declared
            .keys()
            .filter(|d| !state.resources.contains_key(*d))
            .filter(|d| {
                Address::parse(d).is_ok_and(|c| {
                    let (c_modules, c_block, _) = block_of(&c.name);
                    c.kind == a.kind && c.key == a.key && c_block == block && c_modules != modules
                })
            })
            .collect();
        // `server.app["a"]` -> `module.web["a"].server.app` before any other instance.
        let same_key = key.as_ref().and_then(|k| {
            let shown = k.to_string();
            candidates.iter().find(|d| d.contains(&format!("{shown}.")))
        });
        let Some(to) = same_key.or(candidates.first()) else {
            continue;
        };
        out.push(
            Diagnostic::warning(
                "language::moved-into-module",
                format!("{address} is in state, but its block is now declared as {to}: the plan destroys it and creates {to} anew"),
            )
            .help(format!(
                "to keep the resource, add `moved {{ from = {address}  to = {to} }}`"
            )),
        );
    }
    out
}

/// The move of one address to another, checked against the state and the addresses the stack
/// declares (`declared`); `span` is the `moved` block's, for `state mv` none.
pub fn plan_move(
    from: &str,
    to: &str,
    state: &StateFile,
    declared: &Declared,
    span: Option<&Span>,
) -> Result<Vec<(String, String)>, MoveProblem> {
    let (from_a, to_a) = parse_pair(from, to, span)?;
    if declared.contains_key(from) {
        return Err(MoveProblem::new(
            span,
            format!("{from} still has a block in the stack, so it cannot move"),
            format!(
                "a move is for a renamed block: rename the block to {to} first (or remove the old block), then move"
            ),
        ));
    }
    let pairs = expand(&from_a, &to_a, state);
    for (old, new) in &pairs {
        if state.resources.contains_key(new) && !pairs.iter().any(|(o, _)| o == new) {
            return Err(MoveProblem::new(
                span,
                format!("cannot move {old} to {new}: {new} is already in state"),
                format!(
                    "`sovstack state show {new}` shows what is there; `sovstack state rm` one of them if it is not needed"
                ),
            ));
        }
        if state
            .resources
            .get(old)
            .is_some_and(|r| r.status == ResourceStatus::Pending)
        {
            return Err(MoveProblem::new(
                span,
                format!("{old} has a create that never confirmed; it cannot move yet"),
                "run `sovstack apply` with the old block name first, so the resource is confirmed, then move it",
            ));
        }
    }
    Ok(pairs)
}

fn parse_pair(
    from: &str,
    to: &str,
    span: Option<&Span>,
) -> Result<(Address, Address), MoveProblem> {
    let parse = |text: &str| {
        Address::parse(text).map_err(|e| {
            MoveProblem::new(
                span,
                e.to_string(),
                "addresses look like server.gpu or compose.llm",
            )
        })
    };
    let (from_a, to_a) = (parse(from)?, parse(to)?);
    if from_a.kind != to_a.kind {
        return Err(MoveProblem::new(
            span,
            format!(
                "{from} is a {} and cannot become {to}, a {}",
                from_a.kind.name(),
                to_a.kind.name()
            ),
            "a move keeps the kind; a resource of another kind is a new resource",
        ));
    }
    let derived = from_a.kind.get().named_after();
    if !derived.is_empty() {
        return Err(MoveProblem::new(
            span,
            format!(
                "{from} is named after its {} and moves with it",
                derived.join(" or ")
            ),
            format!("move the {} block instead", derived.join(" or ")),
        ));
    }
    Ok((from_a, to_a))
}

/// The stack's `moved` blocks resolved against `state`. Chains (`a` to `b`, `b` to `c`) end at
/// their last address; two moves from one address, two onto one, a cycle, a move onto a
/// resource in state, or a target the stack does not declare are diagnostics at the block.
pub fn resolve(
    moved: &[Moved],
    state: &StateFile,
    declared: &Declared,
) -> Result<Moves, Diagnostics> {
    let mut problems: Vec<MoveProblem> = Vec::new();
    let mut next: BTreeMap<&str, &Moved> = BTreeMap::new();
    let mut targets: BTreeSet<&str> = BTreeSet::new();
    for m in moved {
        let duplicate = next.insert(m.from.value.as_str(), m).is_some();
        if duplicate || !targets.insert(m.to.value.as_str()) {
            let which = if duplicate { &m.from } else { &m.to };
            problems.push(MoveProblem::new(
                Some(&m.span),
                format!(
                    "two moved blocks {} {}",
                    if duplicate { "move" } else { "move onto" },
                    which.value
                ),
                "keep one of them",
            ));
        }
    }
    // A cycle has no start: every block in it is reported.
    problems.extend(moved.iter().filter_map(|m| chain_end(m, &next).err()));
    let mut moves = Moves::default();
    for m in moved
        .iter()
        .filter(|m| !targets.contains(m.from.value.as_str()))
    {
        match chain_end(m, &next) {
            Err(_) => {}
            Ok(end) if !declared.contains_key(end.as_str()) => problems.push(MoveProblem::new(
                Some(&m.span),
                format!(
                    "{} moves to {end}, which the stack does not declare",
                    m.from.value
                ),
                format!("declare the block {end}, or remove this moved block"),
            )),
            Ok(end) => match plan_move(&m.from.value, &end, state, declared, Some(&m.span)) {
                Ok(pairs) => moves.add(pairs, state, declared),
                Err(p) => problems.push(p),
            },
        }
    }
    if problems.is_empty() {
        return Ok(moves);
    }
    let mut d = Diagnostics::default();
    for p in problems {
        d.push(p.diagnostic());
    }
    Err(d)
}

/// Where a chain of moves starting at `m` ends.
fn chain_end(m: &Moved, next: &BTreeMap<&str, &Moved>) -> Result<String, MoveProblem> {
    let mut seen = BTreeSet::from([m.from.value.as_str()]);
    let mut at = m;
    while let Some(n) = next.get(at.to.value.as_str()) {
        if !seen.insert(n.from.value.as_str()) {
            return Err(MoveProblem::new(
                Some(&m.span),
                format!("the moved blocks from {} form a cycle", m.from.value),
                "each address moves at most once, to a new one",
            ));
        }
        at = n;
    }
    Ok(at.to.value.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::source::Spanned;
    use crate::state::ResourceState;

    fn resource(kind: &str, name: Option<&str>, deps: &[&str]) -> ResourceState {
        ResourceState {
            kind: kind.into(),
            id: Some("1".into()),
            attributes: name
                .map(|n| BTreeMap::from([("name".to_string(), serde_json::json!(n))]))
                .unwrap_or_default(),
            sensitive_attributes: BTreeMap::new(),
            dependencies: deps.iter().map(|d| d.to_string()).collect(),
            status: ResourceStatus::Ready,
        }
    }

    fn state(entries: &[(&str, ResourceState)]) -> StateFile {
        let mut s = StateFile::new("s");
        for (a, r) in entries {
            s.resources.insert(a.to_string(), r.clone());
        }
        s
    }

    fn declared(addresses: &[(&str, Option<&str>)]) -> Declared {
        addresses
            .iter()
            .map(|(a, n)| (a.to_string(), n.map(str::to_owned)))
            .collect()
    }

    fn moved(from: &str, to: &str, at: usize) -> Moved {
        Moved {
            span: at..at + 1,
            from: Spanned::new(from.into(), at..at + 1),
            to: Spanned::new(to.into(), at..at + 1),
        }
    }

    fn messages(d: &Diagnostics) -> Vec<String> {
        d.iter().map(|d| d.message.clone()).collect()
    }

    #[test]
    fn a_chain_ends_at_its_last_address_and_dependents_follow_names() {
        let s = state(&[
            ("ssh_key.a", resource("ssh_key", Some("s-a"), &[])),
            ("server.x", {
                let mut r = resource("server", Some("s-x"), &["ssh_key.a"]);
                r.attributes
                    .insert("ssh_keys".into(), serde_json::json!(["s-a"]));
                r
            }),
        ]);
        let d = declared(&[("ssh_key.c", Some("s-c")), ("server.x", Some("s-x"))]);
        let moves = resolve(
            &[
                moved("ssh_key.a", "ssh_key.b", 1),
                moved("ssh_key.b", "ssh_key.c", 2),
            ],
            &s,
            &d,
        )
        .unwrap();
        let after = moves.apply_to(&s);
        assert!(after.resources.contains_key("ssh_key.c"));
        assert!(!after.resources.contains_key("ssh_key.a"));
        let server = &after.resources["server.x"];
        assert_eq!(server.dependencies, vec!["ssh_key.c".to_string()]);
        assert_eq!(server.attributes["ssh_keys"], serde_json::json!(["s-c"]));
        assert_eq!(moves.sources()["ssh_key.c"], "ssh_key.a");
        // Upserts come before the removal, so a crash in between loses nothing.
        let ops = moves.ops(&s);
        assert!(matches!(ops.last(), Some(StateOp::Remove { address }) if address == "ssh_key.a"));
    }

    #[test]
    fn a_block_carries_what_is_named_after_it() {
        let s = state(&[
            ("host.gpu", resource("host", None, &[])),
            ("bootstrap.gpu", resource("bootstrap", None, &["host.gpu"])),
            ("compose.llm", resource("compose", None, &[])),
            (
                "file.llm[\"compose.yaml\"]",
                resource("file", None, &["compose.llm"]),
            ),
        ]);
        let from = Address::parse("host.gpu").unwrap();
        let to = Address::parse("host.gpu1").unwrap();
        assert_eq!(
            expand(&from, &to, &s),
            vec![
                ("bootstrap.gpu".to_string(), "bootstrap.gpu1".to_string()),
                ("host.gpu".to_string(), "host.gpu1".to_string()),
            ]
        );
        let from = Address::parse("compose.llm").unwrap();
        let to = Address::parse("compose.chat").unwrap();
        let pairs = expand(&from, &to, &s);
        assert!(pairs.contains(&(
            "file.llm[\"compose.yaml\"]".into(),
            "file.chat[\"compose.yaml\"]".into()
        )));
    }

    #[test]
    fn wrong_moves_are_diagnostics_at_their_block() {
        let s = state(&[
            ("server.a", resource("server", Some("s-a"), &[])),
            ("server.b", resource("server", Some("s-b"), &[])),
        ]);
        let d = declared(&[
            ("server.b", None),
            ("server.c", None),
            ("volume.v", None),
            ("bootstrap.c", None),
        ]);
        let cases: Vec<(Vec<Moved>, &str)> = vec![
            (vec![moved("server.a", "volume.v", 1)], "cannot become"),
            (vec![moved("server.a", "server.b", 1)], "already in state"),
            (vec![moved("server.b", "server.c", 1)], "still has a block"),
            (vec![moved("server.a", "server.zz", 1)], "does not declare"),
            (
                vec![
                    moved("server.a", "server.c", 1),
                    moved("server.a", "server.b", 2),
                ],
                "two moved blocks move server.a",
            ),
            (
                vec![
                    moved("server.x", "server.y", 1),
                    moved("server.y", "server.x", 2),
                ],
                "form a cycle",
            ),
            (
                vec![moved("bootstrap.a", "bootstrap.c", 1)],
                "moves with it",
            ),
        ];
        for (blocks, want) in cases {
            let err = resolve(&blocks, &s, &d).expect_err(want);
            let got = messages(&err);
            assert!(got.iter().any(|m| m.contains(want)), "{want}: {got:?}");
            assert!(
                err.iter().all(|d| d.span.is_some()),
                "{want}: every finding has a span"
            );
        }
    }

    #[test]
    fn a_create_that_never_confirmed_does_not_move() {
        let mut pending = resource("server", Some("s-a"), &[]);
        pending.status = ResourceStatus::Pending;
        pending.id = None;
        let s = state(&[("server.a", pending)]);
        let err = plan_move(
            "server.a",
            "server.b",
            &s,
            &declared(&[("server.b", None)]),
            None,
        )
        .unwrap_err();
        assert!(err.message.contains("never confirmed"), "{}", err.message);
    }
}
