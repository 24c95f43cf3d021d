# A fleet of dedicated Hetzner GEX44 machines from one map (name -> address and host key), each
# running vLLM and a collector sidecar from the modules that ship with sovstack (`vllm`,
# `otel-sidecar`; docs/modules.md), every sidecar exporting to one SigNoz (the `signoz` module) on
# a dedicated machine of its own, `host.observability`, over the vSwitch. Each GPU host and module
# call is one instance per key: `host.gpu["gex-a"]`, `module.llm["gex-a"].compose.inference`,
# `module.llm["gex-a"].check.health`; adding a machine is one line in `gex`.

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

variable "observability" {
  type        = any
  description = "The machine SigNoz runs on: { address, host_key, vswitch_address } (the GEX machines reach its collector at vswitch_address)."
  default = {
    address         = "203.0.113.30"
    host_key        = "SHA256:Jq3v8mN5bYx2cT7wQ1pR4sL9eK6hD0fG3aU8iO5yZ2Q"
    vswitch_address = "10.0.0.2"
  }
}

variable "clickhouse_data" {
  type        = string
  default     = "/var/lib/clickhouse-data"
  description = "Directory on the observability machine's own disk for ClickHouse's data."
}

variable "signoz_jwt_secret" {
  type        = string
  sensitive   = true
  description = "Signing key for SigNoz sessions (never the default `secret`)."
}

variable "clickhouse_password" {
  type        = string
  sensitive   = true
  description = "Password of the ClickHouse user `signoz` (hex: `openssl rand -hex 32`)."
}

# Where init-clickhouse downloads SigNoz's histogram-quantile release, and its digest: the pinned
# upstream release, or the same file on a mirror of your own.
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

host "observability" {
  address  = var.observability.address
  host_key = var.observability.host_key
  location = "fsn1"

  bootstrap {
    docker_minimum = var.docker_minimum
  }

  ssh {
    user = "root"
    port = 22
  }
}

# SigNoz, ClickHouse and SigNoz's collector (the OTLP ingest of every sidecar), reached by the
# GEX machines at the observability machine's vSwitch address.
module "signoz" {
  source              = "sovstack/signoz"
  on                  = host.observability
  address             = var.observability.vswitch_address
  directory           = "${var.deploy_root}/signoz"
  clickhouse_data     = var.clickhouse_data
  jwt_secret          = var.signoz_jwt_secret
  clickhouse_password = var.clickhouse_password

  histogram_quantile_url    = var.histogram_quantile_url
  histogram_quantile_sha256 = var.histogram_quantile_sha256
}

# The collector pipeline every machine's sidecar runs: spans to the machine's audit log and on,
# with the metrics vLLM exposes, to SigNoz's collector.
module "sidecar" {
  source   = "sovstack/otel-sidecar"
  endpoint = module.signoz.otlp_grpc_endpoint
  region   = "fsn1"
}

# vLLM and its sidecar on each machine: one compose project per key, with its checks (vLLM's
# /health, a traced request reaching the machine's audit log).
module "llm" {
  for_each        = var.gex
  source          = "sovstack/vllm"
  on              = host.gpu[each.key]
  project         = "llm-${each.key}"
  directory       = "${var.deploy_root}/llm-${each.key}"
  collector       = module.sidecar.collector
  collector_image = module.sidecar.image
  extra_args      = ["--gpu-memory-utilization", "0.85"]
}

output "gpu_addresses" {
  value = [for h in values(host.gpu) : h.address]
}

output "signoz_ui" {
  value = module.signoz.ui_url
}
