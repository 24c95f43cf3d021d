//! `check.<name>`: an assertion run on the node after compose (an HTTP health endpoint, or a
//! traced request that must reach the audit log). It runs again whenever the project it
//! checks changes.

use super::{ChangeMode, Desired, DesiredContext, ResourceKind};
use crate::config::CheckKind as Spec;
use serde_json::json;
use sha2::{Digest, Sha256};

pub struct CheckKind;

impl ResourceKind for CheckKind {
    fn kind(&self) -> &'static str {
        "check"
    }

    fn change_mode(&self, _attribute: &str) -> ChangeMode {
        ChangeMode::Update
    }

    fn desired(&self, ctx: &DesiredContext<'_>) -> Vec<Desired> {
        ctx.stack
            .checks
            .iter()
            .map(|c| {
                let spec = match &c.kind {
                    Spec::Http { url, status } => json!({"type": "http", "url": url, "status": status}),
                    Spec::TraceRoundtrip { url, model, audit_file } => json!({
                        "type": "trace_roundtrip", "url": url, "model": model, "audit_file": audit_file.value
                    }),
                };
                // What the check looks at: when any input of the project changes, run it again.
                let mut h = Sha256::new();
                for ((compose, service), hash) in ctx.service_hashes {
                    if *compose == c.compose.value {
                        h.update(service.as_bytes());
                        h.update(hash.as_bytes());
                    }
                }
                Desired::new("check", &c.name)
                    .attr("compose", c.compose.value.clone())
                    .attr("spec", spec)
                    .attr("within", c.within.clone())
                    .attr("project_inputs", hex::encode(h.finalize()))
                    .depends_on(format!("compose.{}", c.compose.value))
            })
            .collect()
    }
}
