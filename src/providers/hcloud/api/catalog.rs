//! Read-only catalogue: locations, server types, images (used to validate a stack before apply).

use crate::providers::hcloud::client::HcloudClient;
use crate::providers::hcloud::error::HcloudError;
use crate::providers::hcloud::ids::{ImageId, LocationId, ServerTypeId};
use crate::providers::hcloud::models::{Image, Location, ServerType};
use crate::providers::hcloud::pagination::ListParams;

impl HcloudClient {
    pub async fn list_locations(&self, params: &ListParams) -> Result<Vec<Location>, HcloudError> {
        self.list_resources(params).await
    }

    pub async fn get_location(&self, id: LocationId) -> Result<Location, HcloudError> {
        self.get_resource(id).await
    }

    pub async fn list_server_types(
        &self,
        params: &ListParams,
    ) -> Result<Vec<ServerType>, HcloudError> {
        self.list_resources(params).await
    }

    pub async fn get_server_type(&self, id: ServerTypeId) -> Result<ServerType, HcloudError> {
        self.get_resource(id).await
    }

    /// `GET /images`; filter with `("type", "system")`, `("architecture", "x86")`, `name`...
    pub async fn list_images(&self, params: &ListParams) -> Result<Vec<Image>, HcloudError> {
        self.list_resources(params).await
    }

    pub async fn get_image(&self, id: ImageId) -> Result<Image, HcloudError> {
        self.get_resource(id).await
    }
}
