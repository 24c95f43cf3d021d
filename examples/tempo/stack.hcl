# The reference design with Grafana Tempo (and Grafana to browse it) instead of SigNoz.
# vLLM and the collector sidecar run on a GEX44; Tempo and Grafana on a Cloud server in Helsinki.
# vLLM and Tempo come from the modules that ship with sovstack (docs/modules.md); the sidecar's
# pipeline is written here, as Tempo takes traces only.

stack "llm-tempo" {
  policy {
    allowed_locations = ["hel1", "fsn1"]
  }
}

variable "admin_cidrs" {
  type    = list(string)
  default = ["198.51.100.0/24"]
}

variable "gpu_host_address" {
  type    = string
  default = "203.0.113.30"
}

variable "grafana_admin_password" {
  type      = string
  sensitive = true
}

ssh_key "ops" {
  public_key = file("../../keys/admin.pub")
}

server "tracing" {
  server_type = "cx33"
  location    = "hel1"
  image       = "debian-12"
  ssh_keys    = [ssh_key.ops]
}

firewall "tracing" {
  apply_to = [server.tracing]

  rule {
    description = "SSH"
    port        = "22"
    source_ips  = var.admin_cidrs
  }

  rule {
    description = "Grafana"
    port        = "3000"
    source_ips  = var.admin_cidrs
  }

  rule {
    description = "OTLP/gRPC from the GPU host"
    port        = "4317"
    source_ips  = ["${var.gpu_host_address}/32"]
  }
}

host "gpu" {
  address  = var.gpu_host_address
  host_key = "SHA256:p8Yb2nR5tV1wX4zA7cE0gJ3mQ6sU9yB2dF5hK8lN1oM"
  location = "fsn1"
  gpus     = 1
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
    limit_percentage = 80
  }

  processor "resource" {
    attributes = [
      { key = "cloud.provider", value = "hetzner", action = "upsert" },
      { key = "cloud.region", value = "fsn1", action = "upsert" },
    ]
  }

  processor "batch" {}

  exporter "otlp_grpc/tempo" {
    endpoint = module.tempo.otlp_grpc_endpoint
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
    exporters  = ["otlp_grpc/tempo", "file/audit"]
  }
}

module "vllm" {
  source    = "sovstack/vllm"
  on        = host.gpu
  collector = collector.sidecar
}

module "tempo" {
  source                 = "sovstack/tempo"
  on                     = server.tracing
  grafana_admin_password = var.grafana_admin_password
}

# Where these blocks were before they came from the modules.
moved {
  from = compose.inference
  to   = module.vllm.compose.inference
}

moved {
  from = compose.tracing
  to   = module.tempo.compose.tracing
}

moved {
  from = check.tempo-ready
  to   = module.tempo.check.ready
}
