//! What sovstack creates or reaches: SSH keys, servers, hosts, firewalls and their rules,
//! volumes, and how a machine is reached over SSH.

use super::formats;
use super::ports::parse_port_range;
use super::readers::ModelBuilder;
use super::syntax::{blocks, header_span};
use crate::config::diagnostic::Diagnostic;
use crate::config::model::{
    BootstrapPins, Direction, Firewall, FirewallRule, Host, Protocol, Server, SshAccess, SshKey,
    Volume,
};
use crate::config::source::{Span, Spanned};
use crate::config::value;
use hcl_edit::structure::{Block, Body};

/// The Hetzner API's limit on CIDR blocks in one rule's list.
const MAX_CIDRS: usize = 100;

impl ModelBuilder<'_, '_> {
    pub(super) fn ssh_key(&mut self, b: &Block, name: String, span: Span) -> Option<SshKey> {
        let public_key = self.string(&b.body, "public_key")?;
        let labels = self.labels_map(&b.body);
        Some(SshKey {
            name,
            span,
            public_key,
            labels,
        })
    }

    fn ssh_access(&mut self, body: &Body) -> SshAccess {
        let mut access = SshAccess::default();
        if let Some(sb) = blocks(body).find(|b| b.ident.as_str() == "ssh") {
            if let Some(u) = self.string(&sb.body, "user") {
                access.user = u.value;
            }
            if let Some(p) = self.u32(&sb.body, "port") {
                match u16::try_from(p.value) {
                    Ok(port) if port > 0 => access.port = port,
                    _ => {
                        let d = Diagnostic::error(
                            "language::type",
                            "SSH port must be between 1 and 65535",
                        )
                        .at(p.span);
                        self.err(d);
                    }
                }
            }
            access.private_key_file = self.string(&sb.body, "private_key_file").map(|s| s.value);
        }
        access
    }

    pub(super) fn server(&mut self, b: &Block, name: String, span: Span) -> Option<Server> {
        let server_type = self.string(&b.body, "server_type");
        let location = self.string(&b.body, "location");
        let image = self.string(&b.body, "image");
        let (ssh_keys, data_ssh_keys): (Vec<_>, Vec<_>) = self
            .block_refs(&b.body, "ssh_keys", &["ssh_key", "data.ssh_key"])
            .into_iter()
            .partition(|(kind, _)| kind == "ssh_key");
        let names =
            |refs: Vec<(String, Spanned<String>)>| refs.into_iter().map(|(_, n)| n).collect();
        let labels = self.labels_map(&b.body);
        let ssh = self.ssh_access(&b.body);
        let user_data_runcmd = self.plain_list(&b.body, "user_data_runcmd");
        let bootstrap = self.bootstrap_pins(&b.body);
        Some(Server {
            name,
            span,
            server_type: server_type?,
            location: location?,
            image: image?,
            ssh_keys: names(ssh_keys),
            data_ssh_keys: names(data_ssh_keys),
            labels,
            ssh,
            user_data_runcmd,
            bootstrap,
        })
    }

    pub(super) fn host(&mut self, b: &Block, name: String, span: Span) -> Option<Host> {
        let address = self.string(&b.body, "address")?;
        let host_key = self.string(&b.body, "host_key");
        if let Some(k) = &host_key
            && !value::is_unknown(k)
            && let Some(problem) = formats::host_key_problem(&k.value)
        {
            let d = Diagnostic::error("language::host-key", "host_key must be an OpenSSH SHA256 fingerprint")
                .at(k.span.clone())
                .label(problem)
                .help("get it on the host with `ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub` (it starts with `SHA256:`)");
            self.err(d);
        }
        let location = self.string(&b.body, "location");
        let gpus = self
            .u32(&b.body, "gpus")
            .unwrap_or_else(|| Spanned::new(0, 0..0));
        let ssh = self.ssh_access(&b.body);
        let bootstrap = self.bootstrap_pins(&b.body);
        Some(Host {
            name,
            span,
            address,
            ssh,
            host_key,
            location,
            gpus,
            bootstrap,
        })
    }

    pub(super) fn firewall(&mut self, b: &Block, name: String, span: Span) -> Firewall {
        let apply_to = self.block_names(&b.body, "apply_to", "server");
        let labels = self.labels_map(&b.body);
        let mut rules = Vec::new();
        for rb in blocks(&b.body).filter(|r| r.ident.as_str() == "rule") {
            if let Some(r) = self.rule(rb) {
                rules.push(r);
            }
        }
        Firewall {
            name,
            span,
            rules,
            apply_to,
            labels,
        }
    }

    fn rule(&mut self, rb: &Block) -> Option<FirewallRule> {
        let body = &rb.body;
        let span = header_span(rb);
        let direction = match self
            .string(body, "direction")
            .as_ref()
            .map(|s| (s.value.as_str(), s.span.clone()))
        {
            None | Some(("in", _)) => Direction::In,
            Some(("out", _)) => Direction::Out,
            Some((other, s)) => {
                let d = Diagnostic::error(
                    "language::value",
                    format!("direction must be `in` or `out`, not `{other}`"),
                )
                .at(s);
                self.err(d);
                return None;
            }
        };
        let protocol = match self
            .string(body, "protocol")
            .as_ref()
            .map(|s| (s.value.clone(), s.span.clone()))
        {
            None => Protocol::Tcp,
            Some((p, s)) => match p.as_str() {
                "tcp" => Protocol::Tcp,
                "udp" => Protocol::Udp,
                "icmp" => Protocol::Icmp,
                "esp" => Protocol::Esp,
                "gre" => Protocol::Gre,
                other => {
                    let d =
                        Diagnostic::error("language::value", format!("unknown protocol `{other}`"))
                            .at(s)
                            .help("use tcp, udp, icmp, esp or gre");
                    self.err(d);
                    return None;
                }
            },
        };
        let port = match self.string(body, "port") {
            None => None,
            Some(p) => match parse_port_range(&p.value) {
                Some(r) => Some(Spanned::new(r, p.span)),
                None => {
                    let d = Diagnostic::error(
                        "language::value",
                        format!("`{}` is not a port or port range", p.value),
                    )
                    .at(p.span)
                    .help("write a port (`22`) or a range (`8000-8100`)");
                    self.err(d);
                    return None;
                }
            },
        };
        if port.is_none() && matches!(protocol, Protocol::Tcp | Protocol::Udp) {
            let d = Diagnostic::error(
                "language::missing-attribute",
                "tcp and udp rules need a `port`",
            )
            .at(span.clone())
            .help("add `port = \"22\"` (or a range `\"8000-8100\"`)");
            self.err(d);
        }
        // An absent list takes the rule's span: findings about it (open to all) point there.
        let list = |me: &mut Self, n: &str| match me.string_list(body, n) {
            Some(l) => {
                me.check_cidrs(n, &l);
                l.map(|items| items.into_iter().map(|s| s.value).collect())
            }
            None => Spanned::new(Vec::new(), span.clone()),
        };
        let source_ips = list(self, "source_ips");
        let destination_ips = list(self, "destination_ips");
        let description = self.string(body, "description").map(|s| s.value);
        let public = self.bool(body, "public", false).value;
        Some(FirewallRule {
            span,
            description,
            direction,
            protocol,
            port,
            source_ips,
            destination_ips,
            public,
        })
    }

    /// Every CIDR block of a rule's `source_ips` or `destination_ips` (`name`), each reported
    /// where it is written; values known only after apply are checked when they are known.
    fn check_cidrs(&mut self, name: &str, list: &Spanned<Vec<Spanned<String>>>) {
        for item in list.value.iter().filter(|i| !value::is_unknown(&i.value)) {
            if let Some(problem) = formats::cidr_problem(&item.value) {
                let d = Diagnostic::error(
                    "language::cidr",
                    format!("`{name}` holds `{}`, which is not a CIDR block", item.value),
                )
                .at(item.span.clone())
                .label(problem)
                .help("write an IPv4 or IPv6 network as address/prefix: `198.51.100.0/24`, `2001:db8::/32`, `203.0.113.7/32` for one host");
                self.err(d);
            }
        }
        if list.value.len() > MAX_CIDRS {
            let d = Diagnostic::error(
                "language::cidr",
                format!(
                    "`{name}` holds {} CIDR blocks; a rule takes at most {MAX_CIDRS}",
                    list.value.len()
                ),
            )
            .at(list.span.clone())
            .help("merge neighbouring networks into larger blocks, or split the rule in two");
            self.err(d);
        }
    }

    pub(super) fn volume(&mut self, b: &Block, name: String, span: Span) -> Option<Volume> {
        let size_gb = self.u32(&b.body, "size")?;
        let location = self.string(&b.body, "location");
        let server = self
            .block_ref(&b.body, "server", &["server"])
            .map(|(_, n)| n);
        let format = self.string(&b.body, "format").map(|s| s.value);
        let mount_path = self.mount_path(&b.body);
        // Hetzner's automount would mount it a second time, under /mnt/HC_Volume_<id>.
        let automount = self
            .bool(
                &b.body,
                "automount",
                server.is_some() && mount_path.is_none(),
            )
            .value;
        let labels = self.labels_map(&b.body);
        let linux_device = self.known_or_after_apply(&format!("volume.{name}.linux_device"));
        Some(Volume {
            name,
            span,
            size_gb,
            location,
            server,
            format,
            automount,
            mount_path,
            linux_device,
            labels,
        })
    }

    /// `mount_path`: an absolute, normal directory that is not the root.
    fn mount_path(&mut self, body: &Body) -> Option<Spanned<String>> {
        let p = self.string(body, "mount_path")?;
        let normal = p.value.starts_with('/')
            && p.value.len() > 1
            && !p.value.ends_with('/')
            && p.value
                .split('/')
                .skip(1)
                .all(|c| !c.is_empty() && c != "." && c != "..")
            && !p
                .value
                .contains(|c: char| c.is_whitespace() || c == ':' || c == ',');
        if !normal {
            let d = Diagnostic::error(
                "language::value",
                format!("`{}` is not a mount path sovstack can use", p.value),
            )
            .at(p.span.clone())
            .help("give an absolute directory without `.`/`..`, spaces, `:` or `,`, e.g. `/mnt/clickhouse`");
            self.err(d);
            return None;
        }
        Some(p)
    }

    /// `bootstrap { docker_version = ..., nvidia_container_toolkit_version = ... }`.
    fn bootstrap_pins(&mut self, body: &Body) -> BootstrapPins {
        let Some(b) = blocks(body).find(|b| b.ident.as_str() == "bootstrap") else {
            return BootstrapPins::default();
        };
        BootstrapPins {
            docker_version: self.string(&b.body, "docker_version"),
            docker_minimum: self.string(&b.body, "docker_minimum"),
            nvidia_container_toolkit_version: self
                .string(&b.body, "nvidia_container_toolkit_version"),
        }
    }
}
