//! Policy: where machines may be, and that images are pinned.

use super::common::{ImageRef, did_you_mean};
use super::knowledge::hetzner::{self, ServerTypeLookup};
use crate::config::{Diagnostic, Diagnostics, Spanned, Stack, value};

pub fn check(stack: &Stack, out: &mut Diagnostics) {
    locations(stack, out);
    server_types(stack, out);
    pinned_images(stack, out);
}

fn locations(stack: &Stack, out: &mut Diagnostics) {
    let mut places: Vec<(String, &Spanned<String>)> = Vec::new();
    for s in &stack.servers {
        places.push((format!("server `{}`", s.name), &s.location));
    }
    for v in &stack.volumes {
        if let Some(l) = &v.location {
            places.push((format!("volume `{}`", v.name), l));
        }
    }
    for h in &stack.hosts {
        if let Some(l) = &h.location {
            places.push((format!("host `{}`", h.name), l));
        }
    }
    let allowed = &stack.policy.allowed_locations;
    for (what, loc) in places {
        if value::is_unknown(&loc.value) {
            continue;
        }
        let Some(known) = hetzner::location(&loc.value) else {
            let hint = did_you_mean(hetzner::suggest_location(&loc.value));
            out.push(
                Diagnostic::error(
                    "hetzner::unknown-location",
                    format!(
                        "{what} is in `{}`, which is not a Hetzner location",
                        loc.value
                    ),
                )
                .at(loc.span.clone())
                .label("unknown location")
                .help(format!(
                    "{hint}Hetzner locations are {}",
                    hetzner::LOCATIONS
                        .iter()
                        .map(|l| format!("{} ({}, {})", l.name, l.city, l.country))
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
            );
            continue;
        };
        if !allowed.value.contains(&loc.value) {
            let place = format!("{}, {}", known.city, known.country);
            out.push(
                Diagnostic::error(
                    "policy::location",
                    format!(
                        "{what} is in `{}` ({place}), outside the allowed locations",
                        loc.value
                    ),
                )
                .at(loc.span.clone())
                .label("not allowed by policy")
                .help(format!(
                    "use one of {} (or change `policy.allowed_locations` if data may really live there)",
                    allowed.value.join(", ")
                )),
            );
        }
    }
}

fn server_types(stack: &Stack, out: &mut Diagnostics) {
    for s in &stack.servers {
        let t = &s.server_type;
        if value::is_unknown(&t.value) {
            continue;
        }
        match hetzner::server_type(&t.value) {
            ServerTypeLookup::Known(_) => {}
            ServerTypeLookup::DedicatedGpu(p) => out.push(
                Diagnostic::error(
                    "hetzner::server-type",
                    format!("`{}` is a dedicated server product, not a Hetzner Cloud server type", p.name),
                )
                .at(t.span.clone())
                .label("dedicated, not Cloud")
                .help("the Cloud API cannot create dedicated GPU machines: order it, then declare it as a `host` block (address, host_key, gpus)"),
            ),
            ServerTypeLookup::Unknown { suggestion } => {
                let hint = did_you_mean(suggestion);
                out.push(
                    Diagnostic::warning(
                        "hetzner::server-type",
                        format!("`{}` is not a Hetzner Cloud server type we know", t.value),
                    )
                    .at(t.span.clone())
                    .label("unknown server type")
                    .help(format!("{hint}Cloud server types have no GPUs; Hetzner's GPUs are dedicated GEX servers, declared as `host` blocks")),
                );
            }
        }
    }
}

fn pinned_images(stack: &Stack, out: &mut Diagnostics) {
    if !stack.policy.require_pinned_images.value {
        return;
    }
    for compose in &stack.composes {
        for service in &compose.services {
            let Some(image) = ImageRef::parse(&service.image.value) else {
                continue;
            };
            if image.is_pinned() {
                continue;
            }
            let what = match image.tag.as_deref() {
                Some(t) => format!("tag `{t}` moves"),
                None => "no tag means `latest`, which moves".to_string(),
            };
            out.push(
                Diagnostic::error(
                    "policy::unpinned-image",
                    format!(
                        "image `{}` of service `{}` is not pinned: {what}",
                        service.image.value, service.name
                    ),
                )
                .at(service.image.span.clone())
                .label("unpinned")
                .help(format!(
                    "pin a release tag or digest, e.g. `{}:<version>` or `{}@sha256:...`: the same stack must deploy the same software every time",
                    image.repository, image.repository
                )),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{
        help_has, none, only, only_at, pointed, stack_text, with_code,
    };

    const SERVER: &str = r#"
stack "t" {
  policy {
    allowed_locations = ["fsn1", "hel1"]
  }
}
server "a" {
  server_type = "cx22"
  location    = "LOC"
  image       = "ubuntu-24.04"
}
"#;

    #[test]
    fn location_outside_policy_is_an_error() {
        let text = SERVER.replace("LOC", "ash");
        let d = only_at(&text, "policy::location", "\"ash\"");
        assert!(d.message.contains("Ashburn"));
        none(&SERVER.replace("LOC", "hel1"), "policy::location");
    }

    #[test]
    fn host_and_volume_locations_are_checked_too() {
        let text = stack_text! {r#"
host "g" {
  address  = "203.0.113.1"
  location = "sin"
}
volume "v" {
  size     = 10
  location = "hil"
}
"#};
        assert_eq!(with_code(text, "policy::location").len(), 2);
        let fixed = text.replace("sin", "fsn1").replace("hil", "nbg1");
        none(&fixed, "policy::location");
    }

    #[test]
    fn unknown_location_suggests() {
        let text = SERVER.replace("LOC", "fsn2");
        let d = only(&text, "hetzner::unknown-location");
        assert!(help_has(&d, "did you mean `fsn1`"));
    }

    const IMAGE: &str = stack_text! {host, r#"
compose "c" {
  on = host.h
  service "s" {
    image = "IMG"
  }
}
"#};

    #[test]
    fn latest_and_untagged_images_are_refused() {
        for img in ["vllm/vllm-openai:latest", "signoz/signoz"] {
            let text = IMAGE.replace("IMG", img);
            let d = with_code(&text, "policy::unpinned-image");
            assert_eq!(d.len(), 1, "{img}");
            assert_eq!(pointed(&text, &d[0]), format!("\"{img}\""));
        }
        let digest = format!("postgres@sha256:{}", "0".repeat(64));
        for img in ["vllm/vllm-openai:v0.33.0", digest.as_str()] {
            let text = IMAGE.replace("IMG", img);
            none(&text, "policy::unpinned-image");
            none(&text, "compose::invalid-image");
        }
    }

    #[test]
    fn pinning_can_be_turned_off() {
        let text = IMAGE.replace("IMG", "x/y:latest").replace(
            "stack \"t\" {}",
            "stack \"t\" {\n policy {\n require_pinned_images = false\n }\n}",
        );
        none(&text, "policy::unpinned-image");
    }
}
