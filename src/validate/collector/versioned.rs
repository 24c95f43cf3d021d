//! Collector rules that read the tables of the targeted release: how old it is, component types, and the
//! config keys of components and `telemetry`.

use super::{OUTDATED_AFTER_RELEASES, Rules};
use crate::config::{Component, Diagnostic, Diagnostics, Span, Tree, TreeMap};
use crate::validate::common;
use crate::validate::knowledge::collector::{self as kc, ComponentStatus, KeyStatus, LATEST_KNOWN};
use serde_json::Value as Json;

impl Rules<'_> {
    pub(super) fn outdated(&self, out: &mut Diagnostics) {
        let v = self.version();
        if v.major != LATEST_KNOWN.major || v.minor + OUTDATED_AFTER_RELEASES > LATEST_KNOWN.minor {
            return;
        }
        out.push(
            Diagnostic::warning(
                "collector::outdated",
                format!(
                    "collector `{}` targets {v}, {} releases behind {LATEST_KNOWN}",
                    self.c.name,
                    LATEST_KNOWN.minor - v.minor
                ),
            )
            .at(self.c.version.span.clone())
            .label("old release")
            .help(format!("target a current release (e.g. {}) and pin the image to it: receivers, exporters and telemetry keys changed in between", LATEST_KNOWN.to_string().trim_start_matches('v'))),
        );
    }

    pub(super) fn component_type(&self, comp: &Component, out: &mut Diagnostics) {
        let ty = comp.type_name();
        let kind = comp.kind.block();
        let v = self.version();
        let d = match self.kn.component(comp.kind, &comp.id) {
            ComponentStatus::Known(_) | ComponentStatus::Unchecked => return,
            ComponentStatus::Unknown { suggestion: None } => return,
            ComponentStatus::Unknown { suggestion: Some(s) } => Diagnostic::error(
                "collector::component-type",
                format!("`{ty}` is not a {kind} type of collector {v}"),
            )
            .label("unknown type")
            .help(format!("did you mean `{s}`?")),
            ComponentStatus::Removed { since, use_instead } => Diagnostic::error(
                "collector::component-type",
                format!("the `{ty}` {kind} was removed in {since}; collector {v} refuses to start"),
            )
            .label("removed")
            .help(format!("use the `{use_instead}` {kind} instead")),
            ComponentStatus::Renamed { to, since } => Diagnostic::error(
                "collector::component-type",
                format!("the `{ty}` {kind} was renamed to `{to}` in {since} and the old name no longer loads in {v}"),
            )
            .label("old name")
            .help(format!("write `{to}` (keep the `/name` part of the id)")),
            ComponentStatus::NotYet { since } => Diagnostic::error(
                "collector::component-type",
                format!("the `{ty}` {kind} does not exist yet in collector {v} (it appears {})", describe_since(since)),
            )
            .label("too new")
            .help(match self.kn.info(comp.kind, ty).and_then(|i| i.renamed_from) {
                Some((old, _)) => format!("in {v} it is called `{old}`: write that, or target a newer collector version"),
                None => "target a newer collector version, or use a component that exists in this one".to_string(),
            }),
            ComponentStatus::DeprecatedAlias { of, since, .. } => Diagnostic::warning(
                "collector::deprecated-component",
                format!("`{ty}` is a deprecated alias of the `{of}` {kind} since {since}"),
            )
            .label("deprecated alias")
            .help(format!("write `{of}`: the collector logs a deprecation warning for the old name and will drop it")),
            ComponentStatus::Deprecated { since, use_instead, .. } => Diagnostic::warning(
                "collector::deprecated-component",
                format!("the `{ty}` {kind} is deprecated since {since}"),
            )
            .label("deprecated")
            .help(format!("use the `{use_instead}` {kind} instead")),
        };
        out.push(d.at(comp.id_span.clone()));
    }

    pub(super) fn keys(&self, comp: &Component, out: &mut Diagnostics) {
        let mut paths = Vec::new();
        collect_paths(&comp.config, "", &mut paths);
        let subject = format!("{} `{}`", comp.kind.block(), comp.id);
        self.report_keys(
            &paths,
            &subject,
            |p| self.kn.key_status(comp.kind, &comp.id, p),
            out,
        );
    }

    pub(super) fn telemetry_keys(&self, out: &mut Diagnostics) {
        let Some(t) = &self.c.telemetry else { return };
        let mut paths = Vec::new();
        collect_paths(t, "telemetry", &mut paths);
        self.report_keys(
            &paths,
            "`telemetry`",
            |p| self.kn.service_key_status(p),
            out,
        );
    }

    pub(super) fn report_keys(
        &self,
        paths: &[(String, Span)],
        subject: &str,
        status: impl Fn(&str) -> KeyStatus,
        out: &mut Diagnostics,
    ) {
        let v = self.version();
        let mut reported: Vec<&str> = Vec::new();
        for (path, span) in paths {
            if reported
                .iter()
                .any(|r| common::is_under(&path.replace('.', "/"), &r.replace('.', "/")))
            {
                continue;
            }
            let shown = path
                .strip_prefix("telemetry.")
                .map_or(path.clone(), |p| format!("telemetry.{p}"));
            let d = match status(path) {
                KeyStatus::Known(_) | KeyStatus::Unchecked => continue,
                KeyStatus::Unknown { suggestion } => Diagnostic::error(
                    "collector::invalid-key",
                    format!("{subject} has no key `{shown}` in collector {v}"),
                )
                .label("unknown key")
                .help(match suggestion {
                    Some(s) => format!("did you mean `{s}`? The collector refuses unknown keys"),
                    None => "remove it: the collector refuses unknown keys".to_string(),
                }),
                KeyStatus::Removed { since, why } => Diagnostic::error(
                    "collector::invalid-key",
                    format!("`{shown}` of {subject} is not accepted by collector {v} (removed in {since})"),
                )
                .label("removed")
                .help(format!("remove it: {why}")),
                KeyStatus::NotYet { since } => Diagnostic::error(
                    "collector::invalid-key",
                    format!("`{shown}` of {subject} does not exist yet in collector {v} (it appears {})", describe_since(since)),
                )
                .label("too new")
                .help("remove it, or target a newer collector version"),
                KeyStatus::Deprecated { since, use_instead, why, .. } => Diagnostic::warning(
                    "collector::deprecated-key",
                    format!("`{shown}` of {subject} is deprecated since {since}"),
                )
                .label("deprecated")
                .help(format!("use `{use_instead}`: {why}")),
            };
            reported.push(path);
            out.push(d.at(span.clone()));
        }
    }
}

fn describe_since(since: kc::Since) -> String {
    match since {
        kc::Since::Exact(v) => format!("in {v}"),
        kc::Since::Between { absent, present } => format!("after {absent}, by {present}"),
        kc::Since::SeenIn(v) => format!("by {v}"),
    }
}

/// Every key path in a component config, with the span that best points at it. Object values given
/// as one attribute share that attribute's span.
fn collect_paths(map: &TreeMap, prefix: &str, out: &mut Vec<(String, Span)>) {
    for e in &map.entries {
        let path = join(prefix, &e.key);
        out.push((path.clone(), e.key_span.clone()));
        match &e.value {
            Tree::Map(m) => collect_paths(m, &path, out),
            Tree::Value(v) => collect_json(&v.value, &path, &v.span, out),
        }
    }
}

fn collect_json(v: &Json, prefix: &str, span: &Span, out: &mut Vec<(String, Span)>) {
    match v {
        Json::Object(o) => {
            for (k, child) in o {
                let path = join(prefix, k);
                out.push((path.clone(), span.clone()));
                collect_json(child, &path, span, out);
            }
        }
        Json::Array(items) => {
            for item in items {
                if item.is_object() {
                    collect_json(item, prefix, span, out);
                }
            }
        }
        _ => {}
    }
}

fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_string()
    } else {
        format!("{prefix}.{key}")
    }
}
