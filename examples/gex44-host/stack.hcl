# vLLM on a dedicated Hetzner GEX44 (RTX 4000 SFF Ada, 20 GB), a machine sovstack configures
# but does not create: it is reached by address, its host key pinned here.
# Spans go to a local audit log and to an existing SigNoz ingest given by variable. vLLM and its
# collector sidecar come from the modules that ship with sovstack (docs/modules.md).

stack "gex44" {}

variable "address" {
  type        = string
  default     = "203.0.113.20"
  description = "Public IPv4 address of the GEX44."
}

variable "host_key" {
  type        = string
  default     = "SHA256:Jq3v8mN5bYx2cT7wQ1pR4sL9eK6hD0fG3aU8iO5yZ2E"
  description = "ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub on the GEX44."
}

variable "otlp_ingest" {
  type        = string
  default     = "10.0.0.2:4317"
  description = "OTLP/gRPC ingest of the SigNoz collector, reachable over the vSwitch."
}

host "gex44" {
  address  = var.address
  host_key = var.host_key
  location = "fsn1"
  gpus     = 1

  ssh {
    user = "root"
    port = 22
  }
}

# The sidecar's pipeline: every span to the audit log and on to SigNoz's ingest.
module "sidecar" {
  source   = "sovstack/otel-sidecar"
  endpoint = var.otlp_ingest
  region   = "fsn1"
}

# vLLM and the sidecar as one compose project, with its health and audit-trail checks.
module "llm" {
  source          = "sovstack/vllm"
  on              = host.gex44
  project         = "llm"
  directory       = "/opt/sovstack/llm"
  collector       = module.sidecar.collector
  collector_image = module.sidecar.image
  extra_args      = ["--gpu-memory-utilization", "0.85"]
}

# Where these blocks were before they came from the modules: an applied stack keeps its
# containers, files and checks (same project name and directory).
moved {
  from = compose.llm
  to   = module.llm.compose.inference
}

moved {
  from = check.vllm
  to   = module.llm.check.health
}

moved {
  from = check.audit
  to   = module.llm.check.audit-trail
}
