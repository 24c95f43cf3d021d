//! Refresh of the node kinds: one connection and one probe command per node report what
//! exists; each kind compares the report with what state records (`NodeRead`).

use super::{NodeProvider, NodeRead, ProbeItem};
use crate::providers::node::{ProbeReport, probe};
use crate::resources::{ApplyContext, ApplyError, Observed, Read, Refreshed, Unreadable};
use crate::state::ResourceState;
use std::collections::BTreeMap;

/// Whether Docker and Compose are installed and answering.
pub(crate) fn docker_ok(report: &ProbeReport) -> bool {
    report.docker.installed
        && report.docker.server_version.is_some()
        && report.compose_version.is_some()
}

/// A recorded resource of a node kind, with its kind's reader.
type NodeResource<'a> = (&'a String, &'a ResourceState, &'a dyn NodeRead);

/// Probes every node that has recorded resources, at once (each on its own connection); a
/// node that cannot be reached is reported for itself and does not stop the others.
pub(crate) async fn refresh(
    provider: &NodeProvider,
    cx: &ApplyContext,
    recorded: &BTreeMap<String, ResourceState>,
) -> Result<Refreshed, ApplyError> {
    let mut by_node: BTreeMap<String, Vec<NodeResource<'_>>> = BTreeMap::new();
    for (address, r) in recorded {
        let Some(Read::Node(reader)) = crate::resources::kind(&r.kind).map(|k| k.read()) else {
            continue;
        };
        if let Some(node) = reader.node_of(cx, address, r) {
            by_node.entry(node).or_default().push((address, r, reader));
        }
    }
    let limit = provider.read_limit;
    let probes = by_node.into_iter().map(|(node, resources)| async move {
        let read = refresh_node(provider, cx, &node, &resources);
        let result = match tokio::time::timeout(limit, read).await {
            Ok(result) => result,
            Err(_) => Err(no_answer(&node, limit)),
        };
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

/// A node that did not answer within the read limit.
fn no_answer(node: &str, limit: std::time::Duration) -> ApplyError {
    ApplyError::Precondition {
        address: node.to_string(),
        message: format!(
            "no answer within {}s (connecting over SSH and probing)",
            limit.as_secs()
        ),
        help: Some(
            "check that the machine is up and its sshd answers at the address and port the stack gives; the other nodes were read"
                .into(),
        ),
    }
}

/// One connection, one probe, then the comparisons (reading a file only when it differs).
async fn refresh_node(
    provider: &NodeProvider,
    cx: &ApplyContext,
    node: &str,
    resources: &[NodeResource<'_>],
) -> Result<BTreeMap<String, Observed>, ApplyError> {
    let (mut projects, mut files) = (Vec::new(), Vec::new());
    for (_, r, reader) in resources {
        match reader.probe_item(r) {
            Some(ProbeItem::Project(p)) => projects.push(p),
            Some(ProbeItem::File(f)) => files.push(f),
            None => {}
        }
    }
    cx.events.progress(
        node,
        format!(
            "probing ({} project(s), {} file(s))",
            projects.len(),
            files.len()
        ),
    );
    let t = provider.connect(cx, node, node).await?;
    let report = probe(&t, &projects, &files)
        .await
        .map_err(|e| super::node_error(node, e))?;
    let mut out = BTreeMap::new();
    for (address, r, reader) in resources {
        if let Some(o) = reader.observe(cx, &t, &report, address, r).await? {
            out.insert((*address).clone(), o);
        }
    }
    Ok(out)
}
