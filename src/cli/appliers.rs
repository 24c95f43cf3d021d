//! Which appliers a run uses: Hetzner Cloud for cloud kinds, SSH for node kinds.

use super::exit;
use crate::apply::Applier;
use crate::apply::cloud::{CLOUD_KINDS, CloudApplier};
use crate::apply::node::NodeApplier;
use crate::providers::hcloud::HcloudClient;
use crate::providers::ssh::{SshOptions, SshPool};
use std::sync::Arc;

pub fn is_cloud_kind(kind: &str) -> bool {
    CLOUD_KINDS.contains(&kind)
}

/// The appliers for a run. The Hetzner client is only built when cloud resources are
/// involved, so a stack of existing hosts needs no API token.
pub fn build(needs_cloud: bool) -> Result<Vec<Arc<dyn Applier>>, i32> {
    let mut appliers: Vec<Arc<dyn Applier>> = vec![Arc::new(NodeApplier::new(Arc::new(
        SshPool::new(SshOptions::default()),
    )))];
    if needs_cloud {
        match HcloudClient::from_env() {
            Ok(client) => appliers.push(Arc::new(CloudApplier::new(client))),
            Err(e) => {
                eprintln!("{:?}", miette::Report::new(e));
                eprintln!(
                    "  help: set HCLOUD_TOKEN (and HCLOUD_ENDPOINT to rehearse against `sovstack sandbox`)"
                );
                return Err(exit::ERROR);
            }
        }
    }
    Ok(appliers)
}
