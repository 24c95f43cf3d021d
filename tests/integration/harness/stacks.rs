//! HCL the test stacks share.

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
