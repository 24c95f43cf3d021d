//! Action reads: `GET /actions?id=..` (batched polling), `GET /actions/{id}`, `GET /{resource}/{id}/actions`,
//! `GET /{resource}/actions/{id}` and the deprecated `GET /{resource}/{id}/actions/{action_id}`.

use axum::Extension;
use axum::extract::{Path, RawQuery, State};
use axum::response::Response;
use serde_json::{Value, json};

use super::{ListSpec, list_response, ok, parse_id};
use crate::app::{App, Ctx};
use crate::error::ApiError;
use crate::query::Query;
use crate::store::Store;

const SORT: &[&str] = &["id", "command", "status", "started", "finished"];

/// Unknown IDs are left out of the answer, as the real API does; clients detect them by absence.
pub async fn list(
    State(app): State<App>,
    Extension(ctx): Extension<Ctx>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let q = Query::parse(q.as_deref());
    let ids = q.ids("id")?;
    if ids.is_empty() {
        return Err(ApiError::invalid_field(
            "id",
            "is required: listing all actions was removed from the API",
        ));
    }
    let items = app.with_store(false, |s, now| {
        Ok(ids
            .iter()
            .filter_map(|id| s.actions.get(id))
            .map(|a| a.to_json(now))
            .collect::<Vec<_>>())
    })?;
    let spec = ListSpec {
        key: "actions",
        sort_fields: SORT,
        label_selector: false,
        exact: &[],
        any_of: &["status"],
    };
    list_response(items, &spec, &q, &ctx)
}

pub async fn get(State(app): State<App>, Path(id): Path<String>) -> Result<Response, ApiError> {
    get_of_kind(&app, &id, None)
}

fn get_of_kind(app: &App, id: &str, kind: Option<&str>) -> Result<Response, ApiError> {
    let id = parse_id(id, "action")?;
    app.with_store(false, |s, now| {
        let a = s
            .actions
            .get(&id)
            .filter(|a| kind.is_none_or(|k| a.resources.iter().any(|(_, t)| t == k)))
            .ok_or_else(|| ApiError::not_found("action"))?;
        Ok(ok(json!({"action": a.to_json(now)})))
    })
}

pub async fn get_for_servers(
    State(app): State<App>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    get_of_kind(&app, &id, Some("server"))
}

pub async fn get_for_firewalls(
    State(app): State<App>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    get_of_kind(&app, &id, Some("firewall"))
}

pub async fn get_for_volumes(
    State(app): State<App>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    get_of_kind(&app, &id, Some("volume"))
}

fn exists(s: &Store, kind: &str, id: u64) -> bool {
    match kind {
        "server" => s.servers.contains_key(&id),
        "firewall" => s.firewalls.contains_key(&id),
        "volume" => s.volumes.contains_key(&id),
        _ => false,
    }
}

fn list_for(
    app: &App,
    ctx: &Ctx,
    kind: &str,
    id: &str,
    q: Option<String>,
) -> Result<Response, ApiError> {
    let id = parse_id(id, kind)?;
    let q = Query::parse(q.as_deref());
    let items: Vec<Value> = app.with_store(false, |s, now| {
        if !exists(s, kind, id) {
            return Err(ApiError::not_found(kind));
        }
        Ok(s.actions
            .values()
            .filter(|a| a.touches(kind, id))
            .map(|a| a.to_json(now))
            .collect())
    })?;
    let spec = ListSpec {
        key: "actions",
        sort_fields: SORT,
        label_selector: false,
        exact: &[],
        any_of: &["status"],
    };
    list_response(items, &spec, &q, ctx)
}

pub async fn list_for_server(
    State(app): State<App>,
    Extension(ctx): Extension<Ctx>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    list_for(&app, &ctx, "server", &id, q)
}

pub async fn list_for_firewall(
    State(app): State<App>,
    Extension(ctx): Extension<Ctx>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    list_for(&app, &ctx, "firewall", &id, q)
}

pub async fn list_for_volume(
    State(app): State<App>,
    Extension(ctx): Extension<Ctx>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    list_for(&app, &ctx, "volume", &id, q)
}

fn get_nested(app: &App, kind: &str, id: &str, action_id: &str) -> Result<Response, ApiError> {
    let id = parse_id(id, kind)?;
    let action_id = parse_id(action_id, "action")?;
    app.with_store(false, |s, now| {
        let a = s
            .actions
            .get(&action_id)
            .filter(|a| a.touches(kind, id))
            .ok_or_else(|| ApiError::not_found("action"))?;
        Ok(ok(json!({"action": a.to_json(now)})))
    })
}

pub async fn get_nested_server(
    State(app): State<App>,
    Path((id, action)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    get_nested(&app, "server", &id, &action)
}

pub async fn get_nested_firewall(
    State(app): State<App>,
    Path((id, action)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    get_nested(&app, "firewall", &id, &action)
}

pub async fn get_nested_volume(
    State(app): State<App>,
    Path((id, action)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    get_nested(&app, "volume", &id, &action)
}
