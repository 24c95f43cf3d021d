//! Typed models of the API objects and request bodies we use, following `cloud.spec.json`.
//!
//! Responses are parsed leniently (unknown fields ignored, unknown enum values kept as `Unknown`) so a
//! new API field never breaks a refresh. Requests are strict: they serialise only fields the spec
//! defines, and leave optional fields out instead of sending `null`.

pub mod action;
pub mod common;
pub mod firewall;
pub mod image;
pub mod location;
pub mod server;
pub mod server_type;
pub mod ssh_key;
pub mod time;
pub mod volume;

pub use action::{Action, ActionError, ActionResource, ActionStatus};
pub use common::{Pagination, Protection, ResponseMeta, UpdateResource};
pub use firewall::{
    ApplyFirewall, CreateFirewall, CreateFirewallResponse, Firewall, FirewallResource,
    FirewallRule, IdRef, Protocol, RemoveFirewall, RuleDirection, SelectorRef, SetFirewallRules,
};
pub use image::{Image, ImageStatus, ImageType};
pub use location::Location;
pub use server::{
    ChangeServerType, CreatePublicNet, CreateServer, CreateServerResponse, FirewallRef, PublicIpv4,
    PublicIpv6, PublicNet, PublicNetFirewall, RebuildServer, RebuildServerResponse, Server,
    ServerProtection, ServerStatus,
};
pub use server_type::{Architecture, CpuType, ServerType, StorageType};
pub use ssh_key::{CreateSshKey, SshKey};
pub use time::Timestamp;
pub use volume::{
    AttachVolume, CreateVolume, CreateVolumeResponse, ResizeVolume, Volume, VolumeFormat,
    VolumeStatus,
};
