//! `otelcol-contrib --config PATH`: a stand-in for the OpenTelemetry Collector (see the crate
//! docs and `tests/integration/harness/README.md` for what it does and does not do).
//!
//! Loads the config the way the collector does (refusing what the real one refuses, see
//! `collector_config`), then for every `otlp` receiver serves `TraceService/Export` over gRPC
//! and `POST /v1/traces` (protobuf or JSON) over HTTP where the config says, and appends each
//! received batch as one JSON line to the `file` exporters of the traces pipelines the receiver
//! feeds, and sends it on to their plain-text `otlp`/`otlp_grpc` exporters (in the background,
//! retried as the exporters retry, so a receiver never waits for the next hop). With the
//! `health_check` extension enabled, `GET /` on its endpoint answers 200.

use axum::Router;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use prost::Message;
use sovstack_test_standins::collector_config::{CollectorConfig, OtlpReceiver};
use sovstack_test_standins::file_exporter::json_line;
use sovstack_test_standins::otlp_export::GrpcExporter;
use sovstack_test_standins::shutdown;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use tokio::task::JoinSet;
use tokio_stream::wrappers::TcpListenerStream;

/// One `file` exporter's open file, shared by every receiver that feeds it.
struct FileSink {
    path: PathBuf,
    file: Mutex<File>,
}

impl FileSink {
    /// Opened at start, as the file exporter does: a path it cannot write stops the collector.
    fn open(path: &Path) -> Result<FileSink, String> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
        Ok(FileSink {
            path: path.to_path_buf(),
            file: Mutex::new(file),
        })
    }

    fn write(&self, line: &str) -> Result<(), String> {
        let mut f = self
            .file
            .lock()
            .map_err(|_| format!("{}: a writer panicked", self.path.display()))?;
        writeln!(f, "{line}")
            .and_then(|()| f.flush())
            .map_err(|e| format!("{}: {e}", self.path.display()))
    }
}

/// Where one receiver's traces go.
#[derive(Clone)]
struct Pipeline {
    sinks: Arc<Vec<Arc<FileSink>>>,
    forwards: Arc<Vec<GrpcExporter>>,
}

impl Pipeline {
    fn consume(&self, request: &ExportTraceServiceRequest) -> Result<(), String> {
        for exporter in self.forwards.iter() {
            let (exporter, request) = (exporter.clone(), request.clone());
            tokio::spawn(async move {
                if let Err(e) = exporter.export(request).await {
                    eprintln!("error\texporterhelper\tExporting failed. Dropping data.\t{e}");
                }
            });
        }
        if self.sinks.is_empty() {
            return Ok(());
        }
        let line = json_line(&request.resource_spans).map_err(|e| e.to_string())?;
        self.sinks.iter().try_for_each(|s| s.write(&line))
    }
}

#[tonic::async_trait]
impl TraceService for Pipeline {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        self.consume(request.get_ref())
            .map_err(tonic::Status::unavailable)?;
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

/// `POST /v1/traces` of OTLP/HTTP: protobuf or JSON in, the same encoding out.
async fn http_traces(pipeline: Pipeline, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("application/json"));
    let request = if json {
        serde_json::from_slice::<ExportTraceServiceRequest>(&body).map_err(|e| e.to_string())
    } else {
        ExportTraceServiceRequest::decode(body).map_err(|e| e.to_string())
    };
    let request = match request {
        Ok(r) => r,
        Err(e) => return (StatusCode::BAD_REQUEST, e).into_response(),
    };
    if let Err(e) = pipeline.consume(&request) {
        return (StatusCode::SERVICE_UNAVAILABLE, e).into_response();
    }
    if json {
        ([(header::CONTENT_TYPE, "application/json")], "{}").into_response()
    } else {
        let body = ExportTraceServiceResponse::default().encode_to_vec();
        ([(header::CONTENT_TYPE, "application/x-protobuf")], body).into_response()
    }
}

async fn bind(addr: SocketAddr, what: &str) -> Result<tokio::net::TcpListener, String> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("{what}: cannot listen on {addr}: {e}"))?;
    eprintln!("info\t{what}\tStarting server on {addr}");
    Ok(listener)
}

fn spawn_http(
    tasks: &mut JoinSet<Result<(), String>>,
    listener: tokio::net::TcpListener,
    router: Router,
) {
    tasks.spawn(async move {
        axum::serve(listener, router)
            .with_graceful_shutdown(shutdown::requested())
            .await
            .map_err(|e| e.to_string())
    });
}

async fn start_receiver(
    tasks: &mut JoinSet<Result<(), String>>,
    receiver: &OtlpReceiver,
    pipeline: Pipeline,
) -> Result<(), String> {
    if let Some(addr) = receiver.grpc {
        let listener = bind(addr, &format!("{}/grpc", receiver.id)).await?;
        let incoming = TcpListenerStream::new(listener);
        let service = TraceServiceServer::new(pipeline.clone());
        tasks.spawn(async move {
            tonic::transport::Server::builder()
                .add_service(service)
                .serve_with_incoming_shutdown(incoming, shutdown::requested())
                .await
                .map_err(|e| e.to_string())
        });
    }
    if let Some(addr) = receiver.http {
        let listener = bind(addr, &format!("{}/http", receiver.id)).await?;
        let router = Router::new().route(
            "/v1/traces",
            post(move |headers: HeaderMap, body: axum::body::Bytes| {
                http_traces(pipeline.clone(), headers, body)
            }),
        );
        spawn_http(tasks, listener, router);
    }
    Ok(())
}

async fn run(config: CollectorConfig) -> Result<(), String> {
    let mut sinks: Vec<Arc<FileSink>> = Vec::new();
    let mut tasks = JoinSet::new();
    for receiver in &config.receivers {
        let mut mine = Vec::new();
        for path in &receiver.trace_files {
            let sink = match sinks.iter().find(|s| &s.path == path) {
                Some(s) => s.clone(),
                None => {
                    let s = Arc::new(FileSink::open(path)?);
                    sinks.push(s.clone());
                    s
                }
            };
            mine.push(sink);
        }
        let forwards = receiver
            .trace_forwards
            .iter()
            .map(|endpoint| GrpcExporter::new(endpoint, "grpc").map_err(|e| e.to_string()))
            .collect::<Result<Vec<_>, _>>()?;
        let pipeline = Pipeline {
            sinks: Arc::new(mine),
            forwards: Arc::new(forwards),
        };
        start_receiver(&mut tasks, receiver, pipeline).await?;
    }
    if let Some(addr) = config.health_check {
        let listener = bind(addr, "health_check").await?;
        let router = Router::new().route(
            "/",
            get(|| async { axum::Json(serde_json::json!({"status": "Server available"})) }),
        );
        spawn_http(&mut tasks, listener, router);
    }
    eprintln!("info\tservice\tEverything is ready. Begin running and processing data.");
    if tasks.is_empty() {
        shutdown::requested().await;
    }
    while let Some(done) = tasks.join_next().await {
        done.map_err(|e| e.to_string())??;
    }
    eprintln!("info\tservice\tShutdown complete.");
    Ok(())
}

fn config_path(argv: &[String]) -> Result<PathBuf, String> {
    let mut it = argv.iter();
    let mut path = None;
    while let Some(arg) = it.next() {
        match arg.split_once('=') {
            Some(("--config", v)) => path = Some(PathBuf::from(v)),
            _ if arg == "--config" => {
                path = Some(PathBuf::from(
                    it.next().ok_or("flag needs an argument: --config")?,
                ))
            }
            _ => {
                return Err(format!(
                    "unknown flag: {arg} (the stand-in takes only --config)"
                ));
            }
        }
    }
    path.ok_or_else(|| "at least one config flag must be provided".to_string())
}

fn load(argv: &[String]) -> Result<CollectorConfig, String> {
    let path = config_path(argv)?;
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    CollectorConfig::parse(&text).map_err(|e| format!("invalid configuration: {e}"))
}

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let result = load(&argv).and_then(|config| {
        tokio::runtime::Runtime::new()
            .map_err(|e| e.to_string())?
            .block_on(run(config))
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("Error: {e}");
            ExitCode::FAILURE
        }
    }
}
