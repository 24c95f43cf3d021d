# A fleet of dedicated Hetzner GEX44 machines from one map (name -> address and host key), each
# running vLLM and a collector sidecar from the modules that ship with sovstack (`vllm`,
# `otel-sidecar`; docs/modules.md), every sidecar exporting to one SigNoz ingest given by
# variable. Each host and module call is one instance per key: `host.gpu["gex-a"]`,
# `module.llm["gex-a"].compose.inference`, `module.llm["gex-a"].check.health`; adding a machine is
# one line in `gex`.

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

# The collector pipeline every machine's sidecar runs: spans to the machine's audit log and on,
# with the metrics vLLM exposes, to SigNoz's ingest.
module "sidecar" {
  source   = "sovstack/otel-sidecar"
  endpoint = var.otlp_ingest
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
