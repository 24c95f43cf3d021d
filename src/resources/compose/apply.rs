//! `compose up` with exactly the changed services recreated, the bundle kept as a release,
//! and `compose down` on delete.

use super::ComposeKind;
use crate::config::model::DEFAULT_WAIT_TIMEOUT;
use crate::providers::node::{
    ComposeProject, bind_dirs, changed_services, ensure_bind_dirs, run_compose, snapshot_release,
};
use crate::providers::ssh::Transport;
use crate::resources::ApplyContext;
use crate::resources::ResourceKind;
use crate::resources::file::FileKind;
use crate::resources::node::{NodeOps, NodeProvider, attr_str, node_error, prior_str, record};
use crate::resources::{Deleted, Deletion, Op, Recorded};
use serde_json::{Value as Json, json};
use sha2::{Digest, Sha256};

/// Whether `address` is a file of compose `name` (`file.<compose>["<relative path>"]`).
fn is_file_of(address: &str, name: &str) -> bool {
    crate::resources::Address::parse(address)
        .is_ok_and(|a| a.kind.get().name() == FileKind.name() && a.name == name)
}

/// Identity of a deployed bundle: the inputs hash of every service.
fn bundle_hash(services: &Json) -> String {
    hex::encode(Sha256::digest(services.to_string().as_bytes()))
}

#[async_trait::async_trait]
impl NodeOps for ComposeKind {
    async fn converge(&self, nodes: &NodeProvider, op: Op<'_>) -> Recorded {
        let Op {
            cx,
            desired,
            prior,
            changed,
        } = op;
        let address = &desired.address;
        let name = &crate::config::instance::block_name_of(address);
        let node = attr_str(desired, "node")?;
        let compose = cx.stack.compose(name);
        let project = ComposeProject {
            name: attr_str(desired, "project")?,
            directory: attr_str(desired, "directory")?,
            // Read from the stack, not recorded: how long to wait is no property of what runs.
            wait_timeout: compose.map_or(DEFAULT_WAIT_TIMEOUT, |c| c.wait_timeout),
        };
        let services = desired
            .attributes
            .get("services")
            .cloned()
            .unwrap_or(Json::Null);
        let recreate = match prior {
            Some(p) if changed.is_empty() || changed.iter().any(|c| c == "services") => {
                changed_services(
                    p.attributes.get("services").unwrap_or(&Json::Null),
                    &services,
                )
            }
            _ => Vec::new(),
        };
        let t = nodes.connect(cx, address, &node).await?;

        if let Some(compose) = compose {
            let dirs = bind_dirs(compose);
            ensure_bind_dirs(&t, &dirs)
                .await
                .map_err(|e| node_error(address, e))?;
            for d in &dirs {
                cx.events.progress(
                    address,
                    format!(
                        "bind-mount directory {}{}",
                        d.path,
                        d.owner
                            .as_ref()
                            .map(|o| format!(" owned by {o}"))
                            .unwrap_or_default()
                    ),
                );
            }
        }

        let report = |line: String| cx.events.progress(address, line);
        cx.events.progress(
            address,
            format!("compose up {} on {}", project.name, t.describe()),
        );
        // With services to recreate, the first `up` must not recreate them itself: each
        // changed service restarts exactly once, by the explicit recreate below.
        let up = if recreate.is_empty() {
            project.up_command()
        } else {
            project.up_keeping_containers_command()
        };
        run_compose(&t, &project, "up", up, &report)
            .await
            .map_err(|e| node_error(address, e))?;
        if !recreate.is_empty() {
            cx.events.progress(
                address,
                format!("recreating {} (inputs changed)", recreate.join(", ")),
            );
            run_compose(
                &t,
                &project,
                "recreate",
                project.recreate_command(&recreate),
                &report,
            )
            .await
            .map_err(|e| node_error(address, e))?;
        }

        let bundle = bundle_hash(&services);
        let files = project_files(cx, name, &project.directory);
        snapshot_release(&t, &project.directory, &bundle, &files)
            .await
            .map_err(|e| node_error(address, e))?;
        cx.events.progress(
            address,
            format!("bundle kept under {}/releases/{bundle}", project.directory),
        );

        let mut state = record(desired);
        state.id = Some(format!("{node}:{}", project.name));
        state.attributes.insert("bundle".into(), json!(bundle));
        Ok(state)
    }

    async fn remove(&self, nodes: &NodeProvider, del: Deletion<'_>) -> Deleted {
        let Deletion { cx, address, prior } = del;
        let (Some(node), Some(name), Some(directory)) = (
            prior_str(prior, "node"),
            prior_str(prior, "project"),
            prior_str(prior, "directory"),
        ) else {
            return Ok(());
        };
        let volumes = prior
            .attributes
            .get("destroy_volumes")
            .and_then(Json::as_bool)
            .unwrap_or(false);
        let project = ComposeProject {
            name,
            directory,
            wait_timeout: DEFAULT_WAIT_TIMEOUT,
        };
        let t = nodes.connect(cx, address, &node).await?;
        let report = |line: String| cx.events.progress(address, line);
        cx.events.progress(
            address,
            format!(
                "compose down {}{}",
                project.name,
                if volumes {
                    " with its volumes"
                } else {
                    " (volumes kept)"
                }
            ),
        );
        run_compose(&t, &project, "down", project.down_command(volumes), &report)
            .await
            .map_err(|e| node_error(address, e))?;
        Ok(())
    }
}

/// Managed files of compose `name`, relative to its directory (as recorded so far).
fn project_files(cx: &ApplyContext, name: &str, directory: &str) -> Vec<String> {
    let prefix = format!("{}/", directory.trim_end_matches('/'));
    let Ok(resources) = cx.resources.read() else {
        return Vec::new();
    };
    let mut out: Vec<String> = resources
        .iter()
        .filter(|(a, _)| is_file_of(a, name))
        .filter_map(|(_, r)| prior_str(r, "path"))
        .filter_map(|p| p.strip_prefix(&prefix).map(str::to_string))
        .collect();
    out.sort();
    out
}
