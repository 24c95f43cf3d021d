//! `/volumes`: list, create, get, update, delete, and `attach`, `detach`, `resize`.
//!
//! A volume is `creating` until `create_volume` succeeds; its `server` changes when `attach_volume` /
//! `detach_volume` succeed, its size when `resize_volume` does.

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::response::Response;
use serde_json::json;

use super::{ListSpec, created, is_volume_name, list_response, no_content, ok, parse_id};
use crate::app::{App, Ctx};
use crate::body::Body;
use crate::catalog;
use crate::error::ApiError;
use crate::model::{Change, Volume};
use crate::query::Query;
use crate::store::NewAction;

const MIN_SIZE: u64 = 10;
const MAX_SIZE: u64 = 10240;

const LIST: ListSpec<'static> = ListSpec {
    key: "volumes",
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
        Ok(s.volumes.values().map(|v| s.volume_json(v)).collect())
    })?;
    list_response(items, &LIST, &q, &ctx)
}

pub async fn get(State(app): State<App>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let id = parse_id(&id, "volume")?;
    app.with_store(false, |s, _| {
        let v = s
            .volumes
            .get(&id)
            .ok_or_else(|| ApiError::not_found("volume"))?;
        Ok(ok(json!({"volume": s.volume_json(v)})))
    })
}

fn check_size(b: &mut Body, size: Option<u64>) {
    if let Some(n) = size
        && !(MIN_SIZE..=MAX_SIZE).contains(&n)
    {
        b.error("size", "must be between 10 and 10240 GB");
    }
}

pub async fn create(
    State(app): State<App>,
    Extension(ctx): Extension<Ctx>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let mut b = Body::parse(&body)?;
    let size = b.required_int("size");
    check_size(&mut b, size);
    let name = b.required_str("name");
    if name.as_deref().is_some_and(|n| !is_volume_name(n)) {
        b.error(
            "name",
            "must be 1-64 characters of a-z, A-Z, 0-9, -_. starting and ending alphanumeric",
        );
    }
    let labels = b.labels("labels").unwrap_or_default();
    let automount = b.bool("automount").unwrap_or(false);
    let format = b.str("format");
    if format.as_deref().is_some_and(|f| f != "xfs" && f != "ext4") {
        b.error("format", "must be xfs or ext4");
    }
    let location = b.str("location");
    let server = b.int("server");
    match (&location, server) {
        (Some(_), Some(_)) => b.error("location", "give either location or server, not both"),
        (None, None) => b.error("location", "location or server is required"),
        _ => {}
    }
    if automount && server.is_none() {
        b.error("automount", "requires server");
    }
    let loc = location.as_deref().and_then(|l| {
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
    let duration = app.0.action_duration;
    let fail = ctx.action_error.as_deref();
    app.with_store(true, |s, now| {
        if s.volumes.values().any(|v| v.name == name) {
            return Err(ApiError::uniqueness("name", "volume name is already used"));
        }
        let location = match (loc, server) {
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
                name,
                created: now,
                server: None,
                location,
                size,
                labels,
                status: "creating".into(),
                format,
            },
        );
        let action = s.start_action(
            NewAction {
                command: "create_volume",
                resources: vec![(id, "volume")],
                on_success: vec![Change::VolumeStatus {
                    volume: id,
                    status: "available".into(),
                }],
                on_error: vec![],
            },
            now,
            duration,
            fail,
        );
        let mut next = Vec::new();
        if let Some(sid) = server {
            next.push(s.start_action(attach(id, sid), now, duration, fail));
        }
        let v = s
            .volumes
            .get(&id)
            .ok_or_else(|| ApiError::not_found("volume"))?;
        Ok(created(json!({
            "volume": s.volume_json(v),
            "action": s.action_json(action, now),
            "next_actions": next.iter().map(|a| s.action_json(*a, now)).collect::<Vec<_>>(),
        })))
    })
}

pub async fn update(
    State(app): State<App>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let id = parse_id(&id, "volume")?;
    let mut b = Body::parse(&body)?;
    let name = b.str("name");
    if name.as_deref().is_some_and(|n| !is_volume_name(n)) {
        b.error(
            "name",
            "must be 1-64 characters of a-z, A-Z, 0-9, -_. starting and ending alphanumeric",
        );
    }
    let labels = b.labels("labels");
    b.finish()?;
    app.with_store(true, |s, _| {
        if !s.volumes.contains_key(&id) {
            return Err(ApiError::not_found("volume"));
        }
        if let Some(n) = &name
            && s.volumes.values().any(|v| &v.name == n && v.id != id)
        {
            return Err(ApiError::uniqueness("name", "volume name is already used"));
        }
        let v = s
            .volumes
            .get_mut(&id)
            .ok_or_else(|| ApiError::not_found("volume"))?;
        if let Some(n) = name {
            v.name = n;
        }
        if let Some(l) = labels {
            v.labels = l;
        }
        let v = s
            .volumes
            .get(&id)
            .ok_or_else(|| ApiError::not_found("volume"))?;
        Ok(ok(json!({"volume": s.volume_json(v)})))
    })
}

pub async fn delete(State(app): State<App>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let id = parse_id(&id, "volume")?;
    app.with_store(true, |s, _| {
        let v = s
            .volumes
            .get(&id)
            .ok_or_else(|| ApiError::not_found("volume"))?;
        if s.is_locked("volume", id) {
            return Err(ApiError::locked("volume"));
        }
        if v.server.is_some() {
            return Err(ApiError::unprocessable(
                "resource_in_use",
                "volume is attached to a server; detach it first",
            ));
        }
        s.volumes.remove(&id);
        Ok(no_content())
    })
}

pub async fn action(
    State(app): State<App>,
    Extension(ctx): Extension<Ctx>,
    Path((id, name)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let id = parse_id(&id, "volume")?;
    let duration = app.0.action_duration;
    let fail = ctx.action_error.as_deref();
    let mut b = Body::parse(&body)?;
    match name.as_str() {
        "attach" => {
            let server = b.required_int("server");
            b.bool("automount");
            b.finish()?;
            let Some(sid) = server else {
                return Err(ApiError::invalid_fields(vec![]));
            };
            app.with_store(true, |s, now| {
                let v = s
                    .volumes
                    .get(&id)
                    .ok_or_else(|| ApiError::not_found("volume"))?;
                if s.is_locked("volume", id) {
                    return Err(ApiError::locked("volume"));
                }
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
                let action = s.start_action(attach(id, sid), now, duration, fail);
                Ok(created(json!({"action": s.action_json(action, now)})))
            })
        }
        "detach" => {
            b.finish()?;
            app.with_store(true, |s, now| {
                let v = s
                    .volumes
                    .get(&id)
                    .ok_or_else(|| ApiError::not_found("volume"))?;
                if s.is_locked("volume", id) {
                    return Err(ApiError::locked("volume"));
                }
                let mut resources = vec![(id, "volume")];
                if let Some(sid) = v.server {
                    resources.push((sid, "server"));
                }
                let action = s.start_action(
                    NewAction {
                        command: "detach_volume",
                        resources,
                        on_success: vec![Change::VolumeServer {
                            volume: id,
                            server: None,
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
        "resize" => {
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
            app.with_store(true, |s, now| {
                let v = s
                    .volumes
                    .get(&id)
                    .ok_or_else(|| ApiError::not_found("volume"))?;
                if s.is_locked("volume", id) {
                    return Err(ApiError::locked("volume"));
                }
                if size <= v.size {
                    return Err(ApiError::invalid_field("size", "volumes can only grow"));
                }
                let action = s.start_action(
                    NewAction {
                        command: "resize_volume",
                        resources: vec![(id, "volume")],
                        on_success: vec![Change::VolumeSize { volume: id, size }],
                        on_error: vec![],
                    },
                    now,
                    duration,
                    fail,
                );
                Ok(created(json!({"action": s.action_json(action, now)})))
            })
        }
        _ => Err(ApiError::not_found("volume action")),
    }
}

/// The action that attaches volume `id` to server `sid` (on create and on `attach`).
fn attach(id: u64, sid: u64) -> NewAction<'static> {
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
