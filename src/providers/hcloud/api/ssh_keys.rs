use reqwest::Method;

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
        self.list_all("/ssh_keys", "ssh_keys", params).await
    }

    pub async fn get_ssh_key(&self, id: SshKeyId) -> Result<SshKey, HcloudError> {
        let request = ApiRequest::get("/ssh_keys/{id}", format!("/ssh_keys/{id}"));
        self.execute_field(&request, "ssh_key").await
    }

    pub async fn create_ssh_key(&self, body: &CreateSshKey) -> Result<SshKey, HcloudError> {
        let request = ApiRequest::new(Method::POST, "/ssh_keys", "/ssh_keys").json(body)?;
        self.execute_field(&request, "ssh_key").await
    }

    /// Changes name and/or labels (labels are replaced as a whole).
    pub async fn update_ssh_key(
        &self,
        id: SshKeyId,
        body: &UpdateResource,
    ) -> Result<SshKey, HcloudError> {
        let request =
            ApiRequest::new(Method::PUT, "/ssh_keys/{id}", format!("/ssh_keys/{id}")).json(body)?;
        self.execute_field(&request, "ssh_key").await
    }

    pub async fn delete_ssh_key(&self, id: SshKeyId) -> Result<(), HcloudError> {
        let request = ApiRequest::new(Method::DELETE, "/ssh_keys/{id}", format!("/ssh_keys/{id}"));
        self.execute_empty(&request).await
    }
}
