# Cloud resources only: an SSH key, a server, a firewall applied to it and a volume.
# Rehearse against the local sandbox:
#   sovstack sandbox --listen 127.0.0.1:8787 &
#   HCLOUD_ENDPOINT=http://127.0.0.1:8787/v1 HCLOUD_TOKEN=test sovstack -C examples/cloud-only apply

stack "cloud-only" {}

variable "admin_cidrs" {
  type    = list(string)
  default = ["198.51.100.0/24"]
}

variable "image" {
  type    = string
  default = "ubuntu-24.04"
}

ssh_key "admin" {
  public_key = file("../../keys/admin.pub")
}

server "app" {
  server_type = "cx23"
  location    = "nbg1"
  image       = var.image
  ssh_keys    = [ssh_key.admin]
  labels = {
    role = "app"
  }
}

firewall "app" {
  apply_to = [server.app]

  rule {
    description = "SSH from the admin networks"
    port        = "22"
    source_ips  = var.admin_cidrs
  }

  rule {
    description = "ICMP from anywhere, so the server answers ping"
    protocol    = "icmp"
    source_ips  = ["0.0.0.0/0", "::/0"]
    public      = true
  }
}

volume "data" {
  size   = 20
  server = server.app
  format = "ext4"
}

output "app_address" {
  value = server.app.ipv4_address
}
