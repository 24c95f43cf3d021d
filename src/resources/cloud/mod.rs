//! What the Hetzner Cloud kinds (`ssh_key`, `server`, `volume`, `firewall`) share: the API
//! client, one generic refresh, find-by-labels (adoption) and delete, over the small
//! per-kind [`CloudResource`] trait.
//!
//! - **create adopts first**: one label-selector list call (`sovstack.stack`, `sovstack.address`)
//!   finds a resource an interrupted run already made; it is adopted and brought in line instead
//!   of duplicated. A create whose response was lost (`OutcomeUnknown`) is followed by the same
//!   lookup, and sent again only when the lookup proves it did not take effect.
//! - **servers get a host key we generated**: its fingerprint is checkpointed (status `Pending`)
//!   before the create request, so a crash right after still leaves the key to pin in state; the
//!   private half only ever travels inside the user data.
//! - **a step found already done is done**: an attach, apply or removal the API refuses as
//!   already made (an interrupted run's request took effect) is checked against the resource
//!   and counted as done (`converge`).
//! - **every action is waited for**, with a progress event while waiting.
//! - **refresh costs one list call per resource type** (paged), whatever the number of resources.

pub(crate) mod attrs;
pub(crate) mod converge;
mod data;
mod import;
pub(crate) mod lookup;
mod refresh;
pub(crate) mod user_data;

pub use data::look_up;
pub use import::read_for_import;
pub(crate) use refresh::refresh;

use super::context::{ApplyContext, ApplyError, Deleted, Deletion, Op, Recorded};
use super::kind::{ChangeMode, Operate, Providers, ResourceKind};
use crate::progress::heartbeat;
use crate::providers::hcloud::models::UpdateResource;
use crate::providers::hcloud::models::{Action, Firewall, Location, Server, SshKey, Volume};
use crate::providers::hcloud::{
    ErrorCode, FirewallId, HcloudClient, HcloudError, Labels, ListParams, ServerId, SshKeyId,
    VolumeId,
};
use crate::state::ResourceState;
use std::collections::BTreeMap;

/// The Hetzner Cloud API as the cloud kinds use it.
#[derive(Debug, Clone)]
pub struct CloudProvider {
    pub(crate) client: HcloudClient,
}

impl CloudProvider {
    pub fn new(client: HcloudClient) -> Self {
        Self { client }
    }

    pub fn client(&self) -> &HcloudClient {
        &self.client
    }

    /// Waits until every action has finished (or the client's action deadline), telling the
    /// renderer what it waits for, and again every few seconds while it lasts.
    pub(crate) async fn wait(
        &self,
        cx: &ApplyContext,
        address: &str,
        actions: &[&Action],
    ) -> Result<(), ApplyError> {
        let running: Vec<String> = actions
            .iter()
            .filter(|a| !a.is_finished())
            .map(|a| format!("{} ({})", a.command, a.id))
            .collect();
        if running.is_empty() {
            self.client.wait_for(actions.iter().copied()).await?;
            return Ok(());
        }
        let what = running.join(", ");
        cx.events.progress(address, format!("waiting for {what}"));
        let limit = self.client.config().action_poll.timeout;
        let wait = self.client.wait_for(actions.iter().copied());
        heartbeat::while_waiting(&cx.events, address, &what, limit, heartbeat::EVERY, wait).await?;
        Ok(())
    }
}

/// Server ids of this stack mapped to their block names, for `volume.server` and
/// `firewall.apply_to`. A server outside this stack shows as `id:N`, so a difference still shows.
#[derive(Debug, Clone, Default)]
pub struct ServerNames(BTreeMap<ServerId, String>);

impl ServerNames {
    pub fn insert(&mut self, id: ServerId, name: String) {
        self.0.insert(id, name);
    }

    pub fn name_of(&self, id: ServerId) -> String {
        self.0
            .get(&id)
            .cloned()
            .unwrap_or_else(|| format!("id:{id}"))
    }
}

/// What every API object a cloud kind manages has: an id, a name, labels, and a list call
/// that takes a label selector.
#[async_trait::async_trait]
pub trait CloudItem: Send + Sync + Sized + 'static {
    fn id(&self) -> u64;
    fn name(&self) -> &str;
    fn labels(&self) -> &Labels;
    async fn list(client: &HcloudClient, params: &ListParams) -> Result<Vec<Self>, HcloudError>;
    /// The object with API id `id`, or `None` when it does not exist.
    async fn get(client: &HcloudClient, id: u64) -> Result<Option<Self>, HcloudError>;
    /// Sets a new name and/or labels on the object with API id `id`.
    async fn rename(
        client: &HcloudClient,
        id: u64,
        body: &UpdateResource,
    ) -> Result<(), HcloudError>;
}

/// The API models the cloud kinds manage all carry `id`, `name` and `labels` fields.
macro_rules! cloud_item {
    ($($model:ty => $id:ident, $list:ident, $get:ident, $update:ident);*) => {$(
        #[async_trait::async_trait]
        impl CloudItem for $model {
            fn id(&self) -> u64 {
                self.id.0
            }
            fn name(&self) -> &str {
                &self.name
            }
            fn labels(&self) -> &Labels {
                &self.labels
            }
            async fn list(
                client: &HcloudClient,
                params: &ListParams,
            ) -> Result<Vec<Self>, HcloudError> {
                client.$list(params).await
            }
            async fn get(client: &HcloudClient, id: u64) -> Result<Option<Self>, HcloudError> {
                match client.$get($id(id)).await {
                    Ok(item) => Ok(Some(item)),
                    Err(e) if e.is_not_found() => Ok(None),
                    Err(e) => Err(e),
                }
            }
            async fn rename(
                client: &HcloudClient,
                id: u64,
                body: &UpdateResource,
            ) -> Result<(), HcloudError> {
                client.$update($id(id), body).await.map(|_| ())
            }
        }
    )*};
}

cloud_item!(
    Server => ServerId, list_servers, get_server, update_server;
    Volume => VolumeId, list_volumes, get_volume, update_volume;
    Firewall => FirewallId, list_firewalls, get_firewall, update_firewall;
    SshKey => SshKeyId, list_ssh_keys, get_ssh_key, update_ssh_key
);

/// The recorded state with what every API object reports: its id, name and labels. Each
/// kind's `observed` adds its own attributes.
pub(crate) fn observed_base(item: &impl CloudItem, recorded: &ResourceState) -> ResourceState {
    let mut s = recorded.clone();
    let id = item.id().to_string();
    s.id = Some(id.clone());
    let at = &mut s.attributes;
    at.insert("id".into(), serde_json::Value::String(id));
    at.insert(
        "name".into(),
        serde_json::Value::String(item.name().to_string()),
    );
    at.insert("labels".into(), attrs::labels_json(item.labels()));
    s
}

/// What is specific to one cloud kind: its create and update, and what the shared refresh,
/// adoption and delete need.
#[async_trait::async_trait]
pub trait CloudResource: Send + Sync {
    type Item: CloudItem;

    /// What people call it in messages ("server", "SSH key").
    fn noun(&self) -> &'static str;
    /// Where it is, for kinds that have a location (checked against policy at refresh).
    fn location<'a>(&self, _item: &'a Self::Item) -> Option<&'a Location> {
        None
    }
    /// Servers are what other cloud kinds attach to: their names are gathered for the rest.
    fn names_servers(&self) -> bool {
        false
    }

    /// Creates the resource, or adopts and brings in line the one an interrupted run made.
    async fn create(&self, op: CloudOp<'_>) -> Recorded;

    /// Changes `op.changed` attributes in place (only those the kind can change in place).
    async fn update(&self, op: CloudOp<'_>) -> Recorded;

    /// The actual attributes of `item`, in the shape `create` records.
    fn observed(
        &self,
        item: &Self::Item,
        recorded: &ResourceState,
        servers: &ServerNames,
    ) -> ResourceState;

    /// Deletes the resource with API id `id` (letting go of what it holds first); already
    /// gone is success.
    async fn delete_id(&self, target: CloudTarget<'_>) -> Result<(), ApplyError>;

    /// The `hcloud` CLI command that lifts the delete protection of resource `id`, for kinds
    /// that have one.
    fn unprotect_command(&self, _id: u64) -> Option<String> {
        None
    }

    /// The error for a delete that resource `id`'s protection forbids: which resource, and how
    /// to lift the protection (sovstack leaves that decision to a person).
    fn protected(&self, address: &str, id: u64) -> ApplyError {
        let how = match self.unprotect_command(id) {
            Some(cmd) => format!("with `{cmd}` (or in the Hetzner Console)"),
            None => "in the Hetzner Console".to_owned(),
        };
        ApplyError::Protected {
            address: address.to_owned(),
            noun: self.noun(),
            id,
            help: format!(
                "if it really should go, lift the protection {how}, then run the command again"
            ),
        }
    }
}

/// Turns the API's `protected` answer to a delete into [`CloudResource::protected`].
fn refused_by_protection<K: CloudResource>(
    k: &K,
    address: &str,
    id: u64,
    e: ApplyError,
) -> ApplyError {
    match &e {
        ApplyError::Hcloud(h) if h.api_code() == Some(&ErrorCode::Protected) => {
            k.protected(address, id)
        }
        _ => e,
    }
}

/// Reads a listed item's actual attributes in the shape state records.
type Observe = Box<dyn Fn(&ResourceState, &ServerNames) -> ResourceState + Send + Sync>;

/// One listed resource, whatever its kind: what the shared refresh needs of it.
pub struct Listed {
    pub id: u64,
    pub name: String,
    pub labels: Labels,
    pub location: Option<Location>,
    observe: Observe,
}

impl Listed {
    pub fn observe(&self, recorded: &ResourceState, servers: &ServerNames) -> ResourceState {
        (self.observe)(recorded, servers)
    }
}

/// [`CloudResource`] with its item type erased, as the registry hands it out.
#[async_trait::async_trait]
pub trait CloudRead: Send + Sync {
    fn names_servers(&self) -> bool;
    async fn list_all(
        &self,
        client: &HcloudClient,
        params: &ListParams,
    ) -> Result<Vec<Listed>, HcloudError>;
    /// The one object with API id `id`, whatever its labels; `None` when it does not exist.
    async fn get_one(&self, client: &HcloudClient, id: u64) -> Result<Option<Listed>, HcloudError>;
}

#[async_trait::async_trait]
impl<T> CloudRead for T
where
    T: CloudResource + Clone + 'static,
{
    fn names_servers(&self) -> bool {
        CloudResource::names_servers(self)
    }

    async fn list_all(
        &self,
        client: &HcloudClient,
        params: &ListParams,
    ) -> Result<Vec<Listed>, HcloudError> {
        let items = T::Item::list(client, params).await?;
        Ok(items.into_iter().map(|item| self.listed(item)).collect())
    }

    async fn get_one(&self, client: &HcloudClient, id: u64) -> Result<Option<Listed>, HcloudError> {
        Ok(T::Item::get(client, id)
            .await?
            .map(|item| self.listed(item)))
    }
}

/// What the shared refresh keeps of an API object of kind `T`.
trait ToListed: CloudResource + Clone + 'static {
    fn listed(&self, item: Self::Item) -> Listed {
        let kind = self.clone();
        Listed {
            id: item.id(),
            name: item.name().to_string(),
            labels: item.labels().clone(),
            location: self.location(&item).cloned(),
            observe: Box::new(move |recorded, servers| kind.observed(&item, recorded, servers)),
        }
    }
}

impl<T: CloudResource + Clone + 'static> ToListed for T {}

/// The one resource of kind `k` carrying the labels of `address`, if any.
pub(crate) async fn find<K: CloudResource>(
    k: &K,
    app: &CloudProvider,
    cx: &ApplyContext,
    address: &str,
) -> Result<Option<K::Item>, ApplyError> {
    let found = K::Item::list(&app.client, &lookup::owned_params(cx.stack_name(), address)).await?;
    lookup::single(address, k.noun(), found, |i| i.id())
}

/// Deletes what `prior` records; a create that never confirmed (no id) deletes whatever
/// carries its labels, since that is what it made.
pub(crate) async fn delete<K: CloudResource>(
    k: &K,
    app: &CloudProvider,
    del: Deletion<'_>,
) -> Deleted {
    let Deletion { cx, address, prior } = del;
    let id = match attrs::prior_id(address, prior) {
        Ok(id) => id,
        Err(_) => match find(k, app, cx, address).await? {
            Some(item) => item.id(),
            None => return Ok(()),
        },
    };
    k.delete_id(CloudTarget {
        app,
        cx,
        address,
        id,
    })
    .await
    .map_err(|e| refused_by_protection(k, address, id, e))
}

/// A cloud operation: the [`Op`] (reached through `Deref`), the API, and the resource's
/// attributes resolved against what state knows now.
pub struct CloudOp<'a> {
    op: Op<'a>,
    pub(crate) app: &'a CloudProvider,
    pub(crate) a: attrs::Attrs,
}

impl<'a> std::ops::Deref for CloudOp<'a> {
    type Target = Op<'a>;
    fn deref(&self) -> &Op<'a> {
        &self.op
    }
}

impl<'a> CloudOp<'a> {
    fn new(providers: &'a Providers, op: Op<'a>) -> Result<Self, ApplyError> {
        Ok(Self {
            app: providers.cloud(&op.desired.address)?,
            a: attrs::Attrs::resolve(op.cx, op.desired)?,
            op,
        })
    }

    /// The API id state recorded, for an update.
    pub fn prior_id(&self) -> Result<u64, ApplyError> {
        attrs::prior_id(&self.desired.address, self.prior()?)
    }

    /// Sends a create for this address; when its outcome is unknown, looks for what it made
    /// (see [`lookup::create_or_find`]).
    pub(crate) async fn create_or_find<K, R, C, CF>(
        &self,
        k: &K,
        create: C,
    ) -> Result<lookup::Created<R, K::Item>, ApplyError>
    where
        K: CloudResource,
        C: Fn() -> CF,
        CF: std::future::Future<Output = Result<R, HcloudError>>,
    {
        lookup::create_or_find(self.cx, &self.desired.address, create, || self.find(k)).await
    }

    /// The resource of kind `k` an interrupted run made for this address, if any.
    pub(crate) async fn find<K: CloudResource>(
        &self,
        k: &K,
    ) -> Result<Option<K::Item>, ApplyError> {
        find(k, self.app, self.cx, &self.desired.address).await
    }
}

/// What a cloud delete acts on: the API id of the resource at `address`.
pub struct CloudTarget<'a> {
    pub(crate) app: &'a CloudProvider,
    pub(crate) cx: &'a ApplyContext,
    pub address: &'a str,
    pub id: u64,
}

/// A cloud kind's [`Operate`]: its own create and update on the API, the shared delete.
pub struct Cloud<K>(pub K);

#[async_trait::async_trait]
impl<K: CloudResource + ResourceKind> Operate for Cloud<K> {
    async fn create(&self, providers: &Providers, op: Op<'_>) -> Recorded {
        self.0.create(CloudOp::new(providers, op)?).await
    }

    /// A new name or labels are set the same way for every kind, first; then the kind
    /// changes the rest.
    async fn update(&self, providers: &Providers, op: Op<'_>) -> Recorded {
        check_in_place(self.0.name(), &op.desired.address, op.changed)?;
        let op = CloudOp::new(providers, op)?;
        if let Some(body) = op.a.rename_relabel(op.changed)? {
            K::Item::rename(&op.app.client, op.prior_id()?, &body).await?;
        }
        self.0.update(op).await
    }

    async fn delete(&self, providers: &Providers, del: Deletion<'_>) -> Deleted {
        delete(&self.0, providers.cloud(del.address)?, del).await
    }
}

/// Refuses an in-place update of an attribute that needs a new resource: the planner must have
/// planned a replacement, so reaching here is a bug, not something to paper over.
pub(crate) fn check_in_place(
    kind: &str,
    address: &str,
    changed: &[String],
) -> Result<(), ApplyError> {
    let k = super::kind_or_error(address, kind)?;
    let forced: Vec<&str> = changed
        .iter()
        .filter(|a| k.change_mode(a) == ChangeMode::Replace)
        .map(String::as_str)
        .collect();
    if forced.is_empty() {
        return Ok(());
    }
    Err(ApplyError::Precondition {
        address: address.to_string(),
        message: format!(
            "cannot change {} in place: {} a new {kind}",
            forced.join(", "),
            if forced.len() == 1 {
                "it needs"
            } else {
                "they need"
            }
        ),
        help: Some("the plan must replace this resource; plan again".into()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replacement_attributes_never_update_in_place() {
        assert!(check_in_place("server", "server.a", &["server_type".into()]).is_ok());
        let err = check_in_place("server", "server.a", &["name".into(), "image".into()])
            .unwrap_err()
            .to_string();
        assert!(err.contains("image"), "{err}");
        assert!(!err.contains("name,"), "{err}");
        assert!(check_in_place("volume", "volume.d", &["location".into()]).is_err());
        assert!(check_in_place("volume", "volume.d", &["size".into()]).is_ok());
        assert!(check_in_place("ssh_key", "ssh_key.k", &["public_key".into()]).is_err());
        assert!(check_in_place("firewall", "firewall.f", &["rules".into()]).is_ok());
    }
}
