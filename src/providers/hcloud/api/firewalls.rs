use reqwest::Method;

use crate::providers::hcloud::client::HcloudClient;
use crate::providers::hcloud::error::HcloudError;
use crate::providers::hcloud::ids::FirewallId;
use crate::providers::hcloud::models::{
    Action, ApplyFirewall, CreateFirewall, CreateFirewallResponse, Firewall, FirewallResource,
    FirewallRule, RemoveFirewall, SetFirewallRules,
};
use crate::providers::hcloud::transport::ApiRequest;

use super::resource::kind_calls;

kind_calls!(Firewall, FirewallId;
    list:
    /// `GET /firewalls`, all pages.
    list_firewalls,
    get: get_firewall,
    create:
    /// `POST /firewalls`; wait on the returned actions (one `apply_firewall` per resource).
    create_firewall(CreateFirewall) -> CreateFirewallResponse,
    update: update_firewall
);

impl HcloudClient {
    /// `POST` to one of the firewall's action endpoints; every one of them answers with the list
    /// of actions it started.
    async fn firewall_action(
        &self,
        id: FirewallId,
        template: &'static str,
        body: &impl serde::Serialize,
    ) -> Result<Vec<Action>, HcloudError> {
        let request = ApiRequest::for_id(Method::POST, template, id).json(body)?;
        self.execute_field(&request, "actions").await
    }

    /// Replaces all rules (an empty list clears them). Returns `set_firewall_rules` plus one
    /// `apply_firewall` per resource the firewall is applied to.
    pub async fn set_firewall_rules(
        &self,
        id: FirewallId,
        rules: &[FirewallRule],
    ) -> Result<Vec<Action>, HcloudError> {
        let body = SetFirewallRules {
            rules: rules.to_vec(),
        };
        self.firewall_action(id, "/firewalls/{id}/actions/set_rules", &body)
            .await
    }

    /// The firewall counts as applied only once the returned actions succeed.
    pub async fn apply_firewall_to_resources(
        &self,
        id: FirewallId,
        resources: &[FirewallResource],
    ) -> Result<Vec<Action>, HcloudError> {
        let body = ApplyFirewall {
            apply_to: resources.to_vec(),
        };
        self.firewall_action(id, "/firewalls/{id}/actions/apply_to_resources", &body)
            .await
    }

    /// Servers reached through a label selector cannot be removed individually
    /// (`firewall_managed_by_label_selector`).
    pub async fn remove_firewall_from_resources(
        &self,
        id: FirewallId,
        resources: &[FirewallResource],
    ) -> Result<Vec<Action>, HcloudError> {
        let body = RemoveFirewall {
            remove_from: resources.to_vec(),
        };
        self.firewall_action(id, "/firewalls/{id}/actions/remove_from_resources", &body)
            .await
    }

    /// Fails with `resource_in_use` while the firewall is still applied anywhere.
    pub async fn delete_firewall(&self, id: FirewallId) -> Result<(), HcloudError> {
        self.delete_resource::<Firewall>(id).await
    }
}
