//! A local simulator of the Hetzner Cloud API (`/v1`), faithful to the official OpenAPI spec, for tests and for
//! `sovstack sandbox` rehearsals. It only ever hands out loopback addresses.
//!
//! # Endpoints
//! | resource | endpoints |
//! | --- | --- |
//! | SSH keys | `GET/POST /ssh_keys`, `GET/PUT/DELETE /ssh_keys/{id}` (filters: `name`, `fingerprint`, `label_selector`) |
//! | servers | `GET/POST /servers`, `GET/PUT/DELETE /servers/{id}` (DELETE answers 200 with an action), `POST /servers/{id}/actions/{poweron,poweroff,shutdown,reboot,reset,change_type,rebuild}` |
//! | firewalls | `GET/POST /firewalls`, `GET/PUT/DELETE /firewalls/{id}`, `POST /firewalls/{id}/actions/{set_rules,apply_to_resources,remove_from_resources}` |
//! | volumes | `GET/POST /volumes`, `GET/PUT/DELETE /volumes/{id}`, `POST /volumes/{id}/actions/{attach,detach,resize}` |
//! | actions | `GET /actions?id=1&id=2`, `GET /actions/{id}`, `GET /{servers,firewalls,volumes}/{id}/actions`, `GET /{servers,firewalls,volumes}/actions/{id}`, deprecated `GET /{..}/{id}/actions/{action_id}` |
//! | catalogs | `GET /locations[/{id}]` (fsn1, nbg1, hel1, ash, hil, sin), `GET /server_types[/{id}]` (cx, cpx, cax, ccx lines), `GET /images[/{id}]` |
//!
//! # Behaviour
//! - **Auth**: `Authorization: Bearer <token>` on every request, else 401 `unauthorized`; with a configured token it
//!   must match exactly.
//! - **Errors** have the spec's shape `{"error": {"code", "message", "details"}}` and its status table: 400
//!   `json_error` for unparsable JSON, 422 `invalid_input` with `details.fields[{name, messages}]` listing every bad
//!   field, 404 `not_found`, 409 `uniqueness_error` (`details.fields[{name}]`) for duplicate names and SSH
//!   fingerprints, 423 `locked` while an action runs on the resource, 422 `resource_in_use`,
//!   `server_not_stopped`, `invalid_server_type`, `firewall_already_applied`, `firewall_managed_by_label_selector`,
//!   404 `firewall_resource_not_found`, 412 `resource_unavailable` (server type not offered in the location).
//! - **Actions** run for `action_duration` (0 allowed) from `running` (with progress) to `success`, or to `error`
//!   when a fault says so; state changes when they finish (server `initializing` -> `running`, `off` after poweroff,
//!   firewall `pending` -> `applied`, volume `creating` -> `available`, ...). Actions finish lazily on the next request
//!   after their due time, so no timer task exists and reloaded state behaves the same. Mutating actions and DELETE
//!   answer 423 `locked` while an action on that resource runs; `PUT` (name, labels) is allowed, as labels are
//!   routinely edited during long actions.
//! - **Rate limit**: a token bucket (default 3600 requests, one back per second) counts every request, answered or
//!   not; `RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset` (UNIX time when full) on every response, 429
//!   `rate_limit_exceeded` when empty.
//! - **Lists**: `page`, `per_page` (default 25, clamped to 50), `meta.pagination` and a `Link` header; exact `name`
//!   filters; `label_selector` ([`labels`]); `sort=field[:asc|:desc]`, repeatable.
//! - **Addresses**: servers get a loopback IPv4 ([`ServerIpv4`]: one fixed address, or sequential from 127.0.1.1);
//!   IPv6 is always `null`. Networks, placement groups and primary IPs are not simulated (422 if requested).
//! - **Boot**: when a created server's first start finishes, the optional [`SandboxConfig::boot`] hook (CLI:
//!   `--boot-command`) gets a [`BootEvent`] with the server's id, name, IPv4 and user data ([`boot`]).
//! - **Every response** carries `X-Correlation-Id`; every request is recorded in the [`RequestLog`].
//! - **State** lives in memory; with a state file it is reloaded at start and written atomically (temp file, fsync,
//!   rename) after every change. IDs only grow.
//!
//! # Faults
//! See [`faults`] for the grammar, e.g. `POST /servers:429@0.5,GET /actions:latency=200ms,*:503#3,
//! POST /servers/*/actions/poweroff:action_error,POST /servers:fail_after_create`. Probabilities use a seeded RNG
//! (`fault_seed`), so a test run is reproducible.
//!
//! # Layout
//! | module | job |
//! | --- | --- |
//! | this file, `cli` | [`Sandbox::start`], [`SandboxHandle`], [`SandboxConfig`]; `sovstack sandbox` ([`SandboxArgs`], [`serve`]) |
//! | `app`, `server` | shared state, per-request middleware (rate limit, faults, auth, log, headers), router; accept loop |
//! | `handlers` | HTTP handlers. `collection` describes a resource collection (records, JSON, name rule) as a trait; `crud` (list, get, update, delete), `actions` (action reads) and `start_action` (`POST .../actions/{name}`) serve every collection through it; `servers`, `server_create`, `firewalls`, `volumes`, `ssh_keys` hold only what is their own (create, delete checks, actions); `catalog` serves the read-only catalogs |
//! | [`store`], [`model`] | the project's records and actions, action progress, the state file |
//! | [`body`], [`query`], [`pagination`], [`labels`], [`error`] | request bodies, query strings, paging, label selectors, API errors |
//! | [`catalog`], [`faults`], [`ratelimit`], [`request_log`], [`boot`] | locations/types/images, fault injection, rate limit, request log, boot hook |
//!
//! # Use from tests
//! ```no_run
//! # async fn demo() -> Result<(), hcloud_sandbox::SandboxError> {
//! use hcloud_sandbox::{Sandbox, SandboxConfig};
//! let sandbox = Sandbox::start(SandboxConfig::for_tests(), "127.0.0.1:0".parse().unwrap()).await?;
//! let base = sandbox.base_url(); // http://127.0.0.1:PORT/v1
//! // ... drive it with any HTTP client, mutate it "behind the client's back" through the same API ...
//! assert!(sandbox.request_log().count("GET /servers") <= 1);
//! sandbox.shutdown().await;
//! # Ok(()) }
//! ```

pub mod body;
pub mod boot;
pub mod catalog;
pub mod error;
pub mod faults;
pub mod labels;
pub mod model;
pub mod pagination;
pub mod query;
pub mod ratelimit;
pub mod request_log;
pub mod store;

mod app;
mod cli;
mod handlers;
mod names;
mod server;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use app::endpoints;
pub use boot::{BootEvent, BootHook, command_hook};
pub use cli::{SandboxArgs, serve};
pub use faults::{FaultSpec, FaultSpecError};
pub use ratelimit::RateLimitConfig;
pub use request_log::{LoggedRequest, RequestLog};
pub use store::{ServerIpv4, StateFileError};

use app::{App, Shared};
use faults::FaultEngine;
use ratelimit::TokenBucket;
use store::Store;

/// Everything that shapes one simulator instance.
#[derive(Clone)]
pub struct SandboxConfig {
    /// How long every action runs before it finishes.
    pub action_duration: Duration,
    pub faults: FaultSpec,
    /// Seed for probabilistic faults (`@p`).
    pub fault_seed: u64,
    pub server_ipv4: ServerIpv4,
    pub rate_limit: RateLimitConfig,
    /// Where state is loaded from and persisted to; `None` keeps it in memory only.
    pub state_file: Option<PathBuf>,
    /// The only accepted bearer token; `None` accepts any non-empty token.
    pub token: Option<String>,
    /// Called once per created server when it has booted ([`boot`]).
    pub boot: Option<BootHook>,
}

impl std::fmt::Debug for SandboxConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SandboxConfig")
            .field("action_duration", &self.action_duration)
            .field("faults", &self.faults)
            .field("fault_seed", &self.fault_seed)
            .field("server_ipv4", &self.server_ipv4)
            .field("rate_limit", &self.rate_limit)
            .field("state_file", &self.state_file)
            .field("token", &self.token.as_ref().map(|_| "(set)"))
            .field("boot", &self.boot.as_ref().map(|_| "(hook)"))
            .finish()
    }
}

impl Default for SandboxConfig {
    fn default() -> Self {
        Self {
            action_duration: Duration::from_secs(1),
            faults: FaultSpec::default(),
            fault_seed: 0,
            server_ipv4: ServerIpv4::default(),
            rate_limit: RateLimitConfig::default(),
            state_file: None,
            token: None,
            boot: None,
        }
    }
}

impl SandboxConfig {
    /// Fast actions (5 ms) for test suites; everything else as the real API.
    pub fn for_tests() -> Self {
        Self {
            action_duration: Duration::from_millis(5),
            ..Self::default()
        }
    }
}

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum SandboxError {
    #[error("cannot listen on {addr}")]
    #[diagnostic(help("pick another address with --listen, e.g. 127.0.0.1:0 for any free port"))]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    #[diagnostic(transparent)]
    State(#[from] StateFileError),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Faults(#[from] FaultSpecError),
    #[error("action duration must be a finite, non-negative number of seconds, got {0}")]
    ActionDuration(f64),
    #[error("waiting for the stop signal failed")]
    Signal(#[source] std::io::Error),
}

/// Starts simulators.
pub struct Sandbox;

impl Sandbox {
    /// Binds `listen` (use port 0 for a free port), loads the state file if any, and serves in the background.
    pub async fn start(
        config: SandboxConfig,
        listen: SocketAddr,
    ) -> Result<SandboxHandle, SandboxError> {
        let store = match &config.state_file {
            Some(path) => Store::load(path)?.unwrap_or_default(),
            None => Store::default(),
        };
        let listener = TcpListener::bind(listen)
            .await
            .map_err(|source| SandboxError::Bind {
                addr: listen,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| SandboxError::Bind {
            addr: listen,
            source,
        })?;
        let log = RequestLog::default();
        let app = App(Arc::new(Shared {
            store: Mutex::new(store),
            action_duration: chrono::Duration::from_std(config.action_duration)
                .unwrap_or(chrono::Duration::MAX),
            server_ipv4: config.server_ipv4,
            token: config.token.clone(),
            state_file: config.state_file.clone(),
            faults: Mutex::new(FaultEngine::new(config.faults.clone(), config.fault_seed)),
            bucket: Mutex::new(TokenBucket::new(config.rate_limit, Instant::now())),
            log: log.clone(),
            boot: config.boot.clone(),
        }));
        let router = app::router(app.clone());
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(server::accept_loop(listener, router, stopped));
        Ok(SandboxHandle {
            addr,
            app,
            log,
            stop,
            task: Some(task),
        })
    }
}

/// A running simulator. Dropping it stops serving too; [`SandboxHandle::shutdown`] also waits for that.
pub struct SandboxHandle {
    addr: SocketAddr,
    app: App,
    log: RequestLog,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl SandboxHandle {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT/v1`, the value for a client's endpoint setting.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    pub fn request_log(&self) -> &RequestLog {
        &self.log
    }

    pub fn reset_log(&self) {
        self.log.clear();
    }

    /// Replaces the fault rules (and restarts their counters) while running.
    pub fn set_faults(&self, spec: FaultSpec, seed: u64) {
        self.app.set_faults(spec, seed);
    }

    /// Stops accepting, closes open connections and waits for the server task.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for SandboxHandle {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}
