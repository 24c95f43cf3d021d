//! The simulator's own records of resources and actions (what is persisted), separate from the API's JSON shapes.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

pub type Labels = BTreeMap<String, String>;

/// RFC 3339 with `Z`, to the second, as the spec's examples show.
pub fn rfc3339(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SshKey {
    pub id: u64,
    pub name: String,
    pub public_key: String,
    pub fingerprint: String,
    pub labels: Labels,
    pub created: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Server {
    pub id: u64,
    pub name: String,
    pub status: String,
    pub created: DateTime<Utc>,
    pub server_type: String,
    pub image_id: Option<u64>,
    pub location: String,
    pub labels: Labels,
    pub user_data: Option<String>,
    pub ssh_keys: Vec<u64>,
    /// `None` when created with `public_net.enable_ipv4: false`.
    pub ipv4: Option<Ipv4Addr>,
    pub primary_ipv4_id: Option<u64>,
    /// The Primary IP behind the server's IPv6 /64; `None` when created with `public_net.enable_ipv6: false`.
    #[serde(default)]
    pub primary_ipv6_id: Option<u64>,
    pub primary_disk_size: u32,
    #[serde(default)]
    pub protection: ServerProtection,
    /// The daily backup window (`22-02`) while backups are enabled.
    #[serde(default)]
    pub backup_window: Option<String>,
}

/// What a server's protection forbids.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct ServerProtection {
    pub delete: bool,
    pub rebuild: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Rule {
    pub direction: String,
    pub protocol: String,
    pub port: Option<String>,
    pub source_ips: Vec<String>,
    pub destination_ips: Vec<String>,
    pub description: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub enum Target {
    Server(u64),
    LabelSelector(String),
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AppliedTarget {
    pub target: Target,
    /// True until the `apply_firewall` action that added it has finished.
    pub pending: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Firewall {
    pub id: u64,
    pub name: String,
    pub labels: Labels,
    pub created: DateTime<Utc>,
    pub rules: Vec<Rule>,
    pub applied_to: Vec<AppliedTarget>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Volume {
    pub id: u64,
    pub name: String,
    pub created: DateTime<Utc>,
    pub server: Option<u64>,
    pub location: String,
    pub size: u64,
    pub labels: Labels,
    pub status: String,
    pub format: Option<String>,
    /// Delete protection.
    #[serde(default)]
    pub protected: bool,
}

/// A state change that happens when an action finishes (`on_success`) or fails (`on_error`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub enum Change {
    ServerStatus {
        server: u64,
        status: String,
    },
    ServerDeleted {
        server: u64,
    },
    ServerType {
        server: u64,
        server_type: String,
        disk: Option<u32>,
    },
    FirewallApplied {
        firewall: u64,
        target: Target,
    },
    FirewallRemoved {
        firewall: u64,
        target: Target,
    },
    VolumeStatus {
        volume: u64,
        status: String,
    },
    VolumeServer {
        volume: u64,
        server: Option<u64>,
    },
    VolumeSize {
        volume: u64,
        size: u64,
    },
    ServerProtection {
        server: u64,
        protection: ServerProtection,
    },
    ServerBackup {
        server: u64,
        window: Option<String>,
    },
    VolumeProtection {
        volume: u64,
        delete: bool,
    },
    /// The server's first start after create finished: report it to the boot hook.
    ServerBooted {
        server: u64,
    },
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub enum ActionStatus {
    Running,
    Success,
    Error { code: String, message: String },
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Action {
    pub id: u64,
    pub command: String,
    pub started: DateTime<Utc>,
    pub due: DateTime<Utc>,
    pub finished: Option<DateTime<Utc>>,
    pub status: ActionStatus,
    /// `(id, type)` of every resource the action targets; these are locked while it runs.
    pub resources: Vec<(u64, String)>,
    /// When set, the action ends in `error` with this code (fault injection).
    pub fail_with: Option<String>,
    pub on_success: Vec<Change>,
    pub on_error: Vec<Change>,
}

impl Action {
    pub fn is_running(&self) -> bool {
        self.status == ActionStatus::Running
    }

    pub fn touches(&self, kind: &str, id: u64) -> bool {
        self.resources
            .iter()
            .any(|(rid, k)| *rid == id && k == kind)
    }

    pub fn to_json(&self, now: DateTime<Utc>) -> serde_json::Value {
        let (status, progress, error) = match &self.status {
            ActionStatus::Running => {
                let total = (self.due - self.started).num_milliseconds().max(1) as f64;
                let done = (now - self.started).num_milliseconds().max(0) as f64;
                (
                    "running",
                    ((done / total) * 100.0).clamp(0.0, 99.0) as u32,
                    serde_json::Value::Null,
                )
            }
            ActionStatus::Success => ("success", 100, serde_json::Value::Null),
            ActionStatus::Error { code, message } => (
                "error",
                100,
                serde_json::json!({"code": code, "message": message}),
            ),
        };
        serde_json::json!({
            "id": self.id,
            "command": self.command,
            "status": status,
            "progress": progress,
            "started": rfc3339(&self.started),
            "finished": self.finished.as_ref().map(rfc3339),
            "resources": self.resources.iter().map(|(id, t)| serde_json::json!({"id": id, "type": t})).collect::<Vec<_>>(),
            "error": error,
        })
    }
}
