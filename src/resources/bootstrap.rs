//! `bootstrap.<node>`: the idempotent script that puts Docker Engine, the Compose plugin and,
//! when a service wants GPUs, the NVIDIA Container Toolkit on a node. Re-run only when the
//! script (its hash) or what it must install changes.

use super::{ChangeMode, Desired, DesiredContext, ResourceKind};
use crate::config::Target;

pub struct Bootstrap;

impl ResourceKind for Bootstrap {
    fn kind(&self) -> &'static str {
        "bootstrap"
    }

    fn change_mode(&self, _attribute: &str) -> ChangeMode {
        ChangeMode::Update
    }

    /// What the script found or installed, recorded by apply: not a wish, so never a change.
    fn computed(&self) -> &'static [&'static str] {
        &["docker_version", "compose_version"]
    }

    fn desired(&self, ctx: &DesiredContext<'_>) -> Vec<Desired> {
        let mut nodes: Vec<Target> = ctx
            .stack
            .composes
            .iter()
            .map(|c| c.on.value.clone())
            .collect();
        nodes.sort_by_key(|t| t.address());
        nodes.dedup();
        nodes
            .into_iter()
            .map(|t| {
                let gpus = ctx
                    .stack
                    .composes
                    .iter()
                    .filter(|c| c.on.value == t)
                    .flat_map(|c| &c.services)
                    .any(|s| s.gpus.is_some());
                let mut d = Desired::new("bootstrap", t.name())
                    .attr("node", t.address())
                    .attr("script_sha256", ctx.bootstrap_sha256.to_string())
                    .attr("nvidia_container_toolkit", gpus)
                    .depends_on(t.address());
                // Volumes are attached before anything is installed on their server.
                if let Target::Server(name) = &t {
                    for v in ctx
                        .stack
                        .volumes
                        .iter()
                        .filter(|v| v.server.as_ref().is_some_and(|s| s.value == *name))
                    {
                        d = d.depends_on(format!("volume.{}", v.name));
                    }
                }
                d
            })
            .collect()
    }
}
