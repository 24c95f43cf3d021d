//! Checks: the trace round-trip must read the file the collector actually writes.

use super::common::{self, Mount};
use crate::config::{
    CheckKind, Collector, ComponentKind, Compose, Diagnostic, Diagnostics, Stack, value,
};
use serde_json::Value as Json;

pub fn check(stack: &Stack, out: &mut Diagnostics) {
    for check in &stack.checks {
        let CheckKind::TraceRoundtrip { audit_file, .. } = &check.kind else {
            continue;
        };
        let Some(compose) = stack.compose(&check.compose.value) else {
            continue;
        };
        if value::is_unknown(&audit_file.value) || value::is_unknown(&compose.directory.value) {
            continue;
        }
        let host_path = node_path(&compose.directory.value, &audit_file.value);
        let writes = collector_writes(stack, compose, &host_path);
        if writes.files.contains(&host_path) {
            continue;
        }
        let why = if writes.reaches_audit_file {
            format!(
                "`{host_path}` is on the collector's bind mount, but no file exporter writes it"
            )
        } else {
            format!(
                "`{host_path}` is under no bind mount of a collector service of compose `{}`",
                compose.name
            )
        };
        let help = match writes.files.first() {
            Some(w) => format!("the collector writes `{w}` on the node: point `audit_file` there (relative to {})", compose.directory.value),
            None => "mount a host directory into the collector service (e.g. `./audit:/var/lib/otelcol/audit`) and point a file exporter's `path` and this `audit_file` at the same file".to_string(),
        };
        out.push(
            Diagnostic::error(
                "check::audit-file",
                format!(
                    "check `{}` reads an audit file the collector does not write: {why}",
                    check.name
                ),
            )
            .at(audit_file.span.clone())
            .label("never written")
            .help(help),
        );
    }
}

/// A path on the node: relative paths are relative to the compose project's directory.
fn node_path(directory: &str, path: &str) -> String {
    if path.starts_with('/') {
        common::normalise_path(path)
    } else {
        common::normalise_path(&format!("{directory}/{path}"))
    }
}

/// Where the collector services of a compose project write, seen from the node.
struct CollectorWrites {
    /// The node paths of the files their file exporters write through bind mounts.
    files: Vec<String>,
    /// Whether the audit file lies under one of their bind mounts at all.
    reaches_audit_file: bool,
}

fn collector_writes(stack: &Stack, compose: &Compose, audit_file: &str) -> CollectorWrites {
    let mut writes = CollectorWrites {
        files: Vec::new(),
        reaches_audit_file: false,
    };
    for service in &compose.services {
        let collectors = common::collectors_of(stack, service);
        if collectors.is_empty() {
            continue;
        }
        let paths = file_exporter_paths(&collectors);
        for m in service
            .volumes
            .iter()
            .filter_map(|v| Mount::parse(&v.value))
        {
            if !m.is_bind() {
                continue;
            }
            let Some(source) = &m.source else { continue };
            let source = node_path(&compose.directory.value, source);
            for p in &paths {
                if let Some(rest) = p.strip_prefix(m.target.trim_end_matches('/'))
                    && (rest.is_empty() || rest.starts_with('/'))
                {
                    writes
                        .files
                        .push(common::normalise_path(&format!("{source}{rest}")));
                }
            }
            if common::is_under(audit_file, &source) {
                writes.reaches_audit_file = true;
            }
        }
    }
    writes
}

/// The paths (inside the container) that the file exporters of these collectors write to.
fn file_exporter_paths(collectors: &[&Collector]) -> Vec<String> {
    collectors
        .iter()
        .flat_map(|c| c.components_of(ComponentKind::Exporter))
        .filter(|e| e.type_name() == "file")
        .filter_map(|e| match e.config.lookup("path") {
            Some((_, Json::String(p))) => Some(p),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{help_has, only_at, stack_text, with_code};

    const STACK: &str = stack_text! {host, r#"
collector "c" {
  version = "0.159.0"
  receiver "otlp" {}
  exporter "file/audit" {
    path = "/var/lib/otelcol/audit/spans.jsonl"
  }
  pipeline "traces" {
    receivers = ["otlp"]
    exporters = ["file/audit"]
  }
}
compose "p" {
  on = host.h
  service "otel-collector" {
    image   = "otel/opentelemetry-collector-contrib:0.159.0"
    volumes = ["./audit:/var/lib/otelcol/audit"]
    file "/etc/otelcol-contrib/config.yaml" {
      collector = collector.c
    }
  }
}
check "audit" {
  compose = compose.p
  trace_roundtrip {
    url        = "http://127.0.0.1:8000/v1/chat/completions"
    model      = "m"
    audit_file = "AUDIT"
  }
}
"#};

    #[test]
    fn audit_file_must_be_what_the_collector_writes() {
        for ok in ["audit/spans.jsonl", "/opt/sovstack/p/audit/spans.jsonl"] {
            assert!(
                with_code(&STACK.replace("AUDIT", ok), "check::audit-file").is_empty(),
                "{ok}"
            );
        }
        let text = STACK.replace("AUDIT", "/tmp/audit-spans.jsonl");
        let d = only_at(&text, "check::audit-file", "\"/tmp/audit-spans.jsonl\"");
        assert!(help_has(&d, "/opt/sovstack/p/audit/spans.jsonl"));
        let text = STACK.replace("AUDIT", "audit/other.jsonl");
        assert!(
            with_code(&text, "check::audit-file")[0]
                .message
                .contains("no file exporter writes it")
        );
    }
}
