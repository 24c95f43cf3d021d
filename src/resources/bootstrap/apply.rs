//! Running the bootstrap script on a node.

use super::BootstrapKind;
use crate::providers::node::run_bootstrap;
use crate::providers::ssh::Transport;
use crate::resources::node::{NodeOps, NodeProvider, attr_str, node_error, record};
use crate::resources::{Op, Recorded};
use serde_json::json;

#[async_trait::async_trait]
impl NodeOps for BootstrapKind {
    async fn converge(&self, nodes: &NodeProvider, op: Op<'_>) -> Recorded {
        let Op { cx, desired, .. } = op;
        let address = &desired.address;
        let node = attr_str(desired, "node")?;
        let request = super::wants::request(&desired.attributes).ok_or_else(|| {
            crate::resources::ApplyError::Precondition {
                address: address.clone(),
                message: "the bootstrap's versions or mounts are not in its attributes".into(),
                help: None,
            }
        })?;
        let t = nodes.connect(cx, address, &node).await?;
        cx.events.progress(
            address,
            format!("running the bootstrap script on {}", t.describe()),
        );
        let report = run_bootstrap(&t, &request)
            .await
            .map_err(|e| node_error(address, e))?;
        cx.events.progress(
            address,
            format!(
                "docker {} and compose {}{}{}{}",
                report.docker_version,
                report.compose_version,
                if report.nvidia {
                    ", nvidia runtime"
                } else {
                    ""
                },
                match report.mounts {
                    0 => String::new(),
                    n => format!(", {n} volume(s) mounted"),
                },
                if report.installed {
                    " (installed now)"
                } else {
                    " (already in place)"
                }
            ),
        );
        let mut state = record(desired);
        state.id = Some(node);
        state
            .attributes
            .insert("docker_version".into(), json!(report.docker_version));
        state
            .attributes
            .insert("compose_version".into(), json!(report.compose_version));
        Ok(state)
    }
}
