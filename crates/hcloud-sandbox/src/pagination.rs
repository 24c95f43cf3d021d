//! `page`/`per_page` paging with `meta.pagination` and the `Link` header, as the spec's "Pagination" section says.

use serde_json::{Value, json};

use super::error::ApiError;
use super::query::{Query, encode};

pub const DEFAULT_PER_PAGE: u64 = 25;
pub const MAX_PER_PAGE: u64 = 50;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    pub page: u64,
    pub per_page: u64,
}

impl PageRequest {
    /// `per_page` above the maximum is clamped (the API serves at most 50), not rejected.
    pub fn from_query(q: &Query) -> Result<Self, ApiError> {
        Ok(Self {
            page: q.positive_int("page")?.unwrap_or(1),
            per_page: q
                .positive_int("per_page")?
                .unwrap_or(DEFAULT_PER_PAGE)
                .min(MAX_PER_PAGE),
        })
    }
}

/// Where one page sits among all pages of a result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageInfo {
    pub page: u64,
    pub per_page: u64,
    pub previous_page: Option<u64>,
    pub next_page: Option<u64>,
    pub last_page: u64,
    pub total_entries: u64,
    /// Index range of the page's items within the whole result.
    pub start: usize,
    pub end: usize,
}

impl PageInfo {
    pub fn compute(req: PageRequest, total: usize) -> Self {
        let total_entries = total as u64;
        let last_page = total_entries.div_ceil(req.per_page).max(1);
        let start = ((req.page - 1).saturating_mul(req.per_page)).min(total_entries) as usize;
        let end = (start as u64 + req.per_page).min(total_entries) as usize;
        Self {
            page: req.page,
            per_page: req.per_page,
            previous_page: (req.page > 1).then(|| (req.page - 1).min(last_page)),
            next_page: (req.page < last_page).then_some(req.page + 1),
            last_page,
            total_entries,
            start,
            end,
        }
    }

    pub fn meta(&self) -> Value {
        json!({"pagination": {
            "page": self.page,
            "per_page": self.per_page,
            "previous_page": self.previous_page,
            "next_page": self.next_page,
            "last_page": self.last_page,
            "total_entries": self.total_entries,
        }})
    }

    /// The `Link` header value, keeping every other query parameter of the request.
    pub fn link_header(&self, base: &str, query: &Query) -> Option<String> {
        let others: Vec<String> = query
            .pairs()
            .iter()
            .filter(|(k, _)| k != "page" && k != "per_page")
            .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
            .collect();
        let url = |page: u64| {
            let mut parts = others.clone();
            parts.push(format!("page={page}"));
            parts.push(format!("per_page={}", self.per_page));
            format!("<{base}?{}>", parts.join("&"))
        };
        let mut links = Vec::new();
        if let Some(p) = self.previous_page {
            links.push(format!("{}; rel=\"prev\"", url(p)));
        }
        if let Some(n) = self.next_page {
            links.push(format!("{}; rel=\"next\"", url(n)));
        }
        links.push(format!("{}; rel=\"last\"", url(self.last_page)));
        Some(links.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(page: u64, per_page: u64, total: usize) -> PageInfo {
        PageInfo::compute(PageRequest { page, per_page }, total)
    }

    #[test]
    fn first_middle_last_and_beyond() {
        let p = info(1, 25, 60);
        assert_eq!(
            (p.previous_page, p.next_page, p.last_page),
            (None, Some(2), 3)
        );
        assert_eq!((p.start, p.end), (0, 25));
        let p = info(2, 25, 60);
        assert_eq!((p.previous_page, p.next_page), (Some(1), Some(3)));
        let p = info(3, 25, 60);
        assert_eq!(
            (p.previous_page, p.next_page, p.start, p.end),
            (Some(2), None, 50, 60)
        );
        let p = info(9, 25, 60);
        assert_eq!(
            (p.start, p.end, p.next_page, p.previous_page),
            (60, 60, None, Some(3))
        );
    }

    #[test]
    fn empty_result_has_one_page() {
        let p = info(1, 25, 0);
        assert_eq!(
            (p.last_page, p.next_page, p.previous_page, p.total_entries),
            (1, None, None, 0)
        );
        assert_eq!((p.start, p.end), (0, 0));
    }

    #[test]
    fn exact_multiple_has_no_extra_page() {
        assert_eq!(info(2, 50, 100).next_page, None);
        assert_eq!(info(2, 50, 100).last_page, 2);
        assert_eq!(info(1, 50, 101).last_page, 3);
    }

    #[test]
    fn per_page_is_clamped_and_validated() {
        let q = Query::parse(Some("per_page=500&page=2"));
        assert_eq!(
            PageRequest::from_query(&q).unwrap(),
            PageRequest {
                page: 2,
                per_page: 50
            }
        );
        assert_eq!(
            PageRequest::from_query(&Query::parse(None))
                .unwrap()
                .per_page,
            25
        );
        assert!(PageRequest::from_query(&Query::parse(Some("page=0"))).is_err());
        assert!(PageRequest::from_query(&Query::parse(Some("per_page=x"))).is_err());
    }

    #[test]
    fn link_header_keeps_filters() {
        let q = Query::parse(Some("label_selector=a%3D1&page=2&per_page=5"));
        let link = info(2, 5, 30)
            .link_header("http://h/v1/servers", &q)
            .unwrap();
        assert_eq!(
            link,
            "<http://h/v1/servers?label_selector=a%3D1&page=1&per_page=5>; rel=\"prev\", \
             <http://h/v1/servers?label_selector=a%3D1&page=3&per_page=5>; rel=\"next\", \
             <http://h/v1/servers?label_selector=a%3D1&page=6&per_page=5>; rel=\"last\""
        );
    }
}
