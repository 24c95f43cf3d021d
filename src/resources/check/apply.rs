//! Running a check on its node until it passes or its deadline.

use super::CheckKind;
use crate::providers::node::{http_check, parse_duration, trace_roundtrip};
use crate::resources::ApplyError;
use crate::resources::node::{NodeOps, NodeProvider, attr_str, node_error, record};
use crate::resources::{Op, Recorded};
use serde_json::Value as Json;

#[async_trait::async_trait]
impl NodeOps for CheckKind {
    async fn converge(&self, nodes: &NodeProvider, op: Op<'_>) -> Recorded {
        let Op { cx, desired, .. } = op;
        let address = &desired.address;
        let compose_name = attr_str(desired, "compose")?;
        let compose = cx
            .stack
            .compose(&crate::config::instance::name_from_shown(&compose_name))
            .ok_or_else(|| ApplyError::Precondition {
                address: address.clone(),
                message: format!("compose `{compose_name}` is not in the stack"),
                help: None,
            })?;
        let node = compose.on.value.address();
        let within_text = attr_str(desired, "within")?;
        let within = parse_duration(&within_text).ok_or_else(|| ApplyError::Precondition {
            address: address.clone(),
            message: format!("`within = \"{within_text}\"` is not a duration (e.g. 90s, 10m, 1h)"),
            help: None,
        })?;
        let spec = desired
            .attributes
            .get("spec")
            .cloned()
            .unwrap_or(Json::Null);
        let field = |k: &str| spec.get(k).and_then(Json::as_str).map(str::to_string);
        let t = nodes.connect(cx, address, &node).await?;
        let deadline = tokio::time::Instant::now() + within;
        let events = cx.events.clone();
        let addr = address.clone();
        let report = move |line: &str| events.progress(&addr, line.to_string());
        let mut state = record(desired);
        match field("type").as_deref() {
            Some("http") => {
                let url = field("url").unwrap_or_default();
                let status = spec.get("status").and_then(Json::as_u64).unwrap_or(200) as u16;
                let attempts = http_check(&t, &url, status, deadline, &report)
                    .await
                    .map_err(|e| node_error(address, e))?;
                cx.events.progress(
                    address,
                    format!("GET {url} answered {status} (attempt {attempts})"),
                );
            }
            Some("trace_roundtrip") => {
                let url = field("url").unwrap_or_default();
                let model = field("model").unwrap_or_default();
                let audit = format!(
                    "{}/{}",
                    compose.directory.value.trim_end_matches('/'),
                    field("audit_file")
                        .unwrap_or_default()
                        .trim_start_matches("./")
                );
                let done = trace_roundtrip(&t, &url, &model, &audit, deadline, &report)
                    .await
                    .map_err(|e| node_error(address, e))?;
                cx.events
                    .progress(address, format!("trace {} found in {audit}", done.trace_id));
            }
            other => {
                return Err(ApplyError::Precondition {
                    address: address.clone(),
                    message: format!("unknown check type {other:?}"),
                    help: None,
                });
            }
        }
        state.id = Some(node);
        Ok(state)
    }
}
