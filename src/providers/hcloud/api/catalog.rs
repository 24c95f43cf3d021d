//! Read-only catalogue: locations, server types, images (used to validate a stack before apply).

use crate::providers::hcloud::client::HcloudClient;
use crate::providers::hcloud::error::HcloudError;
use crate::providers::hcloud::ids::{ImageId, LocationId, ServerTypeId};
use crate::providers::hcloud::models::{Image, Location, ServerType};
use crate::providers::hcloud::pagination::ListParams;
use crate::providers::hcloud::transport::ApiRequest;

impl HcloudClient {
    pub async fn list_locations(&self, params: &ListParams) -> Result<Vec<Location>, HcloudError> {
        self.list_all("/locations", "locations", params).await
    }

    pub async fn get_location(&self, id: LocationId) -> Result<Location, HcloudError> {
        let request = ApiRequest::get("/locations/{id}", format!("/locations/{id}"));
        self.execute_field(&request, "location").await
    }

    pub async fn list_server_types(
        &self,
        params: &ListParams,
    ) -> Result<Vec<ServerType>, HcloudError> {
        self.list_all("/server_types", "server_types", params).await
    }

    pub async fn get_server_type(&self, id: ServerTypeId) -> Result<ServerType, HcloudError> {
        let request = ApiRequest::get("/server_types/{id}", format!("/server_types/{id}"));
        self.execute_field(&request, "server_type").await
    }

    /// `GET /images`; filter with `("type", "system")`, `("architecture", "x86")`, `name`...
    pub async fn list_images(&self, params: &ListParams) -> Result<Vec<Image>, HcloudError> {
        self.list_all("/images", "images", params).await
    }

    pub async fn get_image(&self, id: ImageId) -> Result<Image, HcloudError> {
        let request = ApiRequest::get("/images/{id}", format!("/images/{id}"));
        self.execute_field(&request, "image").await
    }
}
