//! Uploading a rendered file to its node (atomically, checksum verified) and removing it.

use super::FileKind;
use crate::providers::node::upload_file;
use crate::providers::ssh::{ExecRequest, Transport, UploadRequest, shell_quote};
use crate::resources::ApplyError;
use crate::resources::node::{NodeOps, NodeProvider, attr_str, node_error, prior_str, record};
use crate::resources::{Deleted, Deletion, Op, Recorded};
use serde_json::Value as Json;

#[async_trait::async_trait]
impl NodeOps for FileKind {
    async fn converge(&self, nodes: &NodeProvider, op: Op<'_>) -> Recorded {
        let Op { cx, desired, .. } = op;
        let address = &desired.address;
        let node = attr_str(desired, "node")?;
        let path = attr_str(desired, "path")?;
        let mode_text = attr_str(desired, "mode")?;
        let mode = u32::from_str_radix(mode_text.trim_start_matches("0o"), 8).map_err(|_| {
            ApplyError::Precondition {
                address: address.clone(),
                message: format!("mode `{mode_text}` is not octal"),
                help: None,
            }
        })?;
        let owner = desired
            .attributes
            .get("owner")
            .and_then(Json::as_str)
            .map(str::to_string);
        let mut state = record(desired);
        let (contents, secret) = match (
            desired.attributes.get("content").and_then(Json::as_str),
            desired.sensitive.get("content"),
        ) {
            (Some(text), _) => (text.as_bytes().to_vec(), false),
            (None, Some(Some(secret))) => (secret.as_bytes().to_vec(), true),
            (None, Some(None)) => {
                return Err(ApplyError::Precondition {
                    address: address.clone(),
                    message: "the secret content of this file was not provided".into(),
                    help: Some(
                        "set the sensitive variables it uses (environment or --var) before applying"
                            .into(),
                    ),
                });
            }
            (None, None) => {
                return Err(ApplyError::Precondition {
                    address: address.clone(),
                    message: "the file has no content".into(),
                    help: None,
                });
            }
        };
        let mut request = UploadRequest::new(path.clone(), contents, mode);
        if let Some(o) = &owner {
            request = request.owner(o.clone());
        }
        let sha = request.sha256_hex();
        let bytes = request.contents.len();
        let t = nodes.connect(cx, address, &node).await?;
        upload_file(&t, request)
            .await
            .map_err(|e| node_error(address, e))?;
        cx.events.progress(
            address,
            format!("uploaded {path} ({bytes} bytes, mode {mode:04o}, checksum verified)"),
        );
        if secret {
            // Keyed hashes only: the content's, to plan changes, and its sha256's, so refresh can
            // compare with what the node reports without reading the secret back.
            let content = desired
                .sensitive
                .get("content")
                .cloned()
                .flatten()
                .unwrap_or_default();
            state
                .sensitive_attributes
                .insert("content".into(), cx.hasher.hash(content.as_bytes()));
            state
                .sensitive_attributes
                .insert("sha256".into(), cx.hasher.hash(sha.as_bytes()));
        }
        state.id = Some(format!("{node}:{path}"));
        Ok(state)
    }

    async fn remove(&self, nodes: &NodeProvider, del: Deletion<'_>) -> Deleted {
        let Deletion { cx, address, prior } = del;
        let (Some(node), Some(path)) = (prior_str(prior, "node"), prior_str(prior, "path")) else {
            return Ok(());
        };
        let t = nodes.connect(cx, address, &node).await?;
        t.exec_checked(ExecRequest::new(format!("rm -f -- {}", shell_quote(&path))))
            .await
            .map_err(ApplyError::Ssh)?;
        cx.events.progress(address, format!("removed {path}"));
        Ok(())
    }
}
