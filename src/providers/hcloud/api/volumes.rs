use reqwest::Method;

use crate::providers::hcloud::client::HcloudClient;
use crate::providers::hcloud::error::HcloudError;
use crate::providers::hcloud::ids::VolumeId;
use crate::providers::hcloud::models::{
    Action, AttachVolume, CreateVolume, CreateVolumeResponse, ResizeVolume, Volume,
};
use crate::providers::hcloud::transport::ApiRequest;

use super::resource::kind_calls;

kind_calls!(Volume, VolumeId;
    list:
    /// `GET /volumes`, all pages.
    list_volumes,
    get: get_volume,
    create:
    /// `POST /volumes`; wait on [`CreateVolumeResponse::actions`].
    create_volume(CreateVolume) -> CreateVolumeResponse,
    update: update_volume
);

impl HcloudClient {
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
