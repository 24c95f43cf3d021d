//! What a node's bootstrap must install and mount, from the stack: the versions (the node's
//! `bootstrap` block, else sovstack's pins) and the volumes attached to it with a `mount_path`.

use crate::config::{BootstrapPins, Stack, Target};
use crate::providers::node::{
    BootstrapRequest, COMPOSE_PLUGIN, COMPOSE_PLUGIN_MIN, Pin, VolumeMount,
};
use crate::validate::knowledge::runtime::{
    DOCKER_ENGINE_PIN, NVIDIA_CONTAINER_TOOLKIT_PIN, Runtime, minimum_safe,
};
use serde_json::{Value as Json, json};
use std::collections::BTreeMap;

pub(super) struct Wants {
    pub docker: String,
    /// The stack's own minimum for an installed engine, when it lowers sovstack's.
    pub docker_minimum: Option<String>,
    /// Only where a service on the node wants GPUs.
    pub nvidia_container_toolkit: Option<String>,
    /// `[{volume, device, path, format, size}]`: the size is there so a resize runs the script.
    pub mounts: Json,
}

impl Wants {
    pub fn of(stack: &Stack, node: &Target) -> Self {
        let pins = match node {
            Target::Server(n) => stack.server(n).map(|s| &s.bootstrap),
            Target::Host(n) => stack.host(n).map(|h| &h.bootstrap),
        };
        let default = BootstrapPins::default();
        let pins = pins.unwrap_or(&default);
        let gpus = stack
            .composes
            .iter()
            .filter(|c| c.on.value == *node)
            .flat_map(|c| &c.services)
            .any(|s| s.gpus.is_some());
        let pick = |p: &Option<crate::config::Spanned<String>>, default: &str| {
            p.as_ref()
                .map_or_else(|| default.to_string(), |v| v.value.clone())
        };
        let mounts = match node {
            Target::Server(name) => stack
                .volumes
                .iter()
                .filter(|v| v.server.as_ref().is_some_and(|s| s.value == *name))
                .filter_map(|v| {
                    let path = v.mount_path.as_ref()?;
                    Some(json!({
                        "volume": v.name,
                        "device": v.linux_device,
                        "path": path.value,
                        "format": v.format.clone().unwrap_or_default(),
                        "size": v.size_gb.value,
                    }))
                })
                .collect(),
            Target::Host(_) => Vec::new(),
        };
        Self {
            docker: pick(&pins.docker_version, DOCKER_ENGINE_PIN),
            docker_minimum: pins.docker_minimum.as_ref().map(|m| m.value.clone()),
            nvidia_container_toolkit: gpus.then(|| {
                pick(
                    &pins.nvidia_container_toolkit_version,
                    NVIDIA_CONTAINER_TOOLKIT_PIN,
                )
            }),
            mounts: Json::Array(mounts),
        }
    }
}

/// The script's request from a desired bootstrap's attributes.
pub(super) fn request(attributes: &BTreeMap<String, Json>) -> Option<BootstrapRequest> {
    let text = |v: &Json, k: &str| v.get(k).and_then(Json::as_str).map(str::to_string);
    let docker = attributes.get("docker")?.as_str()?.to_string();
    let ctk = attributes
        .get("nvidia_container_toolkit")
        .and_then(Json::as_str)
        .map(|v| Pin {
            install: v.to_string(),
            minimum: minimum_safe(Runtime::NvidiaContainerToolkit).plain(),
        });
    let mut mounts = Vec::new();
    for m in attributes
        .get("mounts")
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
    {
        mounts.push(VolumeMount {
            device: text(m, "device")?,
            path: text(m, "path")?,
            fstype: text(m, "format")?,
        });
    }
    Some(BootstrapRequest {
        docker: Pin {
            install: docker,
            minimum: attributes
                .get("docker_minimum")
                .and_then(Json::as_str)
                .map_or_else(
                    || minimum_safe(Runtime::DockerEngine).plain(),
                    str::to_owned,
                ),
        },
        compose: Pin {
            install: COMPOSE_PLUGIN.to_string(),
            minimum: COMPOSE_PLUGIN_MIN.to_string(),
        },
        nvidia_container_toolkit: ctk,
        mounts,
    })
}
