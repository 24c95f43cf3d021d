# A fleet of dedicated Hetzner GEX44 machines from one map (name -> address and host key), each
# running vLLM and a collector sidecar, every sidecar exporting to one SigNoz ingest given by
# variable. Each host, compose project and check is one instance per key: `host.gpu["gex-a"]`,
# `compose.llm["gex-a"]`, `check.vllm["gex-a"]`; adding a machine is one line in `gex`.

stack "gex-fleet" {}

variable "gex" {
  type        = any
  description = "The machines: name -> { address, host_key } (host_key as ssh-keygen -lf prints it)."
  default = {
    "gex-a" = { address = "203.0.113.21", host_key = "SHA256:Jq3v8mN5bYx2cT7wQ1pR4sL9eK6hD0fG3aU8iO5yZ2A" }
    "gex-b" = { address = "203.0.113.22", host_key = "SHA256:Jq3v8mN5bYx2cT7wQ1pR4sL9eK6hD0fG3aU8iO5yZ2E" }
    "gex-c" = { address = "203.0.113.23", host_key = "SHA256:Jq3v8mN5bYx2cT7wQ1pR4sL9eK6hD0fG3aU8iO5yZ2I" }
    "gex-d" = { address = "203.0.113.24", host_key = "SHA256:Jq3v8mN5bYx2cT7wQ1pR4sL9eK6hD0fG3aU8iO5yZ2M" }
  }
}

variable "otlp_ingest" {
  type        = string
  default     = "10.0.0.2:4317"
  description = "OTLP/gRPC ingest of the SigNoz collector, reachable over the vSwitch."
}

variable "deploy_root" {
  type        = string
  default     = "/opt/sovstack"
  description = "Directory on each machine under which its compose project lives."
}

variable "docker_minimum" {
  type        = string
  default     = "25.0.2"
  description = "The oldest Docker Engine bootstrap accepts as installed: sovstack's own minimum. Lower it only for a distribution's engine carrying the fixes as backports (Debian 12's docker.io 20.10.24+dfsg1)."
}

host "gpu" {
  for_each = var.gex
  address  = each.value.address
  host_key = each.value.host_key
  location = "fsn1"
  gpus     = 1

  bootstrap {
    docker_minimum = var.docker_minimum
  }

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
  for_each  = var.gex
  on        = host.gpu[each.key]
  directory = "${var.deploy_root}/llm-${each.key}"
  volumes   = ["hf-cache"]

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
  for_each = var.gex
  compose  = compose.llm[each.key]
  within   = "20m"
  http {
    url = "http://127.0.0.1:8000/health"
  }
}

check "audit" {
  for_each = var.gex
  compose  = compose.llm[each.key]
  trace_roundtrip {
    url        = "http://127.0.0.1:8000/v1/chat/completions"
    model      = "qwen2.5-1.5b"
    audit_file = "audit/spans.jsonl"
  }
}

output "gpu_addresses" {
  value = [for h in values(host.gpu) : h.address]
}
