//! What every resource kind shares: list all, get one, change name and labels, delete. The calls
//! differ only in the path and in the keys of the JSON envelope, so one generic method per call
//! serves every kind, and each kind only states its path and keys.

use std::fmt::Display;

use reqwest::Method;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::providers::hcloud::client::HcloudClient;
use crate::providers::hcloud::error::HcloudError;
use crate::providers::hcloud::ids::{
    FirewallId, ImageId, LocationId, ServerId, ServerTypeId, SshKeyId, VolumeId,
};
use crate::providers::hcloud::models::{
    Firewall, Image, Location, Server, ServerType, SshKey, UpdateResource, Volume,
};
use crate::providers::hcloud::pagination::ListParams;
use crate::providers::hcloud::transport::ApiRequest;

/// A resource kind of the API: where it lives and what its envelopes are called.
pub(crate) trait Resource: DeserializeOwned {
    type Id: Display;
    /// The collection, e.g. `/servers`.
    const COLLECTION: &'static str;
    /// One item, e.g. `/servers/{id}`; also the request counter's key.
    const ITEM: &'static str;
    /// The array's key in a list response, e.g. `servers`.
    const LIST_FIELD: &'static str;
    /// The object's key in a single-item response, e.g. `server`.
    const ITEM_FIELD: &'static str;
}

/// Implements [`Resource`] from the plural and singular names; the paths are derived from the
/// plural so the two can never disagree.
macro_rules! resource {
    ($model:ty, $id:ty, $plural:literal, $singular:literal) => {
        impl Resource for $model {
            type Id = $id;
            const COLLECTION: &'static str = concat!("/", $plural);
            const ITEM: &'static str = concat!("/", $plural, "/{id}");
            const LIST_FIELD: &'static str = $plural;
            const ITEM_FIELD: &'static str = $singular;
        }
    };
}

resource!(Server, ServerId, "servers", "server");
resource!(Volume, VolumeId, "volumes", "volume");
resource!(Firewall, FirewallId, "firewalls", "firewall");
resource!(SshKey, SshKeyId, "ssh_keys", "ssh_key");
resource!(Location, LocationId, "locations", "location");
resource!(ServerType, ServerTypeId, "server_types", "server_type");
resource!(Image, ImageId, "images", "image");

/// The public per-kind names of the generic calls, each a one-line forward: `list` and `get` for
/// every kind, `create` (answering with the kind's own response type) and `update` where the kind
/// can be made and changed. Doc comments written before a name go onto that method.
macro_rules! kind_calls {
    (
        $model:ty, $id:ty;
        list: $(#[$list_doc:meta])* $list:ident,
        get: $(#[$get_doc:meta])* $get:ident
        $(, create: $(#[$create_doc:meta])* $create:ident($body:ty) -> $answer:ty)?
        $(, update: $update:ident)?
    ) => {
        impl $crate::providers::hcloud::client::HcloudClient {
            $(#[$list_doc])*
            pub async fn $list(
                &self,
                params: &$crate::providers::hcloud::pagination::ListParams,
            ) -> Result<Vec<$model>, $crate::providers::hcloud::error::HcloudError> {
                self.list_resources(params).await
            }

            $(#[$get_doc])*
            pub async fn $get(
                &self,
                id: $id,
            ) -> Result<$model, $crate::providers::hcloud::error::HcloudError> {
                self.get_resource(id).await
            }

            $(
                $(#[$create_doc])*
                pub async fn $create(
                    &self,
                    body: &$body,
                ) -> Result<$answer, $crate::providers::hcloud::error::HcloudError> {
                    self.create_resource::<$model, _>(body).await
                }
            )?

            $(
                /// Changes name and/or labels (labels are replaced as a whole).
                pub async fn $update(
                    &self,
                    id: $id,
                    body: &$crate::providers::hcloud::models::UpdateResource,
                ) -> Result<$model, $crate::providers::hcloud::error::HcloudError> {
                    self.update_resource(id, body).await
                }
            )?
        }
    };
}
pub(crate) use kind_calls;

impl HcloudClient {
    /// `GET /{collection}`, all pages.
    pub(crate) async fn list_resources<R: Resource>(
        &self,
        params: &ListParams,
    ) -> Result<Vec<R>, HcloudError> {
        self.list_all(R::COLLECTION, R::LIST_FIELD, params).await
    }

    /// `GET /{collection}/{id}`.
    pub(crate) async fn get_resource<R: Resource>(&self, id: R::Id) -> Result<R, HcloudError> {
        let request = ApiRequest::for_id(Method::GET, R::ITEM, id);
        self.execute_field(&request, R::ITEM_FIELD).await
    }

    /// `POST /{collection}`. The answer holds more than the resource (the actions to wait on, maybe
    /// a root password), so it is decoded whole into the kind's own response type `T`.
    pub(crate) async fn create_resource<R: Resource, T: DeserializeOwned>(
        &self,
        body: &impl Serialize,
    ) -> Result<T, HcloudError> {
        let request = ApiRequest::new(Method::POST, R::COLLECTION, R::COLLECTION).json(body)?;
        self.execute_json(&request).await
    }

    /// `PUT /{collection}/{id}`: changes name and/or labels (labels are replaced as a whole).
    pub(crate) async fn update_resource<R: Resource>(
        &self,
        id: R::Id,
        body: &UpdateResource,
    ) -> Result<R, HcloudError> {
        let request = ApiRequest::for_id(Method::PUT, R::ITEM, id).json(body)?;
        self.execute_field(&request, R::ITEM_FIELD).await
    }

    /// `DELETE /{collection}/{id}` of a kind that is deleted at once (`204 No Content`).
    pub(crate) async fn delete_resource<R: Resource>(&self, id: R::Id) -> Result<(), HcloudError> {
        let request = ApiRequest::for_id(Method::DELETE, R::ITEM, id);
        self.execute_empty(&request).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_follow_the_plural() {
        assert_eq!(Server::COLLECTION, "/servers");
        assert_eq!(Server::ITEM, "/servers/{id}");
        assert_eq!(ServerType::LIST_FIELD, "server_types");
        assert_eq!(ServerType::ITEM_FIELD, "server_type");
        assert_eq!(SshKey::ITEM, "/ssh_keys/{id}");
    }
}
