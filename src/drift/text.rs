//! The drift report as text, for a terminal or a cron mail: policy first, then the cloud, then
//! the nodes, each finding with what to do; then configuration not applied, then what could not
//! be checked.

use super::model::*;
use crate::plan::{AttrChange, DriftKind};
use serde_json::Value as Json;
use std::fmt::Write as _;

pub fn render(r: &DriftReport) -> String {
    let mut out = String::new();
    let sections = [
        (Area::Policy, "Policy violations (fix these first):"),
        (Area::Cloud, "Cloud resources changed outside sovstack:"),
        (Area::Node, "Nodes changed outside sovstack:"),
    ];
    for (area, title) in sections {
        let mut found = r.findings.iter().filter(|f| f.area == area).peekable();
        if found.peek().is_none() {
            continue;
        }
        let _ = writeln!(out, "{title}\n");
        for f in found {
            finding(&mut out, f);
        }
    }
    if !r.unapplied.is_empty() {
        out.push_str(
            "Configuration not applied (stack.hcl differs from the last apply; not drift):\n\n",
        );
        for u in &r.unapplied {
            let _ = write!(out, "  {:>3} {}", u.action.symbol(), u.address);
            if !u.attributes.is_empty() {
                let _ = write!(out, " ({})", u.attributes.join(", "));
            }
            out.push('\n');
        }
        out.push_str(
            "\n  -> `sovstack plan` shows the details; `sovstack apply` applies them.\n\n",
        );
    }
    if !r.errors.is_empty() {
        out.push_str("Could not check:\n\n");
        for e in &r.errors {
            match &e.address {
                Some(a) => {
                    let _ = writeln!(out, "  ! {a}: {}", e.message);
                }
                None => {
                    let _ = writeln!(out, "  ! {}", e.message);
                }
            }
            if let Some(h) = &e.help {
                let _ = writeln!(out, "    help: {h}");
            }
        }
        out.push('\n');
    }
    for n in &r.notes {
        let _ = writeln!(out, "Note: {n}\n");
    }
    let s = &r.summary;
    let _ = match r.status {
        Status::Clean => writeln!(
            out,
            "No drift: stack `{}` matches the state ({} resource(s) checked).",
            r.stack, r.checked
        ),
        Status::Drift => writeln!(
            out,
            "Drift: {} policy violation(s), {} cloud, {} node finding(s) in stack `{}`.",
            s.policy, s.cloud, s.node, r.stack
        ),
        Status::Error => writeln!(
            out,
            "Error: {} part(s) could not be checked; {} policy violation(s), {} cloud, {} node finding(s) among the rest.",
            s.errors, s.policy, s.cloud, s.node
        ),
    };
    out
}

fn finding(out: &mut String, f: &Finding) {
    let sym = match f.kind {
        DriftKind::Policy => "!",
        DriftKind::Changed => "~",
        DriftKind::Deleted => "-",
        DriftKind::Orphan => "?",
    };
    let _ = writeln!(out, "  {sym} {}: {}", f.address, f.summary);
    // A compose project's services are summarised above; the file content is the diff below.
    for c in f
        .changes
        .iter()
        .filter(|c| c.name != "services" && c.name != "content")
    {
        let _ = writeln!(out, "      ~ {} = {} -> {}", c.name, before(c), after(c));
    }
    if let Some(d) = &f.diff {
        for l in d.lines() {
            let _ = writeln!(out, "        {l}");
        }
    }
    let _ = writeln!(out, "    -> {}\n", f.remedy);
}

fn before(a: &AttrChange) -> String {
    if a.sensitive {
        return "(sensitive)".into();
    }
    a.before.as_ref().map_or_else(|| "null".into(), show)
}

fn after(a: &AttrChange) -> String {
    if a.sensitive {
        return "(sensitive)".into();
    }
    a.after.as_ref().map_or_else(|| "null".into(), show)
}

fn show(v: &Json) -> String {
    match v {
        Json::String(s) if s.contains('\n') => format!("<<{} lines>>", s.lines().count()),
        Json::String(s) => format!("{s:?}"),
        other => serde_json::to_string(other).unwrap_or_default(),
    }
}
