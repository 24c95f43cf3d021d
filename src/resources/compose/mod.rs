//! `compose.<name>`: a Compose project on a node. Which services change is decided by hashes
//! of each service's inputs (its compose section, mounted files, env file), never by asking
//! compose; an update recreates exactly those services.

mod apply;

use crate::config::instance::block_address;
use crate::plan::{Drift, DriftKind};
use crate::providers::node::ProbeReport;
use crate::providers::ssh::Transport;
use crate::resources::DriftStory;
use crate::resources::Observed;
use crate::resources::node::{NodeRead, OnNode};
use crate::resources::node::{ProbeItem, attr, docker_ok, prior_str};
use crate::resources::{ApplyContext, ApplyError, Facts, InPlace, Operate, Read};
use crate::resources::{Desired, DesiredContext, ResourceKind, node_address};
use crate::state::ResourceState;

use serde_json::{Map, Value as Json, json};
use std::collections::BTreeSet;

#[derive(Clone, Copy)]
pub struct ComposeKind;

impl ResourceKind for ComposeKind {
    // `bundle`: the release directory apply kept the deployed files under, named by the
    // services' hashes: derived from `services`, so never a change of its own.
    fn facts(&self) -> &'static Facts {
        &Facts {
            name: "compose",
            in_place: InPlace::AllBut(&["node", "project", "directory"]),
            computed: &["bundle"],
        }
    }
    fn drift_story(&self, d: &Drift) -> Option<DriftStory> {
        match d.kind {
            DriftKind::Changed => Some(DriftStory {
                summary: compose_summary(d),
                diff: None,
                remedy: "read their logs first (`docker compose logs`); `sovstack apply` runs `docker compose up`, which starts stopped containers again (an unhealthy one stays as it is until its cause is fixed)".to_string(),
            }),
            DriftKind::Deleted => Some(DriftStory {
                summary: "compose project missing: no containers on the host".to_string(),
                diff: None,
                remedy: "`sovstack apply` starts the project again".to_string(),
            }),
            _ => None,
        }
    }

    fn desired(&self, ctx: &DesiredContext<'_>) -> Vec<Desired> {
        ctx.stack
            .composes
            .iter()
            .map(|c| {
                let node = node_address(&c.on.value);
                let mut d = Desired::new("compose", &c.name)
                    .attr("node", node.clone())
                    .attr("project", c.project.clone())
                    .attr("directory", c.directory.value.clone())
                    .attr("destroy_volumes", c.destroy_volumes)
                    .depends_on(block_address("bootstrap", c.on.value.name()));
                let mut services = Map::new();
                for s in &c.services {
                    let hash = ctx
                        .service_hashes
                        .get(&(c.name.clone(), s.name.clone()))
                        .cloned()
                        .unwrap_or_default();
                    services.insert(s.name.clone(), Json::String(hash));
                }
                d = d.attr("services", Json::Object(services));
                for f in ctx.files.iter().filter(|f| f.compose == c.name) {
                    // The file resource's address (`module.m.file.c["..."]` in a module).
                    d = d.depends_on(block_address(
                        "file",
                        &format!("{}[{}]", c.name, Json::String(f.relative_path.clone())),
                    ));
                }
                // Firewalls protecting the server are in place before anything listens on it.
                if let crate::config::Target::Server(server) = &c.on.value {
                    for fw in ctx
                        .stack
                        .firewalls
                        .iter()
                        .filter(|f| f.apply_to.iter().any(|s| s.value == *server))
                    {
                        d = d.depends_on(block_address("firewall", &fw.name));
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
        &OnNode(ComposeKind)
    }
}

/// A project without containers is missing; services not running or not healthy read as
/// `(not running: exited (1))`, so the plan shows the project changed and apply recreates
/// exactly those services. A job (a service others wait for with
/// `service_completed_successfully`) that exited with status 0 has done its work.
#[async_trait::async_trait]
impl NodeRead for ComposeKind {
    fn probe_item(&self, r: &ResourceState) -> Option<ProbeItem> {
        prior_str(r, "project").map(ProbeItem::Project)
    }

    async fn observe(
        &self,
        cx: &ApplyContext,
        _t: &dyn Transport,
        report: &ProbeReport,
        address: &str,
        r: &ResourceState,
    ) -> Result<Option<Observed>, ApplyError> {
        let name = &crate::config::instance::block_name_of(address);
        let jobs = cx.stack.compose(name).map(|c| c.jobs()).unwrap_or_default();
        Ok(observe_compose(report, docker_ok(report), r, &jobs))
    }
}

/// `jobs`: services whose container is done once it exited with status 0 (see
/// [`crate::config::Compose::jobs`]).
fn observe_compose(
    report: &ProbeReport,
    docker_ok: bool,
    r: &ResourceState,
    jobs: &BTreeSet<&str>,
) -> Option<Observed> {
    let project = attr(r, "project")?;
    let recorded = r.attributes.get("services").and_then(Json::as_object)?;
    let mut services = recorded.clone();
    let mut drift = false;
    match report.projects.get(project) {
        _ if !docker_ok => {
            for v in services.values_mut() {
                *v = json!("(not running: docker unavailable)");
            }
            drift = true;
        }
        Some(p) if p.error.is_none() && p.containers.is_empty() => return Some(Observed::Missing),
        Some(p) if p.error.is_none() => {
            for (svc, v) in services.iter_mut() {
                let state = match p.containers.iter().find(|c| &c.service == svc) {
                    Some(c) if c.is_up() => continue,
                    Some(c) if jobs.contains(svc.as_str()) && c.completed() => continue,
                    Some(c) => c.describe(),
                    None => "no container".to_string(),
                };
                *v = json!(format!("(not running: {state})"));
                drift = true;
            }
        }
        _ => return None,
    }
    if !drift {
        return None;
    }
    let mut observed = r.clone();
    observed
        .attributes
        .insert("services".into(), Json::Object(services));
    Some(Observed::Present(observed))
}

/// Which services are not running, from the `(not running: ...)` markers refresh puts in the
/// compose resource's `services` map.
fn compose_summary(d: &Drift) -> String {
    let mut down = Vec::new();
    for c in d.changes.iter().filter(|c| c.name == "services") {
        let Some(Json::Object(after)) = &c.after else {
            continue;
        };
        for (svc, v) in after {
            if let Some(why) = v
                .as_str()
                .and_then(|s| s.strip_prefix("(not running: "))
                .and_then(|s| s.strip_suffix(')'))
            {
                down.push(format!("{svc} ({why})"));
            }
        }
    }
    if down.is_empty() {
        "compose project changed on the host".to_string()
    } else {
        format!(
            "containers stopped, restarting or unhealthy: {}",
            down.join(", ")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::node::{DockerInfo, OsInfo, ProjectProbe};

    /// `docker compose ps -a --format json` as Compose 2.40.3 printed it: `api` running but
    /// unhealthy, the job `migrate` exited 0, `web` stopped (exit 0).
    const PS_A: &str = include_str!("../../../tests/data/docker/compose-ps-a.json");

    fn report() -> ProbeReport {
        let containers = PS_A
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        ProbeReport {
            os: OsInfo {
                id: "debian".into(),
                version_id: "12".into(),
                pretty_name: "Debian GNU/Linux 12 (bookworm)".into(),
            },
            docker: DockerInfo {
                installed: true,
                server_version: Some("20.10.24+dfsg1".into()),
                error: None,
            },
            compose_version: Some("2.40.3".into()),
            projects: [(
                "capture".to_string(),
                ProjectProbe {
                    containers,
                    error: None,
                },
            )]
            .into(),
            files: Vec::new(),
            gpus: None,
        }
    }

    #[test]
    fn a_finished_job_is_not_drift_a_stopped_service_is() {
        let recorded = ResourceState {
            kind: "compose".into(),
            attributes: [
                ("project".to_string(), json!("capture")),
                (
                    "services".to_string(),
                    json!({"api": "sha256:a", "migrate": "sha256:m", "web": "sha256:w"}),
                ),
            ]
            .into(),
            dependencies: Vec::new(),
            id: None,
            sensitive_attributes: Default::default(),
            status: crate::state::ResourceStatus::Ready,
        };
        let jobs = BTreeSet::from(["migrate"]);
        let Some(Observed::Present(seen)) = observe_compose(&report(), true, &recorded, &jobs)
        else {
            panic!("drift expected")
        };
        assert_eq!(
            seen.attributes["services"],
            json!({
                "api": "(not running: running (unhealthy))",
                "migrate": "sha256:m",
                "web": "(not running: exited (0))",
            })
        );
    }
}
