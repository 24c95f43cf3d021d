use reqwest::Method;

use super::resource::Resource;
use crate::providers::hcloud::client::HcloudClient;
use crate::providers::hcloud::error::HcloudError;
use crate::providers::hcloud::ids::SshKeyId;
use crate::providers::hcloud::models::{CreateSshKey, SshKey, UpdateResource};
use crate::providers::hcloud::pagination::ListParams;
use crate::providers::hcloud::transport::ApiRequest;

impl HcloudClient {
    /// `GET /ssh_keys`, all pages. Filter by `fingerprint` with `ListParams::with_filter` to find a
    /// key before uploading it again.
    pub async fn list_ssh_keys(&self, params: &ListParams) -> Result<Vec<SshKey>, HcloudError> {
        self.list_resources(params).await
    }

    pub async fn get_ssh_key(&self, id: SshKeyId) -> Result<SshKey, HcloudError> {
        self.get_resource(id).await
    }

    pub async fn create_ssh_key(&self, body: &CreateSshKey) -> Result<SshKey, HcloudError> {
        let request =
            ApiRequest::new(Method::POST, SshKey::COLLECTION, SshKey::COLLECTION).json(body)?;
        self.execute_field(&request, SshKey::ITEM_FIELD).await
    }

    /// Changes name and/or labels (labels are replaced as a whole).
    pub async fn update_ssh_key(
        &self,
        id: SshKeyId,
        body: &UpdateResource,
    ) -> Result<SshKey, HcloudError> {
        self.update_resource(id, body).await
    }

    pub async fn delete_ssh_key(&self, id: SshKeyId) -> Result<(), HcloudError> {
        self.delete_resource::<SshKey>(id).await
    }
}
