//! Connecting to an existing host: its host key verified, or learned once and pinned.

use super::HostKind;
use crate::resources::node::{NodeOps, NodeProvider, record};
use crate::resources::{Op, Recorded};
use serde_json::json;

#[async_trait::async_trait]
impl NodeOps for HostKind {
    async fn converge(&self, nodes: &NodeProvider, op: Op<'_>) -> Recorded {
        let Op { cx, desired, .. } = op;
        let address = &desired.address;
        let t = nodes.connect(cx, address, address).await?;
        let verdict = t.host_key();
        if let Some(fp) = verdict.learned() {
            cx.events.progress(
                address,
                format!("learned host key {fp}; pinned from now on"),
            );
        }
        let mut state = record(desired);
        state.id = Some(t.target().to_string());
        state.attributes.insert(
            "host_key_fingerprint".into(),
            json!(verdict.fingerprint().to_string()),
        );
        Ok(state)
    }
}
