# The collector sidecar next to vLLM: receives vLLM's spans, scrapes its Prometheus metrics,
# redacts, stamps where the data lives, and writes every span to a local audit log before
# forwarding to an OTLP/gRPC ingest that takes traces and metrics (SigNoz's collector).
#
# This module declares the pipeline only. It runs in the same compose project as vLLM (they talk
# over the project's network): give `collector` to the `vllm` module, which mounts it.

variable "endpoint" {
  type        = string
  description = "OTLP/gRPC ingest the sidecar forwards to, as host:port (SigNoz's collector: the `signoz` module's `otlp_grpc_endpoint`)."
}

variable "region" {
  type        = string
  default     = "fsn1"
  description = "Where the data is processed, stamped on every span and metric as `cloud.region`."
}

variable "environment" {
  type        = string
  default     = "production"
  description = "Stamped as `deployment.environment.name`."
}

variable "version" {
  type        = string
  default     = "0.159.0"
  description = "OpenTelemetry Collector (contrib) version: the pipeline is checked against its components."
}

variable "scrape_target" {
  type        = string
  default     = "vllm:8000"
  description = "vLLM's Prometheus endpoint (service:port on the compose network)."
}

collector "sidecar" {
  version = var.version

  receiver "otlp" {
    protocols {
      grpc {
        endpoint = "0.0.0.0:4317"
      }
      http {
        endpoint = "0.0.0.0:4318"
      }
    }
  }

  # vLLM exposes metrics only as Prometheus text on /metrics; it never pushes OTLP metrics.
  receiver "prometheus" {
    config {
      scrape_configs = [{
        job_name        = "vllm"
        scrape_interval = "15s"
        metrics_path    = "/metrics"
        static_configs  = [{ targets = [var.scrape_target] }]
      }]
    }
  }

  processor "memory_limiter" {
    check_interval         = "1s"
    limit_percentage       = 80
    spike_limit_percentage = 20
  }

  # Redact instead of dropping: a dropped span is a lost audit record.
  processor "transform/redact" {
    error_mode = "ignore"
    trace_statements = [{
      context = "span"
      statements = [
        "replace_all_patterns(attributes, \"value\", \"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\\\\.[A-Za-z]{2,}\", \"[redacted-email]\")",
        "delete_key(attributes, \"http.request.header.authorization\")",
      ]
    }]
  }

  processor "resource" {
    attributes = [
      { key = "cloud.provider", value = "hetzner", action = "upsert" },
      { key = "cloud.region", value = var.region, action = "upsert" },
      { key = "deployment.environment.name", value = var.environment, action = "upsert" },
    ]
  }

  processor "batch" {
    timeout         = "5s"
    send_batch_size = 512
  }

  # The exporter keeps the name it had in the reference stack, so an applied collector config
  # stays the same file; it sends to whichever OTLP/gRPC ingest `endpoint` names.
  exporter "otlp_grpc/signoz" {
    endpoint = var.endpoint
    tls {
      insecure = true
    }
  }

  # Without rotation the audit log grows until the disk is full.
  exporter "file/audit" {
    path = "/var/lib/otelcol/audit/spans.jsonl"
    rotation {
      max_megabytes = 100
      max_backups   = 100
    }
  }

  extension "health_check" {
    endpoint = "0.0.0.0:13133"
  }

  pipeline "traces" {
    receivers  = ["otlp"]
    processors = ["memory_limiter", "transform/redact", "resource", "batch"]
    exporters  = ["otlp_grpc/signoz", "file/audit"]
  }

  pipeline "metrics" {
    receivers  = ["prometheus", "otlp"]
    processors = ["memory_limiter", "resource", "batch"]
    exporters  = ["otlp_grpc/signoz"]
  }
}

output "collector" {
  value       = collector.sidecar
  description = "The pipeline: give it to the `vllm` module's `collector`."
}

output "image" {
  value       = "otel/opentelemetry-collector-contrib:${var.version}"
  description = "The collector image of this version (what the `vllm` module runs by default)."
}
