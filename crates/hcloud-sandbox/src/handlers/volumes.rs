//! `/volumes`: list, create, get, update, delete, and `attach`, `detach`, `resize`.
//!
//! A volume is `creating` until `create_volume` succeeds; its `server` changes when `attach_volume` /
//! `detach_volume` succeed, its size when `resize_volume` does.

use std::collections::BTreeMap;

use axum::Extension;
use axum::body::Bytes;
use axum::extract::State;
use axum::response::Response;
use serde_json::{Value, json};

use super::collection::{Collection, Edit, check_name, find, name_taken, unlocked};
use super::start_action::{ActionFn, ActionRequest, ActionTarget, with_actions};
use super::{ListSpec, created, is_volume_name};
use crate::app::{App, Ctx};
use crate::body::Body;
use crate::catalog::{self, Location};
use crate::error::ApiError;
use crate::model::{Change, Labels, Volume};
use crate::store::{NewAction, Store};

const MIN_SIZE: u64 = 10;
const MAX_SIZE: u64 = 10240;

pub struct Volumes;

impl Collection for Volumes {
    type Record = Volume;
    const KIND: &'static str = "volume";
    const NOUN: &'static str = "volume";
    const LIST: ListSpec<'static> = ListSpec {
        key: "volumes",
        sort_fields: &["id", "name", "created"],
        label_selector: true,
        exact: &["name"],
        any_of: &["status"],
    };
    const NAME_TAKEN: &'static str = "volume name is already used";

    fn records(store: &Store) -> &BTreeMap<u64, Volume> {
        &store.volumes
    }

    fn records_mut(store: &mut Store) -> &mut BTreeMap<u64, Volume> {
        &mut store.volumes
    }

    fn to_json(store: &Store, volume: &Volume) -> Value {
        store.volume_json(volume)
    }

    fn name(volume: &Volume) -> &str {
        &volume.name
    }

    fn editable(volume: &mut Volume) -> (&mut String, &mut Labels) {
        (&mut volume.name, &mut volume.labels)
    }

    fn name_problem(name: &str) -> Option<&'static str> {
        (!is_volume_name(name)).then_some(
            "must be 1-64 characters of a-z, A-Z, 0-9, -_. starting and ending alphanumeric",
        )
    }

    fn read_edit(b: &mut Body) -> Edit {
        Edit::read_name_first(b, Self::name_problem)
    }

    fn check_deletable(id: u64, volume: &Volume) -> Result<(), ApiError> {
        if volume.protected {
            return Err(ApiError::protected(Self::NOUN, id, "deletion"));
        }
        match volume.server {
            Some(_) => Err(ApiError::unprocessable(
                "resource_in_use",
                "volume is attached to a server; detach it first",
            )),
            None => Ok(()),
        }
    }
}

impl ActionTarget for Volumes {
    const ACTIONS: &'static [(&'static str, ActionFn)] = &[
        ("attach", attach),
        ("detach", detach),
        ("resize", resize),
        ("change_protection", change_protection),
    ];
    const ACTION_NOUN: &'static str = "volume action";
}

fn check_size(b: &mut Body, size: Option<u64>) {
    if let Some(n) = size
        && !(MIN_SIZE..=MAX_SIZE).contains(&n)
    {
        b.error("size", "must be between 10 and 10240 GB");
    }
}

/// A valid `POST /volumes` body.
struct Create {
    size: u64,
    name: String,
    labels: Labels,
    format: Option<String>,
    /// Where the volume goes: a location, or the location of the server it is attached to at once.
    location: Option<&'static Location>,
    server: Option<u64>,
}

fn parse_create(bytes: &[u8]) -> Result<Create, ApiError> {
    let mut b = Body::parse(bytes)?;
    let size = b.required_int("size");
    check_size(&mut b, size);
    let name = b.required_str("name");
    check_name(&mut b, name.as_deref(), Volumes::name_problem);
    let labels = b.labels("labels").unwrap_or_default();
    let automount = b.bool("automount").unwrap_or(false);
    let format = b.str("format");
    if format.as_deref().is_some_and(|f| f != "xfs" && f != "ext4") {
        b.error("format", "must be xfs or ext4");
    }
    let location = b.id_or_name("location");
    let server = b.int("server");
    match (&location, server) {
        (Some(_), Some(_)) => b.error("location", "give either location or server, not both"),
        (None, None) => b.error("location", "location or server is required"),
        _ => {}
    }
    if automount && server.is_none() {
        b.error("automount", "requires server");
    }
    let location = location.as_deref().and_then(|l| {
        let found = catalog::location(l);
        if found.is_none() {
            b.error("location", format!("location `{l}` not found"));
        }
        found
    });
    b.finish()?;
    let (Some(size), Some(name)) = (size, name) else {
        return Err(ApiError::invalid_fields(vec![]));
    };
    Ok(Create {
        size,
        name,
        labels,
        format,
        location,
        server,
    })
}

pub async fn create(
    State(app): State<App>,
    Extension(ctx): Extension<Ctx>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let c = parse_create(&body)?;
    with_actions(&app, &ctx, |s, t| {
        if name_taken::<Volumes>(s, &c.name, None) {
            return Err(ApiError::uniqueness("name", Volumes::NAME_TAKEN));
        }
        let location = match (c.location, c.server) {
            (Some(l), _) => l.name.to_owned(),
            (None, Some(sid)) => s
                .servers
                .get(&sid)
                .ok_or_else(|| ApiError::not_found("server"))?
                .location
                .clone(),
            (None, None) => {
                return Err(ApiError::invalid_field(
                    "location",
                    "location or server is required",
                ));
            }
        };
        s.counters.volume += 1;
        let id = s.counters.volume;
        s.volumes.insert(
            id,
            Volume {
                id,
                name: c.name,
                created: t.now,
                server: None,
                location,
                size: c.size,
                labels: c.labels,
                status: "creating".into(),
                format: c.format,
                protected: false,
            },
        );
        let action = t.start(
            s,
            NewAction {
                command: "create_volume",
                resources: vec![(id, "volume")],
                on_success: vec![Change::VolumeStatus {
                    volume: id,
                    status: "available".into(),
                }],
                on_error: vec![],
            },
        );
        let mut next = Vec::new();
        if let Some(sid) = c.server {
            next.push(t.start(s, attach_action(id, sid)));
        }
        Ok(created(json!({
            "volume": s.volume_json(find::<Volumes>(s, id)?),
            "action": t.json(s, action),
            "next_actions": t.json_all(s, &next),
        })))
    })
}

fn attach(req: &ActionRequest<'_>, mut b: Body) -> Result<Response, ApiError> {
    let server = b.required_int("server");
    b.bool("automount");
    b.finish()?;
    let Some(sid) = server else {
        return Err(ApiError::invalid_fields(vec![]));
    };
    let id = req.id;
    req.with_actions(|s, t| {
        let v = unlocked::<Volumes>(s, id)?;
        let server = s
            .servers
            .get(&sid)
            .ok_or_else(|| ApiError::not_found("server"))?;
        if v.server.is_some() {
            return Err(ApiError::unprocessable(
                "volume_already_attached",
                "volume is already attached",
            ));
        }
        if server.location != v.location {
            return Err(ApiError::invalid_field(
                "server",
                "server must be in the same location as the volume",
            ));
        }
        Ok(t.answer_one(s, attach_action(id, sid)))
    })
}

fn detach(req: &ActionRequest<'_>, b: Body) -> Result<Response, ApiError> {
    b.finish()?;
    let id = req.id;
    req.with_actions(|s, t| {
        let v = unlocked::<Volumes>(s, id)?;
        let mut resources = vec![(id, "volume")];
        if let Some(sid) = v.server {
            resources.push((sid, "server"));
        }
        let detach = NewAction {
            command: "detach_volume",
            resources,
            on_success: vec![Change::VolumeServer {
                volume: id,
                server: None,
            }],
            on_error: vec![],
        };
        Ok(t.answer_one(s, detach))
    })
}

fn resize(req: &ActionRequest<'_>, mut b: Body) -> Result<Response, ApiError> {
    let size = match b.raw("size") {
        Some(v) => match v.as_f64() {
            Some(n) if n.fract() == 0.0 && n > 0.0 => Some(n as u64),
            _ => {
                b.error("size", "must be a whole number of GB");
                None
            }
        },
        None => {
            b.error("size", "is required");
            None
        }
    };
    check_size(&mut b, size);
    b.finish()?;
    let Some(size) = size else {
        return Err(ApiError::invalid_fields(vec![]));
    };
    let id = req.id;
    req.with_actions(|s, t| {
        if size <= unlocked::<Volumes>(s, id)?.size {
            return Err(ApiError::invalid_field("size", "volumes can only grow"));
        }
        let resize = NewAction {
            command: "resize_volume",
            resources: vec![(id, "volume")],
            on_success: vec![Change::VolumeSize { volume: id, size }],
            on_error: vec![],
        };
        Ok(t.answer_one(s, resize))
    })
}

/// The action that attaches volume `id` to server `sid` (on volume or server create, and on `attach`).
pub fn attach_action(id: u64, sid: u64) -> NewAction<'static> {
    NewAction {
        command: "attach_volume",
        resources: vec![(id, "volume"), (sid, "server")],
        on_success: vec![Change::VolumeServer {
            volume: id,
            server: Some(sid),
        }],
        on_error: vec![],
    }
}

/// `{delete?}`; takes effect when the `change_protection` action finishes.
fn change_protection(req: &ActionRequest<'_>, mut b: Body) -> Result<Response, ApiError> {
    b.deny_unknown(&["delete"]);
    let delete = b.bool("delete");
    b.finish()?;
    let id = req.id;
    req.with_actions(|s, t| {
        let delete = delete.unwrap_or(unlocked::<Volumes>(s, id)?.protected);
        let change = NewAction {
            command: "change_protection",
            resources: vec![(id, "volume")],
            on_success: vec![Change::VolumeProtection { volume: id, delete }],
            on_error: vec![],
        };
        Ok(t.answer_one(s, change))
    })
}
