//! `file.<compose>["<path>"]`: one rendered artifact on a node (compose.yaml, a collector
//! config, a mounted file, a service's env file). Diffed by content hash; plain files keep
//! their text in state so a later plan can show a unified diff, secret files only a keyed hash.

use super::{ChangeMode, Desired, DesiredContext, ResourceKind};
use crate::config::value;
use serde_json::Value as Json;
use sha2::{Digest, Sha256};

/// A rendered file as the planner needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeFile {
    /// `server.x` or `host.y`.
    pub node: String,
    /// The `compose` block it belongs to.
    pub compose: String,
    /// Absolute path on the node.
    pub remote_path: String,
    /// Path under the project directory; part of the address.
    pub relative_path: String,
    pub mode: u32,
    pub owner: Option<String>,
    pub content: FileContent,
    /// References (`server.x.ipv4_address`) the content still waits for; its hash is then
    /// known only after apply.
    pub unknowns: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum FileContent {
    Plain(String),
    /// Secret content: the plaintext when every secret it holds was provided.
    Secret(Option<String>),
}

pub struct FileKind;

impl ResourceKind for FileKind {
    fn kind(&self) -> &'static str {
        "file"
    }

    fn change_mode(&self, attribute: &str) -> ChangeMode {
        match attribute {
            "node" | "path" => ChangeMode::Replace,
            _ => ChangeMode::Update,
        }
    }

    fn desired(&self, ctx: &DesiredContext<'_>) -> Vec<Desired> {
        ctx.files
            .iter()
            .map(|f| {
                let name = format!("{}[{}]", f.compose, Json::String(f.relative_path.clone()));
                let node_name = f.node.split_once('.').map_or(f.node.as_str(), |(_, n)| n);
                let mut d = Desired::new("file", &name)
                    .attr("node", f.node.clone())
                    .attr("path", f.remote_path.clone())
                    .attr("mode", format!("{:04o}", f.mode))
                    .attr("owner", f.owner.clone().map_or(Json::Null, Json::String))
                    .depends_on(format!("bootstrap.{node_name}"));
                match &f.content {
                    FileContent::Plain(text) if !f.unknowns.is_empty() => {
                        // The text shows placeholders; the real hash exists only after apply.
                        let waits_for = f
                            .unknowns
                            .iter()
                            .map(|r| value::after_apply(r))
                            .collect::<String>();
                        d = d.attr("sha256", waits_for).attr("content", text.clone());
                    }
                    FileContent::Plain(text) => {
                        d = d
                            .attr("sha256", hex::encode(Sha256::digest(text.as_bytes())))
                            .attr("content", text.clone());
                        d.diffable = Some(text.clone());
                    }
                    FileContent::Secret(v) => {
                        d.sensitive.insert("content".into(), v.clone());
                    }
                }
                d
            })
            .collect()
    }
}

/// What the node kinds need from a render: every file that lands on a node (cloud-init goes
/// to the API instead) and each service's inputs hash, by (compose block, service).
pub fn node_inputs(
    stack: &crate::config::Stack,
    artifacts: &[crate::render::Artifact],
) -> (
    Vec<NodeFile>,
    std::collections::BTreeMap<(String, String), String>,
) {
    let files = artifacts
        .iter()
        .filter(|a| a.kind != crate::render::ArtifactKind::CloudInit)
        .filter_map(|a| {
            let compose_name = a.compose.clone()?;
            let compose = stack.compose(&compose_name)?;
            let dir = compose.directory.value.trim_end_matches('/');
            let relative = a
                .remote_path
                .strip_prefix(dir)
                .map(|r| r.trim_start_matches('/').to_string())
                .unwrap_or_else(|| a.remote_path.clone());
            let text = String::from_utf8_lossy(&a.content).into_owned();
            let content = if a.sensitive {
                FileContent::Secret((!a.redacted).then_some(text))
            } else {
                FileContent::Plain(text)
            };
            Some(NodeFile {
                node: a.node.clone(),
                compose: compose_name,
                remote_path: a.remote_path.clone(),
                relative_path: relative,
                mode: a.mode,
                owner: a.owner.clone(),
                content,
                unknowns: a.unknowns.clone(),
            })
        })
        .collect();
    let hashes = crate::render::service_hashes(artifacts)
        .into_iter()
        .map(|((_node, compose, service), h)| ((compose, service), h))
        .collect();
    (files, hashes)
}
