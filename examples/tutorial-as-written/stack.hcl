# The tutorial "Self-Hosted vLLM on Hetzner with Audit-Grade OpenTelemetry Tracing" (agentry.press,
# 2026-06-06), transcribed as written, mistakes included, so `sovstack validate` can show them.
# Do not deploy this: the reference design is ../../stack.hcl.
#
# What was transcribed, and how:
# - Step 1 `hcloud server create --type gx2-120 --location fsn1 --image ubuntu-24.04 --ssh-key
#   your-key-name` -> `server "vllm-eu-node"` (the key's public half is a placeholder).
# - Step 7 `hcloud firewall create/add-rule/apply-to-server` (tcp 22, 8000, 3301, 4317 from
#   198.51.100.0/24) -> `firewall "vllm-stack-fw"`.
# - Step 2 docker-compose.yml -> `compose "vllm-stack"` in /opt/vllm-stack, service by service.
#   The environment lists become maps; the folded `command: >` string becomes a list (one word per
#   element, so every finding points at its own line); `deploy.resources.reservations.devices`
#   (nvidia, count all, [gpu]) becomes `gpus = "all"`, its compose equivalent; the bind-mounted
#   ./otel-collector-config.yaml becomes a `file` block rendered from `collector "tutorial"`.
#   `version: "3.9"` has no counterpart (sovstack renders compose files without it).
# - Step 2 otel-collector-config.yaml -> `collector "tutorial"`, targeting the image's 0.102.0.
# - "Verify it works" (tail /tmp/audit-spans.jsonl, open the UI on 3301) -> the two checks.

stack "tutorial-as-written" {
  policy {
    allowed_locations     = ["fsn1", "nbg1", "hel1"]
    require_pinned_images = true
    require_firewall      = true
  }
}

ssh_key "your-key-name" {
  public_key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPlaceholderKeyFromTheTutorialxxxxxxxxxxxx tutorial"
}

server "vllm-eu-node" {
  server_type = "gx2-120"
  location    = "fsn1"
  image       = "ubuntu-24.04"
  ssh_keys    = [ssh_key.your-key-name]
}

firewall "vllm-stack-fw" {
  apply_to = [server.vllm-eu-node]

  rule {
    port       = "22"
    source_ips = ["198.51.100.0/24"]
  }
  rule {
    port       = "8000"
    source_ips = ["198.51.100.0/24"]
  }
  rule {
    port       = "3301"
    source_ips = ["198.51.100.0/24"]
  }
  rule {
    port       = "4317"
    source_ips = ["198.51.100.0/24"]
  }
}

collector "tutorial" {
  version = "0.102.0"

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

  processor "batch" {
    timeout         = "5s"
    send_batch_size = 512
  }

  processor "resource" {
    attributes = [
      { key = "deployment.region", value = "hetzner-fsn1", action = "upsert" },
      { key = "deployment.environment", value = "production", action = "upsert" },
      { key = "cloud.provider", value = "hetzner", action = "upsert" },
      { key = "cloud.region", value = "eu-central", action = "upsert" },
    ]
  }

  # Adjust the pattern to match your data classification policy
  processor "filter/pii" {
    error_mode = "ignore"
    traces {
      span = ["attributes[\"user.email\"] != nil"]
    }
  }

  exporter "otlp/signoz" {
    endpoint = "signoz:4317"
    tls {
      insecure = true
    }
  }

  # Secondary: write a JSON line per span to a local audit log
  exporter "file" {
    path = "/tmp/audit-spans.jsonl"
    rotation {
      max_megabytes = 100
      max_days      = 30
      max_backups   = 10
    }
  }

  exporter "debug" {
    verbosity = "basic"
  }

  pipeline "traces" {
    receivers  = ["otlp"]
    processors = ["resource", "filter/pii", "batch"]
    exporters  = ["otlp/signoz", "file", "debug"]
  }

  pipeline "metrics" {
    receivers  = ["otlp"]
    processors = ["resource", "batch"]
    exporters  = ["otlp/signoz"]
  }
}

compose "vllm-stack" {
  on        = server.vllm-eu-node
  directory = "/opt/vllm-stack"
  volumes   = ["hf-cache", "signoz-data"]

  service "vllm" {
    image   = "vllm/vllm-openai:latest"
    runtime = "nvidia"
    environment = {
      NVIDIA_VISIBLE_DEVICES    = "all"
      VLLM_OTLP_TRACES_ENDPOINT = "http://otel-collector:4317"
      VLLM_TRACE_FUNCTION       = "1"
    }
    command = [
      "--model", "Qwen/Qwen2.5-1.5B-Instruct",
      "--served-model-name", "qwen2.5-1.5b",
      "--max-model-len", "8192",
      "--enable-chunked-prefill",
      "--otlp-traces-endpoint", "http://otel-collector:4317",
    ]
    ports      = ["8000:8000"]
    depends_on = ["otel-collector"]
    volumes    = ["hf-cache:/root/.cache/huggingface"]
    gpus       = "all"
  }

  service "otel-collector" {
    image      = "otel/opentelemetry-collector-contrib:0.102.0"
    ports      = ["4317:4317", "4318:4318", "8888:8888"]
    command    = ["--config=/etc/otelcol-contrib/config.yaml"]
    depends_on = ["signoz"]
    file "/etc/otelcol-contrib/config.yaml" {
      collector = collector.tutorial
    }
  }

  service "signoz" {
    image   = "signoz/signoz:latest"
    ports   = ["3301:3301"]
    volumes = ["signoz-data:/var/lib/signoz"]
    environment = {
      SIGNOZ_TELEMETRY_ENABLED = "false"
    }
  }
}

check "audit-log" {
  compose = compose.vllm-stack
  within  = "10m"
  trace_roundtrip {
    url        = "http://127.0.0.1:8000/v1/chat/completions"
    model      = "qwen2.5-1.5b"
    audit_file = "/tmp/audit-spans.jsonl"
  }
}

check "signoz-ui" {
  compose = compose.vllm-stack
  within  = "10m"
  http {
    url = "http://127.0.0.1:3301"
  }
}
