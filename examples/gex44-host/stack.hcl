# vLLM on a dedicated Hetzner GEX44 (RTX 4000 SFF Ada, 20 GB), a machine sovstack configures
# but does not create: it is reached by address, its host key pinned here.
# Spans go to a local audit log and to an existing SigNoz ingest given by variable.

stack "gex44" {}

variable "address" {
  type        = string
  default     = "203.0.113.20"
  description = "Public IPv4 address of the GEX44."
}

variable "host_key" {
  type        = string
  default     = "SHA256:Jq3v8mN5bYx2cT7wQ1pR4sL9eK6hD0fG3aU8iO5yZ2E"
  description = "ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub on the GEX44."
}

variable "otlp_ingest" {
  type        = string
  default     = "10.0.0.2:4317"
  description = "OTLP/gRPC ingest of the SigNoz collector, reachable over the vSwitch."
}

host "gex44" {
  address  = var.address
  host_key = var.host_key
  location = "fsn1"
  gpus     = 1

  ssh {
    user = "root"
    port = 22
  }
}

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
    check_interval   = "1s"
    limit_percentage = 75
  }

  processor "resource" {
    attributes = [
      { key = "cloud.provider", value = "hetzner", action = "upsert" },
      { key = "cloud.region", value = "fsn1", action = "upsert" },
      { key = "deployment.environment.name", value = "production", action = "upsert" },
    ]
  }

  processor "batch" {}

  exporter "otlp_grpc/signoz" {
    endpoint = var.otlp_ingest
    tls {
      insecure = true
    }
  }

  exporter "file/audit" {
    path = "/var/lib/otelcol/audit/spans.jsonl"
    # Without rotation the audit log grows until the disk is full.
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
    processors = ["memory_limiter", "resource", "batch"]
    exporters  = ["otlp_grpc/signoz", "file/audit"]
  }
}

compose "llm" {
  on      = host.gex44
  volumes = ["hf-cache"]

  # Docker keeps container output unbounded by default; capped as SigNoz's own compose does.
  logging {
    driver  = "json-file"
    options = { max-size = "50m", max-file = "3" }
  }

  service "vllm" {
    image = "vllm/vllm-openai:v0.33.0"
    command = [
      "Qwen/Qwen2.5-1.5B-Instruct",
      "--served-model-name", "qwen2.5-1.5b",
      "--max-model-len", "8192",
      "--gpu-memory-utilization", "0.85",
      "--otlp-traces-endpoint", "http://otel-collector:4317",
    ]
    environment = {
      OTEL_SERVICE_NAME = "vllm"
    }
    ports   = ["127.0.0.1:8000:8000"]
    volumes = ["hf-cache:/root/.cache/huggingface"]
    gpus    = "all"
    ipc     = "host"
    restart = "unless-stopped"
    healthcheck {
      test         = ["CMD", "python3", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health')"]
      interval     = "30s"
      retries      = 5
      start_period = "15m"
    }
  }

  service "otel-collector" {
    image   = "otel/opentelemetry-collector-contrib:0.159.0"
    user    = "10001:10001"
    volumes = ["./audit:/var/lib/otelcol/audit"]
    restart = "unless-stopped"
    # memory_limiter's percentages are of this limit, not of the RAM vLLM shares.
    mem_limit = "1g"
    file "/etc/otelcol-contrib/config.yaml" {
      collector = collector.sidecar
    }
  }
}

check "vllm" {
  compose = compose.llm
  within  = "20m"
  http {
    url = "http://127.0.0.1:8000/health"
  }
}

check "audit" {
  compose = compose.llm
  trace_roundtrip {
    url        = "http://127.0.0.1:8000/v1/chat/completions"
    model      = "qwen2.5-1.5b"
    audit_file = "audit/spans.jsonl"
  }
}
