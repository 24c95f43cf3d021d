//! Reading firewall rules and targets from request bodies (create, `set_rules`, `apply_to_resources`,
//! `remove_from_resources`), every problem reported against its field path, e.g. `rules[0].port`.

use std::net::IpAddr;

use serde_json::{Map, Value};

use crate::body::Body;
use crate::labels::Selector;
use crate::model::{Rule, Target};

const MAX_RULES: usize = 50;
const MAX_IPS: usize = 100;

/// A CIDR as the API accepts it; IPv6 comes back in canonical (RFC 5952) form.
fn canonical_cidr(s: &str) -> Option<String> {
    let (ip, prefix) = s.split_once('/')?;
    let ip: IpAddr = ip.parse().ok()?;
    let prefix: u8 = prefix.parse().ok()?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    (prefix <= max).then(|| format!("{ip}/{prefix}"))
}

fn valid_port(p: &str) -> bool {
    let ok = |s: &str| s.parse::<u16>().is_ok_and(|n| n >= 1);
    match p.split_once('-') {
        Some((a, b)) => ok(a) && ok(b) && a.parse::<u16>().ok() <= b.parse::<u16>().ok(),
        None => ok(p),
    }
}

fn parse_ips(b: &mut Body, field: &str, v: Option<&Value>) -> Vec<String> {
    let Some(v) = v.filter(|v| !v.is_null()) else {
        return Vec::new();
    };
    let Some(arr) = v.as_array() else {
        b.error(field, "must be an array of CIDRs");
        return Vec::new();
    };
    if arr.len() > MAX_IPS {
        b.error(field, "must have at most 100 entries");
    }
    let mut out = Vec::new();
    for ip in arr {
        match ip.as_str().and_then(canonical_cidr) {
            Some(c) => out.push(c),
            None => b.error(field, format!("{ip} is not a valid CIDR")),
        }
    }
    out
}

pub fn parse_rules(b: &mut Body, field: &str, rules: &[Value]) -> Vec<Rule> {
    if rules.len() > MAX_RULES {
        b.error(field, "must have at most 50 rules");
    }
    let mut out = Vec::new();
    for (i, r) in rules.iter().enumerate() {
        let f = format!("{field}[{i}]");
        let Some(obj) = r.as_object() else {
            b.error(&f, "must be an object");
            continue;
        };
        out.push(parse_rule(b, &f, obj));
    }
    out
}

/// One rule of `field[i]` (`f`), an object.
fn parse_rule(b: &mut Body, f: &str, obj: &Map<String, Value>) -> Rule {
    for k in obj.keys() {
        if ![
            "description",
            "direction",
            "source_ips",
            "destination_ips",
            "protocol",
            "port",
        ]
        .contains(&k.as_str())
        {
            b.error(&format!("{f}.{k}"), "is not allowed");
        }
    }
    let direction = obj
        .get("direction")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    if !["in", "out"].contains(&direction.as_str()) {
        b.error(&format!("{f}.direction"), "must be in or out");
    }
    let protocol = obj
        .get("protocol")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    if !["tcp", "udp", "icmp", "esp", "gre"].contains(&protocol.as_str()) {
        b.error(
            &format!("{f}.protocol"),
            "must be one of tcp, udp, icmp, esp, gre",
        );
    }
    let port = obj
        .get("port")
        .filter(|p| !p.is_null())
        .map(|p| p.as_str().unwrap_or("").to_owned());
    match (protocol.as_str(), &port) {
        ("tcp" | "udp", None) => b.error(&format!("{f}.port"), "is required for tcp and udp"),
        ("tcp" | "udp", Some(p)) if !valid_port(p) => b.error(
            &format!("{f}.port"),
            "must be a port or a range like 1024-5000",
        ),
        ("icmp" | "esp" | "gre", Some(_)) => {
            b.error(&format!("{f}.port"), "is only allowed for tcp and udp")
        }
        _ => {}
    }
    let source_ips = parse_ips(b, &format!("{f}.source_ips"), obj.get("source_ips"));
    let destination_ips = parse_ips(
        b,
        &format!("{f}.destination_ips"),
        obj.get("destination_ips"),
    );
    if direction == "in" && source_ips.is_empty() {
        b.error(&format!("{f}.source_ips"), "is required for inbound rules");
    }
    if direction == "out" && destination_ips.is_empty() {
        b.error(
            &format!("{f}.destination_ips"),
            "is required for outbound rules",
        );
    }
    let description = match obj.get("description") {
        None | Some(Value::Null) => None,
        Some(Value::String(d)) if d.chars().count() <= 255 => Some(d.clone()),
        Some(_) => {
            b.error(
                &format!("{f}.description"),
                "must be a string of at most 255 characters",
            );
            None
        }
    };
    Rule {
        direction,
        protocol,
        port,
        source_ips,
        destination_ips,
        description,
    }
}

pub fn parse_targets(b: &mut Body, field: &str, items: &[Value]) -> Vec<Target> {
    let mut out = Vec::new();
    for (i, t) in items.iter().enumerate() {
        let f = format!("{field}[{i}]");
        match t.get("type").and_then(Value::as_str) {
            Some("server") => match t
                .get("server")
                .and_then(|s| s.get("id"))
                .and_then(Value::as_u64)
            {
                Some(id) => out.push(Target::Server(id)),
                None => b.error(&format!("{f}.server.id"), "is required for type server"),
            },
            Some("label_selector") => match t
                .get("label_selector")
                .and_then(|s| s.get("selector"))
                .and_then(Value::as_str)
            {
                Some(sel) => match Selector::parse(sel) {
                    Ok(_) => out.push(Target::LabelSelector(sel.to_owned())),
                    Err(e) => b.error(&format!("{f}.label_selector.selector"), e.reason),
                },
                None => b.error(
                    &format!("{f}.label_selector.selector"),
                    "is required for type label_selector",
                ),
            },
            _ => b.error(&format!("{f}.type"), "must be server or label_selector"),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidrs_and_ports() {
        assert_eq!(canonical_cidr("0.0.0.0/0").as_deref(), Some("0.0.0.0/0"));
        assert_eq!(
            canonical_cidr("2001:DB8:0:0::1/64").as_deref(),
            Some("2001:db8::1/64")
        );
        assert_eq!(canonical_cidr("10.0.0.1"), None);
        assert_eq!(canonical_cidr("10.0.0.1/33"), None);
        assert!(valid_port("22"));
        assert!(valid_port("1024-5000"));
        assert!(!valid_port("5000-1024"));
        assert!(!valid_port("0"));
        assert!(!valid_port("http"));
    }
}
