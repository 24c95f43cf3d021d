//! Waiting for actions: batched polls of `GET /actions?id=..&id=..` with growing intervals and a
//! deadline. The deprecated per-resource `GET /{kind}/{id}/actions/{action_id}` is never used;
//! a server's own action list is read only to find a failed create (`failed_server_actions`).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use super::client::HcloudClient;
use super::error::{ActionFailure, HcloudError};
use super::ids::ActionId;
use super::models::{Action, ActionStatus};
use super::transport::ApiRequest;

/// IDs per poll request; keeps URLs short (hcloud-go uses the same chunk size).
pub const POLL_BATCH: usize = 25;

/// How actions are polled. Every poll costs budget, so intervals grow (like the Terraform provider:
/// 500 ms, doubling, capped at 10 s) instead of hammering the API.
#[derive(Debug, Clone, PartialEq)]
pub struct PollPolicy {
    pub initial_interval: Duration,
    pub multiplier: f64,
    pub max_interval: Duration,
    /// Give up (with [`HcloudError::ActionTimeout`]) after this long.
    pub timeout: Duration,
}

impl Default for PollPolicy {
    fn default() -> Self {
        Self {
            initial_interval: Duration::from_millis(500),
            multiplier: 2.0,
            max_interval: Duration::from_secs(10),
            timeout: Duration::from_secs(30 * 60),
        }
    }
}

impl PollPolicy {
    /// The interval after `current`.
    pub fn next_interval(&self, current: Duration) -> Duration {
        let multiplier = if self.multiplier.is_finite() && self.multiplier >= 1.0 {
            self.multiplier
        } else {
            1.0
        };
        current.mul_f64(multiplier).min(self.max_interval)
    }
}

impl HcloudClient {
    /// `GET /actions/{id}`.
    pub async fn get_action(&self, id: ActionId) -> Result<Action, HcloudError> {
        let request = ApiRequest::for_id(reqwest::Method::GET, "/actions/{id}", id);
        self.execute_field(&request, "action").await
    }

    /// `GET /actions?id=..`: the given actions in one request (unknown IDs are simply absent).
    pub async fn get_actions(&self, ids: &[ActionId]) -> Result<Vec<Action>, HcloudError> {
        let mut request = ApiRequest::get("/actions", "/actions");
        for id in ids {
            request = request.query("id", id.to_string());
        }
        self.execute_field(&request, "actions").await
    }

    /// Waits until all actions are finished. Returns them in the order given when all succeeded;
    /// otherwise [`HcloudError::ActionFailed`] for the first failure (after all others finished, so
    /// no resource is left locked), [`HcloudError::ActionTimeout`] or
    /// [`HcloudError::ActionsNotFound`].
    pub async fn wait_for_actions(&self, ids: &[ActionId]) -> Result<Vec<Action>, HcloudError> {
        self.wait_for_actions_observed(ids, &|_| {}).await
    }

    /// [`Self::wait_for_actions`], showing `observe` every poll's answers (for progress).
    pub async fn wait_for_actions_observed(
        &self,
        ids: &[ActionId],
        observe: &(dyn Fn(&[Action]) + Send + Sync),
    ) -> Result<Vec<Action>, HcloudError> {
        let policy = &self.inner.config.action_poll;
        let clock = &self.inner.clock;
        let started = clock.monotonic();
        let mut pending: BTreeSet<ActionId> = ids.iter().copied().collect();
        let mut done: BTreeMap<ActionId, Action> = BTreeMap::new();
        let mut interval = policy.initial_interval;

        while !pending.is_empty() {
            let waited = clock.monotonic().saturating_sub(started);
            if waited >= policy.timeout {
                return Err(HcloudError::ActionTimeout {
                    pending: pending.into_iter().collect(),
                    waited,
                });
            }
            // Fresh actions are running; looking right away would only spend budget.
            clock
                .sleep(interval.min(policy.timeout.saturating_sub(waited)))
                .await;
            interval = policy.next_interval(interval);

            let batch: Vec<ActionId> = pending.iter().copied().collect();
            for chunk in batch.chunks(POLL_BATCH) {
                let actions = self.get_actions(chunk).await?;
                let seen: BTreeSet<ActionId> = actions.iter().map(|a| a.id).collect();
                let missing: Vec<ActionId> = chunk
                    .iter()
                    .filter(|id| !seen.contains(id))
                    .copied()
                    .collect();
                if !missing.is_empty() {
                    return Err(HcloudError::ActionsNotFound { ids: missing });
                }
                observe(&actions);
                for action in actions {
                    if action.is_finished() && pending.remove(&action.id) {
                        done.insert(action.id, action);
                    }
                }
            }
            tracing::debug!(
                pending = pending.len(),
                finished = done.len(),
                "waiting for actions"
            );
        }
        collect(ids, done)
    }

    /// Waits for actions as returned by a mutation, polling only those still running.
    pub async fn wait_for<'a>(
        &self,
        actions: impl IntoIterator<Item = &'a Action>,
    ) -> Result<Vec<Action>, HcloudError> {
        self.wait_for_observed(actions, &|_| {}).await
    }

    /// [`Self::wait_for`], showing `observe` every poll's answers (for progress).
    pub async fn wait_for_observed<'a>(
        &self,
        actions: impl IntoIterator<Item = &'a Action>,
        observe: &(dyn Fn(&[Action]) + Send + Sync),
    ) -> Result<Vec<Action>, HcloudError> {
        let actions: Vec<&Action> = actions.into_iter().collect();
        let running: Vec<ActionId> = actions
            .iter()
            .filter(|a| !a.is_finished())
            .map(|a| a.id)
            .collect();
        let polled = if running.is_empty() {
            Vec::new()
        } else {
            self.wait_for_actions_observed(&running, observe).await?
        };
        let mut done: BTreeMap<ActionId, Action> = actions
            .iter()
            .filter(|a| a.is_finished())
            .map(|a| (a.id, (*a).clone()))
            .collect();
        done.extend(polled.into_iter().map(|a| (a.id, a)));
        let ids: Vec<ActionId> = actions.iter().map(|a| a.id).collect();
        collect(&ids, done)
    }
}

fn collect(ids: &[ActionId], done: BTreeMap<ActionId, Action>) -> Result<Vec<Action>, HcloudError> {
    let mut failed = ids
        .iter()
        .filter_map(|id| done.get(id))
        .filter(|a| a.status == ActionStatus::Error);
    if let Some(first) = failed.next() {
        let also_failed = failed.map(|a| a.id).filter(|id| *id != first.id).collect();
        let (code, message) = first
            .error
            .as_ref()
            .map(|e| (e.code.clone(), e.message.clone()))
            .unwrap_or_else(|| ("unknown_error".to_owned(), "no error details".to_owned()));
        return Err(HcloudError::ActionFailed(Box::new(ActionFailure {
            id: first.id,
            command: first.command.clone(),
            code,
            message,
            resources: first.resources.clone(),
            also_failed,
        })));
    }
    let mut seen = BTreeSet::new();
    Ok(ids
        .iter()
        .filter(|id| seen.insert(**id))
        .filter_map(|id| done.get(id).cloned())
        .collect())
}
