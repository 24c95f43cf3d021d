//! Shared application state, the per-request middleware (rate limit, faults, auth, log, headers) and the router.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Instant, SystemTime};

use axum::Router;
use axum::body::{Body as AxumBody, to_bytes};
use axum::extract::{Request, State};
use axum::handler::Handler;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, on, post};
use chrono::{DateTime, Utc};
use serde_json::Value;

use super::boot::BootHook;
use super::error::ApiError;
use super::faults::{FaultEngine, FaultSpec};
use super::handlers::collection::Collection;
use super::handlers::firewalls::{self, Firewalls};
use super::handlers::servers::{self, Servers};
use super::handlers::ssh_keys::{self, SshKeys};
use super::handlers::start_action::{self, ActionTarget};
use super::handlers::volumes::{self, Volumes};
use super::handlers::{actions, catalog, crud, server_create};
use super::ratelimit::TokenBucket;
use super::request_log::{LoggedRequest, RequestLog, endpoint_template};
use super::store::{ServerIpv4, Store};

/// Bodies above this are refused; the largest legal field (`user_data`) is 32 KiB.
const MAX_BODY: usize = 1024 * 1024;

pub struct Shared {
    pub store: Mutex<Store>,
    pub action_duration: chrono::Duration,
    pub server_ipv4: ServerIpv4,
    pub token: Option<String>,
    pub state_file: Option<PathBuf>,
    pub faults: Mutex<FaultEngine>,
    pub bucket: Mutex<TokenBucket>,
    pub log: RequestLog,
    pub boot: Option<BootHook>,
}

#[derive(Clone)]
pub struct App(pub Arc<Shared>);

/// What the middleware tells a handler about its request.
#[derive(Debug, Clone)]
pub struct Ctx {
    /// Actions this request starts end in `error` with this code.
    pub action_error: Option<String>,
    /// Actions this request starts run this long instead of the sandbox's action duration.
    pub action_duration: Option<chrono::Duration>,
    /// `http://host/v1/...` of this request without the query, for `Link` headers.
    pub url: String,
}

/// Marks a response whose connection must be closed without sending it (`drop_after_create`).
#[derive(Debug, Clone, Copy)]
pub struct DropConnection;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl App {
    pub fn store(&self) -> MutexGuard<'_, Store> {
        lock(&self.0.store)
    }

    pub fn faults(&self) -> MutexGuard<'_, FaultEngine> {
        lock(&self.0.faults)
    }

    pub fn set_faults(&self, spec: FaultSpec, seed: u64) {
        *self.faults() = FaultEngine::new(spec, seed);
    }

    /// Runs `f` on the store after finishing due actions; persists when `f` may have changed something.
    pub fn with_store<R>(
        &self,
        mutating: bool,
        f: impl FnOnce(&mut Store, DateTime<Utc>) -> Result<R, ApiError>,
    ) -> Result<R, ApiError> {
        let mut store = self.store();
        let now = Utc::now();
        let advanced = store.advance(now);
        let result = f(&mut store, now);
        if (mutating && result.is_ok()) || advanced {
            self.persist(&store)?;
        }
        let boots = store.take_boots();
        drop(store);
        // Outside the lock: a hook may take a moment, and must never stall the API.
        if let Some(hook) = &self.0.boot {
            for event in boots {
                hook(event);
            }
        }
        result
    }

    pub fn persist(&self, store: &Store) -> Result<(), ApiError> {
        match &self.0.state_file {
            None => Ok(()),
            Some(path) => store.persist(path).map_err(|e| {
                tracing::error!(error = %e, "cannot persist sandbox state");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "server_error",
                    "cannot persist sandbox state",
                )
            }),
        }
    }
}

pub fn router(app: App) -> Router {
    let api = api_routes().router.method_not_allowed_fallback(|| async {
        ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "the request method is not allowed",
        )
    });
    Router::new()
        .nest("/v1", api)
        .fallback(|| async { ApiError::not_found("endpoint") })
        .layer(middleware::from_fn_with_state(app.clone(), per_request))
        .with_state(app)
}

/// Every endpoint under `/v1`, as `METHOD /path` in the request log's template form
/// ([`crate::request_log::endpoint_template`]), e.g. `POST /servers/{id}/actions/poweroff`.
pub fn endpoints() -> Vec<String> {
    api_routes().endpoints
}

/// The `/v1` routes with the endpoints they serve, both made by the same calls.
fn api_routes() -> ApiRoutes {
    ApiRoutes::default()
        .on(Verb::Get, "/actions", actions::list)
        .on(Verb::Get, "/actions/{id}", actions::get)
        .collection::<SshKeys, _, _, _, _>(ssh_keys::create, crud::delete::<SshKeys>)
        .collection::<Servers, _, _, _, _>(server_create::create, servers::delete)
        .actions::<Servers>()
        .collection::<Firewalls, _, _, _, _>(firewalls::create, crud::delete::<Firewalls>)
        .actions::<Firewalls>()
        .collection::<Volumes, _, _, _, _>(volumes::create, crud::delete::<Volumes>)
        .actions::<Volumes>()
        .on(Verb::Get, "/locations", catalog::list_locations)
        .on(Verb::Get, "/locations/{id}", catalog::get_location)
        .on(Verb::Get, "/server_types", catalog::list_server_types)
        .on(Verb::Get, "/server_types/{id}", catalog::get_server_type)
        .on(Verb::Get, "/images", catalog::list_images)
        .on(Verb::Get, "/images/{id}", catalog::get_image)
}

#[derive(Debug, Clone, Copy)]
enum Verb {
    Get,
    Post,
    Put,
    Delete,
}

impl Verb {
    fn filter(self) -> MethodFilter {
        match self {
            Verb::Get => MethodFilter::GET,
            Verb::Post => MethodFilter::POST,
            Verb::Put => MethodFilter::PUT,
            Verb::Delete => MethodFilter::DELETE,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Verb::Get => "GET",
            Verb::Post => "POST",
            Verb::Put => "PUT",
            Verb::Delete => "DELETE",
        }
    }
}

/// A router under construction that records each endpoint as it is routed. Path parameters are named as the request
/// log names them: `{id}` for the first, `{action_id}` for the second.
#[derive(Default)]
struct ApiRoutes {
    router: Router<App>,
    endpoints: Vec<String>,
}

impl ApiRoutes {
    fn on<H, T>(mut self, verb: Verb, path: &str, handler: H) -> Self
    where
        H: Handler<T, App>,
        T: 'static,
    {
        self.endpoints.push(format!("{} {path}", verb.as_str()));
        self.router = self.router.route(path, on(verb.filter(), handler));
        self
    }

    /// `/{resource}` (list, create) and `/{resource}/{id}` (get, update, delete) of one collection.
    fn collection<C, HC, TC, HD, TD>(self, create: HC, delete: HD) -> Self
    where
        C: Collection,
        HC: Handler<TC, App>,
        TC: 'static,
        HD: Handler<TD, App>,
        TD: 'static,
    {
        let base = format!("/{}", C::LIST.key);
        let one = format!("{base}/{{id}}");
        self.on(Verb::Get, &base, crud::list::<C>)
            .on(Verb::Post, &base, create)
            .on(Verb::Get, &one, crud::get::<C>)
            .on(Verb::Put, &one, crud::update::<C>)
            .on(Verb::Delete, &one, delete)
    }

    /// The action routes of a collection: its actions listed and by ID, a record's actions, and starting each action
    /// of [`ActionTarget::ACTIONS`] (one route dispatches them all through that table).
    fn actions<C: ActionTarget>(mut self) -> Self {
        let base = format!("/{}", C::LIST.key);
        let start = format!("{base}/{{id}}/actions/{{action_id}}");
        for (name, _) in C::ACTIONS {
            self.endpoints
                .push(format!("POST {base}/{{id}}/actions/{name}"));
        }
        self.router = self.router.route(&start, post(start_action::post::<C>));
        self.on(
            Verb::Get,
            &format!("{base}/actions"),
            actions::list_of_kind::<C>,
        )
        .on(
            Verb::Get,
            &format!("{base}/actions/{{id}}"),
            actions::get_for::<C>,
        )
        .on(
            Verb::Get,
            &format!("{base}/{{id}}/actions"),
            actions::list_for::<C>,
        )
        .on(Verb::Get, &start, actions::get_nested::<C>)
    }
}

fn authorized(app: &App, req: &Request) -> bool {
    let Some(value) = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let Some(token) = value.strip_prefix("Bearer ") else {
        return false;
    };
    match &app.0.token {
        Some(expected) => token == expected,
        None => !token.trim().is_empty(),
    }
}

/// Order matters: the rate limit counts every request (the spec: "authenticated or not"), faults come next so an
/// injected 503 still costs a token, then auth, then the handler.
async fn per_request(State(app): State<App>, req: Request, next: Next) -> Response {
    let correlation_id = uuid::Uuid::new_v4().to_string();
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let query = req.uri().query().map(str::to_owned);
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1")
        .to_owned();

    let (parts, body) = req.into_parts();
    let bytes = to_bytes(body, MAX_BODY).await.unwrap_or_default();
    let mut req = Request::from_parts(parts, AxumBody::from(bytes.clone()));
    let (request_body, request_body_raw) = if bytes.is_empty() {
        (None, None)
    } else {
        match serde_json::from_slice::<Value>(&bytes) {
            Ok(v) => (Some(v), None),
            Err(_) => (None, Some(String::from_utf8_lossy(&bytes).into_owned())),
        }
    };

    let rate = lock(&app.0.bucket).take(Instant::now(), SystemTime::now());
    let outcome = app.faults().evaluate(method.as_str(), &path);
    if !outcome.latency.is_zero() {
        tokio::time::sleep(outcome.latency).await;
    }

    let mut response = if !rate.allowed {
        ApiError::rate_limited(rate.limit).into_response()
    } else if let Some(err) = outcome.replace.clone() {
        err.into_response()
    } else if !authorized(&app, &req) {
        ApiError::unauthorized().into_response()
    } else {
        req.extensions_mut().insert(Ctx {
            action_error: outcome.action_error.clone(),
            action_duration: outcome
                .action_duration
                .and_then(|d| chrono::Duration::from_std(d).ok()),
            url: format!("http://{host}{path}"),
        });
        next.run(req).await
    };

    let succeeded = response.status().is_success();
    let mut dropped = false;
    if succeeded && outcome.drop_after_create {
        dropped = true;
    } else if succeeded && outcome.fail_after_create {
        response = super::faults::status_error(503).into_response();
    }

    let (mut parts, body) = response.into_parts();
    let body_bytes = to_bytes(body, usize::MAX).await.unwrap_or_default();
    let response_body = serde_json::from_slice::<Value>(&body_bytes).ok();

    app.0.log.push(LoggedRequest {
        seq: 0,
        method: method.to_string(),
        endpoint: endpoint_template(method.as_str(), &path),
        path,
        query,
        request_body,
        request_body_raw,
        status: parts.status.as_u16(),
        response_body,
        correlation_id: correlation_id.clone(),
        faults: outcome.fired,
        dropped,
    });

    let headers = &mut parts.headers;
    for (name, value) in [
        ("ratelimit-limit", rate.limit.to_string()),
        ("ratelimit-remaining", rate.remaining.to_string()),
        ("ratelimit-reset", rate.reset.to_string()),
        ("x-correlation-id", correlation_id),
    ] {
        if let Ok(v) = HeaderValue::from_str(&value) {
            headers.insert(name, v);
        }
    }
    if dropped {
        parts.extensions.insert(DropConnection);
    }
    Response::from_parts(parts, AxumBody::from(body_bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_endpoint_list_names_each_route_once_in_the_request_log_form() {
        let all = endpoints();
        let unique: std::collections::BTreeSet<&String> = all.iter().collect();
        assert_eq!(unique.len(), all.len(), "listed twice: {all:?}");
        for expected in [
            "GET /actions",
            "GET /servers/actions",
            "GET /volumes/{id}/actions",
            "GET /firewalls/{id}/actions/{action_id}",
            "POST /servers/{id}/actions/enable_backup",
            "POST /volumes/{id}/actions/change_protection",
            "DELETE /ssh_keys/{id}",
            "GET /images/{id}",
        ] {
            assert!(all.iter().any(|e| e == expected), "{expected} missing");
        }
        // A concrete request maps onto its listed template.
        let template = crate::request_log::endpoint_template("GET", "/v1/servers/7/actions/9");
        assert!(all.contains(&template), "{template}");
        // Every action of every collection is listed, and nothing else starts one.
        let starts = all
            .iter()
            .filter(|e| e.starts_with("POST") && e.contains("/actions/"))
            .count();
        assert_eq!(
            starts,
            Servers::ACTIONS.len() + Firewalls::ACTIONS.len() + Volumes::ACTIONS.len()
        );
    }
}
