//! The collector tables as data: the components this stack uses, their config keys and the keys under `service`.
//! Each row says the releases it holds for; the lookups (`lookup.rs`) read them for one release.

use super::schema::{ComponentInfo, KeyDef, Shape, component, key};
use super::versions::{Completeness, Since};
use super::{NEWEST_READ, OLDEST_KNOWN, v};
use crate::config::ComponentKind::{Exporter, Extension, Processor, Receiver};
use crate::validate::knowledge::Version;

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
    present: NEWEST_READ,
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
        .since(Since::SeenIn(NEWEST_READ)),
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
pub(super) const COMPONENTS: &[ComponentInfo] = &[
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
    .since(Since::SeenIn(NEWEST_READ))
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
    .keys(FILE_EXPORTER, Completeness::From(NEWEST_READ)),
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

pub(super) const SERVICE: &[KeyDef] = &[
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
                    key("views").since(Since::SeenIn(NEWEST_READ)).shape(Shape::ListOfMaps),
                ],
                // HEAD struct has only level + readers/views (otelconftelemetry/internal/migration/v0.3.0.go:81-94).
                Completeness::From(NEWEST_READ),
            ),
        ],
        Completeness::Never,
    ),
];
