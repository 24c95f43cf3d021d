//! SigNoz facts: what a working deployment needs, where its UI and ingest are, default secrets.
//!
//! Sources: reference `stack-content.md` §2 (legacy compose v0.129.0, Foundry example) and §5 items
//! 23, 29, 30, 33.

use super::common::{self, CLICKHOUSE_IMAGE, Endpoint, SIGNOZ_COLLECTOR_IMAGE, SIGNOZ_IMAGE};
use crate::config::{ComponentKind, Diagnostic, Diagnostics, Stack, Target};
use serde_json::Value as Json;

/// The frontend port before v0.76.0 (commit `eee3f7d5`); the merged `signoz/signoz` serves 8080.
const OLD_UI_PORT: u16 = 3301;
const UI_PORT: u16 = 8080;

/// Defaults shipped in SigNoz's compose files that must be changed.
const DEFAULT_SECRETS: &[(&str, &str)] = &[
    ("SIGNOZ_TOKENIZER_JWT_SECRET", "secret"),
    ("POSTGRES_PASSWORD", "signoz"),
];

pub fn check(stack: &Stack, out: &mut Diagnostics) {
    incomplete(stack, out);
    ui_port(stack, out);
    ingest_endpoint(stack, out);
    default_secrets(stack, out);
}

fn incomplete(stack: &Stack, out: &mut Diagnostics) {
    for compose in &stack.composes {
        let has = |repo: &str| compose.services.iter().any(|s| common::is_image(s, repo));
        for s in compose
            .services
            .iter()
            .filter(|s| common::is_image(s, SIGNOZ_IMAGE))
        {
            let mut missing = Vec::new();
            if !has(CLICKHOUSE_IMAGE) {
                missing.push("ClickHouse (`clickhouse/clickhouse-server`)");
            }
            if !has(SIGNOZ_COLLECTOR_IMAGE) {
                missing.push("the SigNoz collector (`signoz/signoz-otel-collector`, which also runs the schema migrations)");
            }
            if missing.is_empty() {
                continue;
            }
            out.push(
                Diagnostic::error(
                    "signoz::incomplete",
                    format!(
                        "service `{}` runs SigNoz without {}",
                        s.name,
                        missing.join(" and ")
                    ),
                )
                .at(s.image.span.clone())
                .label("cannot work alone")
                .help("SigNoz stores telemetry in ClickHouse (with ZooKeeper or ClickHouse Keeper), ingests through its own collector and needs its schema migrator: deploy the whole set, as in the reference stack.hcl or `foundryctl forge`"),
            );
        }
    }
}

fn ui_port(stack: &Stack, out: &mut Diagnostics) {
    let mut signoz_servers = Vec::new();
    for compose in &stack.composes {
        for s in compose
            .services
            .iter()
            .filter(|s| common::is_image(s, SIGNOZ_IMAGE))
        {
            if let Target::Server(name) = &compose.on.value {
                signoz_servers.push(name.clone());
            }
            for p in &s.ports {
                if p.value.target.contains(OLD_UI_PORT) {
                    out.push(
                        Diagnostic::error(
                            "signoz::ui-port",
                            format!("service `{}` maps container port {OLD_UI_PORT}, but SigNoz serves its UI on {UI_PORT}", s.name),
                        )
                        .at(p.span.clone())
                        .label("nothing listens here")
                        .help(format!("map `{UI_PORT}:{UI_PORT}` (3301 was the frontend before SigNoz v0.76.0)")),
                    );
                }
            }
        }
    }
    for fw in &stack.firewalls {
        let protects_signoz = fw
            .apply_to
            .iter()
            .any(|a| signoz_servers.contains(&a.value));
        if !protects_signoz {
            continue;
        }
        for rule in &fw.rules {
            if let Some(port) = &rule.port
                && port.value.from == OLD_UI_PORT
                && port.value.to == OLD_UI_PORT
            {
                out.push(
                    Diagnostic::error(
                        "signoz::ui-port",
                        format!("firewall `{}` opens {OLD_UI_PORT} for the SigNoz UI, which listens on {UI_PORT}", fw.name),
                    )
                    .at(port.span.clone())
                    .label("old UI port")
                    .help(format!("open port {UI_PORT} instead")),
                );
            }
        }
    }
}

/// OTLP sent to the `signoz` (UI/API) service goes nowhere: ingest is SigNoz's collector.
fn ingest_endpoint(stack: &Stack, out: &mut Diagnostics) {
    for c in &stack.collectors {
        let services = common::collector_services(stack, c);
        for comp in c.components_of(ComponentKind::Exporter) {
            if !matches!(
                comp.type_name(),
                "otlp" | "otlp_grpc" | "otlphttp" | "otlp_http"
            ) {
                continue;
            }
            let Some((span, Json::String(endpoint))) = comp.config.lookup("endpoint") else {
                continue;
            };
            let Some(ep) = Endpoint::parse(&endpoint) else {
                continue;
            };
            let target = services.iter().find_map(|(compose, _)| {
                compose
                    .services
                    .iter()
                    .find(|s| s.name == ep.host && common::is_image(s, SIGNOZ_IMAGE))
            });
            if target.is_none() {
                continue;
            }
            out.push(
                Diagnostic::error(
                    "signoz::ingest-endpoint",
                    format!("exporter `{}` sends OTLP to `{}`, the SigNoz UI/API service, which does not ingest OTLP", comp.id, ep.host),
                )
                .at(span)
                .label("not an OTLP endpoint")
                .help("send to SigNoz's collector (`signoz/signoz-otel-collector`, e.g. `signoz-otel-collector:4317`)"),
            );
        }
    }
}

fn default_secrets(stack: &Stack, out: &mut Diagnostics) {
    for compose in &stack.composes {
        for s in &compose.services {
            for (name, default) in DEFAULT_SECRETS {
                let Some(v) = s.env(name) else { continue };
                if v.value != *default {
                    continue;
                }
                out.push(
                    Diagnostic::error(
                        "signoz::default-secret",
                        format!("`{name}` of service `{}` is SigNoz's published default `{default}`", s.name),
                    )
                    .at(v.span.clone())
                    .label("everyone knows this")
                    .help(format!("declare a `variable` with `sensitive = true` and set `secret_environment = {{ {name} = var.<name> }}`")),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{only, only_at, stack_text, with_code};

    const STACK: &str = stack_text! {host, r#"
collector "c" {
  version = "0.159.0"
  exporter "otlp_grpc/signoz" {
    endpoint = "ENDPOINT:4317"
  }
  pipeline "traces" {
    receivers = ["otlp"]
    exporters = ["otlp_grpc/signoz"]
  }
  receiver "otlp" {}
}
compose "s" {
  on = host.h
  service "signoz" {
    image = "signoz/signoz:v0.138.0"
    ports = ["UIPORT"]
    environment = {
      SIGNOZ_TOKENIZER_JWT_SECRET = "JWTVALUE"
    }
  }
  service "clickhouse" {
    image = "clickhouse/clickhouse-server:25.5.6"
  }
  service "signoz-otel-collector" {
    image = "signoz/signoz-otel-collector:v0.144.6"
  }
  service "sidecar" {
    image = "otel/opentelemetry-collector-contrib:0.159.0"
    file "/etc/otelcol-contrib/config.yaml" {
      collector = collector.c
    }
  }
}
"#};

    fn stack(endpoint: &str, ui: &str, jwt: &str) -> String {
        STACK
            .replace("ENDPOINT", endpoint)
            .replace("UIPORT", ui)
            .replace("JWTVALUE", jwt)
    }

    #[test]
    fn complete_deployment_is_silent() {
        let text = stack("signoz-otel-collector", "8080:8080", "long-random");
        for code in [
            "signoz::incomplete",
            "signoz::ui-port",
            "signoz::ingest-endpoint",
            "signoz::default-secret",
        ] {
            assert!(with_code(&text, code).is_empty(), "{code}");
        }
    }

    #[test]
    fn signoz_alone_is_incomplete() {
        let text = stack("signoz-otel-collector", "8080:8080", "x")
            .replace("clickhouse/clickhouse-server:25.5.6", "busybox:1");
        let d = only(&text, "signoz::incomplete");
        assert!(d.message.contains("ClickHouse"));
    }

    #[test]
    fn old_ui_port() {
        let text = stack("signoz-otel-collector", "3301:3301", "x");
        only_at(&text, "signoz::ui-port", "\"3301:3301\"");
    }

    #[test]
    fn otlp_to_the_ui_service() {
        let text = stack("signoz", "8080:8080", "x");
        only_at(&text, "signoz::ingest-endpoint", "\"signoz:4317\"");
    }

    #[test]
    fn default_secrets() {
        let text = stack("signoz-otel-collector", "8080:8080", "secret");
        only_at(&text, "signoz::default-secret", "\"secret\"");
    }
}
