//! The handlers every collection shares: list, get, update (name, labels) and delete.

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::response::Response;

use super::collection::{Collection, find, name_taken, one, unlocked};
use super::{list_response, no_content, ok, parse_id};
use crate::app::{App, Ctx};
use crate::body::Body;
use crate::error::ApiError;
use crate::query::Query;

pub async fn list<C: Collection>(
    State(app): State<App>,
    Extension(ctx): Extension<Ctx>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let q = Query::parse(q.as_deref());
    let items = app.with_store(false, |s, _| {
        Ok(C::records(s).values().map(|r| C::to_json(s, r)).collect())
    })?;
    list_response(items, &C::LIST, &q, &ctx)
}

pub async fn get<C: Collection>(
    State(app): State<App>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = parse_id(&id, C::NOUN)?;
    app.with_store(false, |s, _| Ok(ok(one::<C>(s, find::<C>(s, id)?))))
}

/// `PUT`: name and labels only, allowed while an action runs (labels are routinely edited during long actions).
pub async fn update<C: Collection>(
    State(app): State<App>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let id = parse_id(&id, C::NOUN)?;
    let mut b = Body::parse(&body)?;
    let edit = C::read_edit(&mut b);
    b.finish()?;
    app.with_store(true, |s, _| {
        find::<C>(s, id)?;
        if let Some(n) = &edit.name
            && name_taken::<C>(s, n, Some(id))
        {
            return Err(ApiError::uniqueness("name", C::NAME_TAKEN));
        }
        let record = C::records_mut(s)
            .get_mut(&id)
            .ok_or_else(|| ApiError::not_found(C::NOUN))?;
        let (name, labels) = C::editable(record);
        if let Some(n) = edit.name {
            *name = n;
        }
        if let Some(l) = edit.labels {
            *labels = l;
        }
        Ok(ok(one::<C>(s, find::<C>(s, id)?)))
    })
}

/// `DELETE` of a collection whose records go at once (`204`); servers are deleted by an action instead.
pub async fn delete<C: Collection>(
    State(app): State<App>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = parse_id(&id, C::NOUN)?;
    app.with_store(true, |s, _| {
        C::check_deletable(id, unlocked::<C>(s, id)?)?;
        C::records_mut(s).remove(&id);
        Ok(no_content())
    })
}
