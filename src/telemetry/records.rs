//! Log records through the SDK: each with a severity, a body for people, attributes for
//! queries, and the trace and span of the command that wrote it.

use opentelemetry::logs::{AnyValue, LogRecord as _, Logger as _, Severity};
use opentelemetry::trace::TraceContextExt as _;
use opentelemetry_sdk::logs::SdkLogger;
use std::time::SystemTime;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

/// How bad a record is, as the OTLP logs data model numbers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Info,
    Warn,
    Error,
}

impl Level {
    fn severity(self) -> (Severity, &'static str) {
        match self {
            Level::Info => (Severity::Info, "INFO"),
            Level::Warn => (Severity::Warn, "WARN"),
            Level::Error => (Severity::Error, "ERROR"),
        }
    }
}

/// One log record: how bad, what it says, and its attributes (keys are the tool's own).
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub level: Level,
    pub body: String,
    pub attributes: Vec<(&'static str, String)>,
}

/// Emits one record on `logger`, tied to the current span's trace.
pub fn emit(logger: &SdkLogger, r: Record) {
    let Record {
        level,
        body,
        attributes,
    } = r;
    let mut record = logger.create_log_record();
    let (number, text) = level.severity();
    let now = SystemTime::now();
    record.set_timestamp(now);
    record.set_observed_timestamp(now);
    record.set_severity_number(number);
    record.set_severity_text(text);
    record.set_body(AnyValue::from(body));
    for (k, v) in attributes {
        record.add_attribute(k, v);
    }
    let cx = tracing::Span::current().context();
    let span = cx.span();
    let sc = span.span_context();
    if sc.is_valid() {
        record.set_trace_context(sc.trace_id(), sc.span_id(), Some(sc.trace_flags()));
    }
    logger.emit(record);
}
