//! Connecting to an existing host: its host key verified, or learned once and pinned.

use crate::resources::node::{NodeProvider, record};
use crate::resources::{ApplyContext, ApplyError, Desired};
use crate::state::ResourceState;
use serde_json::json;

pub(super) async fn apply(
    nodes: &NodeProvider,
    cx: &ApplyContext,
    desired: &Desired,
) -> Result<ResourceState, ApplyError> {
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
