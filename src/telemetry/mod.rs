//! The tool's own traces and logs. `SOVSTACK_LOG` (env-filter syntax, e.g. `debug` or
//! `sovstack::providers=trace`) writes its `tracing` events to stderr. With an OTLP endpoint
//! (`--otlp-endpoint` or `OTEL_EXPORTER_OTLP_ENDPOINT`), `plan`, `apply`, `destroy` and `drift`
//! export a trace (a span per command, per resource operation, per API call and SSH command)
//! and log records (apply results, the drift report) over OTLP/HTTP protobuf, through the
//! OpenTelemetry SDK. Spans carry addresses, actions, ids and results; never a value.

pub mod http;
pub mod records;
pub mod spans;

use opentelemetry::KeyValue;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{LogExporter, Protocol, SpanExporter, WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::logs::{SdkLogger, SdkLoggerProvider};
use opentelemetry_sdk::trace::SdkTracerProvider;
use std::sync::OnceLock;
use tracing_subscriber::filter::{EnvFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{Layer, fmt};

/// The variable with the stderr log filter.
pub const LOG_VAR: &str = "SOVSTACK_LOG";

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum TelemetryError {
    #[error("cannot set up the OTLP export to {endpoint}: {message}")]
    #[diagnostic(
        code(sovstack::telemetry::setup),
        help(
            "--otlp-endpoint (or OTEL_EXPORTER_OTLP_ENDPOINT) is the base URL of a collector's OTLP/HTTP receiver, e.g. http://127.0.0.1:4318"
        )
    )]
    Setup { endpoint: String, message: String },
    #[error("cannot send telemetry to {endpoint}: {message}")]
    #[diagnostic(
        code(sovstack::telemetry::export),
        help(
            "check --otlp-endpoint (or OTEL_EXPORTER_OTLP_ENDPOINT): the base URL of the collector's OTLP/HTTP receiver, e.g. http://127.0.0.1:4318"
        )
    )]
    Export { endpoint: String, message: String },
}

/// What the export is about: resource attributes known before the command runs.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// The OTLP/HTTP base URL; `None` exports nothing.
    pub endpoint: Option<String>,
    /// The stack's Hetzner location (`cloud.region`), when it has one.
    pub region: Option<String>,
}

/// The providers of this process, once started.
struct Exporting {
    endpoint: String,
    traces: SdkTracerProvider,
    logs: SdkLoggerProvider,
}

static EXPORTING: OnceLock<Exporting> = OnceLock::new();

/// Starts the stderr log (when `SOVSTACK_LOG` is set) and the OTLP export (when there is an
/// endpoint). Call once, before any async runtime starts; a bad `SOVSTACK_LOG` is reported
/// and ignored.
pub fn start(settings: &Settings) -> Result<(), TelemetryError> {
    let stderr_log = std::env::var(LOG_VAR).ok().and_then(|f| {
        EnvFilter::try_new(&f)
            .map_err(|e| eprintln!("warning: {LOG_VAR}={f} is not a filter ({e}); no log"))
            .ok()
            .map(|filter| {
                // A line per closed span too: API calls and SSH commands with their durations.
                fmt::layer()
                    .with_writer(std::io::stderr)
                    .with_span_events(fmt::format::FmtSpan::CLOSE)
                    .with_filter(filter)
            })
    });
    let exporting = match &settings.endpoint {
        Some(endpoint) => Some(exporting(endpoint, settings)?),
        None => None,
    };
    let spans = exporting.as_ref().map(|e| {
        tracing_opentelemetry::layer()
            .with_tracer(e.traces.tracer("sovstack"))
            .with_filter(Targets::new().with_target("sovstack", tracing::Level::INFO))
    });
    // Fails only if a subscriber is already set (a test calling twice): the first one stays.
    let _ = tracing_subscriber::registry()
        .with(stderr_log)
        .with(spans)
        .try_init();
    if let Some(e) = exporting {
        let _ = EXPORTING.set(e);
    }
    Ok(())
}

fn resource(settings: &Settings) -> Resource {
    let mut attributes = vec![
        KeyValue::new("service.version", env!("CARGO_PKG_VERSION")),
        KeyValue::new("cloud.provider", "hetzner"),
    ];
    if let Some(region) = &settings.region {
        attributes.push(KeyValue::new("cloud.region", region.clone()));
    }
    Resource::builder()
        .with_service_name("sovstack")
        .with_attributes(attributes)
        .build()
}

/// `{endpoint}/v1/{signal}`, as the OTLP exporter specification builds signal URLs.
pub fn signal_url(endpoint: &str, signal: &str) -> String {
    format!("{}/v1/{signal}", endpoint.trim_end_matches('/'))
}

fn exporting(endpoint: &str, settings: &Settings) -> Result<Exporting, TelemetryError> {
    let setup = |message: String| TelemetryError::Setup {
        endpoint: endpoint.to_string(),
        message,
    };
    let client = http::BlockingClient::new().map_err(|e| setup(e.to_string()))?;
    let spans = SpanExporter::builder()
        .with_http()
        .with_http_client(client.clone())
        .with_protocol(Protocol::HttpBinary)
        .with_timeout(http::TIMEOUT)
        .with_endpoint(signal_url(endpoint, "traces"))
        .build()
        .map_err(|e| setup(e.to_string()))?;
    let logs = LogExporter::builder()
        .with_http()
        .with_http_client(client)
        .with_protocol(Protocol::HttpBinary)
        .with_timeout(http::TIMEOUT)
        .with_endpoint(signal_url(endpoint, "logs"))
        .build()
        .map_err(|e| setup(e.to_string()))?;
    let resource = resource(settings);
    Ok(Exporting {
        endpoint: endpoint.to_string(),
        traces: SdkTracerProvider::builder()
            .with_batch_exporter(spans)
            .with_resource(resource.clone())
            .build(),
        logs: SdkLoggerProvider::builder()
            .with_batch_exporter(logs)
            .with_resource(resource)
            .build(),
    })
}

/// Where log records go, when exporting.
pub fn logger(scope: &'static str) -> Option<SdkLogger> {
    use opentelemetry::logs::LoggerProvider as _;
    EXPORTING.get().map(|e| e.logs.logger(scope))
}

/// Sends everything recorded so far; an export that failed is an error.
pub fn flush() -> Result<(), TelemetryError> {
    let Some(e) = EXPORTING.get() else {
        return Ok(());
    };
    let failed = |message: String| TelemetryError::Export {
        endpoint: e.endpoint.clone(),
        message,
    };
    e.logs
        .force_flush()
        .map_err(|err| failed(err.to_string()))?;
    e.traces
        .force_flush()
        .map_err(|err| failed(err.to_string()))
}

/// Sends what is left and stops the export threads; errors are reported on stderr only (the
/// command's own result is already decided).
pub fn shutdown() {
    if let Some(e) = EXPORTING.get() {
        if let Err(err) = e.traces.shutdown() {
            eprintln!("warning: cannot send the trace to {}: {err}", e.endpoint);
        }
        if let Err(err) = e.logs.shutdown() {
            eprintln!("warning: cannot send log records to {}: {err}", e.endpoint);
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_signal_url_is_the_base_plus_the_signal_path() {
        assert_eq!(
            super::signal_url("http://127.0.0.1:4318", "logs"),
            "http://127.0.0.1:4318/v1/logs"
        );
        assert_eq!(
            super::signal_url("http://127.0.0.1:4318/", "traces"),
            "http://127.0.0.1:4318/v1/traces"
        );
    }
}
