# The reference design with Grafana Tempo (and Grafana to browse it) instead of SigNoz.
# vLLM and the collector sidecar run on a GEX44; Tempo and Grafana on a Cloud server in Helsinki.

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
    endpoint = "${server.tracing.ipv4_address}:4317"
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

compose "inference" {
  on      = host.gpu
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
      "--otlp-traces-endpoint", "http://otel-collector:4317",
    ]
    environment = {
      OTEL_SERVICE_NAME = "vllm"
    }
    ports   = ["127.0.0.1:8000:8000"]
    volumes = ["hf-cache:/root/.cache/huggingface"]
    gpus    = "all"
    ipc     = "host"
    healthcheck {
      test         = ["CMD", "python3", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health')"]
      start_period = "15m"
    }
  }

  service "otel-collector" {
    image   = "otel/opentelemetry-collector-contrib:0.159.0"
    user    = "10001:10001"
    volumes = ["./audit:/var/lib/otelcol/audit"]
    # memory_limiter's percentages are of this limit, not of the RAM vLLM shares.
    mem_limit = "1g"
    file "/etc/otelcol-contrib/config.yaml" {
      collector = collector.sidecar
    }
  }
}

compose "tracing" {
  on      = server.tracing
  volumes = ["tempo-data", "grafana-data"]

  # Docker keeps container output unbounded by default; capped as SigNoz's own compose does.
  logging {
    driver  = "json-file"
    options = { max-size = "50m", max-file = "3" }
  }

  service "tempo" {
    image   = "grafana/tempo:2.6.1"
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
            block_retention: 720h
      YAML
    }
  }

  service "grafana" {
    image   = "grafana/grafana:11.3.0"
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

check "tempo-ready" {
  compose = compose.tracing
  http {
    url = "http://127.0.0.1:3200/ready"
  }
}
