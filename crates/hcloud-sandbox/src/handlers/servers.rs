//! `/servers`: list, get, update, delete, and the power/type/rebuild actions (create: [`super::server_create`]).
//!
//! Status model: create -> `initializing` -> `running` (or `off` with `start_after_create: false`); poweron
//! `starting` -> `running`; poweroff/shutdown `stopping` -> `off`; rebuild `rebuilding` -> `running`; delete
//! `deleting` -> gone. A failed action puts the previous status back.

use std::collections::BTreeMap;

use axum::Extension;
use axum::extract::{Path, State};
use axum::response::Response;
use serde_json::{Value, json};

use super::collection::{Collection, unlocked};
use super::start_action::{ActionFn, ActionRequest, ActionTarget, Timing, with_actions};
use super::{ListSpec, created, is_hostname, ok, parse_id};
use crate::app::{App, Ctx};
use crate::body::Body;
use crate::catalog;
use crate::error::ApiError;
use crate::model::{Change, Labels, Server, ServerProtection};
use crate::store::{NewAction, Store};

pub const MAX_USER_DATA: usize = 32 * 1024;

pub struct Servers;

impl Collection for Servers {
    type Record = Server;
    const KIND: &'static str = "server";
    const NOUN: &'static str = "server";
    const LIST: ListSpec<'static> = ListSpec {
        key: "servers",
        sort_fields: &["id", "name", "created"],
        label_selector: true,
        exact: &["name"],
        any_of: &["status"],
    };
    const NAME_TAKEN: &'static str = "server name is already used";

    fn records(store: &Store) -> &BTreeMap<u64, Server> {
        &store.servers
    }

    fn records_mut(store: &mut Store) -> &mut BTreeMap<u64, Server> {
        &mut store.servers
    }

    fn to_json(store: &Store, server: &Server) -> Value {
        store.server_json(server)
    }

    fn name(server: &Server) -> &str {
        &server.name
    }

    fn editable(server: &mut Server) -> (&mut String, &mut Labels) {
        (&mut server.name, &mut server.labels)
    }

    fn name_problem(name: &str) -> Option<&'static str> {
        (!is_hostname(name)).then_some("must be a valid hostname (RFC 1123)")
    }
}

impl ActionTarget for Servers {
    const ACTIONS: &'static [(&'static str, ActionFn)] = &[
        ("poweron", power),
        ("poweroff", power),
        ("shutdown", power),
        ("reboot", power),
        ("reset", power),
        ("change_type", change_type),
        ("rebuild", rebuild),
        ("change_protection", change_protection),
        ("enable_backup", enable_backup),
        ("disable_backup", disable_backup),
    ];
    const ACTION_NOUN: &'static str = "server action";
}

/// The backup windows Hetzner assigns; a server gets one by its ID, so the choice is stable.
const BACKUP_WINDOWS: &[&str] = &["22-02", "02-06", "06-10", "10-14", "14-18", "18-22"];

/// A random-looking root password, returned only when no SSH key was given (as the API does).
pub fn root_password(seed: u64) -> String {
    let id = uuid::Uuid::new_v4().simple().to_string();
    format!("{}{seed}", &id[..20])
}

/// `DELETE /servers/{id}` answers 200 with the `delete_server` action; the server goes when it finishes.
pub async fn delete(
    State(app): State<App>,
    Extension(ctx): Extension<Ctx>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = parse_id(&id, Servers::NOUN)?;
    with_actions(&app, &ctx, |s, t| {
        let server = unlocked::<Servers>(s, id)?;
        if server.protection.delete {
            return Err(ApiError::protected(Servers::NOUN, id, "deletion"));
        }
        let prev = server.status.clone();
        set_status(s, id, "deleting");
        let delete = NewAction {
            command: "delete_server",
            resources: vec![(id, "server")],
            on_success: vec![Change::ServerDeleted { server: id }],
            on_error: vec![Change::ServerStatus {
                server: id,
                status: prev,
            }],
        };
        let action = t.start(s, delete);
        Ok(ok(json!({"action": t.json(s, action)})))
    })
}

fn set_status(s: &mut Store, id: u64, status: &str) {
    if let Some(v) = s.servers.get_mut(&id) {
        v.status = status.to_owned();
    }
}

/// Starts a one-action server operation: status `during` now, `after` on success, the previous status on error.
fn power_action(
    s: &mut Store,
    t: &Timing<'_>,
    id: u64,
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
    let action = t.start(
        s,
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
    );
    t.json(s, action)
}

/// Power actions take no body; whatever was sent is ignored.
fn power(req: &ActionRequest<'_>, _: Body) -> Result<Response, ApiError> {
    let (command, during, after) = match req.name {
        "poweron" => ("start_server", Some("starting"), "running"),
        "poweroff" => ("stop_server", Some("stopping"), "off"),
        "shutdown" => ("shutdown_server", Some("stopping"), "off"),
        "reboot" => ("reboot_server", None, "running"),
        _ => ("reset_server", None, "running"),
    };
    let id = req.id;
    req.with_actions(|s, t| {
        let status = unlocked::<Servers>(s, id)?.status.clone();
        // Powering a server that is already in the target state is a no-op that still yields an action.
        let during = if status == after { None } else { during };
        let action = power_action(s, t, id, command, during, after);
        Ok(created(json!({"action": action})))
    })
}

fn change_type(req: &ActionRequest<'_>, mut b: Body) -> Result<Response, ApiError> {
    let st = b.required_id_or_name("server_type");
    let upgrade_disk = b.required_bool("upgrade_disk");
    b.finish()?;
    let (Some(st), Some(upgrade_disk)) = (st, upgrade_disk) else {
        return Err(ApiError::invalid_fields(vec![]));
    };
    let id = req.id;
    req.with_actions(|s, t| {
        let v = unlocked::<Servers>(s, id)?;
        let new = catalog::server_type(&st).ok_or_else(|| {
            ApiError::unprocessable(
                "invalid_server_type",
                format!("server type `{st}` not found"),
            )
        })?;
        check_type_change(v, new)?;
        let change = NewAction {
            command: "change_server_type",
            resources: vec![(id, "server")],
            on_success: vec![Change::ServerType {
                server: id,
                server_type: new.name.to_owned(),
                disk: upgrade_disk.then_some(new.disk_gb),
            }],
            on_error: vec![],
        };
        Ok(t.answer_one(s, change))
    })
}

/// Whether server `v` may become a `new`: stopped, same CPU architecture, offered in its location, disk not smaller.
fn check_type_change(v: &Server, new: &catalog::ServerType) -> Result<(), ApiError> {
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
    Ok(())
}

fn rebuild(req: &ActionRequest<'_>, mut b: Body) -> Result<Response, ApiError> {
    let image = b.required_id_or_name("image");
    let user_data = b.str("user_data");
    if user_data.as_ref().is_some_and(|u| u.len() > MAX_USER_DATA) {
        b.error("user_data", "must be at most 32 KiB");
    }
    b.finish()?;
    let Some(image) = image else {
        return Err(ApiError::invalid_fields(vec![]));
    };
    let id = req.id;
    req.with_actions(|s, t| {
        let v = unlocked::<Servers>(s, id)?;
        if v.protection.rebuild {
            return Err(ApiError::protected(Servers::NOUN, id, "rebuild"));
        }
        let no_keys = v.ssh_keys.is_empty();
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
        let action = power_action(s, t, id, "rebuild_server", Some("rebuilding"), "running");
        Ok(created(json!({
            "action": action,
            "root_password": no_keys.then(|| root_password(id)),
        })))
    })
}

/// `{delete?, rebuild?}`; the result must have both equal, as the API currently requires. It takes effect when the
/// `change_protection` action finishes.
fn change_protection(req: &ActionRequest<'_>, mut b: Body) -> Result<Response, ApiError> {
    b.deny_unknown(&["delete", "rebuild"]);
    let delete = b.bool("delete");
    let rebuild = b.bool("rebuild");
    b.finish()?;
    let id = req.id;
    req.with_actions(|s, t| {
        let current = unlocked::<Servers>(s, id)?.protection;
        let protection = ServerProtection {
            delete: delete.unwrap_or(current.delete),
            rebuild: rebuild.unwrap_or(current.rebuild),
        };
        if protection.delete != protection.rebuild {
            return Err(ApiError::invalid_field(
                "rebuild",
                "delete and rebuild protection must currently have the same value",
            ));
        }
        let change = NewAction {
            command: "change_protection",
            resources: vec![(id, "server")],
            on_success: vec![Change::ServerProtection {
                server: id,
                protection,
            }],
            on_error: vec![],
        };
        Ok(t.answer_one(s, change))
    })
}

fn enable_backup(req: &ActionRequest<'_>, _: Body) -> Result<Response, ApiError> {
    let window = BACKUP_WINDOWS[(req.id % BACKUP_WINDOWS.len() as u64) as usize];
    backup(req, "enable_backup", Some(window.to_owned()))
}

/// Also deletes the server's backups in the real API; the sandbox keeps no backup images.
fn disable_backup(req: &ActionRequest<'_>, _: Body) -> Result<Response, ApiError> {
    backup(req, "disable_backup", None)
}

/// Starts `command`, which sets the backup window to `window` when it finishes.
fn backup(
    req: &ActionRequest<'_>,
    command: &'static str,
    window: Option<String>,
) -> Result<Response, ApiError> {
    let id = req.id;
    req.with_actions(|s, t| {
        unlocked::<Servers>(s, id)?;
        let change = NewAction {
            command,
            resources: vec![(id, "server")],
            on_success: vec![Change::ServerBackup { server: id, window }],
            on_error: vec![],
        };
        Ok(t.answer_one(s, change))
    })
}
