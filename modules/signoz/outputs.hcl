# Outputs of the `signoz` module. See README.md.

locals {
  # A `server` is reached at its IPv4 address, a `host` at its address.
  reached_at = var.address != "" ? var.address : lookup(var.on, "ipv4_address", lookup(var.on, "address", ""))
}

output "otlp_grpc_endpoint" {
  value       = "${local.reached_at}:4317"
  description = "SigNoz's collector, OTLP/gRPC (host:port): the `otel-sidecar` module's `endpoint`."
}

output "otlp_http_endpoint" {
  value       = "http://${local.reached_at}:4318"
  description = "SigNoz's collector, OTLP/HTTP."
}

output "ui_url" {
  value       = "http://${local.reached_at}:8080"
  description = "SigNoz's UI and API."
}

output "compose" {
  value       = compose.signoz
  description = "The compose project, for checks of your own."
}
