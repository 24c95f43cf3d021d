//! `vllm serve MODEL ...`: a stand-in for vLLM's OpenAI-compatible server (see the crate docs
//! and `tests/integration/harness/README.md` for what it does and does not do).
//!
//! Serves `GET /health`, `GET /v1/models`, `POST /v1/chat/completions` and `GET /metrics` on
//! `--host`:`--port` (default 0.0.0.0:8000). No model runs: a completion is a fixed sentence cut
//! to `max_tokens` words. With `--otlp-traces-endpoint`, every completion emits one
//! `llm_request` span over OTLP/gRPC, a child of the request's `traceparent`.

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use sovstack_test_standins::ids::{TraceParent, hex, random_id};
use sovstack_test_standins::otlp_export::GrpcExporter;
use sovstack_test_standins::shutdown;
use sovstack_test_standins::span::LlmRequest;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

const REPLY: &str = "This answer comes from the vLLM stand-in of the sovstack tests; no model ran.";

/// The command line, as far as the stand-in takes it.
#[derive(Debug)]
struct Args {
    model: String,
    served_model_name: Option<String>,
    max_model_len: Option<u64>,
    otlp_traces_endpoint: Option<String>,
    host: String,
    port: u16,
}

/// argparse's wording, so a wrong flag reads as it would from vLLM.
fn usage_error(message: &str) -> String {
    format!("usage: vllm serve [model_tag] [options]\nvllm serve: error: {message}")
}

fn parse_args(argv: &[String]) -> Result<Args, String> {
    let mut it = argv.iter();
    if it.next().map(String::as_str) != Some("serve") {
        return Err(usage_error("the stand-in implements only `vllm serve`"));
    }
    let mut model = None;
    let mut args = Args {
        model: String::new(),
        served_model_name: None,
        max_model_len: None,
        otlp_traces_endpoint: None,
        host: "0.0.0.0".into(),
        port: 8000,
    };
    let mut unknown = Vec::new();
    while let Some(arg) = it.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f, Some(v.to_string())),
            _ => (arg.as_str(), None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| it.next().cloned())
                .ok_or_else(|| usage_error(&format!("argument {flag}: expected one argument")))
        };
        match flag {
            "--served-model-name" => args.served_model_name = Some(value()?),
            "--max-model-len" => {
                let v = value()?;
                args.max_model_len = Some(v.parse().map_err(|_| {
                    usage_error(&format!("argument --max-model-len: invalid value: '{v}'"))
                })?);
            }
            // Read and checked as vLLM's parser does; no GPU memory is reserved.
            "--gpu-memory-utilization" => {
                let v = value()?;
                v.parse::<f64>().map_err(|_| {
                    usage_error(&format!(
                        "argument --gpu-memory-utilization: invalid float value: '{v}'"
                    ))
                })?;
            }
            "--otlp-traces-endpoint" => args.otlp_traces_endpoint = Some(value()?),
            "--host" => args.host = value()?,
            "--port" => {
                let v = value()?;
                args.port = v.parse().map_err(|_| {
                    usage_error(&format!("argument --port: invalid int value: '{v}'"))
                })?;
            }
            f if f.starts_with('-') => unknown.push(arg.clone()),
            _ if model.is_none() => model = Some(arg.clone()),
            _ => unknown.push(arg.clone()),
        }
    }
    if !unknown.is_empty() {
        return Err(usage_error(&format!(
            "unrecognized arguments: {}",
            unknown.join(" ")
        )));
    }
    args.model = model.ok_or_else(|| usage_error("the model tag is required"))?;
    Ok(args)
}

#[derive(Default)]
struct Counters {
    requests: AtomicU64,
    prompt_tokens: AtomicU64,
    generation_tokens: AtomicU64,
}

struct App {
    args: Args,
    service_name: String,
    exporter: Option<GrpcExporter>,
    counters: Counters,
}

impl App {
    fn served_name(&self) -> &str {
        self.args
            .served_model_name
            .as_deref()
            .unwrap_or(&self.args.model)
    }
}

fn openai_error(status: StatusCode, kind: &str, message: String) -> Response {
    let body = json!({"object": "error", "message": message, "type": kind, "param": null, "code": status.as_u16()});
    (status, axum::Json(body)).into_response()
}

async fn health() -> StatusCode {
    StatusCode::OK
}

async fn models(State(app): State<Arc<App>>) -> Response {
    let now = unix_secs(SystemTime::now());
    axum::Json(json!({"object": "list", "data": [{
        "id": app.served_name(), "object": "model", "created": now, "owned_by": "vllm",
        "root": app.args.model, "parent": null, "max_model_len": app.args.max_model_len,
    }]}))
    .into_response()
}

async fn metrics(State(app): State<Arc<App>>) -> String {
    let m = app.served_name();
    let c = &app.counters;
    format!(
        "# HELP vllm:num_requests_running Number of requests in model execution batches.\n\
         # TYPE vllm:num_requests_running gauge\n\
         vllm:num_requests_running{{model_name=\"{m}\"}} 0.0\n\
         # HELP vllm:request_success_total Count of successfully processed requests.\n\
         # TYPE vllm:request_success_total counter\n\
         vllm:request_success_total{{model_name=\"{m}\"}} {}\n\
         # HELP vllm:prompt_tokens_total Number of prefill tokens processed.\n\
         # TYPE vllm:prompt_tokens_total counter\n\
         vllm:prompt_tokens_total{{model_name=\"{m}\"}} {}\n\
         # HELP vllm:generation_tokens_total Number of generation tokens processed.\n\
         # TYPE vllm:generation_tokens_total counter\n\
         vllm:generation_tokens_total{{model_name=\"{m}\"}} {}\n",
        c.requests.load(Ordering::Relaxed),
        c.prompt_tokens.load(Ordering::Relaxed),
        c.generation_tokens.load(Ordering::Relaxed),
    )
}

fn unix_secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Words in every message's text content: the stand-in's token count.
fn prompt_tokens(request: &Value) -> i64 {
    let words = request["messages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m["content"].as_str())
        .map(|t| t.split_whitespace().count())
        .sum::<usize>();
    i64::try_from(words).unwrap_or(i64::MAX)
}

async fn chat(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let started = SystemTime::now();
    let request: Value = match serde_json::from_slice(&body) {
        Ok(v @ Value::Object(_)) => v,
        _ => {
            return openai_error(
                StatusCode::BAD_REQUEST,
                "BadRequestError",
                "the body is not a JSON object".into(),
            );
        }
    };
    if !request["messages"].is_array() {
        return openai_error(
            StatusCode::BAD_REQUEST,
            "BadRequestError",
            "field required: messages".into(),
        );
    }
    let model = request["model"].as_str().unwrap_or_default();
    if model != app.served_name() {
        return openai_error(
            StatusCode::NOT_FOUND,
            "NotFoundError",
            format!("The model `{model}` does not exist."),
        );
    }
    let max_tokens = request["max_tokens"]
        .as_i64()
        .or_else(|| request["max_completion_tokens"].as_i64());
    let words: Vec<&str> = REPLY.split_whitespace().collect();
    let take = max_tokens.map_or(words.len(), |m| {
        usize::try_from(m.max(0)).unwrap_or(0).min(words.len())
    });
    let (content, finish) = (
        words[..take].join(" "),
        if take < words.len() { "length" } else { "stop" },
    );
    let prompt = prompt_tokens(&request);
    let completion = i64::try_from(take).unwrap_or(i64::MAX);
    let id = match random_id::<12>() {
        Ok(bytes) => format!("chatcmpl-{}", hex(&bytes)),
        Err(e) => {
            return openai_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalServerError",
                e.to_string(),
            );
        }
    };
    let counters = &app.counters;
    counters.requests.fetch_add(1, Ordering::Relaxed);
    counters
        .prompt_tokens
        .fetch_add(prompt.unsigned_abs(), Ordering::Relaxed);
    counters
        .generation_tokens
        .fetch_add(completion.unsigned_abs(), Ordering::Relaxed);
    let parent = headers
        .get("traceparent")
        .and_then(|v| v.to_str().ok())
        .and_then(TraceParent::parse);
    emit_span(
        &app,
        LlmRequest {
            request_id: id.clone(),
            model: app.served_name().to_string(),
            max_tokens,
            prompt_tokens: prompt,
            completion_tokens: completion,
            started,
            finished: SystemTime::now(),
        },
        parent,
    );
    axum::Json(json!({
        "id": id, "object": "chat.completion", "created": unix_secs(started), "model": app.served_name(),
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "logprobs": null, "finish_reason": finish}],
        "usage": {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion},
    }))
    .into_response()
}

/// Exports the request's span in the background, as vLLM's batch span processor does: the
/// response does not wait for the collector.
fn emit_span(app: &Arc<App>, request: LlmRequest, parent: Option<TraceParent>) {
    let Some(exporter) = app.exporter.clone() else {
        return;
    };
    let export = match request.export_request(&app.service_name, parent.as_ref()) {
        Ok(e) => e,
        Err(e) => return eprintln!("ERROR span for {} not built: {e}", request.request_id),
    };
    tokio::spawn(async move {
        if let Err(e) = exporter.export(export).await {
            eprintln!("ERROR span for {} dropped: {e}", request.request_id);
        }
    });
}

async fn serve(app: App) -> Result<(), String> {
    let addr: SocketAddr = format!("{}:{}", app.args.host, app.args.port)
        .parse()
        .map_err(|e| format!("--host {}: {e}", app.args.host))?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    eprintln!(
        "INFO vLLM stand-in serving {} on http://{addr}",
        app.served_name()
    );
    let router = Router::new()
        .route("/health", get(health))
        .route("/v1/models", get(models))
        .route("/v1/chat/completions", post(chat))
        .route("/metrics", get(metrics))
        .with_state(Arc::new(app));
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown::requested())
        .await
        .map_err(|e| e.to_string())
}

/// The app for these arguments; runs inside the runtime (the gRPC channel needs it).
fn app_from(args: Args) -> Result<App, String> {
    let protocol =
        std::env::var("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL").unwrap_or_else(|_| "grpc".into());
    let exporter = args
        .otlp_traces_endpoint
        .as_deref()
        .map(|e| GrpcExporter::new(e, &protocol))
        .transpose()
        .map_err(|e| e.to_string())?;
    Ok(App {
        args,
        service_name: std::env::var("OTEL_SERVICE_NAME")
            .unwrap_or_else(|_| "unknown_service".into()),
        exporter,
        counters: Counters::default(),
    })
}

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let args = match parse_args(&argv) {
        Ok(args) => args,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let result = tokio::runtime::Runtime::new()
        .map_err(|e| format!("cannot start the runtime: {e}"))
        .and_then(|rt| rt.block_on(async { serve(app_from(args)?).await }));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ERROR {e}");
            ExitCode::FAILURE
        }
    }
}
