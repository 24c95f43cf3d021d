//! Port ranges as Hetzner writes them and port mappings in compose short syntax.

use crate::config::model::{PortMapping, PortRange};

pub fn parse_port_range(s: &str) -> Option<PortRange> {
    let (a, b) = s.split_once('-').unwrap_or((s, s));
    let from: u16 = a.trim().parse().ok()?;
    let to: u16 = b.trim().parse().ok()?;
    (from > 0 && from <= to).then_some(PortRange { from, to })
}

/// Compose short syntax: `[HOST_IP:][HOST_PORT:]CONTAINER_PORT[/PROTOCOL]`.
pub fn parse_port_mapping(s: &str) -> Option<PortMapping> {
    let (rest, protocol) = match s.rsplit_once('/') {
        Some((r, p)) => (r, p.to_string()),
        None => (s, "tcp".to_string()),
    };
    // An IPv6 host address is bracketed: `[::1]:8000:8000`.
    let (host_ip, rest) = if let Some(stripped) = rest.strip_prefix('[') {
        let (ip, after) = stripped.split_once(']')?;
        (Some(ip.to_string()), after.strip_prefix(':')?)
    } else {
        (None, rest)
    };
    let parts: Vec<&str> = rest.split(':').collect();
    let (host_ip, published, target) = match (host_ip, parts.as_slice()) {
        (None, [t]) => (None, None, *t),
        (None, [p, t]) => (None, Some(*p), *t),
        (None, [ip, p, t]) => (Some(ip.to_string()), Some(*p), *t),
        (Some(ip), [p, t]) => (Some(ip), Some(*p), *t),
        _ => return None,
    };
    let published = match published {
        Some("") | None => None,
        Some(p) => Some(parse_port_range(p)?),
    };
    Some(PortMapping {
        host_ip: host_ip.filter(|ip| !ip.is_empty()),
        published,
        target: parse_port_range(target)?,
        protocol,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_mappings_parse() {
        let m = parse_port_mapping("127.0.0.1:8000:8000").unwrap();
        assert_eq!(m.host_ip.as_deref(), Some("127.0.0.1"));
        assert!(!m.is_public());
        let m = parse_port_mapping("4317:4317/udp").unwrap();
        assert_eq!(m.protocol, "udp");
        assert!(m.is_public());
        let m = parse_port_mapping("[::1]:80:8080").unwrap();
        assert_eq!(m.host_ip.as_deref(), Some("::1"));
        assert_eq!(
            m.target,
            PortRange {
                from: 8080,
                to: 8080
            }
        );
        assert!(parse_port_mapping("8000").unwrap().published.is_none());
        assert!(parse_port_mapping("a:b").is_none());
    }
}
