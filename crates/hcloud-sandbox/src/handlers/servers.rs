//! `/servers`: list, create, get, update, delete, and the power/type/rebuild actions.
//!
//! Status model: create -> `initializing` -> `running` (or `off` with `start_after_create: false`); poweron
//! `starting` -> `running`; poweroff/shutdown `stopping` -> `off`; rebuild `rebuilding` -> `running`; delete
//! `deleting` -> gone. A failed action puts the previous status back.

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::{ListSpec, created, is_hostname, list_response, ok, parse_id};
use crate::app::{App, Ctx};
use crate::body::Body;
use crate::catalog;
use crate::error::ApiError;
use crate::model::{AppliedTarget, Change, Server, Target};
use crate::query::Query;
use crate::store::{NewAction, Store};

const MAX_USER_DATA: usize = 32 * 1024;

const LIST: ListSpec<'static> = ListSpec {
    key: "servers",
    sort_fields: &["id", "name", "created"],
    label_selector: true,
    exact: &["name"],
    any_of: &["status"],
};

pub async fn list(
    State(app): State<App>,
    Extension(ctx): Extension<Ctx>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let q = Query::parse(q.as_deref());
    let items = app.with_store(false, |s, _| {
        Ok(s.servers.values().map(|v| s.server_json(v)).collect())
    })?;
    list_response(items, &LIST, &q, &ctx)
}

pub async fn get(State(app): State<App>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let id = parse_id(&id, "server")?;
    app.with_store(false, |s, _| {
        let v = s
            .servers
            .get(&id)
            .ok_or_else(|| ApiError::not_found("server"))?;
        Ok(ok(json!({"server": s.server_json(v)})))
    })
}

/// A random-looking root password, returned only when no SSH key was given (as the API does).
fn root_password(seed: u64) -> String {
    let id = uuid::Uuid::new_v4().simple().to_string();
    format!("{}{seed}", &id[..20])
}

struct Create {
    name: String,
    server_type: &'static catalog::ServerType,
    image: &'static catalog::Image,
    location: &'static catalog::Location,
    start: bool,
    ssh_keys: Vec<Value>,
    user_data: Option<String>,
    labels: crate::model::Labels,
    enable_ipv4: bool,
    firewalls: Vec<u64>,
    volumes: Vec<u64>,
}

fn parse_create(bytes: &[u8]) -> Result<Create, ApiError> {
    let mut b = Body::parse(bytes)?;
    let name = b.required_str("name");
    let st_name = b.required_str("server_type");
    let image_name = b.required_str("image");
    let loc_name = b.str("location");
    let start = b.bool("start_after_create").unwrap_or(true);
    let user_data = b.str("user_data");
    let labels = b.labels("labels").unwrap_or_default();
    b.bool("automount");
    if let Some(n) = &name
        && !is_hostname(n)
    {
        b.error("name", "must be a valid hostname (RFC 1123)");
    }
    if user_data.as_ref().is_some_and(|u| u.len() > MAX_USER_DATA) {
        b.error("user_data", "must be at most 32 KiB");
    }
    let server_type = st_name.as_deref().and_then(|n| {
        let t = catalog::server_type(n);
        if t.is_none() {
            b.error("server_type", format!("server type `{n}` not found"));
        }
        t
    });
    let location = match loc_name.as_deref() {
        Some(n) => catalog::location(n).or_else(|| {
            b.error("location", format!("location `{n}` not found"));
            None
        }),
        None => catalog::location_by_name("fsn1"),
    };
    let arch = server_type.map(|t| t.architecture).unwrap_or("x86");
    let image = image_name.as_deref().and_then(|n| {
        let i = catalog::image(n, arch);
        if i.is_none() {
            b.error(
                "image",
                format!("image `{n}` not found for architecture {arch}"),
            );
        }
        i
    });
    let ssh_keys = b.array("ssh_keys").unwrap_or_default();
    if ssh_keys.iter().any(|k| !k.is_string() && !k.is_u64()) {
        b.error("ssh_keys", "entries must be SSH key names or IDs");
    }
    let mut firewalls = Vec::new();
    for fw in b.array("firewalls").unwrap_or_default() {
        match fw.get("firewall").and_then(Value::as_u64) {
            Some(id) => firewalls.push(id),
            None => b.error("firewalls", "entries must be {\"firewall\": <id>}"),
        }
    }
    let mut volumes = Vec::new();
    for v in b.array("volumes").unwrap_or_default() {
        match v.as_u64() {
            Some(id) => volumes.push(id),
            None => b.error("volumes", "entries must be volume IDs"),
        }
    }
    if b.array("networks").is_some_and(|n| !n.is_empty()) {
        b.error(
            "networks",
            "private networks are not simulated by the sandbox",
        );
    }
    if b.has("placement_group") {
        b.error(
            "placement_group",
            "placement groups are not simulated by the sandbox",
        );
    }
    let mut enable_ipv4 = true;
    if let Some(pn) = b.object("public_net") {
        match pn.get("enable_ipv4") {
            None | Some(Value::Null) => {}
            Some(Value::Bool(v)) => enable_ipv4 = *v,
            Some(_) => b.error("public_net.enable_ipv4", "must be a boolean"),
        }
        if pn.get("ipv4").is_some_and(|v| !v.is_null())
            || pn.get("ipv6").is_some_and(|v| !v.is_null())
        {
            b.error(
                "public_net",
                "primary IPs are not simulated by the sandbox; leave ipv4/ipv6 null",
            );
        }
    }
    if let (Some(t), Some(l)) = (server_type, location)
        && !t.locations.contains(&l.name)
    {
        // Checked after field validation, but reported with the same body so one round trip shows everything.
        if b.errors_len() == 0 {
            return Err(ApiError::new(
                axum::http::StatusCode::PRECONDITION_FAILED,
                "resource_unavailable",
                format!("server type {} is not available in {}", t.name, l.name),
            ));
        }
    }
    b.finish()?;
    match (name, server_type, image, location) {
        (Some(name), Some(server_type), Some(image), Some(location)) => Ok(Create {
            name,
            server_type,
            image,
            location,
            start,
            ssh_keys,
            user_data,
            labels,
            enable_ipv4,
            firewalls,
            volumes,
        }),
        _ => Err(ApiError::invalid_fields(vec![])),
    }
}

pub async fn create(
    State(app): State<App>,
    Extension(ctx): Extension<Ctx>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let c = parse_create(&body)?;
    let duration = app.0.action_duration;
    let ip_mode = app.0.server_ipv4;
    app.with_store(true, |s, now| {
        if s.servers.values().any(|v| v.name == c.name) {
            return Err(ApiError::uniqueness("name", "server name is already used"));
        }
        let mut key_ids = Vec::new();
        for k in &c.ssh_keys {
            let found = s.ssh_keys.values().find(|key| match k {
                Value::String(n) => &key.name == n || key.id.to_string() == *n,
                other => other.as_u64() == Some(key.id),
            });
            match found {
                Some(key) => key_ids.push(key.id),
                None => {
                    return Err(ApiError::invalid_field(
                        "ssh_keys",
                        &format!("SSH key {k} not found"),
                    ));
                }
            }
        }
        for fw in &c.firewalls {
            if !s.firewalls.contains_key(fw) {
                return Err(ApiError::unprocessable(
                    "firewall_resource_not_found",
                    format!("firewall {fw} not found"),
                ));
            }
        }
        for vid in &c.volumes {
            let v = s
                .volumes
                .get(vid)
                .ok_or_else(|| ApiError::not_found("volume"))?;
            if v.server.is_some() || s.is_locked("volume", *vid) {
                return Err(ApiError::unprocessable(
                    "volume_already_attached",
                    format!("volume {vid} is already attached"),
                ));
            }
            if v.location != c.location.name {
                return Err(ApiError::invalid_field(
                    "volumes",
                    &format!("volume {vid} is not in {}", c.location.name),
                ));
            }
        }

        s.counters.server += 1;
        let id = s.counters.server;
        let (ipv4, primary_ipv4_id) = if c.enable_ipv4 {
            s.counters.primary_ip += 1;
            (Some(s.next_ipv4(ip_mode)), Some(s.counters.primary_ip))
        } else {
            (None, None)
        };
        let server = Server {
            id,
            name: c.name.clone(),
            status: "initializing".into(),
            created: now,
            server_type: c.server_type.name.to_owned(),
            image_id: Some(c.image.id),
            location: c.location.name.to_owned(),
            labels: c.labels.clone(),
            user_data: c.user_data.clone(),
            ssh_keys: key_ids.clone(),
            ipv4,
            primary_ipv4_id,
            primary_disk_size: c.server_type.disk_gb,
        };
        s.servers.insert(id, server);
        let fail = ctx.action_error.as_deref();
        let mut create_success = Vec::new();
        for fw in &c.firewalls {
            if let Some(f) = s.firewalls.get_mut(fw) {
                f.applied_to.push(AppliedTarget {
                    target: Target::Server(id),
                    pending: true,
                });
            }
            create_success.push(Change::FirewallApplied {
                firewall: *fw,
                target: Target::Server(id),
            });
        }
        if !c.start {
            create_success.push(Change::ServerStatus {
                server: id,
                status: "off".into(),
            });
        }
        let action = s.start_action(
            NewAction {
                command: "create_server",
                resources: vec![(id, "server")],
                on_success: create_success,
                on_error: vec![Change::ServerStatus {
                    server: id,
                    status: "off".into(),
                }],
            },
            now,
            duration,
            fail,
        );
        let mut next = Vec::new();
        if c.start {
            next.push(s.start_action(
                NewAction {
                    command: "start_server",
                    resources: vec![(id, "server")],
                    on_success: vec![
                        Change::ServerStatus {
                            server: id,
                            status: "running".into(),
                        },
                        Change::ServerBooted { server: id },
                    ],
                    on_error: vec![Change::ServerStatus {
                        server: id,
                        status: "off".into(),
                    }],
                },
                now,
                duration,
                fail,
            ));
        }
        for vid in &c.volumes {
            next.push(s.start_action(
                NewAction {
                    command: "attach_volume",
                    resources: vec![(*vid, "volume"), (id, "server")],
                    on_success: vec![Change::VolumeServer {
                        volume: *vid,
                        server: Some(id),
                    }],
                    on_error: vec![],
                },
                now,
                duration,
                fail,
            ));
        }
        let server_json = s
            .servers
            .get(&id)
            .map(|v| s.server_json(v))
            .unwrap_or(Value::Null);
        Ok(created(json!({
            "server": server_json,
            "action": s.action_json(action, now),
            "next_actions": next.iter().map(|a| s.action_json(*a, now)).collect::<Vec<_>>(),
            "root_password": key_ids.is_empty().then(|| root_password(id)),
        })))
    })
}

pub async fn update(
    State(app): State<App>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let id = parse_id(&id, "server")?;
    let mut b = Body::parse(&body)?;
    let name = b.str("name");
    let labels = b.labels("labels");
    if let Some(n) = &name
        && !is_hostname(n)
    {
        b.error("name", "must be a valid hostname (RFC 1123)");
    }
    b.finish()?;
    app.with_store(true, |s, _| {
        if !s.servers.contains_key(&id) {
            return Err(ApiError::not_found("server"));
        }
        if let Some(n) = &name
            && s.servers.values().any(|v| &v.name == n && v.id != id)
        {
            return Err(ApiError::uniqueness("name", "server name is already used"));
        }
        let v = s
            .servers
            .get_mut(&id)
            .ok_or_else(|| ApiError::not_found("server"))?;
        if let Some(n) = name {
            v.name = n;
        }
        if let Some(l) = labels {
            v.labels = l;
        }
        let v = s
            .servers
            .get(&id)
            .ok_or_else(|| ApiError::not_found("server"))?;
        Ok(ok(json!({"server": s.server_json(v)})))
    })
}

pub async fn delete(
    State(app): State<App>,
    Extension(ctx): Extension<Ctx>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = parse_id(&id, "server")?;
    let duration = app.0.action_duration;
    app.with_store(true, |s, now| {
        let prev = s
            .servers
            .get(&id)
            .ok_or_else(|| ApiError::not_found("server"))?
            .status
            .clone();
        if s.is_locked("server", id) {
            return Err(ApiError::locked("server"));
        }
        set_status(s, id, "deleting");
        let action = s.start_action(
            NewAction {
                command: "delete_server",
                resources: vec![(id, "server")],
                on_success: vec![Change::ServerDeleted { server: id }],
                on_error: vec![Change::ServerStatus {
                    server: id,
                    status: prev,
                }],
            },
            now,
            duration,
            ctx.action_error.as_deref(),
        );
        Ok(ok(json!({"action": s.action_json(action, now)})))
    })
}

fn set_status(s: &mut Store, id: u64, status: &str) {
    if let Some(v) = s.servers.get_mut(&id) {
        v.status = status.to_owned();
    }
}

/// Starts a one-action server operation: status now, status on success, previous status on error.
/// When and how an action runs: start time, duration, injected failure.
struct Timing<'a> {
    now: DateTime<Utc>,
    duration: chrono::Duration,
    fail: Option<&'a str>,
}

fn power_action(
    s: &mut Store,
    id: u64,
    t: &Timing<'_>,
    command: &str,
    during: Option<&str>,
    after: &str,
) -> Value {
    let prev = s
        .servers
        .get(&id)
        .map(|v| v.status.clone())
        .unwrap_or_default();
    if let Some(d) = during {
        set_status(s, id, d);
    }
    let action = s.start_action(
        NewAction {
            command,
            resources: vec![(id, "server")],
            on_success: vec![Change::ServerStatus {
                server: id,
                status: after.to_owned(),
            }],
            on_error: vec![Change::ServerStatus {
                server: id,
                status: prev,
            }],
        },
        t.now,
        t.duration,
        t.fail,
    );
    s.action_json(action, t.now)
}

pub async fn action(
    State(app): State<App>,
    Extension(ctx): Extension<Ctx>,
    Path((id, name)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let id = parse_id(&id, "server")?;
    let duration = app.0.action_duration;
    let fail = ctx.action_error.as_deref();
    match name.as_str() {
        "poweron" | "poweroff" | "shutdown" | "reboot" | "reset" => {
            app.with_store(true, |s, now| {
                let status = s
                    .servers
                    .get(&id)
                    .ok_or_else(|| ApiError::not_found("server"))?
                    .status
                    .clone();
                if s.is_locked("server", id) {
                    return Err(ApiError::locked("server"));
                }
                let (command, during, after) = match name.as_str() {
                    "poweron" => ("start_server", Some("starting"), "running"),
                    "poweroff" => ("stop_server", Some("stopping"), "off"),
                    "shutdown" => ("shutdown_server", Some("stopping"), "off"),
                    "reboot" => ("reboot_server", None, "running"),
                    _ => ("reset_server", None, "running"),
                };
                // Powering a server that is already in the target state is a no-op that still yields an action.
                let during = if status == after { None } else { during };
                let t = Timing {
                    now,
                    duration,
                    fail,
                };
                let action = power_action(s, id, &t, command, during, after);
                Ok(created(json!({"action": action})))
            })
        }
        "change_type" => {
            let mut b = Body::parse(&body)?;
            let st = b.required_str("server_type");
            let upgrade_disk = b.required_bool("upgrade_disk");
            b.finish()?;
            let (Some(st), Some(upgrade_disk)) = (st, upgrade_disk) else {
                return Err(ApiError::invalid_fields(vec![]));
            };
            app.with_store(true, |s, now| {
                let v = s
                    .servers
                    .get(&id)
                    .ok_or_else(|| ApiError::not_found("server"))?
                    .clone();
                if s.is_locked("server", id) {
                    return Err(ApiError::locked("server"));
                }
                let new = catalog::server_type(&st).ok_or_else(|| {
                    ApiError::unprocessable(
                        "invalid_server_type",
                        format!("server type `{st}` not found"),
                    )
                })?;
                let old = catalog::server_type(&v.server_type);
                if v.status != "off" {
                    return Err(ApiError::unprocessable(
                        "server_not_stopped",
                        "server must be stopped to change its type",
                    ));
                }
                if old.is_some_and(|o| o.architecture != new.architecture) {
                    return Err(ApiError::unprocessable(
                        "invalid_server_type",
                        "cannot change the CPU architecture",
                    ));
                }
                if !new.locations.contains(&v.location.as_str()) {
                    return Err(ApiError::unprocessable(
                        "invalid_server_type",
                        format!(
                            "server type {} is not available in {}",
                            new.name, v.location
                        ),
                    ));
                }
                if new.disk_gb < v.primary_disk_size {
                    return Err(ApiError::unprocessable(
                        "invalid_server_type",
                        "the new server type's disk is smaller than the current disk",
                    ));
                }
                let action = s.start_action(
                    NewAction {
                        command: "change_server_type",
                        resources: vec![(id, "server")],
                        on_success: vec![Change::ServerType {
                            server: id,
                            server_type: new.name.to_owned(),
                            disk: upgrade_disk.then_some(new.disk_gb),
                        }],
                        on_error: vec![],
                    },
                    now,
                    duration,
                    fail,
                );
                Ok(created(json!({"action": s.action_json(action, now)})))
            })
        }
        "rebuild" => {
            let mut b = Body::parse(&body)?;
            let image = b.required_str("image");
            let user_data = b.str("user_data");
            if user_data.as_ref().is_some_and(|u| u.len() > MAX_USER_DATA) {
                b.error("user_data", "must be at most 32 KiB");
            }
            b.finish()?;
            let Some(image) = image else {
                return Err(ApiError::invalid_fields(vec![]));
            };
            app.with_store(true, |s, now| {
                let v = s
                    .servers
                    .get(&id)
                    .ok_or_else(|| ApiError::not_found("server"))?
                    .clone();
                if s.is_locked("server", id) {
                    return Err(ApiError::locked("server"));
                }
                let arch = catalog::server_type(&v.server_type)
                    .map(|t| t.architecture)
                    .unwrap_or("x86");
                let img = catalog::image(&image, arch).ok_or_else(|| {
                    ApiError::invalid_field(
                        "image",
                        &format!("image `{image}` not found for architecture {arch}"),
                    )
                })?;
                if let Some(sv) = s.servers.get_mut(&id) {
                    sv.image_id = Some(img.id);
                    if user_data.is_some() {
                        sv.user_data = user_data.clone();
                    }
                }
                let t = Timing {
                    now,
                    duration,
                    fail,
                };
                let action =
                    power_action(s, id, &t, "rebuild_server", Some("rebuilding"), "running");
                Ok(created(json!({
                    "action": action,
                    "root_password": v.ssh_keys.is_empty().then(|| root_password(id)),
                })))
            })
        }
        _ => Err(ApiError::not_found("server action")),
    }
}
