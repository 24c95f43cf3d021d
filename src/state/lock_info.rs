//! Who holds a state lock: written by the holder, shown to everyone who is refused.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Lock metadata, modelled on Terraform's `LockInfo` so that "held by" messages answer who, where, what and since
/// when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockInfo {
    /// Random id; `force_unlock` must be given this id so that nobody breaks a lock they have not looked at.
    pub id: String,
    /// User name of the holder.
    pub who: String,
    /// Host name of the holder.
    pub host: String,
    /// What the holder is doing (`apply`, `plan`, `state push`...).
    pub operation: String,
    /// When the lock was taken.
    pub created: DateTime<Utc>,
    /// Process id of the holder on `host`.
    pub pid: u32,
    /// sovstack version of the holder.
    pub tool_version: String,
}

impl LockInfo {
    /// Lock info describing this process.
    pub fn for_current_process(operation: &str) -> Self {
        LockInfo {
            id: Uuid::new_v4().to_string(),
            who: current_user(),
            host: current_host(),
            operation: operation.to_string(),
            created: Utc::now(),
            pid: std::process::id(),
            tool_version: env!("CARGO_PKG_VERSION").to_string(),
        }
    }
}

impl fmt::Display for LockInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "held by {}@{} (pid {}, sovstack {}) for `{}` since {}, lock id {}",
            self.who,
            self.host,
            self.pid,
            self.tool_version,
            self.operation,
            self.created
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            self.id
        )
    }
}

/// Renders an optional holder for error messages.
pub(crate) fn describe_holder(holder: &Option<Box<LockInfo>>) -> String {
    match holder {
        Some(info) => info.to_string(),
        None => "held by a process that has not written its lock info yet".to_string(),
    }
}

/// The login name: `$USER`, `$LOGNAME`, or the numeric uid when neither is set (cron, containers).
pub fn current_user() -> String {
    for var in ["USER", "LOGNAME"] {
        if let Ok(v) = std::env::var(var)
            && !v.is_empty()
        {
            return v;
        }
    }
    use std::os::unix::fs::MetadataExt;
    match std::fs::metadata("/proc/self") {
        Ok(m) => format!("uid:{}", m.uid()),
        Err(_) => "unknown".to_string(),
    }
}

/// The kernel's host name, falling back to `$HOSTNAME`.
pub fn current_host() -> String {
    for path in ["/proc/sys/kernel/hostname", "/etc/hostname"] {
        if let Ok(s) = std::fs::read_to_string(path) {
            let s = s.trim();
            if !s.is_empty() {
                return s.to_string();
            }
        }
    }
    std::env::var("HOSTNAME").unwrap_or_else(|_| "unknown".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_holder_operation_and_id() {
        let info = LockInfo::for_current_process("apply");
        let s = info.to_string();
        assert!(s.contains("apply"), "{s}");
        assert!(s.contains(&info.id), "{s}");
        assert!(s.contains(&format!("pid {}", std::process::id())), "{s}");
        let back: LockInfo = serde_json::from_str(&serde_json::to_string(&info).unwrap()).unwrap();
        assert_eq!(back, info);
    }
}
