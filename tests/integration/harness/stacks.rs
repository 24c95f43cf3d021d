//! HCL the test stacks share.

use super::sshd::Sshd;

/// A `host` block for a test sshd: its address and port, the harness's client key, the host key
/// pinned when given, and Debian's engine accepted by bootstrap.
pub fn host_block(name: &str, sshd: &Sshd, host_key: Option<&str>) -> String {
    let host_key = host_key
        .map(|k| format!("host_key = \"{k}\""))
        .unwrap_or_default();
    format!(
        r#"
host "{name}" {{
  address  = "{ip}"
  {host_key}
  location = "fsn1"
  # The test host runs Debian's docker.io 20.10.24+dfsg1 (fixes backported).
  bootstrap {{
    docker_minimum = "20.10.24"
  }}
  ssh {{
    user             = "{user}"
    port             = {port}
    private_key_file = "{key}"
  }}
}}
"#,
        ip = sshd.addr().ip(),
        user = sshd.user(),
        port = sshd.addr().port(),
        key = sshd.client_key().display(),
    )
}

/// The collector service next to a project's service: the [`SIDECAR_COLLECTOR`] config
/// rendered into it, its audit file in `./audit`.
pub const COLLECTOR_SERVICE: &str = r#"
  service "otel-collector" {
    image   = "otel/opentelemetry-collector-contrib:0.159.0"
    user    = "10001:10001"
    volumes = ["./audit:/var/lib/otelcol/audit"]
    file "/etc/otelcol-contrib/config.yaml" {
      collector = collector.sidecar
    }
  }
"#;

/// A collector sidecar as the test stacks run it next to a service: OTLP over gRPC in, every
/// span to the audit file `./audit` is mounted at, health check on 13133.
pub const SIDECAR_COLLECTOR: &str = r#"
collector "sidecar" {
  version = "0.159.0"
  receiver "otlp" {
    protocols {
      grpc {
        endpoint = "0.0.0.0:4317"
      }
    }
  }
  processor "memory_limiter" {
    check_interval         = "1s"
    limit_percentage       = 80
    spike_limit_percentage = 20
  }
  exporter "file/audit" {
    path = "/var/lib/otelcol/audit/spans.jsonl"
  }
  extension "health_check" {
    endpoint = "0.0.0.0:13133"
  }
  pipeline "traces" {
    receivers  = ["otlp"]
    processors = ["memory_limiter"]
    exporters  = ["file/audit"]
  }
}
"#;

/// A compose project `name` on `host.HOST` in `dir`, its logs capped: the drift test's
/// application service (busybox httpd answering `/health`, checked every second, with `extra`
/// lines such as ports and secrets, failing after `retries` checks) and the collector.
pub fn api_project(
    name: &str,
    host: &str,
    dir: &std::path::Path,
    extra: &str,
    retries: u32,
) -> String {
    format!(
        r#"
compose "{name}" {{
  on        = host.{host}
  directory = "{dir}"

  logging {{
    driver  = "json-file"
    options = {{ max-size = "10m", max-file = "3" }}
  }}

  service "api" {{
    image = "ghcr.io/example/api:1.4.2"
{extra}
    healthcheck {{
      test     = ["CMD", "wget", "--spider", "-q", "localhost:8000/health"]
      interval = "1s"
      retries  = {retries}
    }}
  }}
{COLLECTOR_SERVICE}}}
"#,
        dir = dir.display(),
    )
}
