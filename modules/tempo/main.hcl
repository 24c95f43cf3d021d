# Grafana Tempo (traces, stored on the machine's disk) and Grafana to browse them, as one compose
# project on one machine: Tempo takes OTLP/gRPC on 4317 (published: admit only your GPU hosts in
# the firewall), serves its API on the machine's loopback (3200), and Grafana (3000) has Tempo
# as its data source. Tempo takes traces only: a sidecar sending here exports no metrics.

variable "on" {
  description = "The machine: a `server` or a `host`."
}

variable "grafana_admin_password" {
  type        = string
  sensitive   = true
  description = "Password of Grafana's `admin` user; pass a sensitive variable of the stack."
}

variable "project" {
  type        = string
  default     = "tracing"
  description = "Compose project name (`docker compose -p`); containers and named volumes are named after it."
}

variable "directory" {
  type        = string
  default     = "/opt/sovstack/tracing"
  description = "Project directory on the machine."
}

variable "tempo_image" {
  type        = string
  default     = "grafana/tempo:2.6.1"
  description = "Tempo image, pinned."
}

variable "grafana_image" {
  type        = string
  default     = "grafana/grafana:11.3.0"
  description = "Grafana image, pinned."
}

variable "retention" {
  type        = string
  default     = "720h"
  description = "How long Tempo keeps traces (`compactor.compaction.block_retention`)."
}

variable "address" {
  type        = string
  default     = ""
  description = "The address other machines reach Tempo at (e.g. a private vSwitch address); empty: the machine's public address."
}

compose "tracing" {
  on        = var.on
  project   = var.project
  directory = var.directory
  volumes   = ["tempo-data", "grafana-data"]

  # Docker keeps container output unbounded by default; capped as SigNoz's own compose does.
  logging {
    driver  = "json-file"
    options = { max-size = "50m", max-file = "3" }
  }

  service "tempo" {
    image   = var.tempo_image
    command = ["-config.file=/etc/tempo.yaml"]
    # The data volume is created root-owned; Tempo must be able to write it.
    user    = "root"
    ports   = ["4317:4317", "127.0.0.1:3200:3200"]
    volumes = ["tempo-data:/var/tempo"]
    restart = "unless-stopped"
    # stream_over_http_enabled: Grafana streams search results from Tempo over HTTP (Tempo's own
    # example, example/docker-compose/shared/tempo.yaml, sets it first thing).
    file "/etc/tempo.yaml" {
      content = <<-YAML
        stream_over_http_enabled: true
        server:
          http_listen_port: 3200
        distributor:
          receivers:
            otlp:
              protocols:
                grpc:
                  endpoint: 0.0.0.0:4317
        storage:
          trace:
            backend: local
            local:
              path: /var/tempo/traces
            wal:
              path: /var/tempo/wal
        compactor:
          compaction:
            block_retention: ${var.retention}
      YAML
    }
  }

  service "grafana" {
    image   = var.grafana_image
    ports   = ["3000:3000"]
    volumes = ["grafana-data:/var/lib/grafana"]
    environment = {
      GF_AUTH_ANONYMOUS_ENABLED = "false"
    }
    secret_environment = {
      GF_SECURITY_ADMIN_PASSWORD = var.grafana_admin_password
    }
    depends_on = ["tempo"]
    restart    = "unless-stopped"
    file "/etc/grafana/provisioning/datasources/tempo.yaml" {
      content = <<-YAML
        apiVersion: 1
        datasources:
          - name: Tempo
            type: tempo
            access: proxy
            url: http://tempo:3200
      YAML
    }
  }
}

check "ready" {
  compose = compose.tracing
  http {
    url = "http://127.0.0.1:3200/ready"
  }
}

locals {
  # A `server` is reached at its IPv4 address, a `host` at its address.
  reached_at = var.address != "" ? var.address : lookup(var.on, "ipv4_address", lookup(var.on, "address", ""))
}

output "otlp_grpc_endpoint" {
  value       = "${local.reached_at}:4317"
  description = "Tempo's OTLP/gRPC receiver (host:port), for a sidecar's exporter."
}

output "grafana_url" {
  value       = "http://${local.reached_at}:3000"
  description = "Grafana, with Tempo as its data source."
}

output "compose" {
  value       = compose.tracing
  description = "The compose project, for checks of your own."
}
