//! `bootstrap.<node>`: the idempotent script that puts Docker Engine, the Compose plugin and,
//! when a service wants GPUs, the NVIDIA Container Toolkit on a node, and mounts the volumes the
//! stack gives a `mount_path`. Re-run only when the script (its hash) or what it must install or
//! mount changes (a resized volume re-runs it, and its filesystem grows).

mod apply;
mod wants;

use crate::config::instance::block_address;
use crate::plan::{Drift, DriftKind};
use crate::providers::node::ProbeReport;
use crate::providers::ssh::Transport;
use crate::resources::DriftStory;
use crate::resources::Observed;
use crate::resources::node::docker_ok;
use crate::resources::node::{NodeRead, OnNode};
use crate::resources::{ApplyContext, ApplyError, Facts, InPlace, Operate, Read};
use crate::resources::{Desired, DesiredContext, ResourceKind};
use crate::state::ResourceState;

use crate::config::Target;
use serde_json::Value as Json;

#[derive(Clone, Copy)]
pub struct BootstrapKind;

impl ResourceKind for BootstrapKind {
    // What the script found or installed, recorded by apply: not a wish, so never a change.
    fn facts(&self) -> &'static Facts {
        &Facts {
            name: "bootstrap",
            in_place: InPlace::AllBut(&[]),
            computed: &["docker_version", "compose_version"],
        }
    }
    fn named_after(&self) -> &'static [&'static str] {
        &["server", "host"]
    }
    fn drift_story(&self, d: &Drift) -> Option<DriftStory> {
        (d.kind == DriftKind::Deleted).then(|| DriftStory {
            summary: "docker missing: Docker or its compose plugin is not installed or not answering".to_string(),
            diff: None,
            remedy: "`sovstack apply` installs Docker where none is installed; a broken installation must be repaired on the host".to_string(),
        })
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
                let wants = wants::Wants::of(ctx.stack, &t);
                let mut d = Desired::new("bootstrap", t.name())
                    .attr("node", t.address())
                    .attr("script_sha256", ctx.bootstrap_sha256.to_string())
                    .attr("docker", wants.docker)
                    .attr(
                        "docker_minimum",
                        wants.docker_minimum.map_or(Json::Null, Json::String),
                    )
                    .attr(
                        "nvidia_container_toolkit",
                        wants
                            .nvidia_container_toolkit
                            .map_or(Json::Null, Json::String),
                    )
                    .attr("mounts", wants.mounts)
                    .depends_on(t.address());
                // Volumes are attached, and the host key is the server's own, before anything
                // is installed on a server.
                if let Target::Server(name) = &t {
                    d = d.depends_on(block_address("host_key", name));
                    for v in ctx
                        .stack
                        .volumes
                        .iter()
                        .filter(|v| v.server.as_ref().is_some_and(|s| s.value == *name))
                    {
                        d = d.depends_on(block_address("volume", &v.name));
                    }
                }
                d
            })
            .collect()
    }

    fn read(&self) -> Read<'_> {
        Read::Node(self)
    }

    fn operate(&self) -> &dyn Operate {
        &OnNode(BootstrapKind)
    }
}

#[async_trait::async_trait]
impl NodeRead for BootstrapKind {
    /// Docker or Compose missing or not answering: the node's bootstrap is missing.
    async fn observe(
        &self,
        cx: &ApplyContext,
        _t: &dyn Transport,
        report: &ProbeReport,
        address: &str,
        _r: &ResourceState,
    ) -> Result<Option<Observed>, ApplyError> {
        if docker_ok(report) {
            return Ok(None);
        }
        let why = if !report.docker.installed {
            "docker is not installed".to_string()
        } else if report.docker.server_version.is_none() {
            format!(
                "the docker daemon does not answer ({})",
                report.docker.error.as_deref().unwrap_or("no detail")
            )
        } else {
            "the compose plugin is missing".to_string()
        };
        cx.events.progress(address, why);
        Ok(Some(Observed::Missing))
    }
}
