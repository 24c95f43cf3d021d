//! `host`: an existing machine. "Creating" it means connecting once, verifying (or, when
//! asked, learning) its host key and pinning that in state. A new address is a new machine.

mod apply;

use crate::config::Host;
use crate::providers::ssh::{HostKeyPolicy, SshAuth, SshEndpoint, SshTarget};
use crate::resources::node::NodeHost;
use crate::resources::node::reach::{auth, fingerprint, precondition};
use crate::resources::node::{NodeRead, OnNode};
use crate::resources::{Address, Desired, DesiredContext, ResourceKind};
use crate::resources::{ApplyContext, ApplyError, Facts, InPlace, Operate, Read};
use crate::state::ResourceState;

use serde_json::Value as Json;

#[derive(Clone, Copy)]
pub struct HostKind;

impl ResourceKind for HostKind {
    fn facts(&self) -> &'static Facts {
        &Facts {
            name: "host",
            in_place: InPlace::AllBut(&["address"]),
            computed: &["host_key_fingerprint"],
        }
    }

    fn desired(&self, ctx: &DesiredContext<'_>) -> Vec<Desired> {
        ctx.stack
            .hosts
            .iter()
            .map(|h| {
                Desired::new("host", &h.name)
                    .attr("address", h.address.value.clone())
                    .attr("user", h.ssh.user.clone())
                    .attr("port", h.ssh.port)
                    .attr(
                        "host_key",
                        h.host_key
                            .as_ref()
                            .map_or(Json::Null, |k| Json::String(k.value.clone())),
                    )
            })
            .collect()
    }

    fn read(&self) -> Read<'_> {
        Read::Node(self)
    }

    fn as_node(&self) -> Option<&dyn NodeHost> {
        Some(self)
    }

    fn operate(&self) -> &dyn Operate {
        &OnNode(HostKind)
    }
}

impl NodeRead for HostKind {
    fn node_of(&self, _cx: &ApplyContext, address: &str, _r: &ResourceState) -> Option<String> {
        Some(address.to_string())
    }
}

impl NodeHost for HostKind {
    fn endpoint(&self, cx: &ApplyContext, address: &Address) -> Result<SshEndpoint, ApplyError> {
        let node = address.to_string();
        match cx.stack.host(address.name.as_str()) {
            Some(host) => from_stack(cx, &node, host),
            None => as_recorded(cx, &node),
        }
    }
}

/// A host of the stack: reached as its block says, with the key it pins or state recorded.
fn from_stack(cx: &ApplyContext, node: &str, host: &Host) -> Result<SshEndpoint, ApplyError> {
    let recorded = recorded_fingerprint(cx, node);
    let policy = match (&host.host_key, recorded) {
        (Some(pinned), _) => HostKeyPolicy::Pinned(fingerprint(node, &pinned.value)?),
        (None, Some(fp)) => HostKeyPolicy::Pinned(fingerprint(node, &fp)?),
        (None, None) if cx.options.trust_new_host_keys => HostKeyPolicy::LearnOnce,
        (None, None) => {
            return Err(precondition(
                node,
                "its host key is neither pinned in the stack nor recorded in state".into(),
                Some(
                    "set `host_key` (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub on the host, read out of band), or run once with --trust-new-host-keys to learn and pin it",
                ),
            ));
        }
    };
    Ok(SshEndpoint {
        target: SshTarget::new(
            host.address.value.clone(),
            host.ssh.port,
            host.ssh.user.clone(),
        ),
        auth: auth(&host.ssh),
        host_key: policy,
    })
}

/// A host removed from the stack (its block, or its key of a `for_each`) whose resources state
/// still holds: reached where state recorded it, with the host key recorded when it was first
/// verified, so what runs there can be read and removed. The stack no longer names a key file,
/// so the operator's ssh-agent authenticates.
fn as_recorded(cx: &ApplyContext, node: &str) -> Result<SshEndpoint, ApplyError> {
    let gone = |what: &str| {
        precondition(
            node,
            format!("it is no longer in the stack, and state records no {what} for it"),
            Some(
                "add the host back to the stack to remove what runs on it, or `sovstack state rm` what state holds of it",
            ),
        )
    };
    let text = |attr: &str| {
        cx.attribute(node, attr)
            .and_then(|v| v.as_str().map(str::to_string))
    };
    let address = text("address").ok_or_else(|| gone("address"))?;
    let user = text("user").ok_or_else(|| gone("SSH user"))?;
    let port = cx
        .attribute(node, "port")
        .and_then(|v| v.as_u64())
        .and_then(|p| u16::try_from(p).ok())
        .ok_or_else(|| gone("SSH port"))?;
    let pinned = recorded_fingerprint(cx, node)
        .or_else(|| text("host_key"))
        .ok_or_else(|| gone("host key"))?;
    Ok(SshEndpoint {
        target: SshTarget::new(address, port, user),
        auth: SshAuth::agent(),
        host_key: HostKeyPolicy::Pinned(fingerprint(node, &pinned)?),
    })
}

fn recorded_fingerprint(cx: &ApplyContext, node: &str) -> Option<String> {
    cx.attribute(node, "host_key_fingerprint")
        .and_then(|v| v.as_str().map(str::to_string))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::progress::EventSink;
    use crate::resources::{ApplyOptions, Checkpoint};
    use crate::state::{KeyedHasher, ResourceStatus};
    use serde_json::json;
    use std::collections::BTreeMap;
    use std::sync::{Arc, RwLock};

    const FP: &str = "SHA256:Jq3v8mN5bYx2cT7wQ1pR4sL9eK6hD0fG3aU8iO5yZ2A";
    const REMOVED: &str = r#"host.gpu["gex-c"]"#;

    /// A stack holding one key of the fleet, and state that also recorded `gex-c`.
    fn cx(recorded: &[(&str, Json)]) -> ApplyContext {
        let text = format!(
            "stack \"s\" {{}}\nhost \"gpu\" {{\n  for_each = toset([\"gex-a\"])\n  address  = \"192.0.2.1\"\n  host_key = \"{FP}\"\n}}\n"
        );
        let loaded = crate::config::load_str(
            "s.hcl",
            &text,
            std::path::Path::new("."),
            &crate::config::LoadOptions::default(),
        );
        let state = ResourceState {
            attributes: recorded
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
            dependencies: Vec::new(),
            id: Some("root@198.51.100.7:2222".into()),
            kind: "host".into(),
            sensitive_attributes: BTreeMap::new(),
            status: ResourceStatus::Ready,
        };
        ApplyContext {
            stack: Arc::new(loaded.stack.expect("a stack")),
            resources: Arc::new(RwLock::new(BTreeMap::from([(REMOVED.to_string(), state)]))),
            hasher: Arc::new(KeyedHasher::from_key([1; 32])),
            events: EventSink::new().0,
            checkpoint: Checkpoint::new().0,
            options: ApplyOptions::default(),
        }
    }

    fn endpoint_of(cx: &ApplyContext) -> Result<SshEndpoint, ApplyError> {
        HostKind.endpoint(cx, &Address::parse(REMOVED).expect("an address"))
    }

    #[test]
    fn a_host_removed_from_the_stack_is_reached_where_state_recorded_it() {
        let cx = cx(&[
            ("address", json!("198.51.100.7")),
            ("user", json!("deploy")),
            ("port", json!(2222)),
            ("host_key", json!(null)),
            ("host_key_fingerprint", json!(FP)),
        ]);
        let ep = endpoint_of(&cx).expect("an endpoint");
        assert_eq!(ep.target, SshTarget::new("198.51.100.7", 2222, "deploy"));
        assert_eq!(
            ep.host_key,
            HostKeyPolicy::Pinned(FP.parse().expect("a fingerprint"))
        );
        assert!(matches!(ep.auth, SshAuth::Agent { .. }));
    }

    #[test]
    fn a_removed_host_without_a_recorded_key_is_not_reached() {
        let cx = cx(&[
            ("address", json!("198.51.100.7")),
            ("user", json!("root")),
            ("port", json!(22)),
        ]);
        let Err(e) = endpoint_of(&cx) else {
            panic!("reached a host with no key to pin");
        };
        let text = format!("{e:?}");
        assert!(
            text.contains("no longer in the stack, and state records no host key"),
            "{text}"
        );
    }
}
