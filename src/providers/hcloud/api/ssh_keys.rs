use reqwest::Method;

use super::resource::Resource;
use crate::providers::hcloud::client::HcloudClient;
use crate::providers::hcloud::error::HcloudError;
use crate::providers::hcloud::ids::SshKeyId;
use crate::providers::hcloud::models::{CreateSshKey, SshKey};
use crate::providers::hcloud::transport::ApiRequest;

use super::resource::kind_calls;

kind_calls!(SshKey, SshKeyId;
    list:
    /// `GET /ssh_keys`, all pages. Filter by `fingerprint` with `ListParams::with_filter` to find a
    /// key before uploading it again.
    list_ssh_keys,
    get: get_ssh_key,
    update: update_ssh_key
);

impl HcloudClient {
    pub async fn create_ssh_key(&self, body: &CreateSshKey) -> Result<SshKey, HcloudError> {
        let request =
            ApiRequest::new(Method::POST, SshKey::COLLECTION, SshKey::COLLECTION).json(body)?;
        self.execute_field(&request, SshKey::ITEM_FIELD).await
    }

    pub async fn delete_ssh_key(&self, id: SshKeyId) -> Result<(), HcloudError> {
        self.delete_resource::<SshKey>(id).await
    }
}
