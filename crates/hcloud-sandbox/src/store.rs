//! The in-memory project: resources, actions, ID counters; action progress; atomic persistence to a JSON file.
//!
//! Actions are advanced lazily: every request first calls [`Store::advance`], which finishes each action whose due
//! time has passed and applies its state change. No background task is needed, and a reloaded state file finishes
//! its running actions the same way.

use std::collections::BTreeMap;
use std::io::Write;
use std::net::Ipv4Addr;
use std::path::Path;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::catalog;
use super::labels::Selector;
use super::model::*;

/// How simulated servers get their (always loopback) IPv4 address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerIpv4 {
    /// Every server gets this address, e.g. 127.0.0.1 where one real sshd listens.
    Fixed(Ipv4Addr),
    /// Addresses are handed out in order from this one (127.0.1.1, 127.0.1.2, ...).
    Sequential(Ipv4Addr),
}

impl Default for ServerIpv4 {
    fn default() -> Self {
        ServerIpv4::Sequential(Ipv4Addr::new(127, 0, 1, 1))
    }
}

impl std::str::FromStr for ServerIpv4 {
    type Err = String;
    /// `127.0.0.1` is a fixed address; `127.0.1.1+` allocates sequentially from it. Only 127.0.0.0/8 is allowed.
    fn from_str(s: &str) -> Result<Self, String> {
        let (addr, seq) = match s.strip_suffix('+') {
            Some(a) => (a, true),
            None => (s, false),
        };
        let ip: Ipv4Addr = addr
            .parse()
            .map_err(|_| format!("`{s}` is not an IPv4 address (append + for sequential)"))?;
        if !ip.is_loopback() {
            return Err(format!(
                "`{ip}` is not a loopback address: simulated servers only get 127.0.0.0/8"
            ));
        }
        Ok(if seq {
            ServerIpv4::Sequential(ip)
        } else {
            ServerIpv4::Fixed(ip)
        })
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Counters {
    pub ssh_key: u64,
    pub server: u64,
    pub firewall: u64,
    pub volume: u64,
    pub action: u64,
    pub primary_ip: u64,
    /// Offset of the next sequential server address.
    pub ip_offset: u32,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Store {
    pub counters: Counters,
    pub ssh_keys: BTreeMap<u64, SshKey>,
    pub servers: BTreeMap<u64, Server>,
    pub firewalls: BTreeMap<u64, Firewall>,
    pub volumes: BTreeMap<u64, Volume>,
    pub actions: BTreeMap<u64, Action>,
    /// Servers that booted since the last [`Store::take_boots`]; not persisted.
    #[serde(skip)]
    pub boots: Vec<super::boot::BootEvent>,
}

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum StateFileError {
    #[error("cannot read sandbox state {path}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("sandbox state {path} is not valid")]
    #[diagnostic(help("delete the file to start from an empty project"))]
    Parse {
        path: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("cannot write sandbox state {path}")]
    Write {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// Everything needed to start one action.
pub struct NewAction<'a> {
    pub command: &'a str,
    pub resources: Vec<(u64, &'a str)>,
    pub on_success: Vec<Change>,
    pub on_error: Vec<Change>,
}

impl Store {
    pub fn load(path: &Path) -> Result<Option<Self>, StateFileError> {
        let text = match std::fs::read(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(StateFileError::Read {
                    path: path.display().to_string(),
                    source,
                });
            }
        };
        serde_json::from_slice(&text)
            .map(Some)
            .map_err(|source| StateFileError::Parse {
                path: path.display().to_string(),
                source,
            })
    }

    /// Writes the whole state to a temp file, syncs it, and renames it over `path`: a crash leaves old or new.
    pub fn persist(&self, path: &Path) -> Result<(), StateFileError> {
        let err = |source| StateFileError::Write {
            path: path.display().to_string(),
            source,
        };
        let bytes = serde_json::to_vec_pretty(self).map_err(|e| err(std::io::Error::other(e)))?;
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let file_name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "state".into());
        let tmp = dir.join(format!(".{file_name}.tmp.{}", std::process::id()));
        let mut f = std::fs::File::create(&tmp).map_err(err)?;
        f.write_all(&bytes).map_err(err)?;
        f.sync_all().map_err(err)?;
        drop(f);
        std::fs::rename(&tmp, path).map_err(err)?;
        // The rename itself must reach the disk, or a crash could bring the old file back.
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }

    pub fn next_ipv4(&mut self, mode: ServerIpv4) -> Ipv4Addr {
        match mode {
            ServerIpv4::Fixed(ip) => ip,
            ServerIpv4::Sequential(start) => {
                let base = u32::from(start);
                // Wrap inside 127.0.0.0/8 rather than ever leaving loopback.
                let mut next = base.wrapping_add(self.counters.ip_offset);
                if next >> 24 != 127 {
                    self.counters.ip_offset = 0;
                    next = base;
                }
                self.counters.ip_offset += 1;
                Ipv4Addr::from(next)
            }
        }
    }

    /// Finishes every action whose time is up, in ID order, applying its changes. Returns whether anything changed.
    pub fn advance(&mut self, now: DateTime<Utc>) -> bool {
        let due: Vec<u64> = self
            .actions
            .values()
            .filter(|a| a.is_running() && a.due <= now)
            .map(|a| a.id)
            .collect();
        for id in &due {
            let Some(action) = self.actions.get_mut(id) else {
                continue;
            };
            action.finished = Some(action.due);
            let changes = match action.fail_with.clone() {
                Some(code) => {
                    action.status = ActionStatus::Error {
                        message: format!("action {} failed: {code}", action.command),
                        code,
                    };
                    action.on_error.clone()
                }
                None => {
                    action.status = ActionStatus::Success;
                    action.on_success.clone()
                }
            };
            for c in changes {
                self.apply(c);
            }
        }
        !due.is_empty()
    }

    fn apply(&mut self, change: Change) {
        match change {
            Change::ServerStatus { server, status } => {
                if let Some(s) = self.servers.get_mut(&server) {
                    s.status = status;
                }
            }
            Change::ServerDeleted { server } => {
                self.servers.remove(&server);
                for v in self.volumes.values_mut() {
                    if v.server == Some(server) {
                        v.server = None;
                    }
                }
                for f in self.firewalls.values_mut() {
                    f.applied_to.retain(|t| t.target != Target::Server(server));
                }
            }
            Change::ServerType {
                server,
                server_type,
                disk,
            } => {
                if let Some(s) = self.servers.get_mut(&server) {
                    s.server_type = server_type;
                    if let Some(d) = disk {
                        s.primary_disk_size = d;
                    }
                }
            }
            Change::FirewallApplied { firewall, target } => {
                if let Some(f) = self.firewalls.get_mut(&firewall) {
                    for t in f.applied_to.iter_mut().filter(|t| t.target == target) {
                        t.pending = false;
                    }
                }
            }
            Change::FirewallRemoved { firewall, target } => {
                if let Some(f) = self.firewalls.get_mut(&firewall) {
                    f.applied_to.retain(|t| t.target != target);
                }
            }
            Change::VolumeStatus { volume, status } => {
                if let Some(v) = self.volumes.get_mut(&volume) {
                    v.status = status;
                }
            }
            Change::VolumeServer { volume, server } => {
                if let Some(v) = self.volumes.get_mut(&volume) {
                    v.server = server;
                }
            }
            Change::VolumeSize { volume, size } => {
                if let Some(v) = self.volumes.get_mut(&volume) {
                    v.size = size;
                }
            }
            Change::ServerProtection { server, protection } => {
                if let Some(s) = self.servers.get_mut(&server) {
                    s.protection = protection;
                }
            }
            Change::ServerBackup { server, window } => {
                if let Some(s) = self.servers.get_mut(&server) {
                    s.backup_window = window;
                }
            }
            Change::VolumeProtection { volume, delete } => {
                if let Some(v) = self.volumes.get_mut(&volume) {
                    v.protected = delete;
                }
            }
            Change::ServerBooted { server } => {
                if let Some(s) = self.servers.get(&server) {
                    self.boots.push(super::boot::BootEvent {
                        server_id: s.id,
                        name: s.name.clone(),
                        ipv4: s.ipv4,
                        user_data: s.user_data.clone(),
                    });
                }
            }
        }
    }

    /// Boot events to report, oldest first.
    pub fn take_boots(&mut self) -> Vec<super::boot::BootEvent> {
        std::mem::take(&mut self.boots)
    }

    pub fn is_locked(&self, kind: &str, id: u64) -> bool {
        self.actions
            .values()
            .any(|a| a.is_running() && a.touches(kind, id))
    }

    /// Starts an action; `fail_with` (from fault injection) makes it end in `error`.
    pub fn start_action(
        &mut self,
        new: NewAction<'_>,
        now: DateTime<Utc>,
        duration: chrono::Duration,
        fail_with: Option<&str>,
    ) -> u64 {
        self.counters.action += 1;
        let id = self.counters.action;
        self.actions.insert(
            id,
            Action {
                id,
                command: new.command.to_owned(),
                started: now,
                due: now + duration,
                finished: None,
                status: ActionStatus::Running,
                resources: new
                    .resources
                    .into_iter()
                    .map(|(i, k)| (i, k.to_owned()))
                    .collect(),
                fail_with: fail_with.map(str::to_owned),
                on_success: new.on_success,
                on_error: new.on_error,
            },
        );
        id
    }

    pub fn action_json(&self, id: u64, now: DateTime<Utc>) -> Value {
        self.actions
            .get(&id)
            .map(|a| a.to_json(now))
            .unwrap_or(Value::Null)
    }

    /// Servers a label selector currently selects.
    pub fn servers_matching(&self, selector: &str) -> Vec<u64> {
        match Selector::parse(selector) {
            Ok(sel) => self
                .servers
                .values()
                .filter(|s| sel.matches(&s.labels))
                .map(|s| s.id)
                .collect(),
            Err(_) => Vec::new(),
        }
    }

    /// `public_net.firewalls` of a server: direct applications and label selectors that match it.
    fn server_firewalls(&self, server: &Server) -> Vec<Value> {
        let mut out = Vec::new();
        for f in self.firewalls.values() {
            let mut status: Option<bool> = None; // Some(pending)
            for t in &f.applied_to {
                let hit = match &t.target {
                    Target::Server(id) => *id == server.id,
                    Target::LabelSelector(sel) => {
                        Selector::parse(sel).is_ok_and(|s| s.matches(&server.labels))
                    }
                };
                if hit {
                    status = Some(status.unwrap_or(true) && t.pending);
                }
            }
            if let Some(pending) = status {
                out.push(
                    json!({"id": f.id, "status": if pending { "pending" } else { "applied" }}),
                );
            }
        }
        out
    }

    pub fn server_json(&self, s: &Server) -> Value {
        let st = catalog::server_type(&s.server_type);
        let loc = catalog::location_by_name(&s.location);
        let volumes: Vec<u64> = self
            .volumes
            .values()
            .filter(|v| v.server == Some(s.id))
            .map(|v| v.id)
            .collect();
        let ipv4 = match (s.ipv4, s.primary_ipv4_id) {
            (Some(ip), Some(pid)) => {
                let o = ip.octets();
                json!({
                    "id": pid,
                    "ip": ip.to_string(),
                    "blocked": false,
                    "dns_ptr": format!("static.{}.{}.{}.{}.clients.your-server.de", o[3], o[2], o[1], o[0]),
                })
            }
            _ => Value::Null,
        };
        let ipv6 = match s.primary_ipv6_id {
            Some(pid) => json!({
                "id": pid,
                "ip": ipv6_network(pid),
                "blocked": false,
                "dns_ptr": [],
            }),
            None => Value::Null,
        };
        json!({
            "id": s.id,
            "name": s.name,
            "status": s.status,
            "created": rfc3339(&s.created),
            "public_net": {
                "ipv4": ipv4,
                "ipv6": ipv6,
                "floating_ips": [],
                "firewalls": self.server_firewalls(s),
            },
            "private_net": [],
            "server_type": st.map(|t| t.to_json()).unwrap_or(Value::Null),
            "location": loc.map(|l| l.to_json()).unwrap_or(Value::Null),
            "image": s.image_id.and_then(catalog::image_by_id).map(|i| i.to_json()),
            "iso": null,
            "rescue_enabled": false,
            // Locked while an action on it runs: the simulator's reading of "locked and not available to user".
            "locked": self.is_locked("server", s.id),
            "backup_window": s.backup_window,
            "outgoing_traffic": 0,
            "ingoing_traffic": 0,
            "included_traffic": st.map(|t| t.included_traffic(&s.location)),
            "protection": {"delete": s.protection.delete, "rebuild": s.protection.rebuild},
            "labels": s.labels,
            "volumes": volumes,
            "load_balancers": [],
            "primary_disk_size": s.primary_disk_size,
            "placement_group": null,
        })
    }

    pub fn firewall_json(&self, f: &Firewall) -> Value {
        let applied_to: Vec<Value> = f
            .applied_to
            .iter()
            .map(|t| match &t.target {
                Target::Server(id) => json!({"type": "server", "server": {"id": id}}),
                Target::LabelSelector(sel) => json!({
                    "type": "label_selector",
                    "label_selector": {"selector": sel},
                    "applied_to_resources": self.servers_matching(sel).into_iter()
                        .map(|id| json!({"type": "server", "server": {"id": id}})).collect::<Vec<_>>(),
                }),
            })
            .collect();
        json!({
            "id": f.id,
            "name": f.name,
            "labels": f.labels,
            "created": rfc3339(&f.created),
            "rules": f.rules.iter().map(rule_json).collect::<Vec<_>>(),
            "applied_to": applied_to,
        })
    }

    pub fn volume_json(&self, v: &Volume) -> Value {
        json!({
            "id": v.id,
            "created": rfc3339(&v.created),
            "name": v.name,
            "server": v.server,
            "location": catalog::location_by_name(&v.location).map(|l| l.to_json()),
            "size": v.size,
            "linux_device": format!("/dev/disk/by-id/scsi-0HC_Volume_{}", v.id),
            "protection": {"delete": v.protected},
            "labels": v.labels,
            "status": v.status,
            "format": v.format,
        })
    }

    pub fn ssh_key_json(k: &SshKey) -> Value {
        json!({
            "id": k.id,
            "name": k.name,
            "fingerprint": k.fingerprint,
            "public_key": k.public_key,
            "labels": k.labels,
            "created": rfc3339(&k.created),
        })
    }
}

/// The /64 of a server's IPv6 Primary IP, from the documentation prefix `2001:db8::/32` (RFC 3849): never routed,
/// so no client can reach a real host through a simulated address.
pub fn ipv6_network(primary_ip: u64) -> String {
    format!(
        "2001:db8:{:x}:{:x}::/64",
        (primary_ip >> 16) & 0xffff,
        primary_ip & 0xffff
    )
}

pub fn rule_json(r: &Rule) -> Value {
    json!({
        "direction": r.direction,
        "protocol": r.protocol,
        "port": r.port,
        "source_ips": r.source_ips,
        "destination_ips": r.destination_ips,
        "description": r.description,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_ipv4_parsing_is_loopback_only() {
        assert_eq!(
            "127.0.0.1".parse::<ServerIpv4>(),
            Ok(ServerIpv4::Fixed(Ipv4Addr::LOCALHOST))
        );
        assert_eq!(
            "127.0.1.1+".parse::<ServerIpv4>(),
            Ok(ServerIpv4::Sequential(Ipv4Addr::new(127, 0, 1, 1)))
        );
        assert!("10.0.0.1".parse::<ServerIpv4>().is_err());
        assert!("localhost".parse::<ServerIpv4>().is_err());
    }

    #[test]
    fn sequential_addresses_never_leave_loopback() {
        let mut s = Store::default();
        let mode = ServerIpv4::Sequential(Ipv4Addr::new(127, 255, 255, 254));
        let got: Vec<_> = (0..4).map(|_| s.next_ipv4(mode)).collect();
        assert_eq!(got[0], Ipv4Addr::new(127, 255, 255, 254));
        assert_eq!(got[1], Ipv4Addr::new(127, 255, 255, 255));
        assert_eq!(got[2], Ipv4Addr::new(127, 255, 255, 254));
        assert!(got.iter().all(|ip| ip.is_loopback()));
    }

    #[test]
    fn actions_finish_at_their_due_time_and_apply_changes() {
        let mut s = Store::default();
        let t0 = Utc::now();
        s.volumes.insert(
            1,
            Volume {
                id: 1,
                name: "v".into(),
                created: t0,
                server: None,
                location: "fsn1".into(),
                size: 10,
                labels: Labels::new(),
                status: "creating".into(),
                format: None,
                protected: false,
            },
        );
        let ok = s.start_action(
            NewAction {
                command: "create_volume",
                resources: vec![(1, "volume")],
                on_success: vec![Change::VolumeStatus {
                    volume: 1,
                    status: "available".into(),
                }],
                on_error: vec![],
            },
            t0,
            chrono::Duration::milliseconds(100),
            None,
        );
        let bad = s.start_action(
            NewAction {
                command: "resize_volume",
                resources: vec![(1, "volume")],
                on_success: vec![Change::VolumeSize {
                    volume: 1,
                    size: 50,
                }],
                on_error: vec![],
            },
            t0,
            chrono::Duration::milliseconds(100),
            Some("boom"),
        );
        assert!(s.is_locked("volume", 1));
        assert!(!s.advance(t0 + chrono::Duration::milliseconds(50)));
        assert_eq!(
            s.action_json(ok, t0 + chrono::Duration::milliseconds(50))["progress"],
            50
        );
        assert!(s.advance(t0 + chrono::Duration::milliseconds(100)));
        assert!(!s.is_locked("volume", 1));
        assert_eq!(s.volumes[&1].status, "available");
        assert_eq!(s.volumes[&1].size, 10);
        let j = s.action_json(bad, t0);
        assert_eq!(j["status"], "error");
        assert_eq!(j["error"]["code"], "boom");
        assert_eq!(s.action_json(ok, t0)["status"], "success");
    }

    fn server(id: u64, ipv6: Option<u64>) -> Server {
        Server {
            id,
            name: format!("s{id}"),
            status: "running".into(),
            created: Utc::now(),
            server_type: "cx23".into(),
            image_id: None,
            location: "fsn1".into(),
            labels: Labels::new(),
            user_data: None,
            ssh_keys: vec![],
            ipv4: None,
            primary_ipv4_id: None,
            primary_ipv6_id: ipv6,
            primary_disk_size: 40,
            protection: ServerProtection::default(),
            backup_window: None,
        }
    }

    #[test]
    fn ipv6_networks_are_distinct_documentation_prefixes() {
        assert_eq!(ipv6_network(1), "2001:db8:0:1::/64");
        assert_eq!(ipv6_network(0x1_0002), "2001:db8:1:2::/64");
        for id in [1u64, 77, 65_536, 9_999_999] {
            let net: std::net::Ipv6Addr = ipv6_network(id).trim_end_matches("/64").parse().unwrap();
            assert_eq!(net.segments()[..2], [0x2001, 0x0db8], "{net}");
        }
    }

    #[test]
    fn server_json_reflects_locks_protection_backups_and_ipv6() {
        let mut s = Store::default();
        s.servers.insert(1, server(1, Some(5)));
        s.servers.insert(2, server(2, None));
        let t0 = Utc::now();
        let protect = ServerProtection {
            delete: true,
            rebuild: true,
        };
        s.start_action(
            NewAction {
                command: "change_protection",
                resources: vec![(1, "server")],
                on_success: vec![
                    Change::ServerProtection {
                        server: 1,
                        protection: protect,
                    },
                    Change::ServerBackup {
                        server: 1,
                        window: Some("22-02".into()),
                    },
                ],
                on_error: vec![],
            },
            t0,
            chrono::Duration::milliseconds(10),
            None,
        );
        let running = s.server_json(&s.servers[&1]);
        assert_eq!(running["locked"], true);
        assert_eq!(
            running["protection"],
            json!({"delete": false, "rebuild": false})
        );
        assert_eq!(running["public_net"]["ipv6"]["ip"], "2001:db8:0:5::/64");
        assert_eq!(running["public_net"]["ipv6"]["id"], 5);
        assert_eq!(s.server_json(&s.servers[&2])["locked"], false);
        assert_eq!(
            s.server_json(&s.servers[&2])["public_net"]["ipv6"],
            Value::Null
        );

        s.advance(t0 + chrono::Duration::milliseconds(10));
        let done = s.server_json(&s.servers[&1]);
        assert_eq!(done["locked"], false);
        assert_eq!(done["protection"], json!({"delete": true, "rebuild": true}));
        assert_eq!(done["backup_window"], "22-02");
    }

    #[test]
    fn volume_protection_is_applied_by_its_action() {
        let mut s = Store::default();
        s.volumes.insert(
            3,
            Volume {
                id: 3,
                name: "v".into(),
                created: Utc::now(),
                server: None,
                location: "fsn1".into(),
                size: 10,
                labels: Labels::new(),
                status: "available".into(),
                format: None,
                protected: false,
            },
        );
        s.apply(Change::VolumeProtection {
            volume: 3,
            delete: true,
        });
        assert_eq!(
            s.volume_json(&s.volumes[&3])["protection"],
            json!({"delete": true})
        );
    }

    #[test]
    fn state_files_without_the_newer_fields_still_load() {
        let mut old = serde_json::to_value(server(1, None)).unwrap();
        for k in ["primary_ipv6_id", "protection", "backup_window"] {
            old.as_object_mut().unwrap().remove(k);
        }
        let back: Server = serde_json::from_value(old).unwrap();
        assert_eq!(back, server_with_created(1, back.created));
    }

    fn server_with_created(id: u64, created: DateTime<Utc>) -> Server {
        Server {
            created,
            ..server(id, None)
        }
    }

    #[test]
    fn persistence_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        assert!(Store::load(&path).unwrap().is_none());
        let mut s = Store::default();
        s.counters.server = 7;
        s.persist(&path).unwrap();
        assert_eq!(Store::load(&path).unwrap(), Some(s));
        std::fs::write(&path, "{not json").unwrap();
        assert!(matches!(
            Store::load(&path),
            Err(StateFileError::Parse { .. })
        ));
    }
}
