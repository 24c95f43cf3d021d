use serde::{Deserialize, Serialize};

use super::time::{self, Timestamp};
use crate::providers::hcloud::ids::SshKeyId;
use crate::providers::hcloud::labels::Labels;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SshKey {
    pub id: SshKeyId,
    pub name: String,
    /// MD5, colon-separated hex; the idempotency key (`GET /ssh_keys?fingerprint=`).
    pub fingerprint: String,
    pub public_key: String,
    pub labels: Labels,
    #[serde(with = "time")]
    pub created: Timestamp,
}

/// Body of `POST /ssh_keys`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateSshKey {
    pub name: String,
    pub public_key: String,
    #[serde(default, skip_serializing_if = "Labels::is_empty")]
    pub labels: Labels,
}
