use serde::{Deserialize, Serialize};

use super::action::Action;
use super::image::Image;
use super::location::Location;
use super::server_type::ServerType;
use super::time::{self, Timestamp};
use crate::providers::hcloud::ids::{FirewallId, PrimaryIpId, ServerId, VolumeId};
use crate::providers::hcloud::labels::Labels;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ServerStatus {
    Running,
    Initializing,
    Starting,
    Stopping,
    Off,
    Deleting,
    Migrating,
    Rebuilding,
    /// `unknown`, or a status this version does not know yet.
    #[serde(other)]
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicIpv4 {
    /// The Primary IP's ID.
    #[serde(default)]
    pub id: Option<PrimaryIpId>,
    pub ip: String,
    pub blocked: bool,
    pub dns_ptr: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DnsPtr {
    pub ip: String,
    pub dns_ptr: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicIpv6 {
    #[serde(default)]
    pub id: Option<PrimaryIpId>,
    /// The /64 network, e.g. `2001:db8::/64`.
    pub ip: String,
    pub blocked: bool,
    pub dns_ptr: Option<Vec<DnsPtr>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FirewallApplyStatus {
    Applied,
    Pending,
    #[serde(other)]
    Unknown,
}

/// A firewall on the server's public interface.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicNetFirewall {
    #[serde(default)]
    pub id: Option<FirewallId>,
    #[serde(default)]
    pub status: Option<FirewallApplyStatus>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicNet {
    pub ipv4: Option<PublicIpv4>,
    pub ipv6: Option<PublicIpv6>,
    #[serde(default)]
    pub floating_ips: Vec<u64>,
    #[serde(default)]
    pub firewalls: Vec<PublicNetFirewall>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrivateNet {
    #[serde(default)]
    pub network: Option<u64>,
    #[serde(default)]
    pub ip: Option<String>,
    #[serde(default)]
    pub alias_ips: Vec<String>,
    #[serde(default)]
    pub mac_address: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ServerProtection {
    pub delete: bool,
    pub rebuild: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Server {
    pub id: ServerId,
    pub name: String,
    pub status: ServerStatus,
    #[serde(with = "time")]
    pub created: Timestamp,
    pub public_net: PublicNet,
    #[serde(default)]
    pub private_net: Vec<PrivateNet>,
    pub server_type: ServerType,
    /// The API's own location object: the policy check re-reads `country` and `network_zone` here.
    pub location: Location,
    pub image: Option<Image>,
    pub rescue_enabled: bool,
    /// Set by Hetzner when the server is unavailable to the user; it does not mirror running actions.
    pub locked: bool,
    pub backup_window: Option<String>,
    pub outgoing_traffic: Option<u64>,
    pub ingoing_traffic: Option<u64>,
    pub included_traffic: Option<u64>,
    pub protection: ServerProtection,
    pub labels: Labels,
    #[serde(default)]
    pub volumes: Vec<VolumeId>,
    #[serde(default)]
    pub load_balancers: Vec<u64>,
    pub primary_disk_size: f64,
}

impl Server {
    pub fn ipv4_address(&self) -> Option<&str> {
        self.public_net.ipv4.as_ref().map(|v| v.ip.as_str())
    }

    /// The IPv6 /64 network assigned to the server.
    pub fn ipv6_network(&self) -> Option<&str> {
        self.public_net.ipv6.as_ref().map(|v| v.ip.as_str())
    }

    pub fn firewall_ids(&self) -> Vec<FirewallId> {
        self.public_net
            .firewalls
            .iter()
            .filter_map(|f| f.id)
            .collect()
    }
}

/// `{"firewall": <id>}` in `POST /servers`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FirewallRef {
    pub firewall: FirewallId,
}

/// `public_net` of `POST /servers`. Leaving an `ipvX` unset with `enable_ipvX` true lets Hetzner create
/// a new Primary IP for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatePublicNet {
    pub enable_ipv4: bool,
    pub enable_ipv6: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipv4: Option<PrimaryIpId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipv6: Option<PrimaryIpId>,
}

/// Body of `POST /servers`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateServer {
    /// Unique per project, an RFC 1123 hostname.
    pub name: String,
    /// ID or name, e.g. `cpx22`.
    pub server_type: String,
    /// ID or name, e.g. `ubuntu-24.04`.
    pub image: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_after_create: Option<bool>,
    /// IDs or names, both sent as strings as the spec types them. Leaving this empty makes Hetzner
    /// generate a root password, which sovstack never wants: callers should always pass keys.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ssh_keys: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub volumes: Vec<VolumeId>,
    /// Applied at creation, so the server is never reachable without them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub firewalls: Vec<FirewallRef>,
    /// cloud-init, at most 32 KiB; Hetzner stores it, so it must not contain secrets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_data: Option<String>,
    #[serde(default, skip_serializing_if = "Labels::is_empty")]
    pub labels: Labels,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_net: Option<CreatePublicNet>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub automount: Option<bool>,
}

impl CreateServer {
    /// The required fields; everything else empty.
    pub fn new(
        name: impl Into<String>,
        server_type: impl Into<String>,
        image: impl Into<String>,
    ) -> Self {
        Self {
            name: name.into(),
            server_type: server_type.into(),
            image: image.into(),
            location: None,
            start_after_create: None,
            ssh_keys: Vec::new(),
            volumes: Vec::new(),
            firewalls: Vec::new(),
            user_data: None,
            labels: Labels::new(),
            public_net: None,
            automount: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreateServerResponse {
    pub server: Server,
    pub action: Action,
    #[serde(default)]
    pub next_actions: Vec<Action>,
    /// Only set when no SSH key was given.
    #[serde(default)]
    pub root_password: Option<String>,
}

impl CreateServerResponse {
    /// `action` plus `next_actions`: everything to wait on before the server is usable.
    pub fn actions(&self) -> Vec<&Action> {
        std::iter::once(&self.action)
            .chain(self.next_actions.iter())
            .collect()
    }
}

/// Body of `POST /servers/{id}/actions/rebuild`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RebuildServer {
    pub image: String,
    /// Defaults to the previous user data when left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_data: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RebuildServerResponse {
    pub action: Action,
    #[serde(default)]
    pub root_password: Option<String>,
}

/// Body of `POST /servers/{id}/actions/change_type`; the server must be off.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeServerType {
    pub server_type: String,
    /// `false` keeps the disk size so a later downgrade stays possible.
    pub upgrade_disk: bool,
}
