# The reference stack: self-hosted vLLM with audit-grade OpenTelemetry tracing, all in the EU.
#
# Hetzner Cloud has no GPU server types; its GPUs are dedicated GEX machines. So inference runs on
# a GEX44 reached over SSH (`host "gpu"`), and the observability backend (SigNoz) runs on a Cloud
# server in Falkenstein behind a Cloud Firewall that admits only the admin networks.
#
# The services come from the modules that ship with sovstack (modules/, documented in
# docs/modules.md): `otel-sidecar` (the collector pipeline), `vllm` (vLLM and that sidecar in one
# compose project) and `signoz` (SigNoz, ClickHouse, ZooKeeper and SigNoz's collector).

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

# SigNoz's own deployments leave ClickHouse's `default` user open to the network with an empty
# password (v0.129.0 deploy/common/clickhouse/users.xml, Foundry's config-0-0.yaml). Here the
# migrator, SigNoz and its collector log in as `signoz` with this password instead; it travels in
# their DSNs, so it must not hold URL delimiters: `openssl rand -hex 32`.
variable "clickhouse_password" {
  type        = string
  sensitive   = true
  description = "Password of the ClickHouse user `signoz` (hex, e.g. `openssl rand -hex 32`; the signoz module refuses fewer than 32 characters)."
}

# Where init-clickhouse downloads SigNoz's histogram-quantile release, and its digest: the pinned
# upstream release, or the same file on a mirror of your own for servers without internet access.
variable "histogram_quantile_url" {
  type        = string
  default     = "https://github.com/SigNoz/signoz/releases/download/histogram-quantile%2Fv0.0.1/histogram-quantile_linux_amd64.tar.gz"
  description = "URL of SigNoz's histogram-quantile release (linux amd64 tar.gz), upstream's or a mirror's."
}

variable "histogram_quantile_sha256" {
  type        = string
  default     = "33997073eb6d82b7be4f27f9fc8ec9e28a395e0f20674d5d54bb2fa28a75488d"
  description = "sha256 of that tar.gz; init-clickhouse refuses any other file."
}

locals {
  location = "fsn1"

  # The Hetzner volume holds ClickHouse's data. sovstack mounts it here by its device
  # (/dev/disk/by-id/scsi-0HC_Volume_<id>, with a `nofail` fstab entry), not at Hetzner's
  # /mnt/HC_Volume_<id>: the path stays when the volume is resized or attached again.
  clickhouse_mount = "/mnt/clickhouse"
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

# ClickHouse's data: bound from a directory on this volume (see `local.clickhouse_mount`).
volume "clickhouse" {
  size       = 100
  server     = server.observability
  format     = "ext4"
  mount_path = local.clickhouse_mount
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

  rule {
    description = "OTLP/HTTP from the GPU host only (SigNoz's collector listens on both)"
    port        = "4318"
    source_ips  = ["${var.gpu_host_address}/32"]
  }
}

host "gpu" {
  address  = var.gpu_host_address
  host_key = var.gpu_host_key
  location = "fsn1"
  gpus     = 1
}

# The collector next to vLLM: redacts, stamps where the data lives, keeps every span in an audit
# log on the GPU host and forwards to SigNoz's collector.
module "sidecar" {
  source      = "sovstack/otel-sidecar"
  endpoint    = module.signoz.otlp_grpc_endpoint
  region      = local.location
  environment = "production"
}

module "vllm" {
  source          = "sovstack/vllm"
  on              = host.gpu
  directory       = "${var.deploy_root}/inference"
  collector       = module.sidecar.collector
  collector_image = module.sidecar.image
}

module "signoz" {
  source              = "sovstack/signoz"
  on                  = server.observability
  directory           = "${var.deploy_root}/signoz"
  clickhouse_data     = "${local.clickhouse_mount}/data"
  jwt_secret          = var.signoz_jwt_secret
  clickhouse_password = var.clickhouse_password

  histogram_quantile_url    = var.histogram_quantile_url
  histogram_quantile_sha256 = var.histogram_quantile_sha256
}

# Where these blocks were before they came from the modules: a stack applied before keeps its
# containers, files and checks (the project names and directories are the same).
moved {
  from = compose.inference
  to   = module.vllm.compose.inference
}

moved {
  from = check.vllm-health
  to   = module.vllm.check.health
}

moved {
  from = check.audit-trail
  to   = module.vllm.check.audit-trail
}

moved {
  from = compose.signoz
  to   = module.signoz.compose.signoz
}

moved {
  from = check.signoz-ui
  to   = module.signoz.check.ui
}

output "signoz_url" {
  value = module.signoz.ui_url
}

output "inference_tunnel" {
  value = "ssh -L 8000:127.0.0.1:8000 root@${var.gpu_host_address}"
}
