//! HTTP handlers. What every collection shares is generic over [`collection::Collection`]: list, get, update and
//! delete ([`crud`]), action reads ([`actions`]) and `POST .../actions/{name}` ([`start_action`]). Each resource's
//! module holds only what is particular to it: its collection, create, delete checks and actions. This module keeps
//! the helpers under them all: id parsing, answers, list filtering, sorting and paging.

pub mod actions;
pub mod catalog;
pub mod collection;
pub mod crud;
pub mod firewall_body;
pub mod firewalls;
pub mod server_create;
pub mod servers;
pub mod ssh_keys;
pub mod start_action;
pub mod volumes;

use std::cmp::Ordering;

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};

use super::app::Ctx;
use super::error::ApiError;
use super::labels::Selector;
use super::model::Labels;
use super::names::{is_dns_name, is_segment};
use super::pagination::{PageInfo, PageRequest};
use super::query::Query;

/// Path IDs are positive integers; anything else cannot name a resource.
pub fn parse_id(raw: &str, what: &str) -> Result<u64, ApiError> {
    raw.parse::<u64>()
        .ok()
        .filter(|id| *id >= 1)
        .ok_or_else(|| ApiError::not_found(what))
}

pub fn ok(value: Value) -> Response {
    (StatusCode::OK, Json(value)).into_response()
}

pub fn created(value: Value) -> Response {
    (StatusCode::CREATED, Json(value)).into_response()
}

pub fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

/// Which list filters an endpoint supports.
pub struct ListSpec<'a> {
    pub key: &'a str,
    pub sort_fields: &'a [&'a str],
    pub label_selector: bool,
    /// Exact-match string filters taken from the query, e.g. `name`, `fingerprint`.
    pub exact: &'a [&'a str],
    /// Repeatable filters where any value may match, e.g. `status`.
    pub any_of: &'a [&'a str],
}

fn compare(a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x
            .as_f64()
            .partial_cmp(&y.as_f64())
            .unwrap_or(Ordering::Equal),
        (Value::String(x), Value::String(y)) => x.cmp(y),
        (Value::Null, Value::Null) => Ordering::Equal,
        (Value::Null, _) => Ordering::Less,
        (_, Value::Null) => Ordering::Greater,
        _ => Ordering::Equal,
    }
}

/// Sorts by `sort=field[:asc|:desc]` keys in order; unknown fields are `invalid_input`.
pub fn sort_items(items: &mut [Value], q: &Query, allowed: &[&str]) -> Result<(), ApiError> {
    let mut keys = Vec::new();
    for s in q.all("sort") {
        let (field, desc) = match s.split_once(':') {
            Some((f, "asc")) => (f, false),
            Some((f, "desc")) => (f, true),
            Some(_) => {
                return Err(ApiError::invalid_field(
                    "sort",
                    "direction must be asc or desc",
                ));
            }
            None => (s, false),
        };
        if !allowed.contains(&field) {
            return Err(ApiError::invalid_field(
                "sort",
                &format!("cannot sort by `{field}`; allowed: {}", allowed.join(", ")),
            ));
        }
        keys.push((field.to_owned(), desc));
    }
    if keys.is_empty() {
        return Ok(());
    }
    items.sort_by(|a, b| {
        for (field, desc) in &keys {
            let o = compare(&a[field.as_str()], &b[field.as_str()]);
            let o = if *desc { o.reverse() } else { o };
            if o != Ordering::Equal {
                return o;
            }
        }
        Ordering::Equal
    });
    Ok(())
}

pub fn labels_of(item: &Value) -> Labels {
    item.get("labels")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_owned())))
                .collect()
        })
        .unwrap_or_default()
}

/// Filters, sorts and pages already-rendered items and answers `{<key>: [...], meta: {pagination}}` with `Link`.
pub fn list_response(
    mut items: Vec<Value>,
    spec: &ListSpec<'_>,
    q: &Query,
    ctx: &Ctx,
) -> Result<Response, ApiError> {
    let page_req = PageRequest::from_query(q)?;
    if spec.label_selector
        && let Some(sel) = q.first("label_selector")
    {
        let sel = Selector::parse(sel)
            .map_err(|e| ApiError::invalid_field("label_selector", &e.reason))?;
        items.retain(|i| sel.matches(&labels_of(i)));
    }
    for field in spec.exact {
        if let Some(want) = q.first(field) {
            items.retain(|i| i[*field].as_str() == Some(want));
        }
    }
    for field in spec.any_of {
        let wanted = q.all(field);
        if !wanted.is_empty() {
            items.retain(|i| i[*field].as_str().is_some_and(|v| wanted.contains(&v)));
        }
    }
    sort_items(&mut items, q, spec.sort_fields)?;
    let info = PageInfo::compute(page_req, items.len());
    let page: Vec<Value> = items[info.start..info.end].to_vec();
    let mut body = Map::new();
    body.insert(spec.key.to_owned(), Value::Array(page));
    body.insert("meta".to_owned(), info.meta());
    let mut resp = ok(Value::Object(body));
    if let Some(link) = info.link_header(&ctx.url, q)
        && let Ok(v) = HeaderValue::from_str(&link)
    {
        resp.headers_mut().insert(header::LINK, v);
    }
    Ok(resp)
}

/// RFC 1123 hostname, as the spec requires of server names.
pub fn is_hostname(name: &str) -> bool {
    is_dns_name(name)
}

/// Volume names: alphanumerics plus `-_.`, starting and ending alphanumeric, at most 64 characters.
pub fn is_volume_name(name: &str) -> bool {
    is_segment(name, 64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sorting_by_several_keys() {
        let mut items = vec![
            json!({"id": 1, "status": "b"}),
            json!({"id": 2, "status": "a"}),
            json!({"id": 3, "status": "b"}),
        ];
        sort_items(
            &mut items,
            &Query::parse(Some("sort=status&sort=id:desc")),
            &["id", "status"],
        )
        .unwrap();
        let ids: Vec<_> = items.iter().map(|i| i["id"].as_u64().unwrap()).collect();
        assert_eq!(ids, [2, 3, 1]);
        assert!(sort_items(&mut items, &Query::parse(Some("sort=nope")), &["id"]).is_err());
        assert!(sort_items(&mut items, &Query::parse(Some("sort=id:up")), &["id"]).is_err());
    }

    #[test]
    fn names() {
        assert!(is_hostname("gpu-1.example"));
        assert!(!is_hostname("gpu_1"));
        assert!(!is_hostname("-gpu"));
        assert!(is_volume_name("data_1.x"));
        assert!(!is_volume_name("data-"));
        assert!(!is_volume_name(&"a".repeat(65)));
    }
}
