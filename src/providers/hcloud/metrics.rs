//! Counting API calls: the project has a fixed hourly budget, so the caller reports (and may cap) how
//! much of it a run spends, and tests assert that refresh costs a constant number of calls.

use std::collections::BTreeMap;
use std::sync::Mutex;

use crate::providers::sync::lock_even_if_poisoned;

/// A snapshot of the counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestStats {
    /// HTTP requests actually sent, retries included (that is what the budget sees).
    pub total: u64,
    /// Of those, how many were retries.
    pub retries: u64,
    /// Requests per endpoint template, e.g. `GET /servers/{id}`.
    pub by_endpoint: BTreeMap<String, u64>,
}

impl RequestStats {
    /// Requests sent to one endpoint template (`"GET /servers"`).
    pub fn count(&self, endpoint: &str) -> u64 {
        self.by_endpoint.get(endpoint).copied().unwrap_or(0)
    }

    /// What happened between `earlier` and `self`.
    pub fn since(&self, earlier: &RequestStats) -> RequestStats {
        let mut by_endpoint = BTreeMap::new();
        for (k, v) in &self.by_endpoint {
            let delta = v.saturating_sub(earlier.count(k));
            if delta > 0 {
                by_endpoint.insert(k.clone(), delta);
            }
        }
        RequestStats {
            total: self.total.saturating_sub(earlier.total),
            retries: self.retries.saturating_sub(earlier.retries),
            by_endpoint,
        }
    }
}

#[derive(Debug, Default)]
pub(crate) struct RequestCounter {
    stats: Mutex<RequestStats>,
}

impl RequestCounter {
    fn lock(&self) -> std::sync::MutexGuard<'_, RequestStats> {
        lock_even_if_poisoned(&self.stats)
    }

    /// Counts one request about to be sent, unless that would exceed `budget`; returns false then.
    pub fn try_count(&self, endpoint: &str, is_retry: bool, budget: Option<u64>) -> bool {
        let mut stats = self.lock();
        if budget.is_some_and(|b| stats.total >= b) {
            return false;
        }
        stats.total += 1;
        if is_retry {
            stats.retries += 1;
        }
        *stats.by_endpoint.entry(endpoint.to_owned()).or_default() += 1;
        true
    }

    pub fn snapshot(&self) -> RequestStats {
        self.lock().clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_caps() {
        let c = RequestCounter::default();
        assert!(c.try_count("GET /servers", false, Some(2)));
        let first = c.snapshot();
        assert!(c.try_count("GET /servers", true, Some(2)));
        assert!(!c.try_count("GET /servers", false, Some(2)));
        let s = c.snapshot();
        assert_eq!(s.total, 2);
        assert_eq!(s.retries, 1);
        assert_eq!(s.count("GET /servers"), 2);
        assert_eq!(s.since(&first).total, 1);
        assert_eq!(s.since(&first).count("GET /servers"), 1);
    }
}
