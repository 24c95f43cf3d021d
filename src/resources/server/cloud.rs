//! `server`: create with a generated host key, rename/relabel, change type (off, change, on),
//! delete. Volumes and firewalls attach themselves (`volume.server`, `firewall.apply_to`).

use crate::config::instance::block_address;
use serde_json::Value as Json;

use super::ServerKind;
use crate::providers::hcloud::models::Location;
use crate::providers::hcloud::models::{
    ChangeServerType, CreateServer, Image, Server, ServerStatus, UpdateResource,
};
use crate::providers::hcloud::{HcloudError, Labels, ServerId};
use crate::providers::ssh::generate_host_key;
use crate::resources::Desired;
use crate::resources::ResourceKind;
use crate::resources::cloud::CloudProvider;
use crate::resources::cloud::attrs::{
    Attrs, block_name, dependency_id, ready_state, updated_state,
};
use crate::resources::cloud::lookup::{Created, gone_ok};
use crate::resources::cloud::{CloudOp, CloudResource, CloudTarget, ServerNames};
use crate::resources::{ApplyContext, ApplyError, Recorded};
use crate::state::{ResourceState, ResourceStatus};

/// The id of a key a `data "ssh_key"` block found when the stack was read.
fn data_key_id(cx: &ApplyContext, address: &str, name: &str) -> Result<String, ApplyError> {
    cx.stack
        .data
        .iter()
        .find(|d| d.kind == "ssh_key" && d.name == name)
        .and_then(|d| d.found.get("id").cloned())
        .ok_or_else(|| {
            crate::resources::cloud::attrs::precondition(
                address,
                format!("data.ssh_key.{name} was not read, so its id is not known"),
            )
        })
}

fn status_json(status: ServerStatus) -> Json {
    serde_json::to_value(status).unwrap_or(Json::Null)
}

/// The address sovstack connects to: `<prefix>::1` of the server's /64, as Hetzner configures it.
pub(super) fn ipv6_address(server: &Server) -> Json {
    match server.ipv6_network() {
        Some(net) => {
            let prefix = net.split('/').next().unwrap_or(net);
            let addr = if prefix.ends_with("::") {
                format!("{prefix}1")
            } else {
                prefix.to_owned()
            };
            Json::String(addr)
        }
        None => Json::Null,
    }
}

/// The server's image as the stack names it: by ID when the stack does (as snapshots and backups
/// must be named, having no name), else by name, else by ID. `None` when the API shows no image
/// (one deleted since), so what state recorded stands.
fn image_reference(image: Option<&Image>, stack: Option<&str>) -> Option<String> {
    let image = image?;
    let id = image.id.to_string();
    if stack == Some(id.as_str()) {
        return Some(id);
    }
    Some(image.name.clone().unwrap_or(id))
}

fn computed(server: &Server, fingerprint: Option<String>) -> Vec<(&'static str, Json)> {
    vec![
        (
            "ipv4_address",
            server
                .ipv4_address()
                .map_or(Json::Null, |ip| Json::String(ip.to_owned())),
        ),
        ("ipv6_address", ipv6_address(server)),
        (
            "host_key_fingerprint",
            fingerprint.map_or(Json::Null, Json::String),
        ),
        ("status", status_json(server.status)),
    ]
}

/// Takes over a server that carries our labels: waits for what runs on it, brings name, labels
/// and type in line, starts it. Image and location are recorded as they are, so the next plan
/// replaces the server if they differ.
async fn adopt(
    app: &CloudProvider,
    cx: &ApplyContext,
    d: &Desired,
    a: &Attrs,
    server: Server,
    fingerprint: Option<String>,
) -> Result<ResourceState, ApplyError> {
    cx.events.progress(
        &d.address,
        format!("adopting server {} ({})", server.name, server.id),
    );
    let id = server.id;
    let mut server = settle(app, cx, &d.address, server).await?;
    let name = a.str("name")?;
    let labels = a.labels()?;
    rename_relabel(app, id, &server, Some(name), Some(&labels)).await?;
    let server_type = a.str("server_type")?;
    if server.server_type.name != server_type {
        change_type(app, cx, &d.address, id, server_type).await?;
        server = app.client.get_server(id).await?;
    }
    if server.status == ServerStatus::Off {
        cx.events.progress(&d.address, "powering on");
        let action = app.client.poweron_server(id).await?;
        app.wait(cx, &d.address, &[&action]).await?;
        server.status = ServerStatus::Running;
    }
    let mut state = ready_state(d, a, id.0, computed(&server, fingerprint));
    state.attributes.insert(
        "location".into(),
        Json::String(server.location.name.clone()),
    );
    if let Some(image) = image_reference(server.image.as_ref(), a.str("image").ok()) {
        state.attributes.insert("image".into(), Json::String(image));
    }
    Ok(state)
}

/// Waits (polling the server, with the client's action poll policy) until it is not in the
/// middle of a transition started by someone else (an interrupted run's create, a power action).
async fn settle(
    app: &CloudProvider,
    cx: &ApplyContext,
    address: &str,
    mut server: Server,
) -> Result<Server, ApplyError> {
    let policy = app.client.config().action_poll.clone();
    let started = std::time::Instant::now();
    let mut interval = policy.initial_interval;
    loop {
        match server.status {
            ServerStatus::Running | ServerStatus::Off | ServerStatus::Unknown => return Ok(server),
            ServerStatus::Deleting => {
                return Err(ApplyError::Precondition {
                    address: address.to_string(),
                    message: format!("server {} is being deleted", server.id),
                    help: Some("apply again once it is gone".into()),
                });
            }
            transitional => {
                if started.elapsed() >= policy.timeout {
                    return Err(crate::resources::cloud::attrs::precondition(
                        address,
                        format!(
                            "server {} stayed {:?} for {:?}",
                            server.id, transitional, policy.timeout
                        ),
                    ));
                }
                cx.events.progress(
                    address,
                    format!("waiting for server {} ({transitional:?})", server.id),
                );
                tokio::time::sleep(interval).await;
                interval = policy.next_interval(interval);
                server = app.client.get_server(server.id).await?;
            }
        }
    }
}

/// A server whose `create_server` action failed is broken, not half-made: adopting it would
/// start a machine that never finished its creation. It is deleted (so the next apply creates a
/// new one), and the failure is returned as it was.
async fn discard_failed_create(
    app: &CloudProvider,
    cx: &ApplyContext,
    address: &str,
    id: ServerId,
    failure: ApplyError,
) -> ApplyError {
    let create_failed = matches!(
        &failure,
        ApplyError::Hcloud(HcloudError::ActionFailed(f)) if f.command == "create_server"
    );
    if !create_failed {
        return failure;
    }
    cx.events.progress(
        address,
        format!(
            "create_server failed; deleting server {id} so that the next apply creates it anew"
        ),
    );
    // Best effort: if the delete fails too, the next apply finds the server by its labels.
    if let Ok(Some(action)) = gone_ok(app.client.delete_server(id).await)
        && let Err(e) = app.wait(cx, address, &[&action]).await
    {
        cx.events
            .progress(address, format!("deleting the failed server {id}: {e}"));
    }
    failure
}

/// A server found by its labels, once it has settled; `None` when its `create_server` action
/// failed. Such a server was never made whole (a run killed before `discard_failed_create` left
/// it behind): it is deleted here, so the caller creates a new one instead of starting it.
async fn unless_broken(
    app: &CloudProvider,
    cx: &ApplyContext,
    address: &str,
    server: Server,
) -> Result<Option<Server>, ApplyError> {
    let server = settle(app, cx, address, server).await?;
    let failed = app.client.failed_server_actions(server.id).await?;
    let Some(create) = failed.iter().find(|a| a.command == "create_server") else {
        return Ok(Some(server));
    };
    cx.events.progress(
        address,
        format!(
            "server {} carries this resource's labels, but its create_server action {} failed; \
             deleting it to create a new one",
            server.id, create.id
        ),
    );
    if let Some(action) = gone_ok(app.client.delete_server(server.id).await)? {
        app.wait(cx, address, &[&action]).await?;
    }
    Ok(None)
}

/// One PUT for whichever of name and labels differ from what the server has.
async fn rename_relabel(
    app: &CloudProvider,
    id: ServerId,
    server: &Server,
    name: Option<&str>,
    labels: Option<&Labels>,
) -> Result<(), ApplyError> {
    let body = UpdateResource {
        name: name.filter(|n| *n != server.name).map(str::to_owned),
        labels: labels.filter(|l| **l != server.labels).cloned(),
    };
    if body != UpdateResource::default() {
        app.client.update_server(id, &body).await?;
    }
    Ok(())
}

/// Power off (if needed), change the type keeping the disk (so a later downgrade stays
/// possible), power on again if it was running. The server is powered on again even when the
/// type change fails, so a failed resize never leaves it down.
async fn change_type(
    app: &CloudProvider,
    cx: &ApplyContext,
    address: &str,
    id: ServerId,
    server_type: &str,
) -> Result<(), ApplyError> {
    let server = app.client.get_server(id).await?;
    let server = settle(app, cx, address, server).await?;
    if server.server_type.name == server_type {
        return Ok(());
    }
    let was_off = server.status == ServerStatus::Off;
    if !was_off {
        cx.events.progress(
            address,
            format!("powering off server {id} to change its type"),
        );
        let action = app.client.poweroff_server(id).await?;
        app.wait(cx, address, &[&action]).await?;
    }
    cx.events.progress(
        address,
        format!(
            "changing server type {} -> {server_type} (disk kept)",
            server.server_type.name
        ),
    );
    let changed = async {
        let action = app
            .client
            .change_server_type(
                id,
                &ChangeServerType {
                    server_type: server_type.to_owned(),
                    upgrade_disk: false,
                },
            )
            .await?;
        app.wait(cx, address, &[&action]).await
    }
    .await;
    if !was_off {
        cx.events
            .progress(address, format!("powering on server {id}"));
        let action = app.client.poweron_server(id).await?;
        app.wait(cx, address, &[&action]).await?;
    }
    changed
}

#[async_trait::async_trait]
impl CloudResource for ServerKind {
    async fn create(&self, op: CloudOp<'_>) -> Recorded {
        let (app, cx, d, a) = (op.app, op.cx, op.desired, &op.a);
        let found = match op.find(&ServerKind).await? {
            Some(server) => unless_broken(app, cx, &d.address, server).await?,
            None => None,
        };
        if let Some(existing) = found {
            // A checkpoint from the run that created it says which host key to expect.
            let fingerprint = cx
                .attribute(&d.address, "host_key_fingerprint")
                .and_then(|v| v.as_str().map(str::to_owned));
            if fingerprint.is_none() {
                cx.events.progress(
                    &d.address,
                    "adopting a server whose host key sovstack did not record: it must be learned \
                     and pinned before connecting",
                );
            }
            return adopt(app, cx, d, a, existing, fingerprint).await;
        }

        let block = block_name(&d.address);
        let config = cx.stack.server(&block).ok_or_else(|| {
            crate::resources::cloud::attrs::precondition(
                &d.address,
                format!("the stack has no server \"{block}\""),
            )
        })?;
        let mut ssh_keys = Vec::new();
        for k in &config.ssh_keys {
            let id = dependency_id(cx, &d.address, &block_address("ssh_key", &k.value))?;
            ssh_keys.push(id.to_string());
        }
        for k in &config.data_ssh_keys {
            ssh_keys.push(data_key_id(cx, &d.address, &k.value)?);
        }
        let name = a.str("name")?.to_owned();
        let labels = a.labels()?;

        let key = generate_host_key()?;
        let fingerprint = key.fingerprint().to_string();
        let user_data = crate::resources::cloud::user_data::render(cx, config, &key)?;
        drop(key);

        // Durable before the request: if we die once the server exists, the next run adopts it
        // knowing which host key it must present.
        let mut pending = a.map.clone();
        pending.insert(
            "host_key_fingerprint".into(),
            Json::String(fingerprint.clone()),
        );
        cx.checkpoint
            .record(
                &d.address,
                ResourceState {
                    kind: "server".into(),
                    id: None,
                    attributes: pending,
                    sensitive_attributes: Default::default(),
                    dependencies: d.dependencies.iter().cloned().collect(),
                    status: ResourceStatus::Pending,
                },
            )
            .await?;

        let mut body = CreateServer::new(name.clone(), a.str("server_type")?, a.str("image")?);
        body.location = Some(a.str("location")?.to_owned());
        body.start_after_create = Some(true);
        body.ssh_keys = ssh_keys;
        body.user_data = Some(user_data);
        body.labels = labels;
        cx.events
            .progress(&d.address, format!("creating server {name}"));
        let created = op
            .create_or_find(&ServerKind, || app.client.create_server(&body))
            .await?;
        drop(body);
        match created {
            Created::New(resp) => {
                if let Err(e) = app.wait(cx, &d.address, &resp.actions()).await {
                    return Err(
                        discard_failed_create(app, cx, &d.address, resp.server.id, e).await,
                    );
                }
                let mut server = resp.server;
                // The create and start actions succeeded: the server runs.
                server.status = ServerStatus::Running;
                Ok(ready_state(
                    d,
                    a,
                    server.id.0,
                    computed(&server, Some(fingerprint)),
                ))
            }
            Created::Found(server) => match unless_broken(app, cx, &d.address, server).await? {
                Some(server) => adopt(app, cx, d, a, server, Some(fingerprint)).await,
                None => Err(crate::resources::cloud::attrs::precondition(
                    &d.address,
                    "the server the create request made failed its creation and was deleted"
                        .to_owned(),
                )),
            },
        }
    }

    async fn update(&self, op: CloudOp<'_>) -> Recorded {
        let (app, cx, d, a) = (op.app, op.cx, op.desired, &op.a);
        let prior = op.prior()?;
        let id = ServerId(op.prior_id()?);
        let mut state = updated_state(d, a, prior, ServerKind.computed());
        if op.has("server_type") {
            change_type(app, cx, &d.address, id, a.str("server_type")?).await?;
            let server = app.client.get_server(id).await?;
            state
                .attributes
                .insert("status".into(), status_json(server.status));
        }
        Ok(state)
    }

    type Item = Server;

    fn noun(&self) -> &'static str {
        "server"
    }
    fn location<'a>(&self, item: &'a Server) -> Option<&'a Location> {
        Some(&item.location)
    }
    fn names_servers(&self) -> bool {
        true
    }

    /// The actual attributes of a server, in the shape `create` records.
    fn observed(
        &self,
        server: &Server,
        recorded: &ResourceState,
        _: &ServerNames,
    ) -> ResourceState {
        let mut s = crate::resources::cloud::observed_base(server, recorded);
        let at = &mut s.attributes;
        at.insert(
            "server_type".into(),
            Json::String(server.server_type.name.clone()),
        );
        at.insert(
            "location".into(),
            Json::String(server.location.name.clone()),
        );
        let recorded_image = recorded.attributes.get("image").and_then(Json::as_str);
        if let Some(image) = image_reference(server.image.as_ref(), recorded_image) {
            at.insert("image".into(), Json::String(image));
        }
        for (k, v) in computed(server, None) {
            // The host key is not something the API knows; keep what state pinned.
            if k != "host_key_fingerprint" {
                at.insert(k.into(), v);
            }
        }
        s
    }

    fn unprotect_command(&self, id: u64) -> Option<String> {
        // The API wants delete and rebuild protection equal, so both go together.
        Some(format!(
            "hcloud server disable-protection {id} delete rebuild"
        ))
    }

    async fn delete_id(&self, target: CloudTarget<'_>) -> Result<(), ApplyError> {
        let (app, cx, address, id) = (target.app, target.cx, target.address, target.id);
        let id = ServerId(id);
        cx.events.progress(address, format!("deleting server {id}"));
        if let Some(action) = gone_ok(app.client.delete_server(id).await)? {
            match app.wait(cx, address, &[&action]).await {
                Ok(()) => {}
                // The server vanished while we waited: that is what we wanted.
                Err(ApplyError::Hcloud(e)) if e.is_not_found() => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(id: u64, name: Option<&str>, kind: &str) -> Image {
        serde_json::from_value(serde_json::json!({
            "id": id, "type": kind, "status": "available", "name": name, "description": "an image",
            "image_size": 2.3, "disk_size": 10, "created": "2016-01-30T23:50:00Z",
            "created_from": {"id": 1, "name": "source"}, "bound_to": null, "os_flavor": "ubuntu",
            "os_version": null, "protection": {"delete": false}, "deprecated": null, "deleted": null,
            "labels": {}, "architecture": "x86",
        }))
        .expect("an image as the API shows it")
    }

    #[test]
    fn images_are_recorded_as_the_stack_names_them() {
        let system = image(161547269, Some("ubuntu-24.04"), "system");
        let by = |stack| image_reference(Some(&system), stack);
        assert_eq!(by(Some("ubuntu-24.04")).as_deref(), Some("ubuntu-24.04"));
        assert_eq!(by(Some("161547269")).as_deref(), Some("161547269"));
        // A stack naming another image sees the actual name, so the plan shows the difference.
        assert_eq!(by(Some("debian-12")).as_deref(), Some("ubuntu-24.04"));
        assert_eq!(by(None).as_deref(), Some("ubuntu-24.04"));
        // Snapshots and backups have no name: only their ID can name them.
        let snapshot = image(4711, None, "snapshot");
        assert_eq!(
            image_reference(Some(&snapshot), Some("4711")).as_deref(),
            Some("4711")
        );
        assert_eq!(
            image_reference(Some(&snapshot), None).as_deref(),
            Some("4711")
        );
        assert_eq!(image_reference(None, Some("4711")), None);
    }
}
