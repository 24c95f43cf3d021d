//! The typed stack: what `stack.hcl` means once loaded and evaluated.
//!
//! Values only known after apply (a server's address, say) are kept as strings carrying an
//! unknown marker (see `value`); `value::describe` prints them as `(known after apply)` and
//! `value::resolve` substitutes them once state knows them.
//! Every field a diagnostic may point at is `Spanned`.

use super::source::{SourceFile, Span, Spanned};
use crate::config::instance::block_address;
use std::collections::{BTreeMap, BTreeSet};

/// A whole stack.
#[derive(Debug, Clone)]
pub struct Stack {
    pub source: SourceFile,
    pub name: Spanned<String>,
    pub policy: Policy,
    pub variables: Vec<Variable>,
    pub outputs: Vec<Output>,
    pub ssh_keys: Vec<SshKey>,
    pub servers: Vec<Server>,
    pub hosts: Vec<Host>,
    pub firewalls: Vec<Firewall>,
    pub volumes: Vec<Volume>,
    pub collectors: Vec<Collector>,
    pub composes: Vec<Compose>,
    pub checks: Vec<Check>,
    pub moves: Vec<Moved>,
    pub imports: Vec<Import>,
    pub data: Vec<DataSource>,
    /// What each block (`server.b`) refers to anywhere in its body, directly or through
    /// locals (`{"server.a"}`): the edges of the dependency graph, known values or not.
    pub references: BTreeMap<String, BTreeSet<String>>,
}

impl Stack {
    pub fn server(&self, name: &str) -> Option<&Server> {
        self.servers.iter().find(|s| s.name == name)
    }
    pub fn host(&self, name: &str) -> Option<&Host> {
        self.hosts.iter().find(|s| s.name == name)
    }
    pub fn collector(&self, name: &str) -> Option<&Collector> {
        self.collectors.iter().find(|s| s.name == name)
    }
    pub fn compose(&self, name: &str) -> Option<&Compose> {
        self.composes.iter().find(|s| s.name == name)
    }
    pub fn variable(&self, name: &str) -> Option<&Variable> {
        self.variables.iter().find(|s| s.name == name)
    }
    /// Sensitive variable values that were not provided (needed before apply, not before plan).
    pub fn unset_sensitive_variables(&self) -> Vec<&Variable> {
        self.variables
            .iter()
            .filter(|v| v.sensitive && v.value.is_none())
            .collect()
    }
}

#[derive(Debug, Clone)]
pub struct Policy {
    pub span: Option<Span>,
    /// Hetzner location names; default fsn1, nbg1, hel1.
    pub allowed_locations: Spanned<Vec<String>>,
    /// Refuse `:latest` and untagged images (default true).
    pub require_pinned_images: Spanned<bool>,
    /// Every port published on a Cloud server must be covered by a firewall rule (default true).
    pub require_firewall: Spanned<bool>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VarType {
    String,
    Number,
    Bool,
    ListOfString,
    ListOfNumber,
    MapOfString,
    Any,
}

impl VarType {
    pub fn describe(self) -> &'static str {
        match self {
            VarType::String => "string",
            VarType::Number => "number",
            VarType::Bool => "bool",
            VarType::ListOfString => "list(string)",
            VarType::ListOfNumber => "list(number)",
            VarType::MapOfString => "map(string)",
            VarType::Any => "any",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Variable {
    pub name: String,
    pub span: Span,
    pub ty: VarType,
    pub description: Option<String>,
    pub sensitive: bool,
    /// The value in force (default, variable file, environment or `--var`); `None` when not
    /// provided.
    pub value: Option<serde_json::Value>,
    /// Where the value in force came from.
    pub origin: VarOrigin,
}

/// Where a variable's value came from, lowest precedence first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VarOrigin {
    /// No value, or one the stack refused.
    Unset,
    Default,
    /// A variable file (`sovstack.vars.hcl`, `*.auto.vars.hcl`, `--var-file`).
    File,
    /// `SOVSTACK_VAR_<name>`.
    Environment,
    /// `--var name=value`.
    CommandLine,
}

/// The kinds a `data` block can look up, with the attributes it can be referenced by.
pub const DATA_KINDS: &[(&str, &[&str])] = &[
    ("ssh_key", &["id", "name", "fingerprint"]),
    ("firewall", &["id", "name"]),
];

/// `data "<kind>" "<name>" { name = "..." }` or `{ labels = { ... } }`: an existing cloud
/// resource sovstack does not manage, read when planning.
#[derive(Debug, Clone)]
pub struct DataSource {
    pub kind: String,
    pub name: String,
    pub span: Span,
    pub selector: DataSelector,
    /// What reading it found (`id`, `name`, ...), when it was read.
    pub found: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum DataSelector {
    Name(String),
    Labels(BTreeMap<String, String>),
}

impl DataSource {
    /// `data.<kind>.<name>`.
    pub fn address(&self) -> String {
        format!("data.{}.{}", self.kind, self.name)
    }
}

/// `moved { from = ADDR  to = ADDR }`: a block was renamed; its resources keep their identity.
/// Addresses are kept as written (checked against the resource kinds when planning).
#[derive(Debug, Clone)]
pub struct Moved {
    pub span: Span,
    pub from: Spanned<String>,
    pub to: Spanned<String>,
}

/// `import { to = ADDR  id = "..." }`: an existing cloud resource brought under management.
#[derive(Debug, Clone)]
pub struct Import {
    pub span: Span,
    pub to: Spanned<String>,
    pub id: Spanned<String>,
}

#[derive(Debug, Clone)]
pub struct Output {
    pub name: String,
    pub span: Span,
    pub value: Spanned<serde_json::Value>,
    pub sensitive: bool,
}

#[derive(Debug, Clone)]
pub struct SshKey {
    pub name: String,
    pub span: Span,
    pub public_key: Spanned<String>,
    pub labels: BTreeMap<String, String>,
}

/// How sovstack reaches a machine over SSH.
#[derive(Debug, Clone, PartialEq)]
pub struct SshAccess {
    pub user: String,
    pub port: u16,
    /// Private key file of the operator; `None` means the ssh-agent.
    pub private_key_file: Option<String>,
}

impl Default for SshAccess {
    fn default() -> Self {
        Self {
            user: "root".into(),
            port: 22,
            private_key_file: None,
        }
    }
}

/// A Hetzner Cloud server that sovstack creates.
#[derive(Debug, Clone)]
pub struct Server {
    pub name: String,
    pub span: Span,
    pub server_type: Spanned<String>,
    pub location: Spanned<String>,
    pub image: Spanned<String>,
    /// Names of `ssh_key` blocks.
    pub ssh_keys: Vec<Spanned<String>>,
    /// Names of `data "ssh_key"` blocks: keys sovstack does not manage.
    pub data_ssh_keys: Vec<Spanned<String>>,
    pub labels: BTreeMap<String, String>,
    pub ssh: SshAccess,
    /// Extra cloud-init `runcmd` lines run once at first boot.
    pub user_data_runcmd: Vec<String>,
    /// Versions the node bootstrap installs here, where the stack pins its own.
    pub bootstrap: BootstrapPins,
}

/// The versions a `bootstrap` block pins on a server or host; `None` takes sovstack's own pin.
#[derive(Debug, Clone, Default)]
pub struct BootstrapPins {
    pub docker_version: Option<Spanned<String>>,
    /// The oldest Docker Engine accepted as already installed, below the release without
    /// known container escapes: for a distribution's engine that carries the fixes as
    /// backports under an older version number.
    pub docker_minimum: Option<Spanned<String>>,
    pub nvidia_container_toolkit_version: Option<Spanned<String>>,
}

/// An existing machine (e.g. a dedicated GEX GPU server) that sovstack configures but does not create.
#[derive(Debug, Clone)]
pub struct Host {
    pub name: String,
    pub span: Span,
    pub address: Spanned<String>,
    pub ssh: SshAccess,
    /// Pinned host key fingerprint (`SHA256:...`); `None` means it must be learned with
    /// `--trust-new-host-keys` and is then pinned in state.
    pub host_key: Option<Spanned<String>>,
    /// Where the machine is (a Hetzner location name), for the residency policy.
    pub location: Option<Spanned<String>>,
    /// Number of GPUs the machine has (0 when unknown/none).
    pub gpus: Spanned<u32>,
    /// Versions the node bootstrap installs here, where the stack pins its own.
    pub bootstrap: BootstrapPins,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Direction {
    In,
    Out,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Protocol {
    Tcp,
    Udp,
    Icmp,
    Esp,
    Gre,
}

impl Protocol {
    pub fn as_str(&self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
            Protocol::Icmp => "icmp",
            Protocol::Esp => "esp",
            Protocol::Gre => "gre",
        }
    }
}

/// A port or an inclusive range, as Hetzner writes it ("22", "8000-8100").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortRange {
    pub from: u16,
    pub to: u16,
}

impl PortRange {
    pub fn contains(&self, port: u16) -> bool {
        self.from <= port && port <= self.to
    }
    pub fn to_hetzner(&self) -> String {
        if self.from == self.to {
            self.from.to_string()
        } else {
            format!("{}-{}", self.from, self.to)
        }
    }
}

#[derive(Debug, Clone)]
pub struct FirewallRule {
    pub span: Span,
    pub description: Option<String>,
    pub direction: Direction,
    pub protocol: Protocol,
    pub port: Option<Spanned<PortRange>>,
    pub source_ips: Spanned<Vec<String>>,
    pub destination_ips: Spanned<Vec<String>>,
    /// Explicit consent to open this rule to the whole internet.
    pub public: bool,
}

#[derive(Debug, Clone)]
pub struct Firewall {
    pub name: String,
    pub span: Span,
    pub rules: Vec<FirewallRule>,
    /// Names of `server` blocks the firewall applies to.
    pub apply_to: Vec<Spanned<String>>,
    pub labels: BTreeMap<String, String>,
}

#[derive(Debug, Clone)]
pub struct Volume {
    pub name: String,
    pub span: Span,
    pub size_gb: Spanned<u32>,
    pub location: Option<Spanned<String>>,
    /// Name of the `server` it is attached to.
    pub server: Option<Spanned<String>>,
    pub format: Option<String>,
    pub automount: bool,
    /// Where sovstack mounts the volume on its server (by device, fstab entry with `nofail`).
    pub mount_path: Option<Spanned<String>>,
    /// `/dev/disk/by-id/scsi-0HC_Volume_<id>` once the volume exists; an after-apply marker before.
    pub linux_device: String,
    pub labels: BTreeMap<String, String>,
}

/// A node that runs compose projects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Server(String),
    Host(String),
}

impl Target {
    pub fn name(&self) -> &str {
        match self {
            Target::Server(n) | Target::Host(n) => n,
        }
    }
    pub fn address(&self) -> String {
        match self {
            Target::Server(n) => block_address("server", n),
            Target::Host(n) => block_address("host", n),
        }
    }
}

/// The component kinds of a collector config; each is one top-level section of config.yaml.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ComponentKind {
    Receiver,
    Processor,
    Exporter,
    Extension,
    Connector,
}

impl ComponentKind {
    /// The key of this kind in the collector's config.yaml.
    pub fn section(self) -> &'static str {
        match self {
            ComponentKind::Receiver => "receivers",
            ComponentKind::Processor => "processors",
            ComponentKind::Exporter => "exporters",
            ComponentKind::Extension => "extensions",
            ComponentKind::Connector => "connectors",
        }
    }
    pub fn block(self) -> &'static str {
        match self {
            ComponentKind::Receiver => "receiver",
            ComponentKind::Processor => "processor",
            ComponentKind::Exporter => "exporter",
            ComponentKind::Extension => "extension",
            ComponentKind::Connector => "connector",
        }
    }

    /// The kind whose config.yaml section is `section` (`exporters` -> `Exporter`); `None` for anything else.
    pub fn from_section(section: &str) -> Option<Self> {
        [
            ComponentKind::Receiver,
            ComponentKind::Processor,
            ComponentKind::Exporter,
            ComponentKind::Extension,
            ComponentKind::Connector,
        ]
        .into_iter()
        .find(|k| k.section() == section)
    }
}

/// Free-form configuration (collector components, telemetry), keeping the span of every key.
#[derive(Debug, Clone, PartialEq)]
pub enum Tree {
    /// A value given by an attribute (objects inside it carry no finer spans).
    Value(Spanned<serde_json::Value>),
    /// A map built from a block body.
    Map(TreeMap),
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct TreeMap {
    pub entries: Vec<TreeEntry>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TreeEntry {
    pub key: String,
    pub key_span: Span,
    pub value: Tree,
}

impl TreeMap {
    pub fn get(&self, key: &str) -> Option<&TreeEntry> {
        self.entries.iter().find(|e| e.key == key)
    }

    /// Follows a dotted path through maps and JSON objects (`protocols.grpc.endpoint`).
    pub fn lookup(&self, path: &str) -> Option<(Span, serde_json::Value)> {
        let mut parts = path.split('.');
        let first = parts.next()?;
        let entry = self.get(first)?;
        let rest: Vec<&str> = parts.collect();
        entry.value.lookup_parts(&rest, entry.key_span.clone())
    }

    pub fn to_json(&self) -> serde_json::Value {
        let mut m = serde_json::Map::new();
        for e in &self.entries {
            m.insert(e.key.clone(), e.value.to_json());
        }
        serde_json::Value::Object(m)
    }
}

impl Tree {
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Tree::Value(v) => v.value.clone(),
            Tree::Map(m) => m.to_json(),
        }
    }

    pub fn span(&self) -> Option<Span> {
        match self {
            Tree::Value(v) => Some(v.span.clone()),
            Tree::Map(m) => m.entries.first().map(|e| e.key_span.clone()),
        }
    }

    fn lookup_parts(&self, rest: &[&str], key_span: Span) -> Option<(Span, serde_json::Value)> {
        match (self, rest.split_first()) {
            (_, None) => Some((self.span().unwrap_or(key_span), self.to_json())),
            (Tree::Map(m), Some((k, tail))) => {
                let e = m.get(k)?;
                e.value.lookup_parts(tail, e.key_span.clone())
            }
            (Tree::Value(v), Some(_)) => {
                let mut cur = &v.value;
                for k in rest {
                    cur = cur.get(*k)?;
                }
                Some((v.span.clone(), cur.clone()))
            }
        }
    }
}

/// One collector component, e.g. `exporter "otlp_grpc/signoz" { ... }`.
#[derive(Debug, Clone)]
pub struct Component {
    pub kind: ComponentKind,
    /// The full id as written: `type[/name]`.
    pub id: String,
    pub id_span: Span,
    pub span: Span,
    pub config: TreeMap,
}

impl Component {
    /// The component type: the id before any `/`.
    pub fn type_name(&self) -> &str {
        self.id.split('/').next().unwrap_or(&self.id)
    }
}

#[derive(Debug, Clone)]
pub struct Pipeline {
    /// `traces`, `metrics`, `logs`, optionally `/name`.
    pub id: String,
    pub span: Span,
    pub receivers: Vec<Spanned<String>>,
    pub processors: Vec<Spanned<String>>,
    pub exporters: Vec<Spanned<String>>,
}

impl Pipeline {
    pub fn signal(&self) -> &str {
        self.id.split('/').next().unwrap_or(&self.id)
    }
}

/// An OpenTelemetry Collector configuration, rendered to its `config.yaml`.
#[derive(Debug, Clone)]
pub struct Collector {
    pub name: String,
    pub span: Span,
    /// The collector version the config targets (e.g. "0.159.0").
    pub version: Spanned<String>,
    pub components: Vec<Component>,
    pub pipelines: Vec<Pipeline>,
    /// `service.telemetry` as written.
    pub telemetry: Option<TreeMap>,
}

impl Collector {
    pub fn component(&self, id: &str) -> Option<&Component> {
        self.components.iter().find(|c| c.id == id)
    }
    pub fn components_of(&self, kind: ComponentKind) -> impl Iterator<Item = &Component> {
        self.components.iter().filter(move |c| c.kind == kind)
    }
}

/// A published port in compose short syntax, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortMapping {
    pub host_ip: Option<String>,
    pub published: Option<PortRange>,
    pub target: PortRange,
    pub protocol: String,
}

impl PortMapping {
    /// Published on every interface of the host (not only loopback)?
    pub fn is_public(&self) -> bool {
        self.published.is_some()
            && !matches!(self.host_ip.as_deref(), Some(ip) if ip.starts_with("127.") || ip == "::1" || ip == "[::1]")
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Gpus {
    All,
    Count(u32),
}

#[derive(Debug, Clone)]
pub struct Healthcheck {
    pub span: Span,
    pub test: Vec<String>,
    pub interval: Option<String>,
    pub timeout: Option<String>,
    pub retries: Option<u32>,
    pub start_period: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DependencyCondition {
    Started,
    Healthy,
    CompletedSuccessfully,
}

impl DependencyCondition {
    pub fn as_compose(&self) -> &'static str {
        match self {
            DependencyCondition::Started => "service_started",
            DependencyCondition::Healthy => "service_healthy",
            DependencyCondition::CompletedSuccessfully => "service_completed_successfully",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Dependency {
    pub service: Spanned<String>,
    pub condition: DependencyCondition,
}

/// A resource limit of a container (`ulimits` in compose): one value, or soft and hard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UlimitValue {
    Single(u64),
    SoftHard { soft: u64, hard: u64 },
}

#[derive(Debug, Clone)]
pub struct Ulimit {
    /// `nofile`, `nproc`, `memlock`...
    pub name: String,
    pub span: Span,
    pub value: UlimitValue,
}

/// How Docker keeps a container's output (`logging` in compose).
#[derive(Debug, Clone)]
pub struct Logging {
    pub span: Span,
    /// `json-file` (Docker's default), `local`, `none`...; `None` leaves the daemon's default.
    pub driver: Option<String>,
    pub options: BTreeMap<String, String>,
}

impl Logging {
    /// Whether the logs cannot grow without bound: a size cap for `json-file` (`max-size`), the
    /// `local` driver (which rotates at 20 MB x 5 files unless told otherwise), or no logs at all.
    pub fn is_capped(&self) -> bool {
        match self.driver.as_deref() {
            Some("local" | "none") => true,
            None | Some("json-file") => self.options.contains_key("max-size"),
            Some(_) => false,
        }
    }
}

/// A secret handed to a service through its env file (mode 0600), never through compose.yaml.
#[derive(Debug, Clone)]
pub struct SecretEnv {
    pub name: String,
    pub span: Span,
    /// The sensitive variable it comes from.
    pub variable: String,
    /// The value, when provided (never printed, never stored in state).
    pub value: Option<String>,
}

/// A file rendered on the node and mounted into a service read-only.
#[derive(Debug, Clone)]
pub struct MountedFile {
    pub span: Span,
    /// Path inside the container.
    pub container_path: Spanned<String>,
    pub source: FileSource,
}

#[derive(Debug, Clone)]
pub enum FileSource {
    /// Literal content.
    Content(String),
    /// The rendered config of a `collector` block.
    Collector(Spanned<String>),
}

/// A command line, each argument with its own span (a command written as one string shares it).
#[derive(Debug, Clone)]
pub struct Args {
    pub span: Span,
    pub items: Vec<Spanned<String>>,
}

impl Args {
    pub fn values(&self) -> Vec<String> {
        self.items.iter().map(|i| i.value.clone()).collect()
    }
}

#[derive(Debug, Clone)]
pub struct Service {
    pub name: String,
    pub span: Span,
    pub image: Spanned<String>,
    pub command: Option<Args>,
    pub entrypoint: Option<Args>,
    pub environment: BTreeMap<String, Spanned<String>>,
    pub environment_span: Option<Span>,
    pub secret_environment: Vec<SecretEnv>,
    pub ports: Vec<Spanned<PortMapping>>,
    /// Compose short volume syntax (`name:/path[:ro]` or `./dir:/path`).
    pub volumes: Vec<Spanned<String>>,
    pub gpus: Option<Spanned<Gpus>>,
    pub runtime: Option<Spanned<String>>,
    pub ipc: Option<Spanned<String>>,
    pub shm_size: Option<Spanned<String>>,
    pub user: Option<Spanned<String>>,
    pub restart: Option<String>,
    pub healthcheck: Option<Healthcheck>,
    pub depends_on: Vec<Dependency>,
    pub files: Vec<MountedFile>,
    pub labels: BTreeMap<String, String>,
    pub ulimits: Vec<Ulimit>,
    /// Memory the container may use (`mem_limit`), e.g. `1g`.
    pub mem_limit: Option<Spanned<String>>,
    /// The service's own `logging`; without it the project's applies.
    pub logging: Option<Logging>,
}

impl Service {
    /// The value of an environment variable, if set in `environment`.
    pub fn env(&self, key: &str) -> Option<&Spanned<String>> {
        self.environment.get(key)
    }
}

/// Seconds `compose up --wait` waits for a project's services by default: time for a large
/// model to load, and well inside the 30 minutes a remote command may take.
pub const DEFAULT_WAIT_TIMEOUT: u32 = 1200;

/// A Docker Compose project on one node.
#[derive(Debug, Clone)]
pub struct Compose {
    pub name: String,
    pub span: Span,
    pub on: Spanned<Target>,
    /// The compose project name (`-p`).
    pub project: String,
    /// Absolute project directory on the node.
    pub directory: Spanned<String>,
    pub services: Vec<Service>,
    /// Named volumes the project declares.
    pub volumes: Vec<Spanned<String>>,
    /// Keep named volumes on destroy unless this is set.
    pub destroy_volumes: bool,
    /// Seconds `compose up --wait` waits for every service to be running and healthy.
    pub wait_timeout: u32,
    /// `logging` for every service that has none of its own.
    pub logging: Option<Logging>,
}

impl Compose {
    pub fn service(&self, name: &str) -> Option<&Service> {
        self.services.iter().find(|s| s.name == name)
    }

    /// The logging a service runs with: its own, else the project's.
    pub fn logging_of<'a>(&'a self, s: &'a Service) -> Option<&'a Logging> {
        s.logging.as_ref().or(self.logging.as_ref())
    }

    /// Services that run to completion: another service waits for them with
    /// `service_completed_successfully` (a schema migrator). Exited with status 0 is their
    /// finished state, not a stopped container.
    pub fn jobs(&self) -> std::collections::BTreeSet<&str> {
        self.services
            .iter()
            .flat_map(|s| &s.depends_on)
            .filter(|d| d.condition == DependencyCondition::CompletedSuccessfully)
            .map(|d| d.service.value.as_str())
            .collect()
    }
}

#[derive(Debug, Clone)]
pub enum CheckKind {
    /// GET a URL on the node (against 127.0.0.1) until it answers with `status`.
    Http { url: String, status: u16 },
    /// Send one chat completion with a fresh `traceparent`, then find the trace id in the audit file.
    TraceRoundtrip {
        url: String,
        model: String,
        /// Audit file path on the node, relative to the compose project directory.
        audit_file: Spanned<String>,
    },
}

#[derive(Debug, Clone)]
pub struct Check {
    pub name: String,
    pub span: Span,
    pub compose: Spanned<String>,
    pub kind: CheckKind,
    /// How long the check may take, e.g. "10m".
    pub within: String,
}
