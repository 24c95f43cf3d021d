//! The plan as text, the way Terraform users read it in pull requests: `+ ~ - -/+`,
//! `# forces replacement`, `(sensitive)`, `(known after apply)`, unified diffs of files.

use super::model::*;
use crate::config::value;
use serde_json::Value as Json;
use std::fmt::Write as _;

/// What apply will undo unless the stack is changed to match, as the text says after it.
pub const UNDO_UNLESS_CHANGED: &str =
    "Unless the configuration is changed to match, apply will undo these changes.";

/// The "changed outside sovstack" section alone (empty when nothing changed).
pub fn render_drift_section(plan: &Plan) -> String {
    let mut out = String::new();
    if !plan.drift.is_empty() {
        out.push_str("Changed outside sovstack:\n\n");
        for d in &plan.drift {
            render_drift(&mut out, d);
        }
        out.push_str(UNDO_UNLESS_CHANGED);
        out.push_str("\n\n");
    }
    out
}

pub fn render(plan: &Plan) -> String {
    let mut out = render_drift_section(plan);
    let actionable: Vec<&ResourceChange> = plan
        .changes
        .iter()
        .filter(|c| c.action != Action::NoOp || c.moved_from.is_some() || c.import_id.is_some())
        .collect();
    if actionable.is_empty() {
        out.push_str("No changes. The stack matches its configuration.\n");
    } else {
        out.push_str("sovstack will perform the following actions:\n\n");
        for c in actionable {
            render_change(&mut out, c);
        }
        let _ = writeln!(out, "{}", summary_line(&plan.summary));
    }
    for w in &plan.warnings {
        let _ = writeln!(out, "\nWarning: {w}");
    }
    out
}

/// `Plan: 1 to import, 0 to add, 1 to change, 0 to destroy, 1 to move.` (imports and moves
/// only when there are some).
fn summary_line(s: &Summary) -> String {
    let mut parts = Vec::new();
    if s.imported > 0 {
        parts.push(format!("{} to import", s.imported));
    }
    parts.push(format!("{} to add", s.add));
    parts.push(format!("{} to change", s.change));
    parts.push(format!("{} to destroy", s.destroy));
    if s.moved > 0 {
        parts.push(format!("{} to move", s.moved));
    }
    format!("Plan: {}.", parts.join(", "))
}

/// Where a resource comes from, when it arrives at its address by a move or an import.
fn arrival(c: &ResourceChange) -> Option<String> {
    match (&c.moved_from, &c.import_id) {
        (Some(from), _) => Some(format!("moved from {from}")),
        (None, Some(id)) => Some(format!("imported from id {id}")),
        (None, None) => None,
    }
}

fn verb(c: &ResourceChange) -> &'static str {
    match c.action {
        Action::Create => "created",
        Action::Update => "updated in place",
        Action::Replace => "replaced",
        Action::Delete => "destroyed",
        Action::NoOp => "left unchanged",
    }
}

fn render_change(out: &mut String, c: &ResourceChange) {
    if c.action == Action::NoOp {
        // Only its address changes hands: nothing else to show.
        match (&c.moved_from, &c.import_id) {
            (Some(from), _) => {
                let _ = writeln!(out, "  # {from} has moved to {}\n", c.address);
            }
            (None, Some(id)) => {
                let _ = writeln!(out, "  # {} will be imported (id {id})\n", c.address);
            }
            (None, None) => {}
        }
        return;
    }
    let _ = write!(out, "  # {} will be {}", c.address, verb(c));
    if let Some(r) = &c.reason {
        let _ = write!(out, " ({r})");
    }
    out.push('\n');
    if let Some(a) = arrival(c) {
        let _ = writeln!(out, "  # ({a})");
    }
    let _ = writeln!(out, "{:>3} {} {{", c.action.symbol(), c.address);
    let width = c.changes.iter().map(|a| a.name.len()).max().unwrap_or(0);
    for a in &c.changes {
        // File contents are shown as a diff below, not as a value.
        if a.name == "content" && !a.sensitive && (c.diff.is_some() || c.action == Action::Update) {
            continue;
        }
        let sym = match (c.action, &a.before, &a.after, a.after_unknown) {
            (Action::Create, ..) => "+",
            (Action::Delete, ..) => "-",
            (_, None, _, _) if !a.sensitive => "+",
            (_, Some(_), None, false) if !a.sensitive => "-",
            _ => "~",
        };
        let name = format!("{:<width$}", a.name);
        let suffix = if a.forces_replacement {
            " # forces replacement"
        } else {
            ""
        };
        if !a.sensitive && render_item_list(out, sym, &name, c.action, a, suffix) {
            continue;
        }
        let line = match c.action {
            Action::Create => format!("{name} = {}", after(a)),
            Action::Delete => format!("{name} = {}", before(a)),
            _ if a.sensitive => format!("{name} = (sensitive value changed)"),
            _ => format!("{name} = {} -> {}", before(a), after(a)),
        };
        let _ = writeln!(out, "      {sym} {line}{suffix}");
    }
    if let Some(d) = &c.diff {
        for l in d.lines() {
            let _ = writeln!(out, "        {l}");
        }
    }
    out.push_str("    }\n\n");
}

/// A list of objects (firewall rules) one item per line: on an update, the items removed
/// (`-`), added (`+`) and kept (no sign), in list order. False when the value is not such a
/// list (it is then shown on one line).
fn render_item_list(
    out: &mut String,
    sym: &str,
    name: &str,
    action: Action,
    a: &AttrChange,
    suffix: &str,
) -> bool {
    let items = |v: &Option<Json>| -> Option<Vec<String>> {
        match v {
            Some(Json::Array(list)) if list.iter().any(Json::is_object) => {
                Some(list.iter().map(show).collect())
            }
            _ => None,
        }
    };
    let (old, new) = (items(&a.before), items(&a.after));
    if old.is_none() && new.is_none() {
        return false;
    }
    let (old, new) = match action {
        Action::Create => (Vec::new(), new.unwrap_or_default()),
        Action::Delete => (old.unwrap_or_default(), Vec::new()),
        _ if a.after_unknown => {
            let _ = writeln!(out, "      {sym} {name} = (known after apply){suffix}");
            return true;
        }
        _ => (old.unwrap_or_default(), new.unwrap_or_default()),
    };
    let _ = writeln!(out, "      {sym} {name} = [{suffix}");
    for op in similar::capture_diff_slices(similar::Algorithm::Myers, &old, &new) {
        for change in op.iter_changes(&old, &new) {
            let mark = match change.tag() {
                similar::ChangeTag::Equal => " ",
                similar::ChangeTag::Delete => "-",
                similar::ChangeTag::Insert => "+",
            };
            let _ = writeln!(out, "          {mark} {},", change.value());
        }
    }
    out.push_str("        ]\n");
    true
}

fn render_drift(out: &mut String, d: &Drift) {
    let what = match d.kind {
        DriftKind::Policy => "violates the stack's policy",
        DriftKind::Changed => "has changed",
        DriftKind::Deleted => "has been deleted",
        DriftKind::Orphan => "exists but is not managed (orphan)",
    };
    let _ = writeln!(out, "  # {} {what}", d.address);
    if let Some(m) = &d.message {
        let _ = writeln!(out, "    {m}");
    }
    for a in &d.changes {
        if !a.sensitive && render_item_list(out, "~", &a.name, Action::Update, a, "") {
            continue;
        }
        let _ = writeln!(out, "      ~ {} = {} -> {}", a.name, before(a), after(a));
    }
    out.push('\n');
}

fn before(a: &AttrChange) -> String {
    if a.sensitive {
        return "(sensitive)".into();
    }
    a.before.as_ref().map_or_else(|| "null".into(), show)
}

fn after(a: &AttrChange) -> String {
    if a.sensitive {
        "(sensitive)".into()
    } else if a.after_unknown {
        "(known after apply)".into()
    } else {
        a.after.as_ref().map_or_else(|| "null".into(), show)
    }
}

/// Values as HCL-ish literals on one line: strings quoted, lists `["a", "b"]`, objects
/// `{ key = value }` with their best-known keys first (a rule reads `direction`, `protocol`,
/// `port`, addresses), multi-line strings summarised.
fn show(v: &Json) -> String {
    match v {
        Json::String(s) if value::is_unknown(s) => {
            let d = value::describe(s);
            if d == "(known after apply)" {
                d
            } else {
                format!("{d:?}")
            }
        }
        Json::String(s) if s.contains('\n') => format!("<<{} lines>>", s.lines().count()),
        Json::String(s) => format!("{s:?}"),
        Json::Array(items) => {
            let shown: Vec<String> = items.iter().map(show).collect();
            format!("[{}]", shown.join(", "))
        }
        Json::Object(map) if map.is_empty() => "{}".into(),
        Json::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort_by_key(|k| (key_rank(k), k.as_str()));
            let shown: Vec<String> = keys
                .iter()
                .map(|k| format!("{} = {}", show_key(k), show(&map[k.as_str()])))
                .collect();
            format!("{{ {} }}", shown.join(", "))
        }
        other => other.to_string(),
    }
}

/// Keys that say what a rule is come first, in the order one reads a rule.
fn key_rank(key: &str) -> usize {
    const FIRST: &[&str] = &[
        "direction",
        "protocol",
        "port",
        "source_ips",
        "destination_ips",
    ];
    FIRST.iter().position(|k| *k == key).unwrap_or(FIRST.len())
}

/// An object key bare when it is an identifier, quoted otherwise (`"sovstack.stack"`).
fn show_key(k: &str) -> String {
    let ident = k
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if ident {
        k.to_string()
    } else {
        format!("{k:?}")
    }
}
