//! What every handler that starts actions shares: the timing of a request's actions, the answers that carry them,
//! and the generic `POST /{resource}/{id}/actions/{name}` that hands each action to its collection.

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::collection::Collection;
use super::{created, parse_id};
use crate::app::{App, Ctx};
use crate::body::Body;
use crate::error::ApiError;
use crate::store::{NewAction, Store};

/// When the actions of one request start, how long they run, and the code they fail with (fault injection).
pub struct Timing<'a> {
    pub now: DateTime<Utc>,
    pub duration: chrono::Duration,
    pub fail: Option<&'a str>,
}

impl Timing<'_> {
    pub fn start(&self, s: &mut Store, new: NewAction<'_>) -> u64 {
        s.start_action(new, self.now, self.duration, self.fail)
    }

    pub fn json(&self, s: &Store, action: u64) -> Value {
        s.action_json(action, self.now)
    }

    pub fn json_all(&self, s: &Store, actions: &[u64]) -> Vec<Value> {
        actions.iter().map(|a| self.json(s, *a)).collect()
    }

    /// Starts one action and answers `201 {"action": ...}`.
    pub fn answer_one(&self, s: &mut Store, new: NewAction<'_>) -> Response {
        let action = self.start(s, new);
        created(json!({"action": self.json(s, action)}))
    }

    /// Answers `201 {"actions": [...]}`.
    pub fn answer_all(&self, s: &Store, actions: &[u64]) -> Response {
        created(json!({"actions": self.json_all(s, actions)}))
    }
}

/// Runs `f` as a mutating request whose actions start now and take the simulator's action duration.
pub fn with_actions<R>(
    app: &App,
    ctx: &Ctx,
    f: impl FnOnce(&mut Store, &Timing<'_>) -> Result<R, ApiError>,
) -> Result<R, ApiError> {
    let duration = ctx.action_duration.unwrap_or(app.0.action_duration);
    let fail = ctx.action_error.as_deref();
    app.with_store(true, |s, now| {
        f(
            s,
            &Timing {
                now,
                duration,
                fail,
            },
        )
    })
}

/// One `POST /{resource}/{id}/actions/{name}` request.
pub struct ActionRequest<'a> {
    app: &'a App,
    ctx: &'a Ctx,
    /// The record, already parsed (not yet looked up).
    pub id: u64,
    pub name: &'a str,
}

impl ActionRequest<'_> {
    pub fn with_actions<R>(
        &self,
        f: impl FnOnce(&mut Store, &Timing<'_>) -> Result<R, ApiError>,
    ) -> Result<R, ApiError> {
        with_actions(self.app, self.ctx, f)
    }
}

/// Runs one named action with its request body (already parsed as JSON).
pub type ActionFn = fn(&ActionRequest<'_>, Body) -> Result<Response, ApiError>;

/// A collection whose records take actions.
pub trait ActionTarget: Collection {
    /// Every action the collection serves, by the name in its path. The router dispatches through this table and
    /// the sandbox's endpoint list ([`crate::endpoints`]) is made from it, so the two cannot disagree.
    const ACTIONS: &'static [(&'static str, ActionFn)];
    /// How messages name an unknown action (`server action not found`).
    const ACTION_NOUN: &'static str;
}

/// The body is read before the name is looked up: a malformed one is refused even for an unknown action.
pub async fn post<C: ActionTarget>(
    State(app): State<App>,
    Extension(ctx): Extension<Ctx>,
    Path((id, name)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let id = parse_id(&id, C::NOUN)?;
    let body = Body::parse(&body)?;
    let run = C::ACTIONS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, run)| run)
        .ok_or_else(|| ApiError::not_found(C::ACTION_NOUN))?;
    run(
        &ActionRequest {
            app: &app,
            ctx: &ctx,
            id,
            name: &name,
        },
        body,
    )
}
