//! A local simulator of the Hetzner Cloud API (`/v1`), faithful to the official OpenAPI spec, for tests and for
//! `sovstack sandbox` rehearsals. It only ever hands out loopback addresses.
//!
//! # Endpoints
//! [`endpoints`] lists every one, from the same calls that build the router; the contract suite
//! (`tests/contract/hcloud_official.py`, the official Python client) must exercise each with success.
//!
//! | resource | endpoints |
//! | --- | --- |
//! | SSH keys | `GET/POST /ssh_keys`, `GET/PUT/DELETE /ssh_keys/{id}` (filters: `name`, `fingerprint`, `label_selector`) |
//! | servers | `GET/POST /servers`, `GET/PUT/DELETE /servers/{id}` (DELETE answers 200 with an action), `POST /servers/{id}/actions/{poweron,poweroff,shutdown,reboot,reset,change_type,rebuild,change_protection,enable_backup,disable_backup}` |
//! | firewalls | `GET/POST /firewalls`, `GET/PUT/DELETE /firewalls/{id}`, `POST /firewalls/{id}/actions/{set_rules,apply_to_resources,remove_from_resources}` |
//! | volumes | `GET/POST /volumes`, `GET/PUT/DELETE /volumes/{id}`, `POST /volumes/{id}/actions/{attach,detach,resize,change_protection}` |
//! | actions | `GET /actions?id=1&id=2` (`id` required: listing all actions was removed from the API), `GET /actions/{id}`; per kind (`servers`, `firewalls`, `volumes`): `GET /{kind}/actions` (filters `id`, `status`), `GET /{kind}/actions/{id}`, `GET /{kind}/{id}/actions` (filter `status`), deprecated `GET /{kind}/{id}/actions/{action_id}` |
//! | catalogs | `GET /locations[/{id}]` (fsn1, nbg1, hel1, ash, hil, sin), `GET /server_types[/{id}]` (cx, cpx, cax, ccx lines), `GET /images[/{id}]` (system images only) |
//!
//! # Behaviour
//! - **Auth**: `Authorization: Bearer <token>` on every request, else 401 `unauthorized`; with a configured token it
//!   must match exactly.
//! - **References**: `server_type`, `image` and `location` (server create, `change_type`, `rebuild`, volume create)
//!   take an ID or a name; the spec types them as strings, but the official clients send IDs as JSON numbers and
//!   the API accepts both, so the simulator does too. `ssh_keys` entries are IDs (numbers) or names; `volumes`,
//!   `firewalls[].firewall`, `server` and firewall targets take integer IDs only, as the spec says.
//! - **Errors** have the spec's shape `{"error": {"code", "message", "details"}}` and its status table: 400
//!   `json_error` for unparsable JSON, 422 `invalid_input` with `details.fields[{name, messages}]` listing every bad
//!   field, 404 `not_found`, 409 `uniqueness_error` (`details.fields[{name}]`) for duplicate names and SSH
//!   fingerprints, 423 `locked` while an action runs on the resource, 423 `protected` for the delete of a
//!   delete-protected server or volume and the rebuild of a rebuild-protected server, 405 `method_not_allowed`,
//!   422 `resource_in_use`, `server_not_stopped`, `invalid_server_type`, `volume_already_attached`,
//!   `firewall_already_applied`, `firewall_managed_by_label_selector`, 404/422 `firewall_resource_not_found`,
//!   412 `resource_unavailable` (server type not offered in the location).
//! - **Actions** run for `action_duration` (0 allowed) from `running` (with progress) to `success`, or to `error`
//!   when a fault says so; state changes when they finish (server `initializing` -> `running`, `off` after poweroff,
//!   firewall `pending` -> `applied`, volume `creating` -> `available`, protection and backup window set, ...).
//!   Actions finish lazily on the next request after their due time, so no timer task exists and reloaded state
//!   behaves the same. Mutating actions and DELETE answer 423 `locked` while an action on that resource runs; `PUT`
//!   (name, labels) is allowed, as labels are routinely edited during long actions. A server reads `locked: true`
//!   while an action on it runs (the spec only says "locked and not available to user"; this is our reading).
//! - **Protection**: `change_protection` sets a server's `{delete, rebuild}` (which must end up equal, as the API
//!   requires today) or a volume's `{delete}` when its action finishes; it is enforced as above.
//! - **Backups**: `enable_backup` sets `backup_window` (one of Hetzner's four-hour windows, chosen by server ID),
//!   `disable_backup` clears it. No backup images are made.
//! - **Rate limit**: a token bucket (default 3600 requests, one back per second) counts every request, answered or
//!   not; `RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset` (UNIX time when full) on every response, 429
//!   `rate_limit_exceeded` when empty.
//! - **Lists**: `page`, `per_page` (default 25, clamped to 50), `meta.pagination` and a `Link` header; exact `name`
//!   filters; `label_selector` ([`labels`]); `status` and `type` filters where the spec has them;
//!   `sort=field[:asc|:desc]`, repeatable.
//! - **Addresses**: servers get a loopback IPv4 ([`ServerIpv4`]: one fixed address, or sequential from 127.0.1.1)
//!   and an IPv6 /64 from the documentation prefix `2001:db8::/32` (`2001:db8:X:Y::/64` from the Primary IP's ID,
//!   never routed), each backed by its own Primary IP ID; `public_net.enable_ipv4`/`enable_ipv6: false` leaves
//!   that one out (`null`).
//! - **Boot**: when a created server's first start finishes, the optional [`SandboxConfig::boot`] hook (CLI:
//!   `--boot-command`) gets a [`BootEvent`] with the server's id, name, IPv4 and user data ([`boot`]).
//! - **Every response** carries `X-Correlation-Id`; every request is recorded in the [`RequestLog`].
//! - **State** lives in memory; with a state file it is reloaded at start and written atomically (temp file, fsync,
//!   rename) after every change. IDs only grow.
//!
//! # Not simulated
//! - Whole resource kinds: networks, placement groups, primary IPs as resources (`/primary_ips`: servers get IDs
//!   for theirs, but the endpoints are absent and `public_net.ipv4`/`ipv6` IDs in a create are refused with 422),
//!   floating IPs, load balancers (and their types), certificates, ISOs, DNS zones, datacenters (deprecated,
//!   removed after 2026-10-01), pricing, metrics, storage boxes. Their paths answer 404 `not_found`.
//! - Images as a writable kind: no snapshots or backups (`create_image`, image `PUT`/`DELETE`/`change_protection`,
//!   `GET /images/actions`); the image list ignores `bound_to` and `include_deprecated`.
//! - Server actions beyond those listed: rescue, ISOs, `reset_password`, `request_console`, `change_dns_ptr`,
//!   networks (`attach_to_network`, `change_alias_ips`, ...), placement groups. Reverse DNS is fixed:
//!   `dns_ptr` is derived from the IPv4, `[]` for IPv6.
//! - Traffic counters stay 0, prices are plausible values rather than Hetzner's price list, and a server's
//!   `rescue_enabled` is always false. Firewalls apply to servers directly or by label selector, never to networks;
//!   the per-server limit of five firewalls and the 500-effective-rule limit are not enforced.
//! - Quotas (`resource_limit_exceeded`), `maintenance`, `forbidden`/read-only tokens and `conflict` never happen on
//!   their own; 409, 429 and 5xx can be injected as faults.
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
