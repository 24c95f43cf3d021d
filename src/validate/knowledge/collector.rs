//! OpenTelemetry Collector (contrib distribution) facts by version: which component types exist, their renames and
//! removals, the config keys we know per component, version-dependent defaults, and image facts.
//!
//! Sources: `shared/reference/stack-content.md` §3 (core collector tags v0.102.0 `5cbf8beb` and v0.159.0 `69c08730`,
//! core `CHANGELOG.md` @ `934999fb`, contrib files at the commits cited per entry). Only v0.102.0 and v0.159.0 were
//! read in full; versions in between are answered from the CHANGELOG where it dates a change, and "unchecked"
//! otherwise. The component list is deliberately small (what this stack uses): a type missing from it is not proof
//! that the collector lacks it, so [`ComponentStatus::Unknown`] carries a suggestion only when one is close.

use super::{Version, closest};
use crate::config::ComponentKind;

/// Newest collector release the tables know (releases repo tag `v0.159.0` = `f8178323`, 2026-08-18).
pub const LATEST_KNOWN: Version = Version::new(0, 159, 0);
/// Oldest release read in full (the tutorial's pin, releases tag `v0.102.0` = `b8551a7b`).
pub const OLDEST_KNOWN: Version = Version::new(0, 102, 0);

const fn v(minor: u64) -> Version {
    Version::new(0, minor, 0)
}

// -------------------------------------------------------------------------------------------------------------
// Image facts
// -------------------------------------------------------------------------------------------------------------

/// Facts about the `otel/opentelemetry-collector-contrib` image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CollectorImage {
    pub repository: &'static str,
    /// `FROM scratch`: no shell, no `/tmp`, no curl/wget, so a compose `healthcheck` cannot run inside it.
    pub from_scratch: bool,
    pub user: &'static str,
    pub uid: u32,
    pub entrypoint: &'static str,
    pub default_config_path: &'static str,
}

/// Source: releases `distributions/otelcol-contrib/Dockerfile` @ v0.159.0 (v0.102.0 also scratch + `USER 10001`).
pub const CONTRIB_IMAGE: CollectorImage = CollectorImage {
    repository: "otel/opentelemetry-collector-contrib",
    from_scratch: true,
    user: "10001:10001",
    uid: 10001,
    entrypoint: "/otelcol-contrib",
    default_config_path: "/etc/otelcol-contrib/config.yaml",
};

// -------------------------------------------------------------------------------------------------------------
// Version-dependent defaults
// -------------------------------------------------------------------------------------------------------------

/// How sure a fact is for the version asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Certainty {
    /// Read at this version, or dated by the CHANGELOG.
    Verified,
    /// Follows from a dated change but was not read at this version.
    Inferred,
}

/// Host that receivers (otlp grpc/http) bind to when the endpoint is left out.
///
/// `0.0.0.0` up to v0.103.0; `localhost` from v0.104.0 (`component.UseLocalHostAsDefaultHost` beta; stable v0.110.0;
/// gate removed v0.112.0: core CHANGELOG v0.104.0, "may break the receiver in containerized environments").
/// In a container, `localhost` means other containers cannot connect: set `0.0.0.0:4317` explicitly.
pub fn default_receiver_host(version: Version) -> &'static str {
    if version >= v(104) {
        "localhost"
    } else {
        "0.0.0.0"
    }
}

/// Default `health_check` endpoint. `0.0.0.0:13133` at v0.102.0 and `localhost:13133` at v0.159.0 (contrib
/// `extension/healthcheckextension`, `testutil.EndpointForPort(13133)`); the switch follows the v0.104.0
/// localhost-default change, which was not read in the extension's own history.
pub fn default_health_check_endpoint(version: Version) -> (&'static str, Certainty) {
    let certainty = if version <= OLDEST_KNOWN || version >= LATEST_KNOWN {
        Certainty::Verified
    } else {
        Certainty::Inferred
    };
    if version >= v(104) {
        ("localhost:13133", certainty)
    } else {
        ("0.0.0.0:13133", certainty)
    }
}

/// Where the collector's own metrics listen by default: `:8888` (all interfaces) before v0.111.0,
/// `localhost:8888` from v0.111.0 (core CHANGELOG v0.111.0; default reader `otelconftelemetry/factory.go:49-60`).
/// Publishing port 8888 needs a `service.telemetry.metrics.readers` entry with `host: 0.0.0.0` on newer versions.
pub fn default_internal_metrics_address(version: Version) -> &'static str {
    if version >= v(111) {
        "localhost:8888"
    } else {
        ":8888"
    }
}

// -------------------------------------------------------------------------------------------------------------
// Key tables
// -------------------------------------------------------------------------------------------------------------

/// What a key's value looks like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    Scalar,
    /// A YAML sequence of scalars.
    List,
    Map,
    /// A YAML sequence of maps (`attributes: [{key, action}]`); nested keys apply to each item.
    ListOfMaps,
}

/// When a key (or component) appeared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Since {
    /// Dated by the CHANGELOG or a read source.
    Exact(Version),
    /// Absent at `absent`, present at `present`; the release in between is not known.
    Between { absent: Version, present: Version },
    /// Present at this version; earlier versions not checked.
    SeenIn(Version),
}

/// Whether a key level lists every key the collector accepts there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Completeness {
    Never,
    Always,
    /// Complete for this version and newer (the source read was that version's struct or schema).
    From(Version),
}

impl Completeness {
    fn at(self, version: Version) -> bool {
        match self {
            Completeness::Never => false,
            Completeness::Always => true,
            Completeness::From(from) => version >= from,
        }
    }
}

/// One config key of a component (or of `service`), with its history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyDef {
    pub name: &'static str,
    pub shape: Shape,
    pub since: Option<Since>,
    /// (since, use instead, why)
    pub deprecated: Option<(Version, &'static str, &'static str)>,
    /// (since, why)
    pub removed: Option<(Version, &'static str)>,
    pub note: Option<&'static str>,
    pub children: &'static [KeyDef],
    pub children_complete: Completeness,
}

const fn key(name: &'static str) -> KeyDef {
    KeyDef {
        name,
        shape: Shape::Scalar,
        since: None,
        deprecated: None,
        removed: None,
        note: None,
        children: &[],
        children_complete: Completeness::Never,
    }
}

impl KeyDef {
    const fn shape(mut self, shape: Shape) -> Self {
        self.shape = shape;
        self
    }
    const fn list(self) -> Self {
        self.shape(Shape::List)
    }
    const fn since(mut self, since: Since) -> Self {
        self.since = Some(since);
        self
    }
    const fn note(mut self, note: &'static str) -> Self {
        self.note = Some(note);
        self
    }
    const fn deprecated(
        mut self,
        since: Version,
        use_instead: &'static str,
        why: &'static str,
    ) -> Self {
        self.deprecated = Some((since, use_instead, why));
        self
    }
    const fn removed(mut self, since: Version, why: &'static str) -> Self {
        self.removed = Some((since, why));
        self
    }
    /// A map with the given children.
    const fn map(mut self, children: &'static [KeyDef], complete: Completeness) -> Self {
        self.shape = Shape::Map;
        self.children = children;
        self.children_complete = complete;
        self
    }
    /// A list of maps with the given item keys.
    const fn items(mut self, children: &'static [KeyDef], complete: Completeness) -> Self {
        self.shape = Shape::ListOfMaps;
        self.children = children;
        self.children_complete = complete;
        self
    }
}

/// The type part of a component id: `otlp/signoz` -> `otlp`.
pub fn component_type(id: &str) -> &str {
    id.split_once('/').map_or(id, |(t, _)| t)
}

/// A component type with its history and key table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ComponentInfo {
    pub kind: ComponentKind,
    /// The current type name (`otlp_grpc`).
    pub name: &'static str,
    /// Earlier name and the release that renamed it; from then on the old name is a deprecated alias.
    pub renamed_from: Option<(&'static str, Version)>,
    /// Release from which the old name is no longer accepted at all.
    pub alias_removed: Option<Version>,
    pub since: Option<Since>,
    /// (since, use instead)
    pub deprecated: Option<(Version, &'static str)>,
    /// (since, use instead)
    pub removed: Option<(Version, &'static str)>,
    pub keys: &'static [KeyDef],
    pub keys_complete: Completeness,
    pub source: &'static str,
}

const fn component(kind: ComponentKind, name: &'static str, source: &'static str) -> ComponentInfo {
    ComponentInfo {
        kind,
        name,
        renamed_from: None,
        alias_removed: None,
        since: None,
        deprecated: None,
        removed: None,
        keys: &[],
        keys_complete: Completeness::Never,
        source,
    }
}

impl ComponentInfo {
    const fn keys(mut self, keys: &'static [KeyDef], complete: Completeness) -> Self {
        self.keys = keys;
        self.keys_complete = complete;
        self
    }
    const fn renamed_from(mut self, old: &'static str, since: Version) -> Self {
        self.renamed_from = Some((old, since));
        self
    }
    const fn since(mut self, since: Since) -> Self {
        self.since = Some(since);
        self
    }
    const fn deprecated(mut self, since: Version, use_instead: &'static str) -> Self {
        self.deprecated = Some((since, use_instead));
        self
    }
    const fn removed(mut self, since: Version, use_instead: &'static str) -> Self {
        self.removed = Some((since, use_instead));
        self
    }
}

use ComponentKind::{Exporter, Extension, Processor, Receiver};
use Shape::{List, Scalar};

const CONDITIONS_NOTE: &str = "OTTL conditions as a YAML list: a scalar string is split on commas \
    (confmap StringToSliceHookFunc), so a condition containing a comma breaks";

// --- receivers ---

const OTLP_GRPC_SERVER: &[KeyDef] = &[
    key("endpoint")
        .note("default host is localhost from v0.104.0: set 0.0.0.0:4317 in a container"),
    key("max_recv_msg_size_mib"),
    key("keepalive").shape(Shape::Map),
    key("tls").shape(Shape::Map),
];
const OTLP_HTTP_SERVER: &[KeyDef] = &[
    key("endpoint")
        .note("default host is localhost from v0.104.0: set 0.0.0.0:4318 in a container"),
    key("traces_url_path"),
    key("metrics_url_path"),
    key("logs_url_path"),
    key("cors").shape(Shape::Map),
    key("tls").shape(Shape::Map),
];
const OTLP_RECEIVER: &[KeyDef] = &[key("protocols").map(
    &[
        key("grpc").map(OTLP_GRPC_SERVER, Completeness::Never),
        key("http").map(OTLP_HTTP_SERVER, Completeness::Never),
    ],
    Completeness::Always,
)];

const PROMETHEUS_RECEIVER: &[KeyDef] = &[key("config").map(
    &[
        key("scrape_configs").items(&[], Completeness::Never),
        key("global").shape(Shape::Map),
    ],
    Completeness::Never,
)];

// --- processors ---

const BATCH: &[KeyDef] = &[
    key("timeout").note("default 200ms"),
    key("send_batch_size").note("default 8192"),
    key("send_batch_max_size").note("default 0 (no limit)"),
    key("metadata_keys").list(),
    key("metadata_cardinality_limit"),
];

const MEMORY_LIMITER: &[KeyDef] = &[
    key("check_interval").note("required, must be > 0"),
    key("limit_mib").note("one of limit_mib / limit_percentage is required"),
    key("limit_percentage").note("one of limit_mib / limit_percentage is required"),
    key("spike_limit_mib"),
    key("spike_limit_percentage"),
    key("min_gc_interval_when_soft_limited").since(Since::Exact(v(121))),
    key("min_gc_interval_when_hard_limited").since(Since::Exact(v(121))),
    key("max_gc_interval_when_soft_limited").since(Since::Exact(v(156))),
    key("max_gc_interval_when_hard_limited").since(Since::Exact(v(156))),
];

const ATTR_ACTION_ITEM: &[KeyDef] = &[
    key("key"),
    key("value"),
    key("pattern"),
    key("from_attribute"),
    key("from_context"),
    key("converted_type"),
    key("action").note("insert | update | upsert | delete | hash | extract | convert"),
];

const RESOURCE: &[KeyDef] = &[key("attributes")
    .items(ATTR_ACTION_ITEM, Completeness::Never)
    .note("has to have at least one action")];

const ATTRIBUTES: &[KeyDef] = &[
    key("actions").items(ATTR_ACTION_ITEM, Completeness::Never),
    key("include").shape(Shape::Map),
    key("exclude").shape(Shape::Map),
];

const TRANSFORM: &[KeyDef] = &[
    key("error_mode").note(
        "propagate | ignore | silent; the default moved from propagate to ignore in 2026 (feature gate \
         processor.transform.defaultErrorModeIgnore): set it explicitly",
    ),
    key("trace_statements").shape(Shape::ListOfMaps),
    key("metric_statements").shape(Shape::ListOfMaps),
    key("log_statements").shape(Shape::ListOfMaps),
];

const FILTER_DEPRECATION: &str = "the traces/metrics/logs groups are deprecated in favour of \
    trace_conditions/metric_conditions/log_conditions (config.schema.yaml @ 61bceb3e)";

const FILTER: &[KeyDef] = &[
    key("error_mode").note(
        "propagate | ignore | silent; the default became ignore (PR #49668, 2026-07): set it explicitly",
    ),
    key("traces")
        .map(
            &[
                key("span").list().note(CONDITIONS_NOTE),
                key("spanevent").list().note(CONDITIONS_NOTE),
                key("resource").list().note(CONDITIONS_NOTE),
            ],
            Completeness::Never,
        )
        .deprecated(v(146), "trace_conditions", FILTER_DEPRECATION),
    key("metrics")
        .map(
            &[
                key("metric").list().note(CONDITIONS_NOTE),
                key("datapoint").list().note(CONDITIONS_NOTE),
            ],
            Completeness::Never,
        )
        .deprecated(v(146), "metric_conditions", FILTER_DEPRECATION),
    key("logs")
        .map(&[key("log_record").list().note(CONDITIONS_NOTE)], Completeness::Never)
        .deprecated(v(146), "log_conditions", FILTER_DEPRECATION),
    key("trace_conditions").since(Since::Exact(v(146))).shape(Shape::ListOfMaps),
    key("metric_conditions").since(Since::Exact(v(146))).shape(Shape::ListOfMaps),
    key("log_conditions").since(Since::Exact(v(146))).shape(Shape::ListOfMaps),
    key("profile_conditions").since(Since::Exact(v(146))).shape(Shape::ListOfMaps),
];

const REDACTION: &[KeyDef] = &[
    key("allow_all_keys").note(
        "with allow_all_keys: false (the default) and empty allowed_keys every attribute is dropped",
    ),
    key("allowed_keys").list(),
];

// --- exporters ---

const TLS_CLIENT: &[KeyDef] = &[
    key("insecure"),
    key("insecure_skip_verify"),
    key("ca_file"),
    key("cert_file"),
    key("key_file"),
    key("server_name_override"),
];

const BATCHER_REMOVED: &str = "exporter-side batching moved to sending_queue.batch (batcher deprecated v0.123.0, \
    removed from the OTLP exporter v0.130.0)";

const OTLP_GRPC_EXPORTER: &[KeyDef] = &[
    key("endpoint"),
    key("tls").map(TLS_CLIENT, Completeness::Never),
    key("compression"),
    key("headers").shape(Shape::Map),
    key("timeout"),
    key("sending_queue").shape(Shape::Map),
    key("retry_on_failure").shape(Shape::Map),
    key("keepalive").shape(Shape::Map),
    key("balancer_name"),
    key("auth").shape(Shape::Map),
    key("batcher")
        .shape(Shape::Map)
        .deprecated(v(123), "sending_queue.batch", BATCHER_REMOVED)
        .removed(v(130), BATCHER_REMOVED),
];

const OTLP_HTTP_EXPORTER: &[KeyDef] = &[
    key("endpoint").note("base URL: /v1/traces, /v1/metrics, /v1/logs are appended"),
    key("traces_endpoint").note("full URL, used verbatim"),
    key("metrics_endpoint").note("full URL, used verbatim"),
    key("logs_endpoint").note("full URL, used verbatim"),
    key("encoding").note("proto | json"),
    key("tls").map(TLS_CLIENT, Completeness::Never),
    key("compression"),
    key("headers").shape(Shape::Map),
    key("timeout"),
    key("sending_queue").shape(Shape::Map),
    key("retry_on_failure").shape(Shape::Map),
    key("auth").shape(Shape::Map),
];

const NEW_FILE_KEY: Since = Since::Between {
    absent: OLDEST_KNOWN,
    present: LATEST_KNOWN,
};

const FILE_EXPORTER: &[KeyDef] = &[
    key("path").note(
        "required; the directory must exist and be writable by UID 10001 (the image is FROM scratch, has no /tmp): \
         mount a volume",
    ),
    key("rotation").map(
        &[
            key("max_megabytes").note("default 100"),
            key("max_days"),
            key("max_backups").note("default 100"),
            key("localtime"),
        ],
        Completeness::Always,
    ),
    key("format").note("json | proto"),
    key("compression").note("zstd only"),
    key("flush_interval").note("default 1s; a unit-less number is nanoseconds"),
    key("append"),
    key("group_by").map(
        &[key("enabled"), key("resource_attribute"), key("max_open_files")],
        Completeness::Always,
    ),
    key("encoding"),
    key("create_directory").since(NEW_FILE_KEY),
    key("directory_permissions").since(NEW_FILE_KEY),
    key("compression_params").since(NEW_FILE_KEY),
];

const DEBUG_EXPORTER: &[KeyDef] = &[
    key("verbosity").note("basic (default) | normal | detailed"),
    key("sampling_initial").note("default 2"),
    key("sampling_thereafter").note("default 1"),
    key("use_internal_logger").since(Since::Exact(v(104))),
    key("output_paths").list().since(Since::Exact(v(146))),
    key("sending_queue")
        .shape(Shape::Map)
        .since(Since::SeenIn(LATEST_KNOWN)),
];

const LOGGING_EXPORTER: &[KeyDef] = &[
    key("verbosity"),
    key("sampling_initial"),
    key("sampling_thereafter"),
];

// --- extensions ---

const HEALTH_CHECK: &[KeyDef] = &[
    key("endpoint").note(
        "default 0.0.0.0:13133 up to v0.103, localhost:13133 later: set 0.0.0.0:13133 for probes",
    ),
    key("path").note("default /"),
    key("response_body").shape(Shape::Map),
    key("check_collector_pipeline").map(
        &[
            key("enabled"),
            key("interval"),
            key("exporter_failure_threshold"),
        ],
        Completeness::Never,
    ),
    key("tls").shape(Shape::Map),
];

/// The components this stack uses. Sources per entry; "core" = open-telemetry/opentelemetry-collector, "contrib" =
/// opentelemetry-collector-contrib. All are in the otelcol-contrib v0.159.0 manifest (releases `manifest.yaml`).
const COMPONENTS: &[ComponentInfo] = &[
    component(
        Receiver,
        "otlp",
        "core receiver/otlpreceiver (config.go: Config{protocols}), README",
    )
    .keys(OTLP_RECEIVER, Completeness::Always),
    component(
        Receiver,
        "prometheus",
        "contrib receiver/prometheusreceiver",
    )
    .keys(PROMETHEUS_RECEIVER, Completeness::Never),
    component(
        Processor,
        "batch",
        "core processor/batchprocessor/config.go, README",
    )
    .keys(BATCH, Completeness::Always),
    component(
        Processor,
        "memory_limiter",
        "core internal/memorylimiter/config.go (Validate)",
    )
    .keys(MEMORY_LIMITER, Completeness::Always),
    component(
        Processor,
        "resource",
        "contrib processor/resourceprocessor/testdata/config.yaml @ e3bd2d1d",
    )
    .keys(RESOURCE, Completeness::Always),
    component(
        Processor,
        "attributes",
        "contrib processor/attributesprocessor/testdata/config.yaml @ b049dee7",
    )
    .keys(ATTRIBUTES, Completeness::Always),
    component(
        Processor,
        "transform",
        "contrib processor/transformprocessor testdata @ 185c721f",
    )
    .keys(TRANSFORM, Completeness::Never),
    component(
        Processor,
        "filter",
        "contrib processor/filterprocessor config.schema.yaml @ 61bceb3e, PR #45676",
    )
    .keys(FILTER, Completeness::Never),
    component(
        Processor,
        "redaction",
        "otelcol-contrib v0.159.0 manifest; contrib processor/redactionprocessor",
    )
    .since(Since::SeenIn(LATEST_KNOWN))
    .keys(REDACTION, Completeness::Never),
    component(
        Exporter,
        "otlp_grpc",
        "core CHANGELOG v0.144.0; exporter/otlpexporter/metadata.yaml @ v0.159.0",
    )
    .renamed_from("otlp", v(144))
    .keys(OTLP_GRPC_EXPORTER, Completeness::Never),
    component(
        Exporter,
        "otlp_http",
        "core CHANGELOG v0.144.0; exporter/otlphttpexporter README",
    )
    .renamed_from("otlphttp", v(144))
    .keys(OTLP_HTTP_EXPORTER, Completeness::Never),
    component(
        Exporter,
        "file",
        "contrib exporter/fileexporter config.schema.yaml @ 0b24729b, testdata @ 870de363",
    )
    .keys(FILE_EXPORTER, Completeness::From(LATEST_KNOWN)),
    component(
        Exporter,
        "debug",
        "core exporter/debugexporter README, CHANGELOG",
    )
    .keys(DEBUG_EXPORTER, Completeness::Never),
    component(
        Exporter,
        "logging",
        "core CHANGELOG v0.86.0 (deprecated), v0.111.0 (removed)",
    )
    .deprecated(Version::new(0, 86, 0), "debug")
    .removed(v(111), "debug")
    .keys(LOGGING_EXPORTER, Completeness::Never),
    component(
        Extension,
        "health_check",
        "contrib extension/healthcheckextension/testdata/config.yaml @ b7e8c036",
    )
    .keys(HEALTH_CHECK, Completeness::Never),
];

// --- service ---

const METRICS_ADDRESS_WHY: &str = "deprecated v0.111.0 (default became localhost:8888), ignored from v0.123.0, \
    field removed v0.128.0 (commit 4074b72f): the collector refuses the key";

const SERVICE: &[KeyDef] = &[
    key("extensions").list().note("every extension must be listed here to run"),
    key("pipelines").shape(Shape::Map),
    key("telemetry").map(
        &[
            key("logs").shape(Shape::Map),
            key("traces").shape(Shape::Map),
            key("resource").shape(Shape::Map),
            key("metrics").map(
                &[
                    key("level").note("none | basic | normal | detailed (default normal since v0.99.0)"),
                    key("address")
                        .note("default :8888 (all interfaces) before v0.111.0")
                        .deprecated(v(111), "readers[].pull.exporter.prometheus{host, port}", METRICS_ADDRESS_WHY)
                        .removed(v(128), METRICS_ADDRESS_WHY),
                    key("readers").items(&[], Completeness::Never).note(
                        "default reader is localhost:8888; set host: 0.0.0.0 only if 8888 is scraped from outside",
                    ),
                    key("views").since(Since::SeenIn(LATEST_KNOWN)).shape(Shape::ListOfMaps),
                ],
                // HEAD struct has only level + readers/views (otelconftelemetry/internal/migration/v0.3.0.go:81-94).
                Completeness::From(LATEST_KNOWN),
            ),
        ],
        Completeness::Never,
    ),
];

// -------------------------------------------------------------------------------------------------------------
// Lookups
// -------------------------------------------------------------------------------------------------------------

/// What a component type is at a collector version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ComponentStatus {
    /// Valid under this name.
    Known(&'static ComponentInfo),
    /// Still valid but deprecated (e.g. `logging` from v0.86.0).
    Deprecated {
        info: &'static ComponentInfo,
        since: Version,
        use_instead: &'static str,
    },
    /// An old name that still loads but warns (`otlp` -> `otlp_grpc` from v0.144.0).
    DeprecatedAlias {
        of: &'static str,
        since: Version,
        info: &'static ComponentInfo,
    },
    /// An old name that no longer loads at all.
    Renamed { to: &'static str, since: Version },
    Removed {
        since: Version,
        use_instead: &'static str,
    },
    /// A type that only exists in later releases (`otlp_grpc` at v0.102.0).
    NotYet { since: Since },
    /// In the tables for a later version; presence at this version not checked.
    Unchecked,
    /// Not in our (partial) list. `suggestion` is a close known name, i.e. likely a typo.
    Unknown { suggestion: Option<&'static str> },
}

/// Facts about a key at a collector version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyFacts {
    pub shape: Shape,
    pub note: Option<&'static str>,
}

/// What a config key is at a collector version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyStatus {
    Known(KeyFacts),
    /// The level's key set is complete and this is not in it.
    Unknown {
        suggestion: Option<&'static str>,
    },
    /// The key set at this level is not known to be complete (or the component is not in the tables).
    Unchecked,
    Removed {
        since: Version,
        why: &'static str,
    },
    NotYet {
        since: Since,
    },
    /// The key (or one of its parents) is deprecated.
    Deprecated {
        since: Version,
        use_instead: &'static str,
        why: &'static str,
        facts: KeyFacts,
    },
}

/// The collector knowledge for one target version.
#[derive(Debug, Clone, Copy)]
pub struct CollectorKnowledge {
    pub version: Version,
    components: &'static [ComponentInfo],
}

impl CollectorKnowledge {
    pub fn for_version(version: &Version) -> Self {
        Self {
            version: *version,
            components: COMPONENTS,
        }
    }

    /// From an image tag (`0.159.0`, `v0.159.0`); `None` for `latest` and other non-versions.
    pub fn for_image_tag(tag: &str) -> Option<Self> {
        Version::parse(tag).map(|v| Self::for_version(&v))
    }

    /// Whether the version is newer than anything the tables were built from.
    pub fn is_newer_than_known(&self) -> bool {
        self.version > LATEST_KNOWN
    }

    /// Whether the version is older than anything the tables were built from.
    pub fn is_older_than_known(&self) -> bool {
        self.version < OLDEST_KNOWN
    }

    /// Look up a component by type or full id (`otlp/signoz`).
    pub fn component(&self, kind: ComponentKind, type_or_id: &str) -> ComponentStatus {
        let ty = component_type(type_or_id);
        let ver = self.version;
        for info in self.components.iter().filter(|c| c.kind == kind) {
            if let Some((old, since)) = info.renamed_from
                && old == ty
            {
                if ver < since {
                    return self.lifecycle(info);
                }
                if info.alias_removed.is_some_and(|r| ver >= r) {
                    return ComponentStatus::Renamed {
                        to: info.name,
                        since,
                    };
                }
                return ComponentStatus::DeprecatedAlias {
                    of: info.name,
                    since,
                    info,
                };
            }
            if info.name == ty {
                if let Some((_, since)) = info.renamed_from
                    && ver < since
                {
                    return ComponentStatus::NotYet {
                        since: Since::Exact(since),
                    };
                }
                return self.lifecycle(info);
            }
        }
        ComponentStatus::Unknown {
            suggestion: closest(ty, self.names_valid(kind)),
        }
    }

    fn lifecycle(&self, info: &'static ComponentInfo) -> ComponentStatus {
        let ver = self.version;
        if let Some((since, use_instead)) = info.removed
            && ver >= since
        {
            return ComponentStatus::Removed { since, use_instead };
        }
        match info.since {
            Some(Since::Exact(s)) if ver < s => {
                return ComponentStatus::NotYet {
                    since: Since::Exact(s),
                };
            }
            Some(since @ Since::Between { absent, .. }) if ver <= absent => {
                return ComponentStatus::NotYet { since };
            }
            Some(Since::Between { present, .. }) | Some(Since::SeenIn(present))
                if ver < present =>
            {
                return ComponentStatus::Unchecked;
            }
            _ => {}
        }
        if let Some((since, use_instead)) = info.deprecated
            && ver >= since
        {
            return ComponentStatus::Deprecated {
                info,
                since,
                use_instead,
            };
        }
        ComponentStatus::Known(info)
    }

    /// Type names (current or, before a rename, old) valid at this version, for suggestions.
    fn names_valid(&self, kind: ComponentKind) -> Vec<&'static str> {
        let mut names = Vec::new();
        for info in self.components.iter().filter(|c| c.kind == kind) {
            match info.renamed_from {
                Some((old, since)) if self.version < since => names.push(old),
                _ => {
                    if matches!(
                        self.lifecycle(info),
                        ComponentStatus::Known(_) | ComponentStatus::Deprecated { .. }
                    ) {
                        names.push(info.name);
                    }
                }
            }
        }
        names
    }

    /// The component's table entry regardless of status (for rules that explain a rename or removal).
    pub fn info(&self, kind: ComponentKind, type_or_id: &str) -> Option<&'static ComponentInfo> {
        let ty = component_type(type_or_id);
        self.components.iter().find(|c| {
            c.kind == kind && (c.name == ty || c.renamed_from.is_some_and(|(old, _)| old == ty))
        })
    }

    /// Status of a config key of a component, by dotted path (`protocols.grpc.endpoint`, `traces.span`,
    /// `attributes[0].action` / `attributes.0.action`). Unchecked when the component is not in the tables.
    pub fn key_status(&self, kind: ComponentKind, type_or_id: &str, key_path: &str) -> KeyStatus {
        match self.info(kind, type_or_id) {
            Some(info) => walk_keys(self.version, info.keys, info.keys_complete, key_path),
            None => KeyStatus::Unchecked,
        }
    }

    /// Status of a key under `service` (`telemetry.metrics.address`, `extensions`).
    pub fn service_key_status(&self, key_path: &str) -> KeyStatus {
        walk_keys(self.version, SERVICE, Completeness::Never, key_path)
    }
}

/// Split `a.b[0].c` / `a.b.0.c` into `[a, b, c]`: list indices do not change which key is meant.
fn path_segments(path: &str) -> Vec<&str> {
    path.split('.')
        .map(|s| s.split('[').next().unwrap_or(s))
        .filter(|s| !s.is_empty() && !s.bytes().all(|b| b.is_ascii_digit()))
        .collect()
}

fn walk_keys(
    version: Version,
    mut level: &'static [KeyDef],
    mut complete: Completeness,
    path: &str,
) -> KeyStatus {
    let segments = path_segments(path);
    if segments.is_empty() {
        return KeyStatus::Unchecked;
    }
    let mut deprecation: Option<(Version, &'static str, &'static str)> = None;
    for (i, segment) in segments.iter().enumerate() {
        let Some(def) = level.iter().find(|k| k.name == *segment) else {
            if complete.at(version) {
                let candidates = level
                    .iter()
                    .filter(|k| key_available(k, version))
                    .map(|k| k.name);
                return KeyStatus::Unknown {
                    suggestion: closest(segment, candidates),
                };
            }
            return KeyStatus::Unchecked;
        };
        if let Some((since, why)) = def.removed
            && version >= since
        {
            return KeyStatus::Removed { since, why };
        }
        match def.since {
            Some(Since::Exact(s)) if version < s => {
                return KeyStatus::NotYet {
                    since: Since::Exact(s),
                };
            }
            Some(since @ Since::Between { absent, .. }) if version <= absent => {
                return KeyStatus::NotYet { since };
            }
            Some(Since::Between { present, .. }) | Some(Since::SeenIn(present))
                if version < present =>
            {
                return KeyStatus::Unchecked;
            }
            _ => {}
        }
        if deprecation.is_none()
            && let Some(d @ (since, _, _)) = def.deprecated
            && version >= since
        {
            deprecation = Some(d);
        }
        if i + 1 == segments.len() {
            let facts = KeyFacts {
                shape: def.shape,
                note: def.note,
            };
            return match deprecation {
                Some((since, use_instead, why)) => KeyStatus::Deprecated {
                    since,
                    use_instead,
                    why,
                    facts,
                },
                None => KeyStatus::Known(facts),
            };
        }
        if def.shape == Scalar || def.shape == List {
            // Keys below a scalar: the collector will refuse the structure, but say so only where we are sure.
            return KeyStatus::Unchecked;
        }
        level = def.children;
        complete = def.children_complete;
    }
    KeyStatus::Unchecked
}

fn key_available(def: &KeyDef, version: Version) -> bool {
    if def.removed.is_some_and(|(since, _)| version >= since) {
        return false;
    }
    match def.since {
        None => true,
        Some(Since::Exact(s)) => version >= s,
        Some(Since::Between { present, .. }) | Some(Since::SeenIn(present)) => version >= present,
    }
}

// -------------------------------------------------------------------------------------------------------------
// memory_limiter
// -------------------------------------------------------------------------------------------------------------

/// Why a `memory_limiter` config fails the collector's own validation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MemoryLimiterProblem {
    #[error("memory_limiter needs check_interval greater than 0")]
    CheckIntervalNotPositive,
    #[error("`{0}` is not a duration (e.g. 1s, 500ms)")]
    BadDuration(String),
    #[error("memory_limiter needs limit_mib or limit_percentage")]
    NoLimit,
}

/// The checks of `internal/memorylimiter/config.go` Validate that the reference confirms: `check_interval` > 0, and
/// one of `limit_mib` / `limit_percentage` non-zero.
pub fn check_memory_limiter(
    check_interval: Option<&str>,
    limit_mib: Option<u64>,
    limit_percentage: Option<u64>,
) -> Vec<MemoryLimiterProblem> {
    let mut problems = Vec::new();
    match check_interval {
        None => problems.push(MemoryLimiterProblem::CheckIntervalNotPositive),
        Some(text) => match parse_go_duration_nanos(text) {
            None => problems.push(MemoryLimiterProblem::BadDuration(text.to_owned())),
            Some(n) if n <= 0 => problems.push(MemoryLimiterProblem::CheckIntervalNotPositive),
            Some(_) => {}
        },
    }
    if limit_mib.unwrap_or(0) == 0 && limit_percentage.unwrap_or(0) == 0 {
        problems.push(MemoryLimiterProblem::NoLimit);
    }
    problems
}

/// Parse a Go `time.Duration` string (`1s`, `1m30s`, `500ms`, `-1s`, `0`) into nanoseconds.
/// A bare integer is nanoseconds, as confmap decodes it.
pub fn parse_go_duration_nanos(text: &str) -> Option<i128> {
    let text = text.trim();
    let (negative, mut rest) = match text.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    if rest.is_empty() {
        return None;
    }
    if rest.bytes().all(|b| b.is_ascii_digit()) {
        let n: i128 = rest.parse().ok()?;
        return Some(if negative { -n } else { n });
    }
    let mut total: f64 = 0.0;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if num_len == 0 {
            return None;
        }
        let number: f64 = rest[..num_len].parse().ok()?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let factor = match &rest[..unit_len] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total += number * factor;
    }
    let n = total.round() as i128;
    Some(if negative { -n } else { n })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(minor: u64) -> CollectorKnowledge {
        CollectorKnowledge::for_version(&v(minor))
    }

    #[test]
    fn image_tags_parse_with_and_without_v() {
        assert_eq!(
            CollectorKnowledge::for_image_tag("0.159.0").map(|k| k.version),
            Some(v(159))
        );
        assert_eq!(
            CollectorKnowledge::for_image_tag("v0.102.0").map(|k| k.version),
            Some(v(102))
        );
        assert!(CollectorKnowledge::for_image_tag("latest").is_none());
        assert!(at(160).is_newer_than_known());
        assert!(at(90).is_older_than_known());
        assert!(!at(159).is_newer_than_known());
    }

    #[test]
    fn component_id_type_split() {
        assert_eq!(component_type("otlp/signoz"), "otlp");
        assert_eq!(component_type("filter/pii/x"), "filter");
        assert_eq!(component_type("batch"), "batch");
        assert_eq!(ComponentKind::from_section("exporters"), Some(Exporter));
        assert_eq!(ComponentKind::from_section("exporter"), None);
    }

    #[test]
    fn logging_exporter_removed_at_159_deprecated_at_102() {
        assert_eq!(
            at(159).component(Exporter, "logging"),
            ComponentStatus::Removed {
                since: v(111),
                use_instead: "debug"
            }
        );
        assert!(matches!(
            at(102).component(Exporter, "logging"),
            ComponentStatus::Deprecated { since, use_instead: "debug", .. } if since == Version::new(0, 86, 0)
        ));
        assert!(!at(110).component(Exporter, "logging").is_removed());
        assert!(at(111).component(Exporter, "logging").is_removed());
    }

    impl ComponentStatus {
        fn is_removed(&self) -> bool {
            matches!(self, ComponentStatus::Removed { .. })
        }
    }

    #[test]
    fn otlp_exporter_alias_after_144_canonical_before() {
        assert!(matches!(
            at(159).component(Exporter, "otlp/signoz"),
            ComponentStatus::DeprecatedAlias { of: "otlp_grpc", since, .. } if since == v(144)
        ));
        assert!(matches!(
            at(102).component(Exporter, "otlp"),
            ComponentStatus::Known(info) if info.name == "otlp_grpc"
        ));
        assert!(matches!(
            at(143).component(Exporter, "otlp"),
            ComponentStatus::Known(_)
        ));
        assert!(matches!(
            at(144).component(Exporter, "otlp"),
            ComponentStatus::DeprecatedAlias { .. }
        ));
        assert!(matches!(
            at(159).component(Exporter, "otlphttp"),
            ComponentStatus::DeprecatedAlias {
                of: "otlp_http",
                ..
            }
        ));
    }

    #[test]
    fn otlp_grpc_not_yet_at_102() {
        assert_eq!(
            at(102).component(Exporter, "otlp_grpc"),
            ComponentStatus::NotYet {
                since: Since::Exact(v(144))
            }
        );
        assert!(matches!(
            at(159).component(Exporter, "otlp_grpc/signoz"),
            ComponentStatus::Known(_)
        ));
        assert!(matches!(
            at(159).component(Exporter, "otlp_http"),
            ComponentStatus::Known(_)
        ));
    }

    #[test]
    fn otlp_receiver_is_not_renamed() {
        // Only the exporters were renamed; the receiver stays `otlp`.
        assert!(matches!(
            at(159).component(Receiver, "otlp"),
            ComponentStatus::Known(_)
        ));
        assert!(matches!(
            at(159).component(Receiver, "otlp_grpc"),
            ComponentStatus::Unknown { .. }
        ));
    }

    #[test]
    fn unknown_component_suggests_only_close_names_valid_at_that_version() {
        assert_eq!(
            at(159).component(Processor, "memorylimiter"),
            ComponentStatus::Unknown {
                suggestion: Some("memory_limiter")
            }
        );
        assert_eq!(
            at(159).component(Exporter, "otlp_grcp"),
            ComponentStatus::Unknown {
                suggestion: Some("otlp_grpc")
            }
        );
        // At 0.102 `otlp_grpc` is not a valid name, so it is not suggested.
        assert_eq!(
            at(102).component(Exporter, "otlp_grcp"),
            ComponentStatus::Unknown { suggestion: None }
        );
        assert_eq!(
            at(159).component(Exporter, "clickhousetraces"),
            ComponentStatus::Unknown { suggestion: None }
        );
    }

    #[test]
    fn redaction_unchecked_before_159() {
        assert!(matches!(
            at(159).component(Processor, "redaction"),
            ComponentStatus::Known(_)
        ));
        assert_eq!(
            at(102).component(Processor, "redaction"),
            ComponentStatus::Unchecked
        );
    }

    #[test]
    fn renamed_without_alias_uses_synthetic_table() {
        const TABLE: &[ComponentInfo] = &[ComponentInfo {
            alias_removed: Some(Version::new(0, 200, 0)),
            ..component(Exporter, "new_name", "test")
                .renamed_from("old_name", Version::new(0, 150, 0))
        }];
        let k = CollectorKnowledge {
            version: Version::new(0, 201, 0),
            components: TABLE,
        };
        assert_eq!(
            k.component(Exporter, "old_name"),
            ComponentStatus::Renamed {
                to: "new_name",
                since: Version::new(0, 150, 0)
            }
        );
    }

    #[test]
    fn metrics_address_known_deprecated_removed_by_version() {
        assert!(matches!(
            at(102).service_key_status("telemetry.metrics.address"),
            KeyStatus::Known(_)
        ));
        assert!(matches!(
            at(115).service_key_status("telemetry.metrics.address"),
            KeyStatus::Deprecated { since, .. } if since == v(111)
        ));
        assert!(matches!(
            at(159).service_key_status("telemetry.metrics.address"),
            KeyStatus::Removed { since, .. } if since == v(128)
        ));
        assert!(matches!(
            at(128).service_key_status("telemetry.metrics.address"),
            KeyStatus::Removed { .. }
        ));
    }

    #[test]
    fn metrics_level_complete_at_159_only() {
        assert_eq!(
            at(159).service_key_status("telemetry.metrics.adress"),
            KeyStatus::Unknown { suggestion: None }
        );
        assert_eq!(
            at(159).service_key_status("telemetry.metrics.readrs"),
            KeyStatus::Unknown {
                suggestion: Some("readers")
            }
        );
        assert_eq!(
            at(120).service_key_status("telemetry.metrics.whatever"),
            KeyStatus::Unchecked
        );
        assert!(matches!(
            at(159).service_key_status("telemetry.metrics.readers[0].pull"),
            KeyStatus::Unchecked
        ));
        assert_eq!(
            at(159).service_key_status("pipelines.traces"),
            KeyStatus::Unchecked
        );
    }

    #[test]
    fn otlp_receiver_keys() {
        let k = at(159);
        assert!(
            matches!(k.key_status(Receiver, "otlp", "protocols.grpc.endpoint"), KeyStatus::Known(f) if f.note.is_some())
        );
        assert!(matches!(
            k.key_status(Receiver, "otlp", "protocols.http.traces_url_path"),
            KeyStatus::Known(_)
        ));
        assert_eq!(
            k.key_status(Receiver, "otlp", "protocol"),
            KeyStatus::Unknown {
                suggestion: Some("protocols")
            }
        );
        assert_eq!(
            k.key_status(Receiver, "otlp", "protocols.grcp"),
            KeyStatus::Unknown {
                suggestion: Some("grpc")
            }
        );
        // Below grpc/http the key sets are partial.
        assert_eq!(
            k.key_status(Receiver, "otlp", "protocols.grpc.transport"),
            KeyStatus::Unchecked
        );
        assert_eq!(
            k.key_status(Receiver, "prometheus", "whatever"),
            KeyStatus::Unchecked
        );
        assert_eq!(
            k.key_status(Receiver, "nonexistent", "x"),
            KeyStatus::Unchecked
        );
    }

    #[test]
    fn file_exporter_create_directory_by_version() {
        assert!(matches!(
            at(159).key_status(Exporter, "file/audit", "create_directory"),
            KeyStatus::Known(_)
        ));
        assert_eq!(
            at(102).key_status(Exporter, "file", "create_directory"),
            KeyStatus::NotYet {
                since: Since::Between {
                    absent: v(102),
                    present: v(159)
                }
            }
        );
        assert_eq!(
            at(130).key_status(Exporter, "file", "create_directory"),
            KeyStatus::Unchecked
        );
        // Top level complete at 0.159 (config.schema.yaml), not before.
        assert_eq!(
            at(159).key_status(Exporter, "file", "paht"),
            KeyStatus::Unknown {
                suggestion: Some("path")
            }
        );
        assert_eq!(
            at(102).key_status(Exporter, "file", "paht"),
            KeyStatus::Unchecked
        );
        assert!(matches!(
            at(102).key_status(Exporter, "file", "rotation.max_days"),
            KeyStatus::Known(_)
        ));
        assert_eq!(
            at(102).key_status(Exporter, "file", "rotation.max_day"),
            KeyStatus::Unknown {
                suggestion: Some("max_days")
            }
        );
    }

    #[test]
    fn filter_groups_deprecated_from_146_with_list_note() {
        match at(159).key_status(Processor, "filter/pii", "traces.span") {
            KeyStatus::Deprecated {
                since,
                use_instead,
                facts,
                ..
            } => {
                assert_eq!(since, v(146));
                assert_eq!(use_instead, "trace_conditions");
                assert_eq!(facts.shape, List);
                assert!(facts.note.is_some_and(|n| n.contains("comma")));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            at(102).key_status(Processor, "filter", "traces.span"),
            KeyStatus::Known(KeyFacts { shape: List, .. })
        ));
        assert_eq!(
            at(102).key_status(Processor, "filter", "trace_conditions"),
            KeyStatus::NotYet {
                since: Since::Exact(v(146))
            }
        );
        assert!(matches!(
            at(146).key_status(Processor, "filter", "trace_conditions"),
            KeyStatus::Known(_)
        ));
    }

    #[test]
    fn memory_limiter_keys_and_rules() {
        assert_eq!(
            at(102).key_status(
                Processor,
                "memory_limiter",
                "min_gc_interval_when_soft_limited"
            ),
            KeyStatus::NotYet {
                since: Since::Exact(v(121))
            }
        );
        assert!(matches!(
            at(159).key_status(
                Processor,
                "memory_limiter",
                "max_gc_interval_when_hard_limited"
            ),
            KeyStatus::Known(_)
        ));
        assert_eq!(
            at(159).key_status(Processor, "memory_limiter", "limit_mb"),
            KeyStatus::Unknown {
                suggestion: Some("limit_mib")
            }
        );
        assert!(check_memory_limiter(Some("1s"), Some(512), None).is_empty());
        assert!(check_memory_limiter(Some("1s"), None, Some(80)).is_empty());
        assert_eq!(
            check_memory_limiter(Some("0s"), None, None),
            vec![
                MemoryLimiterProblem::CheckIntervalNotPositive,
                MemoryLimiterProblem::NoLimit
            ]
        );
        assert_eq!(
            check_memory_limiter(None, Some(0), Some(0)),
            vec![
                MemoryLimiterProblem::CheckIntervalNotPositive,
                MemoryLimiterProblem::NoLimit
            ]
        );
        assert_eq!(
            check_memory_limiter(Some("soon"), Some(1), None),
            vec![MemoryLimiterProblem::BadDuration("soon".into())]
        );
    }

    #[test]
    fn go_durations() {
        assert_eq!(parse_go_duration_nanos("1s"), Some(1_000_000_000));
        assert_eq!(parse_go_duration_nanos("500ms"), Some(500_000_000));
        assert_eq!(parse_go_duration_nanos("1m30s"), Some(90_000_000_000));
        assert_eq!(parse_go_duration_nanos("1.5h"), Some(5_400_000_000_000));
        assert_eq!(parse_go_duration_nanos("-1s"), Some(-1_000_000_000));
        assert_eq!(parse_go_duration_nanos("0"), Some(0));
        assert_eq!(parse_go_duration_nanos("100"), Some(100));
        for bad in ["", "s", "1x", "1 s", "-"] {
            assert_eq!(parse_go_duration_nanos(bad), None, "{bad}");
        }
    }

    #[test]
    fn otlp_exporter_batcher_deprecated_then_removed() {
        assert!(matches!(
            at(102).key_status(Exporter, "otlp", "batcher"),
            KeyStatus::Known(_)
        ));
        assert!(matches!(
            at(125).key_status(Exporter, "otlp", "batcher"),
            KeyStatus::Deprecated { .. }
        ));
        assert!(matches!(
            at(159).key_status(Exporter, "otlp_grpc", "batcher"),
            KeyStatus::Removed { .. }
        ));
        assert!(matches!(
            at(159).key_status(Exporter, "otlp_grpc", "tls.insecure"),
            KeyStatus::Known(_)
        ));
        // Alias resolves to the same key table.
        assert!(matches!(
            at(159).key_status(Exporter, "otlp/signoz", "tls.insecure"),
            KeyStatus::Known(_)
        ));
    }

    #[test]
    fn debug_exporter_key_history() {
        assert_eq!(
            at(102).key_status(Exporter, "debug", "use_internal_logger"),
            KeyStatus::NotYet {
                since: Since::Exact(v(104))
            }
        );
        assert_eq!(
            at(140).key_status(Exporter, "debug", "sending_queue"),
            KeyStatus::Unchecked
        );
        assert!(matches!(
            at(159).key_status(Exporter, "debug", "output_paths"),
            KeyStatus::Known(_)
        ));
    }

    #[test]
    fn resource_attributes_items() {
        assert!(matches!(
            at(159).key_status(Processor, "resource", "attributes[0].action"),
            KeyStatus::Known(KeyFacts { note: Some(_), .. })
        ));
        assert!(matches!(
            at(159).key_status(Processor, "resource", "attributes.1.key"),
            KeyStatus::Known(_)
        ));
        assert_eq!(
            at(159).key_status(Processor, "resource", "atributes"),
            KeyStatus::Unknown {
                suggestion: Some("attributes")
            }
        );
    }

    #[test]
    fn defaults_by_version() {
        assert_eq!(default_receiver_host(v(102)), "0.0.0.0");
        assert_eq!(default_receiver_host(v(103)), "0.0.0.0");
        assert_eq!(default_receiver_host(v(104)), "localhost");
        assert_eq!(default_receiver_host(v(159)), "localhost");
        assert_eq!(
            default_health_check_endpoint(v(102)),
            ("0.0.0.0:13133", Certainty::Verified)
        );
        assert_eq!(
            default_health_check_endpoint(v(120)),
            ("localhost:13133", Certainty::Inferred)
        );
        assert_eq!(
            default_health_check_endpoint(v(159)),
            ("localhost:13133", Certainty::Verified)
        );
        assert_eq!(default_internal_metrics_address(v(110)), ":8888");
        assert_eq!(default_internal_metrics_address(v(111)), "localhost:8888");
    }

    #[test]
    fn tables_are_well_formed() {
        // Names unique per kind (old names included), so lookups are unambiguous.
        let mut seen = std::collections::HashSet::new();
        for c in COMPONENTS {
            assert!(seen.insert((c.kind, c.name)), "duplicate {}", c.name);
            if let Some((old, _)) = c.renamed_from {
                assert!(seen.insert((c.kind, old)), "duplicate {old}");
            }
            check_level(c.keys);
        }
        check_level(SERVICE);
        fn check_level(level: &[KeyDef]) {
            let mut names = std::collections::HashSet::new();
            for k in level {
                assert!(names.insert(k.name), "duplicate key {}", k.name);
                if let (Some((d, _, _)), Some((r, _))) = (k.deprecated, k.removed) {
                    assert!(d < r, "{} removed before deprecated", k.name);
                }
                check_level(k.children);
            }
        }
    }
}
