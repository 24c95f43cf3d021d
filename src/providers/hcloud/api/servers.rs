use reqwest::Method;

use crate::providers::hcloud::client::HcloudClient;
use crate::providers::hcloud::error::HcloudError;
use crate::providers::hcloud::ids::ServerId;
use crate::providers::hcloud::models::{
    Action, ChangeServerType, CreateServer, CreateServerResponse, RebuildServer,
    RebuildServerResponse, Server,
};
use crate::providers::hcloud::transport::ApiRequest;

use super::resource::Resource;

use super::resource::kind_calls;

kind_calls!(Server, ServerId;
    list:
    /// `GET /servers`, all pages.
    list_servers,
    get: get_server,
    create:
    /// `POST /servers`. Wait on [`CreateServerResponse::actions`] before using the server. If this
    /// fails with [`HcloudError::is_outcome_unknown`], the server may exist: look it up by labels.
    create_server(CreateServer) -> CreateServerResponse,
    update: update_server
);

impl HcloudClient {
    /// `DELETE /servers/{id}`: asynchronous, returns the deletion action. Volumes, primary IPs
    /// (unless `auto_delete`) and firewalls are detached, not deleted.
    pub async fn delete_server(&self, id: ServerId) -> Result<Action, HcloudError> {
        let request = ApiRequest::for_id(Method::DELETE, Server::ITEM, id);
        self.execute_field(&request, "action").await
    }

    /// `GET /servers/{id}/actions?status=error`: the server's failed actions (first page, at
    /// most 50: enough to find a failed `create_server`, which is among a server's first).
    pub async fn failed_server_actions(&self, id: ServerId) -> Result<Vec<Action>, HcloudError> {
        let request = ApiRequest::for_id(Method::GET, "/servers/{id}/actions", id)
            .query("status", "error")
            .query("per_page", "50");
        self.execute_field(&request, "actions").await
    }

    /// `POST` to one of the server's action endpoints, with no body.
    async fn server_action(
        &self,
        id: ServerId,
        template: &'static str,
    ) -> Result<Action, HcloudError> {
        let request = ApiRequest::for_id(Method::POST, template, id);
        self.execute_field(&request, "action").await
    }

    /// Hard power cut.
    pub async fn poweroff_server(&self, id: ServerId) -> Result<Action, HcloudError> {
        self.server_action(id, "/servers/{id}/actions/poweroff")
            .await
    }

    pub async fn poweron_server(&self, id: ServerId) -> Result<Action, HcloudError> {
        self.server_action(id, "/servers/{id}/actions/poweron")
            .await
    }

    /// ACPI shutdown. The action's success does not mean the server is off: poll its `status`, and
    /// fall back to [`HcloudClient::poweroff_server`] if the OS ignores the request.
    pub async fn shutdown_server(&self, id: ServerId) -> Result<Action, HcloudError> {
        self.server_action(id, "/servers/{id}/actions/shutdown")
            .await
    }

    /// The server must be off (else `server_not_stopped`).
    pub async fn change_server_type(
        &self,
        id: ServerId,
        body: &ChangeServerType,
    ) -> Result<Action, HcloudError> {
        let request =
            ApiRequest::for_id(Method::POST, "/servers/{id}/actions/change_type", id).json(body)?;
        self.execute_field(&request, "action").await
    }

    /// Reinstalls the disk from an image; everything on it is lost.
    pub async fn rebuild_server(
        &self,
        id: ServerId,
        body: &RebuildServer,
    ) -> Result<RebuildServerResponse, HcloudError> {
        let request =
            ApiRequest::for_id(Method::POST, "/servers/{id}/actions/rebuild", id).json(body)?;
        self.execute_json(&request).await
    }
}
