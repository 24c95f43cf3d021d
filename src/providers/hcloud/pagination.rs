//! List calls: filters plus following `meta.pagination.next_page` until every item is read.

use serde::de::DeserializeOwned;

use super::client::HcloudClient;
use super::error::HcloudError;
use super::labels::LabelSelector;
use super::models::ResponseMeta;
use super::transport::ApiRequest;

/// The largest page the API serves; fewer pages means fewer requests against the budget.
pub const PER_PAGE: u32 = 50;
/// A guard against a server that never stops answering with a `next_page`.
const MAX_PAGES: u64 = 10_000;

/// Filters of a list call.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListParams {
    pub label_selector: Option<LabelSelector>,
    /// Exact name match.
    pub name: Option<String>,
    /// Further endpoint-specific filters, e.g. `("fingerprint", ...)` for SSH keys or
    /// `("status", "running")` for servers (repeatable).
    pub filters: Vec<(String, String)>,
}

impl ListParams {
    pub fn new() -> Self {
        Self::default()
    }

    /// Only resources matching the selector.
    pub fn selector(selector: LabelSelector) -> Self {
        Self {
            label_selector: Some(selector),
            ..Self::default()
        }
    }

    pub fn with_selector(mut self, selector: LabelSelector) -> Self {
        self.label_selector = Some(selector);
        self
    }

    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    pub fn with_filter(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.filters.push((key.into(), value.into()));
        self
    }

    fn apply(&self, mut request: ApiRequest) -> Result<ApiRequest, HcloudError> {
        if let Some(selector) = &self.label_selector {
            let rendered = selector.render()?;
            if !rendered.is_empty() {
                request = request.query("label_selector", rendered);
            }
        }
        if let Some(name) = &self.name {
            request = request.query("name", name.clone());
        }
        for (k, v) in &self.filters {
            request = request.query(k, v.clone());
        }
        Ok(request)
    }
}

impl HcloudClient {
    /// Reads every page of a list endpoint. `field` is the array's key (`servers`, `ssh_keys`...).
    pub(crate) async fn list_all<T: DeserializeOwned>(
        &self,
        template: &'static str,
        field: &str,
        params: &ListParams,
    ) -> Result<Vec<T>, HcloudError> {
        let mut items = Vec::new();
        let mut page: u64 = 1;
        loop {
            let request = params
                .apply(ApiRequest::get(template, template))?
                .query("page", page.to_string())
                .query("per_page", PER_PAGE.to_string());
            let mut value: serde_json::Value = self.execute_json(&request).await?;
            let decode = |source| HcloudError::Decode {
                method: "GET".to_owned(),
                path: template.to_owned(),
                source,
            };
            let list = value
                .get_mut(field)
                .map(serde_json::Value::take)
                .ok_or_else(|| {
                    decode(serde::de::Error::custom(format!("missing field `{field}`")))
                })?;
            let mut batch: Vec<T> = serde_json::from_value(list).map_err(decode)?;
            items.append(&mut batch);

            // Endpoints without `meta` (none we use today) are a single page.
            let next = match value.get_mut("meta").map(serde_json::Value::take) {
                Some(meta) => {
                    serde_json::from_value::<ResponseMeta>(meta)
                        .map_err(decode)?
                        .pagination
                        .next_page
                }
                None => None,
            };
            match next {
                None => return Ok(items),
                Some(next) if next <= page => {
                    return Err(HcloudError::Pagination {
                        path: template.to_owned(),
                        reason: format!("page {page} points back to page {next}"),
                    });
                }
                Some(_) if page >= MAX_PAGES => {
                    return Err(HcloudError::Pagination {
                        path: template.to_owned(),
                        reason: format!("more than {MAX_PAGES} pages"),
                    });
                }
                Some(next) => page = next,
            }
        }
    }
}
