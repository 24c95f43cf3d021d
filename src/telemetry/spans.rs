//! The spans of a run, named and shaped in one place: the command, each resource operation,
//! each API call and each SSH command. Their fields are addresses, actions, ids, results and
//! hashes; never a value of the stack (a secret could be one).

use crate::progress::Operation;
use tracing::field::Empty;

/// The span of a whole command (`sovstack apply`); the root of its trace.
pub fn command(name: &str) -> tracing::Span {
    tracing::info_span!(
        "command",
        otel.name = %format!("sovstack {name}"),
        sovstack.command = name,
        sovstack.plan_hash = Empty,
        otel.status_code = Empty,
    )
}

/// The span of one operation on a resource (`create server.gpu`).
pub fn operation(
    address: &str,
    operation: Operation,
    stack: &str,
    plan_hash: Option<&str>,
) -> tracing::Span {
    tracing::info_span!(
        "operation",
        otel.name = %format!("{operation} {address}"),
        sovstack.address = address,
        sovstack.action = operation.as_str(),
        sovstack.stack = stack,
        sovstack.plan_hash = plan_hash,
        sovstack.resource_id = Empty,
        sovstack.result = Empty,
        error.message = Empty,
        otel.status_code = Empty,
    )
}

/// An operation done; `id` is the resource's id when it has one.
pub fn succeeded(span: &tracing::Span, id: Option<&str>) {
    span.record("sovstack.result", "ok");
    if let Some(id) = id {
        span.record("sovstack.resource_id", id);
    }
}

/// An operation failed with `error` (its one-line message: no values, only what went wrong).
pub fn failed(span: &tracing::Span, error: &str) {
    span.record("sovstack.result", "failed");
    span.record("error.message", error);
    span.record("otel.status_code", "ERROR");
}

/// A Hetzner Cloud API call, by its path template (`GET /servers/{id}`).
pub fn api_call(method: &str, template: &str) -> tracing::Span {
    tracing::info_span!(
        "hcloud",
        otel.name = %format!("{method} {template}"),
        otel.kind = "client",
        http.request.method = method,
        url.template = template,
        http.response.status_code = Empty,
        otel.status_code = Empty,
    )
}

/// An SSH command on `host`, named by its program only (arguments may carry paths or values).
pub fn ssh_command(host: &str, command: &str) -> tracing::Span {
    let program = command.split_whitespace().next().unwrap_or("");
    tracing::info_span!(
        "ssh",
        otel.name = %format!("ssh {program}"),
        otel.kind = "client",
        server.address = host,
        process.executable.name = program,
        otel.status_code = Empty,
    )
}

/// An upload of one file over SSH.
pub fn ssh_upload(host: &str, path: &str) -> tracing::Span {
    tracing::info_span!(
        "ssh",
        otel.name = "ssh upload",
        otel.kind = "client",
        server.address = host,
        file.path = path,
        otel.status_code = Empty,
    )
}
