//! `check.<name>`: an assertion run on the node after compose (an HTTP health endpoint, or a
//! traced request that must reach the audit log). It runs again whenever the project it
//! checks changes.

mod apply;

use crate::config::instance::{block_address, name_from_shown, shown_name};
use crate::resources::node::prior_str;
use crate::resources::node::{NodeRead, OnNode};
use crate::resources::{ApplyContext, Facts, InPlace, Operate, Read};
use crate::resources::{Desired, DesiredContext, ResourceKind};
use crate::state::ResourceState;

use crate::config::CheckKind as Spec;
use serde_json::json;
use sha2::{Digest, Sha256};

#[derive(Clone, Copy)]
pub struct CheckKind;

impl ResourceKind for CheckKind {
    fn facts(&self) -> &'static Facts {
        &Facts {
            name: "check",
            in_place: InPlace::AllBut(&[]),
            computed: &[],
        }
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
                    // As users read it (`module.vllm.inference`), not the internal name.
                    .attr("compose", shown_name(&c.compose.value))
                    .attr("spec", spec)
                    .attr("within", c.within.clone())
                    .attr("project_inputs", hex::encode(h.finalize()))
                    .depends_on(block_address("compose", &c.compose.value))
            })
            .collect()
    }

    fn read(&self) -> Read<'_> {
        Read::Node(self)
    }

    fn reruns_after_dependencies(&self) -> bool {
        true
    }

    fn operate(&self) -> &dyn Operate {
        &OnNode(CheckKind)
    }
}

impl NodeRead for CheckKind {
    /// A check runs on the node of the project it checks.
    fn node_of(&self, cx: &ApplyContext, _address: &str, r: &ResourceState) -> Option<String> {
        let compose = prior_str(r, "compose")?;
        cx.stack
            .compose(&name_from_shown(&compose))
            .map(|c| c.on.value.address())
    }
}
