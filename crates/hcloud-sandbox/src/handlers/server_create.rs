//! `POST /servers`: a server, its IPv4, and the actions that create it, start it and attach its firewalls and
//! volumes.

use axum::Extension;
use axum::body::Bytes;
use axum::extract::State;
use axum::response::Response;
use serde_json::{Value, json};

use super::collection::{Collection, check_name, find, name_taken};
use super::created;
use super::servers::{MAX_USER_DATA, Servers, root_password};
use super::start_action::{Timing, with_actions};
use super::volumes::attach_action;
use crate::app::{App, Ctx};
use crate::body::Body;
use crate::catalog;
use crate::error::ApiError;
use crate::model::{AppliedTarget, Change, Labels, Server, Target};
use crate::store::{NewAction, ServerIpv4, Store};

/// A valid `POST /servers` body, its names resolved against the catalogs.
struct Create {
    name: String,
    server_type: &'static catalog::ServerType,
    image: &'static catalog::Image,
    location: &'static catalog::Location,
    start: bool,
    ssh_keys: Vec<Value>,
    user_data: Option<String>,
    labels: Labels,
    enable_ipv4: bool,
    enable_ipv6: bool,
    firewalls: Vec<u64>,
    volumes: Vec<u64>,
}

fn parse_create(bytes: &[u8]) -> Result<Create, ApiError> {
    let mut b = Body::parse(bytes)?;
    let name = b.required_str("name");
    let st_name = b.required_id_or_name("server_type");
    let image_name = b.required_id_or_name("image");
    let loc_name = b.id_or_name("location");
    let start = b.bool("start_after_create").unwrap_or(true);
    let user_data = b.str("user_data");
    let labels = b.labels("labels").unwrap_or_default();
    b.bool("automount");
    check_name(&mut b, name.as_deref(), Servers::name_problem);
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
    let (mut enable_ipv4, mut enable_ipv6) = (true, true);
    if let Some(pn) = b.object("public_net") {
        for (key, enable) in [
            ("enable_ipv4", &mut enable_ipv4),
            ("enable_ipv6", &mut enable_ipv6),
        ] {
            match pn.get(key) {
                None | Some(Value::Null) => {}
                Some(Value::Bool(v)) => *enable = *v,
                Some(_) => b.error(&format!("public_net.{key}"), "must be a boolean"),
            }
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
            enable_ipv6,
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
    with_actions(&app, &ctx, |s, t| {
        let key_ids = check_references(s, &c)?;
        let id = insert_server(s, &c, key_ids.clone(), app.0.server_ipv4, t);
        let (action, next) = start_create_actions(s, &c, id, t);
        Ok(created(json!({
            "server": s.server_json(find::<Servers>(s, id)?),
            "action": t.json(s, action),
            "next_actions": t.json_all(s, &next),
            "root_password": key_ids.is_empty().then(|| root_password(id)),
        })))
    })
}

/// Checks what the body names in the project (name, SSH keys, firewalls, volumes); returns the SSH key IDs.
fn check_references(s: &Store, c: &Create) -> Result<Vec<u64>, ApiError> {
    if name_taken::<Servers>(s, &c.name, None) {
        return Err(ApiError::uniqueness("name", Servers::NAME_TAKEN));
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
    Ok(key_ids)
}

/// Adds the server, `initializing`, with its IPv4 and IPv6 unless the body turned them off; returns its ID.
fn insert_server(
    s: &mut Store,
    c: &Create,
    key_ids: Vec<u64>,
    ip_mode: ServerIpv4,
    t: &Timing<'_>,
) -> u64 {
    s.counters.server += 1;
    let id = s.counters.server;
    let (ipv4, primary_ipv4_id) = if c.enable_ipv4 {
        s.counters.primary_ip += 1;
        (Some(s.next_ipv4(ip_mode)), Some(s.counters.primary_ip))
    } else {
        (None, None)
    };
    let primary_ipv6_id = c.enable_ipv6.then(|| {
        s.counters.primary_ip += 1;
        s.counters.primary_ip
    });
    let server = Server {
        id,
        name: c.name.clone(),
        status: "initializing".into(),
        created: t.now,
        server_type: c.server_type.name.to_owned(),
        image_id: Some(c.image.id),
        location: c.location.name.to_owned(),
        labels: c.labels.clone(),
        user_data: c.user_data.clone(),
        ssh_keys: key_ids,
        ipv4,
        primary_ipv4_id,
        primary_ipv6_id,
        primary_disk_size: c.server_type.disk_gb,
        protection: Default::default(),
        backup_window: None,
    };
    s.servers.insert(id, server);
    id
}

/// Starts `create_server` (which also settles the firewalls), then `start_server` and one `attach_volume` per
/// volume; returns the first and the next actions.
fn start_create_actions(s: &mut Store, c: &Create, id: u64, t: &Timing<'_>) -> (u64, Vec<u64>) {
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
    let create = NewAction {
        command: "create_server",
        resources: vec![(id, "server")],
        on_success: create_success,
        on_error: vec![Change::ServerStatus {
            server: id,
            status: "off".into(),
        }],
    };
    let action = t.start(s, create);
    let mut next = Vec::new();
    if c.start {
        let start = NewAction {
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
        };
        next.push(t.start(s, start));
    }
    for vid in &c.volumes {
        next.push(t.start(s, attach_action(*vid, id)));
    }
    (action, next)
}
