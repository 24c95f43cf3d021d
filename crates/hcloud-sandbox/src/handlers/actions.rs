//! Action reads: `GET /actions?id=..` (batched polling), `GET /actions/{id}`, and for every collection with actions
//! `GET /{resource}/actions` (filters `id`, `status`), `GET /{resource}/{id}/actions` (filter `status`),
//! `GET /{resource}/actions/{id}` and the deprecated `GET /{resource}/{id}/actions/{action_id}`. Lists sort by
//! `sort` and page like every list.

use axum::Extension;
use axum::extract::{Path, RawQuery, State};
use axum::response::Response;
use serde_json::{Value, json};

use super::collection::Collection;
use super::{ListSpec, list_response, ok, parse_id};
use crate::app::{App, Ctx};
use crate::error::ApiError;
use crate::query::Query;

const LIST: ListSpec<'static> = ListSpec {
    key: "actions",
    sort_fields: &["id", "command", "status", "started", "finished"],
    label_selector: false,
    exact: &[],
    any_of: &["status"],
};

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
    list_response(items, &LIST, &q, &ctx)
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

/// `GET /{resource}/actions/{id}`: an action that targets a record of `C`.
pub async fn get_for<C: Collection>(
    State(app): State<App>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    get_of_kind(&app, &id, Some(C::KIND))
}

/// `GET /{resource}/actions`: every action on a record of `C` (deleted records included), optionally only those with
/// the given `id`s.
pub async fn list_of_kind<C: Collection>(
    State(app): State<App>,
    Extension(ctx): Extension<Ctx>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let q = Query::parse(q.as_deref());
    let ids = q.ids("id")?;
    let items: Vec<Value> = app.with_store(false, |s, now| {
        Ok(s.actions
            .values()
            .filter(|a| a.resources.iter().any(|(_, t)| t == C::KIND))
            .filter(|a| ids.is_empty() || ids.contains(&a.id))
            .map(|a| a.to_json(now))
            .collect())
    })?;
    list_response(items, &LIST, &q, &ctx)
}

/// `GET /{resource}/{id}/actions`: every action on record `id`.
pub async fn list_for<C: Collection>(
    State(app): State<App>,
    Extension(ctx): Extension<Ctx>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let id = parse_id(&id, C::NOUN)?;
    let q = Query::parse(q.as_deref());
    let items: Vec<Value> = app.with_store(false, |s, now| {
        if !C::records(s).contains_key(&id) {
            return Err(ApiError::not_found(C::NOUN));
        }
        Ok(s.actions
            .values()
            .filter(|a| a.touches(C::KIND, id))
            .map(|a| a.to_json(now))
            .collect())
    })?;
    list_response(items, &LIST, &q, &ctx)
}

/// The deprecated `GET /{resource}/{id}/actions/{action_id}`.
pub async fn get_nested<C: Collection>(
    State(app): State<App>,
    Path((id, action_id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let id = parse_id(&id, C::NOUN)?;
    let action_id = parse_id(&action_id, "action")?;
    app.with_store(false, |s, now| {
        let a = s
            .actions
            .get(&action_id)
            .filter(|a| a.touches(C::KIND, id))
            .ok_or_else(|| ApiError::not_found("action"))?;
        Ok(ok(json!({"action": a.to_json(now)})))
    })
}
