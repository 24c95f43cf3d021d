# Inputs of the `signoz` module. See README.md.

variable "on" {
  description = "The machine SigNoz runs on: a `server` (4+ dedicated vCPUs and 16 GB for ClickHouse, e.g. ccx23) or a `host`."
}

variable "clickhouse_data" {
  type        = string
  description = "Directory on the machine bound to ClickHouse's /var/lib/clickhouse, e.g. a directory on a Hetzner volume's mount (`/mnt/clickhouse/data`)."
}

variable "jwt_secret" {
  type        = string
  sensitive   = true
  description = "Signing key for SigNoz sessions (never the default `secret`); pass a sensitive variable of the stack."
}

# SigNoz's own deployments leave ClickHouse's `default` user open to the network with an empty
# password (v0.129.0 deploy/common/clickhouse/users.xml, Foundry's config-0-0.yaml). Here the
# migrator, SigNoz and its collector log in as `signoz` with this password instead; it travels in
# their DSNs, so it must not hold URL delimiters: `openssl rand -hex 32`.
variable "clickhouse_password" {
  type        = string
  sensitive   = true
  description = "Password of the ClickHouse user `signoz` (hex, at least 32 characters: `openssl rand -hex 32`); pass a sensitive variable of the stack."

  validation {
    condition     = length(var.clickhouse_password) >= 32
    error_message = "Use at least 32 characters, e.g. `openssl rand -hex 32`."
  }
}

variable "project" {
  type        = string
  default     = "signoz"
  description = "Compose project name (`docker compose -p`); containers and named volumes are named after it."
}

variable "directory" {
  type        = string
  default     = "/opt/sovstack/signoz"
  description = "Project directory on the machine."
}

variable "address" {
  type        = string
  default     = ""
  description = "The address other machines reach SigNoz's collector at (e.g. a private vSwitch address); empty: the machine's public address."
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
