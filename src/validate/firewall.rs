//! Firewalls: every port a Cloud server publishes is covered by a rule, and no rule is open to the
//! whole internet without saying so.
//!
//! Docker publishes ports through its own iptables chains, past ufw (moby/moby#4737), so the Hetzner
//! Cloud Firewall in front of the server is what actually protects a published port.

use crate::config::{Diagnostic, Diagnostics, Direction, Protocol, Stack, Target};

const WORLD: &[&str] = &["0.0.0.0/0", "::/0"];

pub fn check(stack: &Stack, out: &mut Diagnostics) {
    open_to_world(stack, out);
    if stack.policy.require_firewall.value {
        unfirewalled_ports(stack, out);
    }
}

fn open_to_world(stack: &Stack, out: &mut Diagnostics) {
    for fw in &stack.firewalls {
        for rule in &fw.rules {
            if rule.direction != Direction::In || rule.public {
                continue;
            }
            if let Some(cidr) = rule
                .source_ips
                .value
                .iter()
                .find(|c| WORLD.contains(&c.as_str()))
            {
                let port = rule.port.as_ref().map_or("every port".to_string(), |p| {
                    format!("port {}", p.value.to_hetzner())
                });
                out.push(
                    Diagnostic::error(
                        "firewall::open-to-world",
                        format!(
                            "firewall `{}` opens {port} to the whole internet ({cidr})",
                            fw.name
                        ),
                    )
                    .at(rule.source_ips.span.clone())
                    .label("anyone")
                    .help("restrict `source_ips` to the networks that need it, or set `public = true` on the rule to say it is meant"),
                );
            }
        }
    }
}

fn unfirewalled_ports(stack: &Stack, out: &mut Diagnostics) {
    for compose in &stack.composes {
        let Target::Server(server) = &compose.on.value else {
            continue;
        };
        let firewalls: Vec<_> = stack
            .firewalls
            .iter()
            .filter(|f| f.apply_to.iter().any(|a| a.value == *server))
            .collect();
        for service in &compose.services {
            for port in &service.ports {
                if !port.value.is_public() {
                    continue;
                }
                let Some(published) = port.value.published else {
                    continue;
                };
                let proto = port.value.protocol.as_str();
                let uncovered: Vec<u16> = (published.from..=published.to)
                    .filter(|p| {
                        !firewalls.iter().any(|f| {
                            f.rules.iter().any(|r| {
                                r.direction == Direction::In
                                    && protocol_matches(&r.protocol, proto)
                                    && r.port.as_ref().is_none_or(|range| range.value.contains(*p))
                            })
                        })
                    })
                    .collect();
                let Some(first) = uncovered.first() else {
                    continue;
                };
                let which = if uncovered.len() == 1 {
                    format!("port {first}/{proto}")
                } else {
                    format!("{} ports from {first}/{proto}", uncovered.len())
                };
                let why = if firewalls.is_empty() {
                    "no firewall applies to that server".to_string()
                } else {
                    format!(
                        "no `in` rule of {} admits it",
                        firewalls
                            .iter()
                            .map(|f| format!("firewall `{}`", f.name))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                };
                let d = Diagnostic::error(
                    "policy::unfirewalled-port",
                    format!(
                        "service `{}` publishes {which} on server `{server}`, and {why}",
                        service.name
                    ),
                )
                .at(port.span.clone())
                .label("reachable from anywhere")
                .help(format!(
                    "Docker-published ports bypass the host's own firewall: publish on `127.0.0.1:` if only the node needs it, or add a firewall `rule {{ port = \"{first}\" source_ips = [...] }}` applied to server `{server}`"
                ));
                out.push(d);
            }
        }
    }
}

fn protocol_matches(rule: &Protocol, published: &str) -> bool {
    matches!(
        (rule, published),
        (Protocol::Tcp, "tcp") | (Protocol::Udp, "udp")
    )
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{none, only, only_at, stack_text};

    const STACK: &str = stack_text! {server "web" "cx22", r#"
firewall "fw" {
  apply_to = [server.web]
  rule {
    port       = "22"
    source_ips = ["198.51.100.0/24"]
  }
  RULE
}
compose "c" {
  on = server.web
  service "s" {
    image = "nginx:1.27"
    ports = [PORTS]
  }
}
"#};

    fn stack(rule: &str, ports: &str) -> String {
        STACK.replace("RULE", rule).replace("PORTS", ports)
    }

    #[test]
    fn published_port_without_rule_is_an_error() {
        let text = stack("", "\"8000:8000\", \"127.0.0.1:9000:9000\"");
        only_at(&text, "policy::unfirewalled-port", "\"8000:8000\"");
        let fixed = stack(
            "rule {\n port = \"8000-8001\"\n source_ips = [\"198.51.100.0/24\"]\n }",
            "\"8000:8000\", \"127.0.0.1:9000:9000\"",
        );
        none(&fixed, "policy::unfirewalled-port");
    }

    #[test]
    fn udp_rule_does_not_cover_tcp() {
        let text = stack(
            "rule {\n protocol = \"udp\"\n port = \"8000\"\n source_ips = [\"198.51.100.0/24\"]\n }",
            "\"8000:8000\"",
        );
        only(&text, "policy::unfirewalled-port");
    }

    #[test]
    fn server_without_any_firewall_is_flagged() {
        let text = stack("", "\"8080:8080\"").replace("apply_to = [server.web]", "");
        let d = only(&text, "policy::unfirewalled-port");
        assert!(d.message.contains("no firewall applies"));
    }

    #[test]
    fn world_open_rule_needs_consent() {
        let open = "rule {\n port = \"8000\"\n source_ips = [\"0.0.0.0/0\", \"::/0\"]\n }";
        let text = stack(open, "\"8000:8000\"");
        only_at(
            &text,
            "firewall::open-to-world",
            "[\"0.0.0.0/0\", \"::/0\"]",
        );
        let consented = open.replace("port", "public = true\n port");
        none(
            &stack(&consented, "\"8000:8000\""),
            "firewall::open-to-world",
        );
    }
}
