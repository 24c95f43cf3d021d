use serde::{Deserialize, Serialize};

use super::action::Action;
use super::time::{self, Timestamp};
use crate::providers::hcloud::ids::{FirewallId, ServerId};
use crate::providers::hcloud::labels::Labels;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleDirection {
    In,
    Out,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Protocol {
    Tcp,
    Udp,
    Icmp,
    Esp,
    Gre,
}

/// A firewall rule, used both in requests and responses. Responses always carry both IP lists (one
/// empty) and `port: null` for protocols without ports; requests leave those out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FirewallRule {
    pub direction: RuleDirection,
    pub protocol: Protocol,
    /// `"80"` or `"1024-5000"`; only for tcp/udp.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<String>,
    /// CIDRs for `in` rules, at most 100.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub source_ips: Vec<String>,
    /// CIDRs for `out` rules, at most 100.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub destination_ips: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

impl FirewallRule {
    /// An inbound rule from the given CIDRs.
    pub fn inbound(
        protocol: Protocol,
        port: Option<&str>,
        source_ips: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        Self {
            direction: RuleDirection::In,
            protocol,
            port: port.map(str::to_owned),
            source_ips: source_ips.into_iter().map(Into::into).collect(),
            destination_ips: Vec::new(),
            description: None,
        }
    }

    /// An outbound rule to the given CIDRs.
    pub fn outbound(
        protocol: Protocol,
        port: Option<&str>,
        destination_ips: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        let mut rule = Self::inbound(protocol, port, destination_ips);
        rule.direction = RuleDirection::Out;
        std::mem::swap(&mut rule.source_ips, &mut rule.destination_ips);
        rule
    }

    pub fn with_description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct IdRef {
    pub id: ServerId,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SelectorRef {
    pub selector: String,
}

/// A server a label-selector firewall currently reaches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppliedToResource {
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub server: Option<IdRef>,
}

/// What a firewall is applied to: one server, or every server matching a label selector. The same
/// shape is used in `apply_to`, `remove_from` and a firewall's `applied_to`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FirewallResource {
    Server {
        server: IdRef,
    },
    LabelSelector {
        label_selector: SelectorRef,
        /// Response only: the servers the selector matches now.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        applied_to_resources: Vec<AppliedToResource>,
    },
}

impl FirewallResource {
    pub fn server(id: ServerId) -> Self {
        Self::Server {
            server: IdRef { id },
        }
    }

    /// A rendered selector, e.g. from [`crate::providers::hcloud::LabelSelector::render`].
    pub fn label_selector(selector: impl Into<String>) -> Self {
        Self::LabelSelector {
            label_selector: SelectorRef {
                selector: selector.into(),
            },
            applied_to_resources: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Firewall {
    pub id: FirewallId,
    pub name: String,
    #[serde(default)]
    pub labels: Labels,
    #[serde(with = "time")]
    pub created: Timestamp,
    pub rules: Vec<FirewallRule>,
    pub applied_to: Vec<FirewallResource>,
}

/// Body of `POST /firewalls`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateFirewall {
    pub name: String,
    #[serde(default, skip_serializing_if = "Labels::is_empty")]
    pub labels: Labels,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<FirewallRule>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub apply_to: Vec<FirewallResource>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreateFirewallResponse {
    pub firewall: Firewall,
    #[serde(default)]
    pub actions: Vec<Action>,
}

/// Body of `POST /firewalls/{id}/actions/set_rules`: replaces all rules; empty clears them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetFirewallRules {
    pub rules: Vec<FirewallRule>,
}

/// Body of `POST /firewalls/{id}/actions/apply_to_resources`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplyFirewall {
    pub apply_to: Vec<FirewallResource>,
}

/// Body of `POST /firewalls/{id}/actions/remove_from_resources`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoveFirewall {
    pub remove_from: Vec<FirewallResource>,
}
