//! The plan as text, the way Terraform users read it in pull requests: `+ ~ - -/+`,
//! `# forces replacement`, `(sensitive)`, `(known after apply)`, unified diffs of files.

use super::model::*;
use crate::config::value;
use serde_json::Value as Json;
use std::fmt::Write as _;

pub fn render(plan: &Plan) -> String {
    let mut out = String::new();
    if !plan.drift.is_empty() {
        out.push_str("Changed outside sovstack:\n\n");
        for d in &plan.drift {
            render_drift(&mut out, d);
        }
        out.push_str(
            "Unless the configuration is changed to match, apply will undo these changes.\n\n",
        );
    }
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
        let line = match c.action {
            Action::Create => format!("{name} = {}", after(a)),
            Action::Delete => format!("{name} = {}", before(a)),
            _ if a.sensitive => format!("{name} = (sensitive value changed)"),
            _ => format!("{name} = {} -> {}", before(a), after(a)),
        };
        let _ = write!(out, "      {sym} {line}");
        if a.forces_replacement {
            out.push_str(" # forces replacement");
        }
        out.push('\n');
    }
    if let Some(d) = &c.diff {
        for l in d.lines() {
            let _ = writeln!(out, "        {l}");
        }
    }
    out.push_str("    }\n\n");
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

/// Values as HCL-ish literals; multi-line strings are summarised.
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
        other => serde_json::to_string(other).unwrap_or_default(),
    }
}
