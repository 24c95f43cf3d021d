//! Shapes shared by several resources.

use serde::{Deserialize, Deserializer, Serialize};

use crate::providers::hcloud::labels::Labels;

/// `protection` of volumes and images (servers add `rebuild`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Protection {
    pub delete: bool,
}

/// `meta` of list responses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResponseMeta {
    pub pagination: Pagination,
}

/// `meta.pagination`; the last four fields are null on the first/last page or when unknown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pagination {
    pub page: u64,
    pub per_page: u64,
    pub previous_page: Option<u64>,
    pub next_page: Option<u64>,
    pub last_page: Option<u64>,
    pub total_entries: Option<u64>,
}

/// Body of `PUT /{resource}/{id}` for SSH keys, servers, firewalls and volumes: only the fields
/// given are changed. `labels` **replaces** the whole set; `Some(empty)` clears it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdateResource {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<Labels>,
}

impl UpdateResource {
    pub fn name(name: impl Into<String>) -> Self {
        Self {
            name: Some(name.into()),
            labels: None,
        }
    }

    pub fn labels(labels: Labels) -> Self {
        Self {
            name: None,
            labels: Some(labels),
        }
    }
}

/// Sizes are integers in practice, but the spec types some as `number`; accept `42` and `42.0`.
pub(crate) fn u64_from_number<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    let n = serde_json::Number::deserialize(d)?;
    if let Some(v) = n.as_u64() {
        return Ok(v);
    }
    match n.as_f64() {
        Some(f) if f >= 0.0 && f.fract() == 0.0 && f <= u64::MAX as f64 => Ok(f as u64),
        _ => Err(serde::de::Error::custom(format!(
            "expected a whole non-negative number, got {n}"
        ))),
    }
}
