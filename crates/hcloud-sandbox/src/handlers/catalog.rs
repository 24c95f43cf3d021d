//! Read-only catalogs: `/locations`, `/server_types`, `/images`.

use axum::Extension;
use axum::extract::{Path, RawQuery};
use axum::response::Response;
use serde_json::json;

use super::{ListSpec, list_response, ok, parse_id};
use crate::app::Ctx;
use crate::catalog::{IMAGES, LOCATIONS, SERVER_TYPES, image_by_id};
use crate::error::ApiError;
use crate::query::Query;

pub async fn list_locations(
    Extension(ctx): Extension<Ctx>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let q = Query::parse(q.as_deref());
    let spec = ListSpec {
        key: "locations",
        sort_fields: &["id", "name"],
        label_selector: false,
        exact: &["name"],
        any_of: &[],
    };
    list_response(
        LOCATIONS.iter().map(|l| l.to_json()).collect(),
        &spec,
        &q,
        &ctx,
    )
}

pub async fn get_location(Path(id): Path<String>) -> Result<Response, ApiError> {
    let id = parse_id(&id, "location")?;
    let l = LOCATIONS
        .iter()
        .find(|l| l.id == id)
        .ok_or_else(|| ApiError::not_found("location"))?;
    Ok(ok(json!({"location": l.to_json()})))
}

pub async fn list_server_types(
    Extension(ctx): Extension<Ctx>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let q = Query::parse(q.as_deref());
    let spec = ListSpec {
        key: "server_types",
        sort_fields: &["id", "name"],
        label_selector: false,
        exact: &["name"],
        any_of: &[],
    };
    list_response(
        SERVER_TYPES.iter().map(|t| t.to_json()).collect(),
        &spec,
        &q,
        &ctx,
    )
}

pub async fn get_server_type(Path(id): Path<String>) -> Result<Response, ApiError> {
    let id = parse_id(&id, "server type")?;
    let t = SERVER_TYPES
        .iter()
        .find(|t| t.id == id)
        .ok_or_else(|| ApiError::not_found("server type"))?;
    Ok(ok(json!({"server_type": t.to_json()})))
}

pub async fn list_images(
    Extension(ctx): Extension<Ctx>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let q = Query::parse(q.as_deref());
    let spec = ListSpec {
        key: "images",
        sort_fields: &["id", "name", "created"],
        label_selector: true,
        exact: &["name", "architecture"],
        any_of: &["type", "status"],
    };
    list_response(
        IMAGES.iter().map(|i| i.to_json()).collect(),
        &spec,
        &q,
        &ctx,
    )
}

pub async fn get_image(Path(id): Path<String>) -> Result<Response, ApiError> {
    let id = parse_id(&id, "image")?;
    let i = image_by_id(id).ok_or_else(|| ApiError::not_found("image"))?;
    Ok(ok(json!({"image": i.to_json()})))
}
