//! Refresh: one probe command per node reports what exists; this compares it with state.
//!
//! - a managed file missing, or whose sha256 differs (its content is read only then, for a diff;
//!   a secret file's never leaves the applier except as a keyed hash), or whose mode differs;
//! - a compose project without containers (missing), or with services not running/healthy:
//!   their `services` entry becomes `(not running: exited (1))`, so the plan shows the project
//!   changed and the apply recreates exactly those services;
//! - Docker or Compose missing or not answering: the node's `bootstrap` is missing.

use super::NodeApplier;
use crate::apply::{ApplyContext, ApplyError, Observed, Refreshed, Unreadable};
use crate::providers::node::{ProbeReport, probe};
use crate::providers::ssh::Transport;
use crate::state::ResourceState;
use serde_json::{Value as Json, json};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

fn attr<'a>(r: &'a ResourceState, key: &str) -> Option<&'a str> {
    r.attributes.get(key).and_then(Json::as_str)
}

/// The node a recorded resource lives on.
fn node_of(cx: &ApplyContext, address: &str, r: &ResourceState) -> Option<String> {
    match r.kind.as_str() {
        "host" => Some(address.to_string()),
        "bootstrap" | "file" | "compose" => attr(r, "node").map(str::to_string),
        _ => {
            let compose = attr(r, "compose")?;
            cx.stack.compose(compose).map(|c| c.on.value.address())
        }
    }
}

fn normal_mode(m: &str) -> Option<u32> {
    u32::from_str_radix(m.trim_start_matches("0o"), 8).ok()
}

impl NodeApplier {
    pub(super) async fn refresh_nodes(
        &self,
        cx: &ApplyContext,
        recorded: &BTreeMap<String, ResourceState>,
    ) -> Result<Refreshed, ApplyError> {
        let mut by_node: BTreeMap<String, Vec<(&String, &ResourceState)>> = BTreeMap::new();
        for (address, r) in recorded.iter().filter(|(_, r)| self.handles_kind(&r.kind)) {
            if let Some(node) = node_of(cx, address, r) {
                by_node.entry(node).or_default().push((address, r));
            }
        }
        // Nodes are probed at once (each on its own connection); one that cannot be reached
        // is reported for itself and does not stop the others.
        let probes = by_node.into_iter().map(|(node, resources)| async move {
            let result = self.refresh_node(cx, &node, &resources).await;
            (node, result)
        });
        let mut out = Refreshed::default();
        for (node, result) in futures_util::future::join_all(probes).await {
            match result {
                Ok(observed) => out.observed.extend(observed),
                Err(e) => {
                    cx.events.progress(&node, format!("cannot be read: {e}"));
                    out.unreadable.push(Unreadable {
                        help: miette::Diagnostic::help(&e).map(|h| h.to_string()),
                        message: e.to_string(),
                        address: node,
                    });
                }
            }
        }
        Ok(out)
    }

    /// One connection, one probe, then the comparisons (reading a file only when it differs).
    async fn refresh_node(
        &self,
        cx: &ApplyContext,
        node: &str,
        resources: &[(&String, &ResourceState)],
    ) -> Result<BTreeMap<String, Observed>, ApplyError> {
        let projects: Vec<String> = resources
            .iter()
            .filter(|(_, r)| r.kind == "compose")
            .filter_map(|(_, r)| attr(r, "project").map(str::to_string))
            .collect();
        let files: Vec<String> = resources
            .iter()
            .filter(|(_, r)| r.kind == "file")
            .filter_map(|(_, r)| attr(r, "path").map(str::to_string))
            .collect();
        cx.events.progress(
            node,
            format!(
                "probing ({} project(s), {} file(s))",
                projects.len(),
                files.len()
            ),
        );
        let t = self.connect(cx, node, node).await?;
        let report = probe(&t, &projects, &files)
            .await
            .map_err(|e| super::node_error(node, e))?;
        let mut out = BTreeMap::new();
        for (address, r) in resources {
            if let Some(o) = self.observe(cx, &t, &report, address, r).await? {
                out.insert((*address).clone(), o);
            }
        }
        Ok(out)
    }

    fn handles_kind(&self, kind: &str) -> bool {
        super::NODE_KINDS.contains(&kind)
    }

    async fn observe(
        &self,
        cx: &ApplyContext,
        t: &dyn Transport,
        report: &ProbeReport,
        address: &str,
        r: &ResourceState,
    ) -> Result<Option<Observed>, ApplyError> {
        let docker_ok = report.docker.installed
            && report.docker.server_version.is_some()
            && report.compose_version.is_some();
        match r.kind.as_str() {
            "bootstrap" if !docker_ok => {
                let why = if !report.docker.installed {
                    "docker is not installed".to_string()
                } else if report.docker.server_version.is_none() {
                    format!(
                        "the docker daemon does not answer ({})",
                        report.docker.error.as_deref().unwrap_or("no detail")
                    )
                } else {
                    "the compose plugin is missing".to_string()
                };
                cx.events.progress(address, why);
                Ok(Some(Observed::Missing))
            }
            "file" => self.observe_file(cx, t, report, address, r).await,
            "compose" => Ok(observe_compose(report, docker_ok, r)),
            _ => Ok(None),
        }
    }

    async fn observe_file(
        &self,
        cx: &ApplyContext,
        t: &dyn Transport,
        report: &ProbeReport,
        address: &str,
        r: &ResourceState,
    ) -> Result<Option<Observed>, ApplyError> {
        let Some(path) = attr(r, "path") else {
            return Ok(None);
        };
        let Some(found) = report.files.iter().find(|f| f.path == path) else {
            return Ok(None);
        };
        let Some(actual_sha) = &found.sha256 else {
            return Ok(Some(Observed::Missing));
        };
        let secret = r.sensitive_attributes.contains_key("content");
        let same_content = if secret {
            r.sensitive_attributes
                .get("sha256")
                .is_some_and(|h| cx.hasher.matches(actual_sha.as_bytes(), h))
        } else {
            attr(r, "sha256") == Some(actual_sha.as_str())
        };
        let recorded_mode = attr(r, "mode").and_then(normal_mode);
        let actual_mode = found.mode.as_deref().and_then(normal_mode);
        let same_mode =
            recorded_mode.is_none() || actual_mode.is_none() || recorded_mode == actual_mode;
        if same_content && same_mode {
            return Ok(None);
        }
        let mut observed = r.clone();
        if let Some(m) = actual_mode {
            observed
                .attributes
                .insert("mode".into(), json!(format!("{m:04o}")));
        }
        if !same_content {
            // Read only what differs, for the plan's diff.
            let content = t.read_file(path).await.map_err(ApplyError::Ssh)?;
            let Some(content) = content else {
                return Ok(Some(Observed::Missing));
            };
            let sha = hex::encode(Sha256::digest(&content));
            if secret {
                observed
                    .sensitive_attributes
                    .insert("content".into(), cx.hasher.hash(&content));
                observed
                    .sensitive_attributes
                    .insert("sha256".into(), cx.hasher.hash(sha.as_bytes()));
            } else {
                observed.attributes.insert("sha256".into(), json!(sha));
                observed
                    .attributes
                    .insert("content".into(), json!(String::from_utf8_lossy(&content)));
            }
            cx.events
                .progress(address, format!("{path} changed outside sovstack"));
        } else {
            cx.events.progress(
                address,
                format!("{path} has mode {:04o}", actual_mode.unwrap_or(0)),
            );
        }
        Ok(Some(Observed::Present(observed)))
    }
}

fn observe_compose(report: &ProbeReport, docker_ok: bool, r: &ResourceState) -> Option<Observed> {
    let project = attr(r, "project")?;
    let recorded = r.attributes.get("services").and_then(Json::as_object)?;
    let mut services = recorded.clone();
    let mut drift = false;
    match report.projects.get(project) {
        _ if !docker_ok => {
            for v in services.values_mut() {
                *v = json!("(not running: docker unavailable)");
            }
            drift = true;
        }
        Some(p) if p.error.is_none() && p.containers.is_empty() => return Some(Observed::Missing),
        Some(p) if p.error.is_none() => {
            for (svc, v) in services.iter_mut() {
                let state = match p.containers.iter().find(|c| &c.service == svc) {
                    Some(c) if c.is_up() => continue,
                    Some(c) => c.describe(),
                    None => "no container".to_string(),
                };
                *v = json!(format!("(not running: {state})"));
                drift = true;
            }
        }
        _ => return None,
    }
    if !drift {
        return None;
    }
    let mut observed = r.clone();
    observed
        .attributes
        .insert("services".into(), Json::Object(services));
    Some(Observed::Present(observed))
}
