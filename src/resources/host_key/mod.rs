//! `host_key.<server>`: the SSH host key of a server sovstack runs projects on, rotated after
//! the first verified login to one generated on the server itself.
//!
//! sovstack generates a server's first host key and sends it in the cloud-init user data, so the
//! very first connection is verified. The metadata service keeps serving that user data, private
//! key included, to any process on the server (containers too) for the server's life. So the
//! first thing done on the server is to replace the key by one that never left it, pin the new
//! fingerprint here, and remove the copies cloud-init left on disk (`rotate`). The server's own
//! `host_key_fingerprint` stays the cloud-init key's: it is what a new server presents first.

mod rotate;

pub use rotate::{CloudInitLayout, ROTATE_SCRIPT, Rotation, STEPS, Staged};

use crate::config::Target;
use crate::config::instance::block_address;
use crate::providers::ssh::{HostKeyFingerprint, HostKeyPolicy};
use crate::resources::node::reach::fingerprint;
use crate::resources::node::{NodeOps, NodeProvider, NodeRead, OnNode, attr_str};
use crate::resources::{
    ApplyContext, ApplyError, Desired, DesiredContext, Facts, InPlace, Op, Operate, Read,
    ResourceKind,
};
use crate::state::{ResourceState, ResourceStatus};
use serde_json::{Value as Json, json};
use std::collections::BTreeMap;

const RECORDED_KIND: &str = "host_key";

#[derive(Clone, Copy)]
pub struct HostKeyKind;

impl ResourceKind for HostKeyKind {
    fn named_after(&self) -> &'static [&'static str] {
        &["server"]
    }
    fn facts(&self) -> &'static Facts {
        &Facts {
            name: RECORDED_KIND,
            in_place: InPlace::AllBut(&[]),
            computed: &[
                "server_id",
                "cloud_init",
                "fingerprint",
                "next",
                "rotated",
                "cloud_init_scrubbed",
            ],
        }
    }

    /// One per server that runs compose projects: sovstack logs in to those, and only those.
    fn desired(&self, ctx: &DesiredContext<'_>) -> Vec<Desired> {
        let mut servers: Vec<&str> = ctx
            .stack
            .composes
            .iter()
            .filter_map(|c| match &c.on.value {
                Target::Server(n) => Some(n.as_str()),
                Target::Host(_) => None,
            })
            .collect();
        servers.sort_unstable();
        servers.dedup();
        servers
            .into_iter()
            .map(|n| {
                Desired::new(RECORDED_KIND, n)
                    .attr("node", block_address("server", n))
                    .depends_on(block_address("server", n))
            })
            .collect()
    }

    fn read(&self) -> Read<'_> {
        Read::Node(self)
    }

    fn operate(&self) -> &dyn Operate {
        &OnNode(HostKeyKind)
    }
}

/// Every connection already checks the key against state; there is nothing more to read.
impl NodeRead for HostKeyKind {}

#[async_trait::async_trait]
impl NodeOps for HostKeyKind {
    async fn converge(
        &self,
        nodes: &NodeProvider,
        op: Op<'_>,
    ) -> Result<ResourceState, ApplyError> {
        let node = attr_str(op.desired, "node")?;
        Rotation {
            cx: op.cx,
            nodes,
            address: &op.desired.address,
            node: &node,
            layout: CloudInitLayout::default(),
        }
        .run()
        .await
    }
}

/// Where a server's host key stands: the cloud-init key it started with, the key state accepts
/// now and, mid-rotation, the one it accepts next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostKeyState {
    /// The Cloud API's id of the server this applies to: a replaced server starts again.
    pub server_id: String,
    pub cloud_init: HostKeyFingerprint,
    pub current: HostKeyFingerprint,
    pub next: Option<HostKeyFingerprint>,
    /// The key in force was generated on the server and recorded.
    pub rotated: bool,
    pub cloud_init_scrubbed: bool,
}

impl HostKeyState {
    /// For `node` (`server.<name>`) as state records it now; `None` before the server has a
    /// recorded host key.
    pub fn of(cx: &ApplyContext, node: &str) -> Result<Option<Self>, ApplyError> {
        let Some(server) = cx.resource(node) else {
            return Ok(None);
        };
        let Some(cloud) = server
            .attributes
            .get("host_key_fingerprint")
            .and_then(Json::as_str)
        else {
            return Ok(None);
        };
        let cloud_init = fingerprint(node, cloud)?;
        let server_id = server.id.clone().unwrap_or_default();
        let name = &crate::config::instance::block_name_of(node);
        let recorded = cx
            .resource(&block_address(RECORDED_KIND, name))
            .filter(|r| attr(&r.attributes, "server_id") == Some(server_id.as_str()));
        let Some(r) = recorded else {
            return Ok(Some(Self {
                server_id,
                cloud_init,
                current: cloud_init,
                next: None,
                rotated: false,
                cloud_init_scrubbed: false,
            }));
        };
        let fp = |key: &str| {
            attr(&r.attributes, key)
                .map(|v| fingerprint(node, v))
                .transpose()
        };
        let flag = |key: &str| r.attributes.get(key).and_then(Json::as_bool) == Some(true);
        Ok(Some(Self {
            current: fp("fingerprint")?.unwrap_or(cloud_init),
            next: fp("next")?,
            rotated: flag("rotated"),
            cloud_init_scrubbed: flag("cloud_init_scrubbed"),
            server_id,
            cloud_init,
        }))
    }

    /// The keys a connection may find: the current one, or either of the two mid-rotation.
    pub fn policy(&self) -> HostKeyPolicy {
        match self.next {
            Some(next) if next != self.current => HostKeyPolicy::Rotating {
                current: self.current,
                next,
            },
            _ => HostKeyPolicy::Pinned(self.current),
        }
    }

    fn scrubbed(&self) -> Self {
        Self {
            cloud_init_scrubbed: true,
            ..self.clone()
        }
    }

    fn to_state(&self, node: &str) -> ResourceState {
        let mut attributes = BTreeMap::from([
            ("node".to_string(), json!(node)),
            ("server_id".to_string(), json!(self.server_id)),
            ("cloud_init".to_string(), json!(self.cloud_init.to_string())),
            ("fingerprint".to_string(), json!(self.current.to_string())),
            ("rotated".to_string(), json!(self.rotated)),
            (
                "cloud_init_scrubbed".to_string(),
                json!(self.cloud_init_scrubbed),
            ),
        ]);
        if let Some(n) = self.next {
            attributes.insert("next".to_string(), json!(n.to_string()));
        }
        ResourceState {
            kind: RECORDED_KIND.to_string(),
            id: None,
            attributes,
            sensitive_attributes: BTreeMap::new(),
            dependencies: vec![node.to_string()],
            status: ResourceStatus::Ready,
        }
    }
}

fn attr<'a>(attributes: &'a BTreeMap<String, Json>, key: &str) -> Option<&'a str> {
    attributes.get(key).and_then(Json::as_str)
}
