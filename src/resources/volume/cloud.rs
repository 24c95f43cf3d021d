//! `volume`: create (next to its server, attached), grow, move between servers (detach, attach),
//! rename/relabel, delete (detaching first). Volumes never shrink.

use crate::config::instance::block_address;
use serde_json::Value as Json;

use super::VolumeKind;
use crate::providers::hcloud::HcloudError;
use crate::providers::hcloud::models::{
    AttachVolume, CreateVolume, UpdateResource, Volume, VolumeFormat,
};
use crate::providers::hcloud::{ServerId, VolumeId};
use crate::resources::ResourceKind;
use crate::resources::cloud::CloudProvider;
use crate::resources::cloud::attrs::{Attrs, dependency_id, ready_state, updated_state};
use crate::resources::cloud::converge::unless_done;
use crate::resources::cloud::lookup::{Created, gone_ok};
use crate::resources::cloud::{CloudOp, CloudResource, CloudTarget, ServerNames};
use crate::resources::{ApplyContext, ApplyError, Recorded};

use crate::state::ResourceState;

/// The server the volume should be attached to, by its recorded id.
fn desired_server(cx: &ApplyContext, a: &Attrs) -> Result<Option<ServerId>, ApplyError> {
    a.opt_str("server")
        .map(|name| dependency_id(cx, &a.address, &block_address("server", name)).map(ServerId))
        .transpose()
}

fn format_of(a: &Attrs) -> Result<Option<VolumeFormat>, ApplyError> {
    match a.opt_str("format") {
        None => Ok(None),
        Some("ext4") => Ok(Some(VolumeFormat::Ext4)),
        Some("xfs") => Ok(Some(VolumeFormat::Xfs)),
        Some(other) => Err(crate::resources::cloud::attrs::precondition(
            &a.address,
            format!("unknown filesystem `{other}` (ext4 or xfs)"),
        )),
    }
}

fn shrink_error(address: &str, from: u64, to: u64) -> ApplyError {
    ApplyError::Precondition {
        address: address.to_string(),
        message: format!("cannot shrink the volume from {from} GB to {to} GB: volumes only grow"),
        help: Some(
            "keep the size, or create a new volume and copy the data (a replacement loses it)"
                .into(),
        ),
    }
}

/// Brings an existing volume in line: name, labels, size (grow only), attachment.
async fn adopt(
    app: &CloudProvider,
    cx: &ApplyContext,
    a: &Attrs,
    volume: Volume,
    server: Option<ServerId>,
) -> Result<Volume, ApplyError> {
    cx.events.progress(
        &a.address,
        format!("adopting volume {} ({})", volume.name, volume.id),
    );
    let id = volume.id;
    let name = a.str("name")?;
    let labels = a.labels()?;
    let body = UpdateResource {
        name: (volume.name != name).then(|| name.to_owned()),
        labels: (volume.labels != labels).then_some(labels),
    };
    if body != UpdateResource::default() {
        app.client.update_volume(id, &body).await?;
    }
    let size = a.u64("size")?;
    if volume.size < size {
        resize(app, cx, &a.address, id, size).await?;
    }
    if volume.server != server {
        reattach(app, cx, a, id, volume.server, server).await?;
    }
    Ok(app.client.get_volume(id).await?)
}

async fn resize(
    app: &CloudProvider,
    cx: &ApplyContext,
    address: &str,
    id: VolumeId,
    size: u64,
) -> Result<(), ApplyError> {
    cx.events
        .progress(address, format!("growing volume {id} to {size} GB"));
    let grown = || async { Ok(app.client.get_volume(id).await?.size >= size) };
    let resized = unless_done(
        cx,
        address,
        "resize",
        app.client.resize_volume(id, size),
        grown,
    );
    if let Some(action) = resized.await? {
        app.wait(cx, address, &[&action]).await?;
    }
    Ok(())
}

/// Whether volume `id` is attached to `server` (`None`: to nothing) as the API reads now.
async fn attached_to(
    app: &CloudProvider,
    id: VolumeId,
    server: Option<ServerId>,
) -> Result<bool, HcloudError> {
    Ok(app.client.get_volume(id).await?.server == server)
}

async fn reattach(
    app: &CloudProvider,
    cx: &ApplyContext,
    a: &Attrs,
    id: VolumeId,
    from: Option<ServerId>,
    to: Option<ServerId>,
) -> Result<(), ApplyError> {
    if let Some(old) = from {
        cx.events.progress(
            &a.address,
            format!("detaching volume {id} from server {old}"),
        );
        let detach = app.client.detach_volume(id);
        let detached = || attached_to(app, id, None);
        if let Some(action) = unless_done(cx, &a.address, "detach", detach, detached).await? {
            app.wait(cx, &a.address, &[&action]).await?;
        }
    }
    if let Some(new) = to {
        cx.events
            .progress(&a.address, format!("attaching volume {id} to server {new}"));
        let body = AttachVolume {
            server: new,
            automount: Some(a.bool_or("automount", false)),
        };
        let attach = app.client.attach_volume(id, &body);
        let attached = || attached_to(app, id, Some(new));
        if let Some(action) = unless_done(cx, &a.address, "attach", attach, attached).await? {
            app.wait(cx, &a.address, &[&action]).await?;
        }
    }
    Ok(())
}

#[async_trait::async_trait]
impl CloudResource for VolumeKind {
    async fn create(&self, op: CloudOp<'_>) -> Recorded {
        let (app, cx, d, a) = (op.app, op.cx, op.desired, &op.a);
        let name = a.str("name")?.to_owned();
        let size = a.u64("size")?;
        let labels = a.labels()?;
        let server = desired_server(cx, a)?;
        let automount = a.bool_or("automount", false);

        let volume = match op.find(&VolumeKind).await? {
            Some(existing) => adopt(app, cx, a, existing, server).await?,
            None => {
                let body = CreateVolume {
                    name: name.clone(),
                    size,
                    labels: labels.clone(),
                    // Created next to (and attached to) its server, or alone in its location.
                    location: if server.is_some() {
                        None
                    } else {
                        Some(a.str("location")?.to_owned())
                    },
                    server,
                    automount: server.map(|_| automount),
                    format: format_of(a)?,
                };
                cx.events
                    .progress(&d.address, format!("creating volume {name} ({size} GB)"));
                match op
                    .create_or_find(&VolumeKind, || app.client.create_volume(&body))
                    .await?
                {
                    Created::New(resp) => {
                        app.wait(cx, &d.address, &resp.actions()).await?;
                        resp.volume
                    }
                    Created::Found(v) => adopt(app, cx, a, v, server).await?,
                }
            }
        };
        let mut state = ready_state(
            d,
            a,
            volume.id.0,
            [("linux_device", Json::String(volume.linux_device.clone()))],
        );
        if volume.size > size {
            // Adopted a bigger volume: record what it is, so the plan shows the impossible shrink.
            state
                .attributes
                .insert("size".into(), Json::from(volume.size));
        }
        Ok(state)
    }

    async fn update(&self, op: CloudOp<'_>) -> Recorded {
        let (app, cx, d, a) = (op.app, op.cx, op.desired, &op.a);
        let prior = op.prior()?;
        let id = VolumeId(op.prior_id()?);
        // The API's view decides what to do: state may be behind what happened outside sovstack.
        let actual = app.client.get_volume(id).await?;
        if op.has("size") {
            let size = a.u64("size")?;
            if size < actual.size {
                return Err(shrink_error(&d.address, actual.size, size));
            }
            if size > actual.size {
                resize(app, cx, &d.address, id, size).await?;
            }
        }
        // `automount` only matters when attaching; a change of it alone is recorded.
        if op.has("server") {
            let to = desired_server(cx, a)?;
            if actual.server != to {
                reattach(app, cx, a, id, actual.server, to).await?;
            }
        }
        Ok(updated_state(d, a, prior, VolumeKind.computed()))
    }

    type Item = Volume;

    fn noun(&self) -> &'static str {
        "volume"
    }
    fn location<'a>(
        &self,
        item: &'a Volume,
    ) -> Option<&'a crate::providers::hcloud::models::Location> {
        Some(&item.location)
    }

    /// The actual attributes of a volume, in the shape `create` records, its server by block name.
    fn observed(
        &self,
        volume: &Volume,
        recorded: &ResourceState,
        servers: &ServerNames,
    ) -> ResourceState {
        let mut s = crate::resources::cloud::observed_base(volume, recorded);
        let at = &mut s.attributes;
        at.insert("size".into(), Json::from(volume.size));
        at.insert(
            "location".into(),
            Json::String(volume.location.name.clone()),
        );
        at.insert(
            "server".into(),
            volume
                .server
                .map_or(Json::Null, |id| Json::String(servers.name_of(id))),
        );
        at.insert(
            "format".into(),
            volume.format.clone().map_or(Json::Null, Json::String),
        );
        at.insert(
            "linux_device".into(),
            Json::String(volume.linux_device.clone()),
        );
        s
    }

    fn unprotect_command(&self, id: u64) -> Option<String> {
        Some(format!("hcloud volume disable-protection {id} delete"))
    }

    async fn delete_id(&self, target: CloudTarget<'_>) -> Result<(), ApplyError> {
        let (app, cx, address, id) = (target.app, target.cx, target.address, target.id);
        let Some(volume) = gone_ok(app.client.get_volume(VolumeId(id)).await)? else {
            return Ok(());
        };
        // Checked before detaching: a protected volume must not lose its server for nothing.
        if volume.protection.delete {
            return Err(self.protected(address, id));
        }
        if let Some(server) = volume.server {
            cx.events.progress(
                address,
                format!("detaching volume {} from server {server}", volume.id),
            );
            let detached = || async {
                match app.client.get_volume(volume.id).await {
                    Ok(v) => Ok(v.server.is_none()),
                    Err(e) if e.is_not_found() => Ok(true),
                    Err(e) => Err(e),
                }
            };
            let detach = app.client.detach_volume(volume.id);
            if let Some(action) = unless_done(cx, address, "detach", detach, detached).await? {
                app.wait(cx, address, &[&action]).await?;
            }
        }
        cx.events
            .progress(address, format!("deleting volume {}", volume.id));
        gone_ok(app.client.delete_volume(volume.id).await)?;
        Ok(())
    }
}
