//! Compose projects: host ports, dependencies, GPUs, named volumes, runtimes.

use super::common::{Mount, did_you_mean};
use super::knowledge::{self, closest};
use crate::config::{
    Compose, Diagnostic, Diagnostics, Gpus, PortMapping, Span, Stack, Target, value,
};

pub fn check(stack: &Stack, out: &mut Diagnostics) {
    port_conflicts(stack, out);
    for compose in &stack.composes {
        images(compose, out);
        dependencies(compose, out);
        volumes(compose, out);
        gpus(stack, compose, out);
        runtimes(compose, out);
    }
}

/// Two services on one node cannot publish the same host port: the second fails with "port is already
/// allocated". Projects on the same node share the host's ports.
fn port_conflicts(stack: &Stack, out: &mut Diagnostics) {
    struct Published<'a> {
        compose: &'a str,
        service: &'a str,
        mapping: &'a PortMapping,
        span: Span,
    }
    let mut nodes: Vec<(&Target, Vec<Published>)> = Vec::new();
    for compose in &stack.composes {
        let idx = match nodes.iter().position(|(t, _)| **t == compose.on.value) {
            Some(i) => i,
            None => {
                nodes.push((&compose.on.value, Vec::new()));
                nodes.len() - 1
            }
        };
        for service in &compose.services {
            for port in &service.ports {
                if port.value.published.is_none() {
                    continue;
                }
                let p = Published {
                    compose: &compose.name,
                    service: &service.name,
                    mapping: &port.value,
                    span: port.span.clone(),
                };
                if let Some(earlier) = nodes[idx].1.iter().find(|e| clash(e.mapping, p.mapping)) {
                    let port_text = p
                        .mapping
                        .published
                        .map_or(String::new(), |r| r.to_hetzner());
                    let other = if earlier.compose == p.compose {
                        format!("service `{}`", earlier.service)
                    } else {
                        format!(
                            "service `{}` of compose `{}`",
                            earlier.service, earlier.compose
                        )
                    };
                    out.push(
                        Diagnostic::error(
                            "compose::port-conflict",
                            format!(
                                "service `{}` publishes host port {port_text}/{}, already published by {other} on {}",
                                p.service,
                                p.mapping.protocol,
                                compose.on.value.address()
                            ),
                        )
                        .at(p.span.clone())
                        .label("already allocated")
                        .related(earlier.span.clone(), "first published here")
                        .help("publish only one of them (keep the other internal and reach it over the compose network), or use another host port"),
                    );
                }
                nodes[idx].1.push(p);
            }
        }
    }
}

fn clash(a: &PortMapping, b: &PortMapping) -> bool {
    let (Some(pa), Some(pb)) = (a.published, b.published) else {
        return false;
    };
    let ip_overlap = match (a.host_ip.as_deref(), b.host_ip.as_deref()) {
        (None | Some("0.0.0.0"), _) | (_, None | Some("0.0.0.0")) => true,
        (Some(x), Some(y)) => x == y,
    };
    ip_overlap && a.protocol == b.protocol && pa.from <= pb.to && pb.from <= pa.to
}

fn images(compose: &Compose, out: &mut Diagnostics) {
    for service in &compose.services {
        if value::is_unknown(&service.image.value) {
            continue;
        }
        if let Err(e) = knowledge::images::ImageRef::parse(&service.image.value) {
            out.push(
                Diagnostic::error("compose::invalid-image", format!("service `{}`: {e}", service.name))
                    .at(service.image.span.clone())
                    .label("not an image reference")
                    .help("write `[registry/]repository[:tag][@sha256:<digest>]`, e.g. `vllm/vllm-openai:v0.33.0`"),
            );
        }
    }
}

fn dependencies(compose: &Compose, out: &mut Diagnostics) {
    let names: Vec<&str> = compose.services.iter().map(|s| s.name.as_str()).collect();
    for service in &compose.services {
        for dep in &service.depends_on {
            let name = dep.service.value.as_str();
            if name == service.name {
                out.push(
                    Diagnostic::error(
                        "compose::unknown-dependency",
                        format!("service `{name}` depends on itself"),
                    )
                    .at(dep.service.span.clone())
                    .help("remove it from `depends_on`"),
                );
            } else if !names.contains(&name) {
                let hint = did_you_mean(closest(name, names.iter().copied()));
                out.push(
                    Diagnostic::error(
                        "compose::unknown-dependency",
                        format!(
                            "service `{}` depends on `{name}`, which is not a service of compose `{}`",
                            service.name, compose.name
                        ),
                    )
                    .at(dep.service.span.clone())
                    .label("no such service")
                    .help(format!(
                        "{hint}`depends_on` names services of the same project: {}",
                        names.join(", ")
                    )),
                );
            }
        }
    }
}

fn volumes(compose: &Compose, out: &mut Diagnostics) {
    for service in &compose.services {
        for v in &service.volumes {
            let Some(mount) = Mount::parse(&v.value) else {
                continue;
            };
            let Some(name) = mount.named_volume() else {
                continue;
            };
            if compose.volumes.iter().any(|d| d.value == name) {
                continue;
            }
            let hint = did_you_mean(closest(
                name,
                compose.volumes.iter().map(|d| d.value.as_str()),
            ));
            out.push(
                Diagnostic::error(
                    "compose::undeclared-volume",
                    format!(
                        "service `{}` mounts named volume `{name}`, which compose `{}` does not declare",
                        service.name, compose.name
                    ),
                )
                .at(v.span.clone())
                .label("undeclared")
                .help(format!(
                    "{hint}add \"{name}\" to the compose block's `volumes` (compose refuses undeclared named volumes), or use a bind mount `./dir:{}`",
                    mount.target
                )),
            );
        }
    }
}

fn gpus(stack: &Stack, compose: &Compose, out: &mut Diagnostics) {
    for service in &compose.services {
        let Some(g) = &service.gpus else { continue };
        match &compose.on.value {
            Target::Server(name) => {
                let d = Diagnostic::error(
                    "compose::no-gpu",
                    format!(
                        "service `{}` requests GPUs, but it runs on Cloud server `{name}`: Hetzner Cloud server types have no GPUs",
                        service.name
                    ),
                )
                .at(g.span.clone())
                .label("no GPU on this node")
                .help("Hetzner's GPUs are dedicated GEX servers: declare the machine as a `host` (with `gpus = 1`) and run this compose project on it");
                out.push(d);
            }
            Target::Host(name) => {
                let Some(host) = stack.host(name) else {
                    continue;
                };
                let have = host.gpus.value;
                let short = match g.value {
                    Gpus::All => have == 0,
                    Gpus::Count(n) => n > have,
                };
                if short {
                    let want = match g.value {
                        Gpus::All => "GPUs".to_string(),
                        Gpus::Count(n) => format!("{n} GPU(s)"),
                    };
                    out.push(
                        Diagnostic::error(
                            "compose::no-gpu",
                            format!(
                                "service `{}` requests {want}, but host `{name}` declares {have}",
                                service.name
                            ),
                        )
                        .at(g.span.clone())
                        .label("more than the host has")
                        .help("set `gpus` on the host to the number it has (nvidia-smi -L), or run the service elsewhere"),
                    );
                }
            }
        }
    }
}

/// `runtime: nvidia` only works where that runtime is registered with dockerd, and `gpus` already
/// requests the devices (compose spec `05-services.md` "gpus", "runtime").
fn runtimes(compose: &Compose, out: &mut Diagnostics) {
    for service in &compose.services {
        let Some(rt) = &service.runtime else { continue };
        if rt.value != "nvidia" {
            continue;
        }
        let (msg, help) = if service.gpus.is_some() {
            (
                format!(
                    "`runtime = \"nvidia\"` on service `{}` is redundant with `gpus`",
                    service.name
                ),
                "remove `runtime`: `gpus` requests the devices through the standard device request, and `runtime = \"nvidia\"` fails on hosts where that runtime is not registered",
            )
        } else {
            (
                format!(
                    "service `{}` asks for GPUs through `runtime = \"nvidia\"`",
                    service.name
                ),
                "use `gpus = \"all\"` instead: it needs no custom runtime registered with dockerd, while `runtime = \"nvidia\"` fails where that runtime is missing",
            )
        };
        out.push(
            Diagnostic::warning("compose::runtime-nvidia", msg)
                .at(rt.span.clone())
                .label("custom runtime")
                .help(help),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{
        help_has, none, only, only_at, pointed, stack_text, with_code,
    };

    const HOST: &str = stack_text! {host gpus = "GPUS", r#"
compose "a" {
  on      = host.h
  volumes = ["data"]
  service "one" {
    image = "x/one:1"
    ports = ["4317:4317"]
    BODY
  }
  service "two" {
    image = "x/two:1"
    ports = ["127.0.0.1:9000:9000"]
  }
}
"#};

    fn host(gpus: &str, body: &str) -> String {
        HOST.replace("GPUS", gpus).replace("BODY", body)
    }

    #[test]
    fn same_host_port_twice_on_one_node() {
        let extra = r#"
compose "b" {
  on = host.h
  service "three" {
    image = "x/three:1"
    ports = ["4317:4317", "127.0.0.2:9000:9000"]
  }
}
"#;
        let text = host("0", "") + extra;
        let d = with_code(&text, "compose::port-conflict");
        assert_eq!(d.len(), 1, "{d:#?}");
        assert!(d[0].message.contains("compose `a`"));
        let fixed = text.replace("\"4317:4317\", \"127", "\"127");
        none(&fixed, "compose::port-conflict");
    }

    #[test]
    fn malformed_image_reference() {
        let text = HOST
            .replace("x/two:1", "X/Two:1")
            .replace("GPUS", "0")
            .replace("BODY", "");
        only_at(&text, "compose::invalid-image", "\"X/Two:1\"");
        none(&host("0", ""), "compose::invalid-image");
    }

    #[test]
    fn depends_on_unknown_service() {
        let text = host("0", "depends_on = [\"tow\"]");
        let d = only_at(&text, "compose::unknown-dependency", "\"tow\"");
        assert!(help_has(&d, "did you mean `two`"));
        none(
            &host("0", "depends_on = [\"two\"]"),
            "compose::unknown-dependency",
        );
    }

    #[test]
    fn named_volume_must_be_declared() {
        let text = host("0", "volumes = [\"cache:/c\", \"data:/d\", \"./x:/x\"]");
        only_at(&text, "compose::undeclared-volume", "\"cache:/c\"");
        let fixed = text.replace("[\"data\"]", "[\"data\", \"cache\"]");
        none(&fixed, "compose::undeclared-volume");
    }

    #[test]
    fn gpus_on_host_without_gpus() {
        let text = host("0", "gpus = \"all\"");
        only(&text, "compose::no-gpu");
        only(&host("1", "gpus = 2"), "compose::no-gpu");
        none(&host("1", "gpus = \"all\""), "compose::no-gpu");
    }

    #[test]
    fn gpus_on_cloud_server() {
        let text = stack_text! {server "s" "ccx33", r#"
compose "c" {
  on = server.s
  service "v" {
    image = "x/v:1"
    gpus  = "all"
  }
}
"#};
        let d = only(text, "compose::no-gpu");
        assert_eq!(pointed(text, &d), "\"all\"");
        none(&text.replace("gpus  = \"all\"", ""), "compose::no-gpu");
    }

    #[test]
    fn nvidia_runtime_is_flagged() {
        let text = host("1", "runtime = \"nvidia\"\n gpus = \"all\"");
        let d = only(&text, "compose::runtime-nvidia");
        assert!(d.message.contains("redundant"));
        none(&host("1", "gpus = \"all\""), "compose::runtime-nvidia");
    }
}
