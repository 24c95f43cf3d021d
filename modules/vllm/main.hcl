# vLLM's OpenAI-compatible server and its collector sidecar as one compose project on a GPU
# machine: vLLM sends its spans to `otel-collector:4317` over the project's network (two compose
# projects share no network), the sidecar runs the pipeline given as `collector` (the
# `otel-sidecar` module's) and writes the audit log under the project directory. Two checks
# prove it after apply: vLLM answers /health, and a traced request reaches the audit log.

variable "on" {
  description = "The machine: a `host` (a dedicated GEX GPU server) or a `server`."
}

variable "collector" {
  description = "The sidecar's pipeline: a `collector` block, e.g. the `otel-sidecar` module's `collector` output."
}

variable "collector_image" {
  type        = string
  default     = "otel/opentelemetry-collector-contrib:0.159.0"
  description = "The sidecar's image; its version must be the collector's (the `otel-sidecar` module's `image` output)."
}

variable "project" {
  type        = string
  default     = "inference"
  description = "Compose project name (`docker compose -p`); containers are named after it."
}

variable "directory" {
  type        = string
  default     = "/opt/sovstack/inference"
  description = "Project directory on the machine; the audit log is `audit/spans.jsonl` under it."
}

variable "image" {
  type        = string
  default     = "vllm/vllm-openai:v0.33.0"
  description = "vLLM image, pinned; `validate` checks the flags against this version."
}

variable "model" {
  type        = string
  default     = "Qwen/Qwen2.5-1.5B-Instruct"
  description = "Hugging Face model id vLLM serves."
}

variable "served_model_name" {
  type        = string
  default     = "qwen2.5-1.5b"
  description = "The model's name in the API (`model` in requests)."
}

variable "max_model_len" {
  type        = number
  default     = 8192
  description = "Context length (`--max-model-len`): prompt and completion tokens together."
}

variable "extra_args" {
  type        = list(string)
  default     = []
  description = "More `vllm serve` flags, e.g. [\"--gpu-memory-utilization\", \"0.85\"]."
}

variable "service_name" {
  type        = string
  default     = "vllm"
  description = "`service.name` of vLLM's spans."
}

variable "port" {
  type        = number
  default     = 8000
  description = "Port on the machine's loopback where the API is published."
}

locals {
  loopback = "http://127.0.0.1:${var.port}"
  serve_args = [
    var.model,
    "--served-model-name", var.served_model_name,
    "--max-model-len", "${var.max_model_len}",
    "--otlp-traces-endpoint", "http://otel-collector:4317",
  ]
}

compose "inference" {
  on        = var.on
  project   = var.project
  directory = var.directory
  volumes   = ["hf-cache"]

  # Docker keeps container output unbounded by default; SigNoz's own compose caps every service
  # at 3 x 50 MB (v0.129.0 docker-compose.yaml:6-9). The same here.
  logging {
    driver  = "json-file"
    options = { max-size = "50m", max-file = "3" }
  }

  service "vllm" {
    image = var.image
    # The image's entrypoint is `vllm serve`: the model comes first, positionally.
    command = concat(local.serve_args, var.extra_args)
    environment = {
      OTEL_SERVICE_NAME                  = var.service_name
      OTEL_EXPORTER_OTLP_TRACES_PROTOCOL = "grpc"
    }
    # No firewall protects a dedicated server: publish on loopback, reach it via SSH.
    ports   = ["127.0.0.1:${var.port}:8000"]
    volumes = ["hf-cache:/root/.cache/huggingface"]
    gpus    = "all"
    ipc     = "host"
    restart = "unless-stopped"
    depends_on = {
      otel-collector = "service_started"
    }
    healthcheck {
      test         = ["CMD", "python3", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health')"]
      interval     = "30s"
      timeout      = "5s"
      retries      = 5
      start_period = "15m"
    }
  }

  service "otel-collector" {
    image   = var.collector_image
    user    = "10001:10001"
    volumes = ["./audit:/var/lib/otelcol/audit"]
    restart = "unless-stopped"
    # memory_limiter's percentages are of this limit; without one they would be of the host's
    # RAM, which vLLM shares.
    mem_limit = "1g"
    file "/etc/otelcol-contrib/config.yaml" {
      collector = var.collector
    }
  }
}

# The model download and load can take long on a first start: 20 minutes.
check "health" {
  compose = compose.inference
  within  = "20m"
  http {
    url = "${local.loopback}/health"
  }
}

# A chat completion whose trace id must appear in the sidecar's audit log.
check "audit-trail" {
  compose = compose.inference
  within  = "5m"
  trace_roundtrip {
    url        = "${local.loopback}/v1/chat/completions"
    model      = var.served_model_name
    audit_file = "audit/spans.jsonl"
  }
}

output "compose" {
  value       = compose.inference
  description = "The compose project, for checks of your own."
}

output "api" {
  value       = "${local.loopback}/v1"
  description = "The OpenAI-compatible API on the machine's loopback (reach it over an SSH tunnel)."
}

output "audit_file" {
  value       = "${var.directory}/audit/spans.jsonl"
  description = "Where the sidecar writes every span on the machine."
}
