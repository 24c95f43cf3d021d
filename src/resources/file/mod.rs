//! `file.<compose>["<path>"]`: one rendered artifact on a node (compose.yaml, a collector
//! config, a mounted file, a service's env file). Diffed by content hash; plain files keep
//! their text in state so a later plan can show a unified diff, secret files only a keyed hash.

mod apply;

use crate::config::instance::block_address;
use crate::plan::{Drift, DriftKind};
use crate::providers::node::ProbeReport;
use crate::providers::ssh::Transport;
use crate::resources::DriftStory;
use crate::resources::Observed;
use crate::resources::node::{NodeRead, OnNode};
use crate::resources::node::{ProbeItem, attr, prior_str};
use crate::resources::{ApplyContext, ApplyError, Facts, InPlace, Operate, Read};
use crate::resources::{Desired, DesiredContext, ResourceKind};
use crate::state::ResourceState;

use crate::config::value;
use serde_json::{Value as Json, json};
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

#[derive(Clone, Copy)]
pub struct FileKind;

impl ResourceKind for FileKind {
    fn facts(&self) -> &'static Facts {
        &Facts {
            name: "file",
            in_place: InPlace::AllBut(&["node", "path"]),
            computed: &[],
        }
    }
    fn named_after(&self) -> &'static [&'static str] {
        &["compose"]
    }
    fn keyed(&self) -> bool {
        true
    }
    fn drift_story(&self, d: &Drift) -> Option<DriftStory> {
        match d.kind {
            DriftKind::Changed => {
                let secret = d.changes.iter().any(|c| c.sensitive);
                let summary = if secret {
                    "secret file edited on the host (compared by keyed hash; its content is never shown)".to_string()
                } else if d.message.is_some() {
                    "edited on the host".to_string()
                } else {
                    let names: Vec<&str> = d.changes.iter().map(|c| c.name.as_str()).collect();
                    format!("changed on the host: {}", names.join(", "))
                };
                Some(DriftStory {
                    summary,
                    diff: if secret { None } else { d.message.clone() },
                    remedy: crate::drift::UNDO_OR_ACCEPT.to_string(),
                })
            }
            DriftKind::Deleted => Some(DriftStory {
                summary: "removed from the host".to_string(),
                diff: None,
                remedy:
                    "`sovstack apply` uploads it again; `sovstack apply --refresh-only` forgets it"
                        .to_string(),
            }),
            _ => None,
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
                    .depends_on(block_address("bootstrap", node_name));
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

    fn read(&self) -> Read<'_> {
        Read::Node(self)
    }

    fn operate(&self) -> &dyn Operate {
        &OnNode(FileKind)
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

fn normal_mode(m: &str) -> Option<u32> {
    u32::from_str_radix(m.trim_start_matches("0o"), 8).ok()
}

/// A managed file missing, or whose sha256 differs (its content is read only then, for a diff;
/// a secret file's never leaves sovstack except as a keyed hash), or whose mode differs.
#[async_trait::async_trait]
impl NodeRead for FileKind {
    fn probe_item(&self, r: &ResourceState) -> Option<ProbeItem> {
        prior_str(r, "path").map(ProbeItem::File)
    }

    async fn observe(
        &self,
        cx: &ApplyContext,
        t: &dyn Transport,
        report: &ProbeReport,
        address: &str,
        r: &ResourceState,
    ) -> Result<Option<Observed>, ApplyError> {
        let Some(path) = attr(r, "path") else {
            return Ok(None);
        };
        let Some(found) = report.files.iter().find(|f| f.path == path) else {
            return Ok(None);
        };
        let Some(actual_sha) = &found.sha256 else {
            return Ok(Some(Observed::Missing));
        };
        let secret = r.sensitive_attributes.contains_key("content");
        let same_content = if secret {
            r.sensitive_attributes
                .get("sha256")
                .is_some_and(|h| cx.hasher.matches(actual_sha.as_bytes(), h))
        } else {
            attr(r, "sha256") == Some(actual_sha.as_str())
        };
        let recorded_mode = attr(r, "mode").and_then(normal_mode);
        let actual_mode = found.mode.as_deref().and_then(normal_mode);
        let same_mode =
            recorded_mode.is_none() || actual_mode.is_none() || recorded_mode == actual_mode;
        if same_content && same_mode {
            return Ok(None);
        }
        let mut observed = r.clone();
        if let Some(m) = actual_mode {
            observed
                .attributes
                .insert("mode".into(), json!(format!("{m:04o}")));
        }
        if !same_content {
            // Read only what differs, for the plan's diff.
            let content = t.read_file(path).await.map_err(ApplyError::Ssh)?;
            let Some(content) = content else {
                return Ok(Some(Observed::Missing));
            };
            let sha = hex::encode(Sha256::digest(&content));
            if secret {
                observed
                    .sensitive_attributes
                    .insert("content".into(), cx.hasher.hash(&content));
                observed
                    .sensitive_attributes
                    .insert("sha256".into(), cx.hasher.hash(sha.as_bytes()));
            } else {
                observed.attributes.insert("sha256".into(), json!(sha));
                observed
                    .attributes
                    .insert("content".into(), json!(String::from_utf8_lossy(&content)));
            }
            cx.events
                .progress(address, format!("{path} changed outside sovstack"));
        } else {
            cx.events.progress(
                address,
                format!("{path} has mode {:04o}", actual_mode.unwrap_or(0)),
            );
        }
        Ok(Some(Observed::Present(observed)))
    }
}
