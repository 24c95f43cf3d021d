use reqwest::Method;

use crate::providers::hcloud::client::HcloudClient;
use crate::providers::hcloud::error::HcloudError;
use crate::providers::hcloud::ids::VolumeId;
use crate::providers::hcloud::models::{
    Action, AttachVolume, CreateVolume, CreateVolumeResponse, ResizeVolume, UpdateResource, Volume,
};
use crate::providers::hcloud::pagination::ListParams;
use crate::providers::hcloud::transport::ApiRequest;

impl HcloudClient {
    /// `GET /volumes`, all pages.
    pub async fn list_volumes(&self, params: &ListParams) -> Result<Vec<Volume>, HcloudError> {
        self.list_resources(params).await
    }

    pub async fn get_volume(&self, id: VolumeId) -> Result<Volume, HcloudError> {
        self.get_resource(id).await
    }

    /// `POST /volumes`; wait on [`CreateVolumeResponse::actions`].
    pub async fn create_volume(
        &self,
        body: &CreateVolume,
    ) -> Result<CreateVolumeResponse, HcloudError> {
        self.create_resource::<Volume, _>(body).await
    }

    /// Changes name and/or labels (labels are replaced as a whole).
    pub async fn update_volume(
        &self,
        id: VolumeId,
        body: &UpdateResource,
    ) -> Result<Volume, HcloudError> {
        self.update_resource(id, body).await
    }

    /// Server and volume must be in the same location.
    pub async fn attach_volume(
        &self,
        id: VolumeId,
        body: &AttachVolume,
    ) -> Result<Action, HcloudError> {
        let request =
            ApiRequest::for_id(Method::POST, "/volumes/{id}/actions/attach", id).json(body)?;
        self.execute_field(&request, "action").await
    }

    pub async fn detach_volume(&self, id: VolumeId) -> Result<Action, HcloudError> {
        let request = ApiRequest::for_id(Method::POST, "/volumes/{id}/actions/detach", id);
        self.execute_field(&request, "action").await
    }

    /// Volumes can only grow.
    pub async fn resize_volume(&self, id: VolumeId, size_gb: u64) -> Result<Action, HcloudError> {
        let request = ApiRequest::for_id(Method::POST, "/volumes/{id}/actions/resize", id)
            .json(&ResizeVolume { size: size_gb })?;
        self.execute_field(&request, "action").await
    }

    /// The volume must be detached and not delete-protected.
    pub async fn delete_volume(&self, id: VolumeId) -> Result<(), HcloudError> {
        self.delete_resource::<Volume>(id).await
    }
}
