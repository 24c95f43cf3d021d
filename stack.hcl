# The reference stack: self-hosted vLLM with audit-grade OpenTelemetry tracing, all in the EU.
#
# Hetzner Cloud has no GPU server types; its GPUs are dedicated GEX machines. So inference runs on
# a GEX44 reached over SSH (`host "gpu"`), and the observability backend (SigNoz) runs on a Cloud
# server in Falkenstein behind a Cloud Firewall that admits only the admin networks.

stack "sovereign-llm" {
  policy {
    allowed_locations     = ["fsn1", "nbg1", "hel1"]
    require_pinned_images = true
    require_firewall      = true
  }
}

variable "observability_server_type" {
  type        = string
  default     = "ccx23"
  description = "Hetzner Cloud server type for SigNoz (ClickHouse wants 4+ dedicated vCPUs and 16 GB)."
}

variable "admin_cidrs" {
  type        = list(string)
  default     = ["198.51.100.0/24"]
  description = "Networks allowed to reach SSH, the SigNoz UI and the inference API."

  validation {
    condition     = length(var.admin_cidrs) > 0
    error_message = "Give at least one admin network."
  }
}

variable "gpu_host_address" {
  type        = string
  default     = "203.0.113.10"
  description = "Public IPv4 address of the GEX44 dedicated GPU server."
}

variable "gpu_host_key" {
  type        = string
  default     = "SHA256:Xk1Q4v0m5S8xO2yX7mVQj3ZrD9b6cN4tW1aE8uF0gHk"
  description = "Host key fingerprint of the GEX44 (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub)."
}

variable "deploy_root" {
  type        = string
  default     = "/opt/sovstack"
  description = "Directory on each node under which every compose project lives."
}

variable "signoz_jwt_secret" {
  type        = string
  sensitive   = true
  description = "Signing key for SigNoz sessions (never the default `secret`)."
}

locals {
  location    = "fsn1"
  environment = "production"
  signoz_dir  = "${var.deploy_root}/signoz"
  ingest_host = server.observability.ipv4_address
}

ssh_key "admin" {
  public_key = file("keys/admin.pub")
}

server "observability" {
  server_type = var.observability_server_type
  location    = local.location
  image       = "ubuntu-24.04"
  ssh_keys    = [ssh_key.admin]
  labels = {
    role = "observability"
  }
}

volume "clickhouse" {
  size   = 100
  server = server.observability
  format = "ext4"
}

firewall "edge" {
  apply_to = [server.observability]

  rule {
    description = "SSH from the admin networks"
    port        = "22"
    source_ips  = var.admin_cidrs
  }

  rule {
    description = "SigNoz UI from the admin networks"
    port        = "8080"
    source_ips  = var.admin_cidrs
  }

  rule {
    description = "OTLP/gRPC from the GPU host's collector only"
    port        = "4317"
    source_ips  = ["${var.gpu_host_address}/32"]
  }
}

host "gpu" {
  address  = var.gpu_host_address
  host_key = var.gpu_host_key
  location = "fsn1"
  gpus     = 1
}

# The collector sidecar next to vLLM: receives vLLM's spans, scrapes its Prometheus metrics,
# redacts, stamps where the data lives, and writes every span to a local audit log before
# forwarding to SigNoz.
collector "sidecar" {
  version = "0.159.0"

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
        static_configs  = [{ targets = ["vllm:8000"] }]
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
      { key = "cloud.region", value = local.location, action = "upsert" },
      { key = "deployment.environment.name", value = local.environment, action = "upsert" },
    ]
  }

  processor "batch" {
    timeout         = "5s"
    send_batch_size = 512
  }

  exporter "otlp_grpc/signoz" {
    endpoint = "${local.ingest_host}:4317"
    tls {
      insecure = true
    }
  }

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

compose "inference" {
  on        = host.gpu
  directory = "${var.deploy_root}/inference"
  volumes   = ["hf-cache"]

  service "vllm" {
    image = "vllm/vllm-openai:v0.33.0"
    # The image's entrypoint is `vllm serve`: the model comes first, positionally.
    command = [
      "Qwen/Qwen2.5-1.5B-Instruct",
      "--served-model-name", "qwen2.5-1.5b",
      "--max-model-len", "8192",
      "--otlp-traces-endpoint", "http://otel-collector:4317",
    ]
    environment = {
      OTEL_SERVICE_NAME                  = "vllm"
      OTEL_EXPORTER_OTLP_TRACES_PROTOCOL = "grpc"
    }
    # No firewall protects a dedicated server here: publish on loopback, reach it via SSH.
    ports   = ["127.0.0.1:8000:8000"]
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
    image   = "otel/opentelemetry-collector-contrib:0.159.0"
    user    = "10001:10001"
    volumes = ["./audit:/var/lib/otelcol/audit"]
    restart = "unless-stopped"
    file "/etc/otelcol-contrib/config.yaml" {
      collector = collector.sidecar
    }
  }
}

compose "signoz" {
  on        = server.observability
  directory = local.signoz_dir
  volumes   = ["clickhouse-data", "zookeeper-data", "signoz-data"]

  service "zookeeper" {
    image   = "signoz/zookeeper:3.7.1"
    user    = "root"
    volumes = ["zookeeper-data:/bitnami/zookeeper"]
    environment = {
      ZOO_SERVER_ID                 = "1"
      ALLOW_ANONYMOUS_LOGIN         = "yes"
      ZOO_AUTOPURGE_INTERVAL        = "1"
      ZOO_ENABLE_PROMETHEUS_METRICS = "yes"
    }
    restart = "unless-stopped"
    healthcheck {
      test     = ["CMD-SHELL", "curl -s -m 2 http://localhost:8080/commands/ruok | grep error | grep null"]
      interval = "30s"
      timeout  = "5s"
      retries  = 3
    }
  }

  service "clickhouse" {
    image   = "clickhouse/clickhouse-server:25.5.6"
    volumes = ["clickhouse-data:/var/lib/clickhouse"]
    restart = "unless-stopped"
    depends_on = {
      zookeeper = "service_healthy"
    }
    healthcheck {
      test     = ["CMD", "wget", "--spider", "-q", "0.0.0.0:8123/ping"]
      interval = "30s"
      timeout  = "5s"
      retries  = 3
    }
    file "/etc/clickhouse-server/config.d/cluster.xml" {
      content = <<-XML
        <clickhouse>
          <zookeeper>
            <node index="1">
              <host>zookeeper</host>
              <port>2181</port>
            </node>
          </zookeeper>
          <remote_servers>
            <cluster>
              <shard>
                <replica>
                  <host>clickhouse</host>
                  <port>9000</port>
                </replica>
              </shard>
            </cluster>
          </remote_servers>
        </clickhouse>
      XML
    }
  }

  service "schema-migrator" {
    image      = "signoz/signoz-otel-collector:v0.144.6"
    entrypoint = ["/bin/sh"]
    command    = ["-c", "/signoz-otel-collector migrate bootstrap && /signoz-otel-collector migrate sync up && /signoz-otel-collector migrate async up"]
    environment = {
      SIGNOZ_OTEL_COLLECTOR_CLICKHOUSE_DSN         = "tcp://clickhouse:9000"
      SIGNOZ_OTEL_COLLECTOR_CLICKHOUSE_CLUSTER     = "cluster"
      SIGNOZ_OTEL_COLLECTOR_CLICKHOUSE_REPLICATION = "true"
      SIGNOZ_OTEL_COLLECTOR_TIMEOUT                = "10m"
    }
    restart = "on-failure"
    depends_on = {
      clickhouse = "service_healthy"
    }
  }

  service "signoz" {
    image   = "signoz/signoz:v0.138.0"
    ports   = ["8080:8080"]
    volumes = ["signoz-data:/var/lib/signoz"]
    environment = {
      SIGNOZ_TELEMETRYSTORE_PROVIDER       = "clickhouse"
      SIGNOZ_TELEMETRYSTORE_CLICKHOUSE_DSN = "tcp://clickhouse:9000"
      SIGNOZ_SQLSTORE_SQLITE_PATH          = "/var/lib/signoz/signoz.db"
      SIGNOZ_ANALYTICS_ENABLED             = "false"
      SIGNOZ_STATSREPORTER_ENABLED         = "false"
    }
    secret_environment = {
      SIGNOZ_TOKENIZER_JWT_SECRET = var.signoz_jwt_secret
    }
    restart = "unless-stopped"
    depends_on = {
      clickhouse      = "service_healthy"
      schema-migrator = "service_completed_successfully"
    }
    healthcheck {
      test     = ["CMD", "wget", "--spider", "-q", "localhost:8080/api/v1/health"]
      interval = "30s"
      timeout  = "5s"
      retries  = 3
    }
  }

  # SigNoz's own collector is the OTLP ingest (4317); the `signoz` service serves only the UI/API.
  service "signoz-otel-collector" {
    image   = "signoz/signoz-otel-collector:v0.144.6"
    command = ["--config=/etc/otel-collector-config.yaml", "--manager-config=/etc/manager-config.yaml", "--copy-path=/var/tmp/collector-config.yaml"]
    ports   = ["4317:4317"]
    environment = {
      OTEL_RESOURCE_ATTRIBUTES        = "host.name=signoz-host,os.type=linux"
      LOW_CARDINAL_EXCEPTION_GROUPING = "false"
    }
    restart = "unless-stopped"
    depends_on = {
      clickhouse      = "service_healthy"
      schema-migrator = "service_completed_successfully"
      signoz          = "service_healthy"
    }
    file "/etc/manager-config.yaml" {
      content = <<-YAML
        server_endpoint: ws://signoz:4320/v1/opamp
      YAML
    }
    file "/etc/otel-collector-config.yaml" {
      content = <<-YAML
        receivers:
          otlp:
            protocols:
              grpc:
                endpoint: 0.0.0.0:4317
        processors:
          batch:
            send_batch_size: 10000
            send_batch_max_size: 11000
            timeout: 10s
        exporters:
          clickhousetraces:
            datasource: tcp://clickhouse:9000/signoz_traces
            use_new_schema: true
          signozclickhousemetrics:
            dsn: tcp://clickhouse:9000/signoz_metrics
          clickhouselogsexporter:
            dsn: tcp://clickhouse:9000/signoz_logs
            use_new_schema: true
          metadataexporter:
            dsn: tcp://clickhouse:9000/signoz_metadata
            enabled: true
        extensions:
          health_check:
            endpoint: 0.0.0.0:13133
        service:
          extensions: [health_check]
          pipelines:
            traces:
              receivers: [otlp]
              processors: [batch]
              exporters: [clickhousetraces, metadataexporter]
            metrics:
              receivers: [otlp]
              processors: [batch]
              exporters: [signozclickhousemetrics, metadataexporter]
            logs:
              receivers: [otlp]
              processors: [batch]
              exporters: [clickhouselogsexporter, metadataexporter]
      YAML
    }
  }
}

check "vllm-health" {
  compose = compose.inference
  within  = "20m"
  http {
    url = "http://127.0.0.1:8000/health"
  }
}

check "audit-trail" {
  compose = compose.inference
  within  = "5m"
  trace_roundtrip {
    url        = "http://127.0.0.1:8000/v1/chat/completions"
    model      = "qwen2.5-1.5b"
    audit_file = "audit/spans.jsonl"
  }
}

check "signoz-ui" {
  compose = compose.signoz
  within  = "15m"
  http {
    url = "http://127.0.0.1:8080/api/v1/health"
  }
}

output "signoz_url" {
  value = "http://${server.observability.ipv4_address}:8080"
}

output "inference_tunnel" {
  value = "ssh -L 8000:127.0.0.1:8000 root@${var.gpu_host_address}"
}
