//! Sending spans the way vLLM's OTLP exporter does with `OTEL_EXPORTER_OTLP_TRACES_PROTOCOL=grpc`:
//! `TraceService/Export` over gRPC to the `--otlp-traces-endpoint`, retried with backoff while
//! the collector is not (yet) there, as the OpenTelemetry exporters retry transient failures.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use std::time::Duration;
use tonic::transport::{Channel, Endpoint};

/// How long one export keeps trying before the span is dropped (and said so on stderr).
const EXPORT_DEADLINE: Duration = Duration::from_secs(30);
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("invalid OTLP endpoint {endpoint:?}: {why}")]
    Endpoint { endpoint: String, why: String },
    #[error(
        "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL={0:?} is not supported by the vLLM stand-in (only grpc is)"
    )]
    Protocol(String),
    #[error("export to {endpoint} failed after {attempts} attempt(s): {last}")]
    GaveUp {
        endpoint: String,
        attempts: u32,
        last: String,
    },
}

/// An OTLP/gRPC trace exporter bound to one endpoint; connects lazily, per export.
#[derive(Clone)]
pub struct GrpcExporter {
    endpoint: String,
    channel: Channel,
}

impl GrpcExporter {
    /// `endpoint` as vLLM takes it: `http://host:port`, or `host:port` (plain text either way).
    pub fn new(endpoint: &str, protocol: &str) -> Result<GrpcExporter, ExportError> {
        if protocol != "grpc" {
            return Err(ExportError::Protocol(protocol.to_string()));
        }
        let url = if endpoint.contains("://") {
            endpoint.to_string()
        } else {
            format!("http://{endpoint}")
        };
        if url.starts_with("https://") {
            return Err(ExportError::Endpoint {
                endpoint: endpoint.to_string(),
                why: "TLS is not supported by the stand-in".to_string(),
            });
        }
        let channel = Endpoint::from_shared(url)
            .map_err(|e| ExportError::Endpoint {
                endpoint: endpoint.to_string(),
                why: e.to_string(),
            })?
            .connect_timeout(Duration::from_secs(2))
            .timeout(Duration::from_secs(10))
            .connect_lazy();
        Ok(GrpcExporter {
            endpoint: endpoint.to_string(),
            channel,
        })
    }

    /// Exports one request, retrying transient failures until [`EXPORT_DEADLINE`].
    pub async fn export(&self, request: ExportTraceServiceRequest) -> Result<u32, ExportError> {
        let deadline = tokio::time::Instant::now() + EXPORT_DEADLINE;
        let mut backoff = FIRST_BACKOFF;
        let mut attempts = 0u32;
        loop {
            attempts += 1;
            let mut client = TraceServiceClient::new(self.channel.clone());
            let last = match client.export(request.clone()).await {
                Ok(_) => return Ok(attempts),
                Err(status) if !retryable(status.code()) => status.to_string(),
                Err(status) if tokio::time::Instant::now() + backoff < deadline => {
                    let _ = status;
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                    continue;
                }
                Err(status) => status.to_string(),
            };
            return Err(ExportError::GaveUp {
                endpoint: self.endpoint.clone(),
                attempts,
                last,
            });
        }
    }
}

/// The gRPC codes the OTLP specification calls retryable.
fn retryable(code: tonic::Code) -> bool {
    use tonic::Code::*;
    matches!(
        code,
        Cancelled
            | DeadlineExceeded
            | Aborted
            | OutOfRange
            | Unavailable
            | DataLoss
            | ResourceExhausted
    )
}
