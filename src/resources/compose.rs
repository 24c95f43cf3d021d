//! `compose.<name>`: a Compose project on a node. Which services change is decided by hashes
//! of each service's inputs (its compose section, mounted files, env file), never by asking
//! compose; an update recreates exactly those services.

use super::{ChangeMode, Desired, DesiredContext, ResourceKind, node_address};
use serde_json::{Map, Value as Json};

pub struct ComposeKind;

impl ResourceKind for ComposeKind {
    fn kind(&self) -> &'static str {
        "compose"
    }

    fn change_mode(&self, attribute: &str) -> ChangeMode {
        match attribute {
            "node" | "project" | "directory" => ChangeMode::Replace,
            _ => ChangeMode::Update,
        }
    }

    /// The release directory apply kept the deployed files under, named by the services'
    /// hashes: derived from `services`, so never a change of its own.
    fn computed(&self) -> &'static [&'static str] {
        &["bundle"]
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
                    .depends_on(format!("bootstrap.{}", c.on.value.name()));
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
                    d = d.depends_on(format!(
                        "file.{}[{}]",
                        c.name,
                        Json::String(f.relative_path.clone())
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
                        d = d.depends_on(format!("firewall.{}", fw.name));
                    }
                }
                d
            })
            .collect()
    }
}
