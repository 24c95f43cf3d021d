//! ClickHouse as SigNoz needs it: a user the other services can log in as, the macros its
//! replicated tables expand, and the histogramQuantile function SigNoz calls.
//!
//! Sources (`docs/reference/signoz-deployment.md`): the image's entrypoint shuts `default` in to
//! localhost from 25.1.3 on unless `CLICKHOUSE_SKIP_USER_SETUP=1`, `CLICKHOUSE_USER`/`_PASSWORD`
//! or a mounted users file say otherwise (ClickHouse PR #75259, issue #75494); SigNoz v0.129.0
//! `deploy/common/clickhouse/config.xml:656-659` (macros), `custom-function.xml` and `:910`
//! (histogramQuantile); v0.138.0 `statement_builder.go:778` calls it.

use super::common::{self, CLICKHOUSE_IMAGE, SIGNOZ_COLLECTOR_IMAGE, SIGNOZ_IMAGE};
use super::knowledge::Version;
use crate::config::{Compose, Diagnostic, Diagnostics, FileSource, Service, Stack};

/// From this version on the entrypoint restricts `default` (the issue's threshold; 25.1.3 was
/// the first release with it, and it was backported to 24.x lines).
const RESTRICTED_FROM: Version = Version::new(25, 1, 0);
const SERVER_CONFIG_DIR: &str = "/etc/clickhouse-server";

pub fn check(stack: &Stack, out: &mut Diagnostics) {
    for compose in &stack.composes {
        for ch in compose.services.iter().filter(|s| runs_server(s)) {
            user_setup(compose, ch, out);
            macros(compose, ch, out);
            histogram_function(compose, ch, out);
        }
    }
}

/// A service that runs the ClickHouse server: its image, with the image's entrypoint and either
/// no command or server flags (the entrypoint runs anything else instead of the server, as an
/// init container using the image does).
fn runs_server(s: &Service) -> bool {
    common::is_image(s, CLICKHOUSE_IMAGE)
        && s.entrypoint.is_none()
        && s.command
            .as_ref()
            .is_none_or(|c| c.items.first().is_none_or(|a| a.value.starts_with("--")))
}

fn contents(s: &Service) -> impl Iterator<Item = (&str, &str)> {
    s.files.iter().filter_map(|f| match &f.source {
        FileSource::Content(text) => Some((f.container_path.value.as_str(), text.as_str())),
        FileSource::Collector(_) => None,
    })
}

fn env_is(s: &Service, key: &str, pred: impl Fn(&str) -> bool) -> bool {
    s.env(key).is_some_and(|v| pred(&v.value))
}

fn has_secret(s: &Service, key: &str) -> bool {
    s.secret_environment.iter().any(|e| e.name == key)
}

/// Whether the image's entrypoint leaves the network a way in: told to skip its user setup,
/// told to create a user, or given a users file (which it then leaves alone).
fn has_user_setup(ch: &Service) -> bool {
    env_is(ch, "CLICKHOUSE_SKIP_USER_SETUP", |v| v == "1")
        || env_is(ch, "CLICKHOUSE_USER", |v| !v.is_empty() && v != "default")
        || env_is(ch, "CLICKHOUSE_PASSWORD", |v| !v.is_empty())
        || has_secret(ch, "CLICKHOUSE_PASSWORD")
        || env_is(ch, "CLICKHOUSE_DEFAULT_ACCESS_MANAGEMENT", |v| v != "0")
        || ch.files.iter().any(|f| {
            let p = f.container_path.value.as_str();
            p == "/etc/clickhouse-server/users.xml"
                || p.starts_with("/etc/clickhouse-server/users.d/")
        })
}

/// Services of the project that talk to `ch`: they wait for it, or name it with a port.
fn clients<'a>(compose: &'a Compose, ch: &'a Service) -> impl Iterator<Item = &'a Service> {
    let names = [format!("{}:9000", ch.name), format!("{}:8123", ch.name)];
    compose.services.iter().filter(move |s| {
        s.name != ch.name
            && (s.depends_on.iter().any(|d| d.service.value == ch.name)
                || s.environment
                    .values()
                    .any(|v| names.iter().any(|n| v.value.contains(n.as_str())))
                || contents(s).any(|(_, t)| names.iter().any(|n| t.contains(n.as_str()))))
    })
}

fn user_setup(compose: &Compose, ch: &Service, out: &mut Diagnostics) {
    let Some(version) = common::ImageRef::parse(&ch.image.value)
        .and_then(|i| i.tag)
        .and_then(|t| Version::parse(&t))
    else {
        return;
    };
    if version < RESTRICTED_FROM || has_user_setup(ch) {
        return;
    }
    let Some(client) = clients(compose, ch).next() else {
        return;
    };
    out.push(
        Diagnostic::error(
            "clickhouse::user-setup",
            format!(
                "service `{}` runs ClickHouse {version}, whose image lets `default` in from localhost only, yet `{}` connects to it over the network",
                ch.name, client.name
            ),
        )
        .at(ch.image.span.clone())
        .label("`default` only from 127.0.0.1 and ::1")
        .help("give ClickHouse a user the other services log in as: `CLICKHOUSE_SKIP_USER_SETUP = \"1\"` with a users.d file whose password comes from a sensitive variable (`<password from_env=...>`), as the reference stack.hcl does; or `CLICKHOUSE_USER` and `CLICKHOUSE_PASSWORD` in `secret_environment`"),
    );
}

/// `<macros>` with a shard and a replica in one of the ClickHouse service's files.
fn has_macros(ch: &Service) -> bool {
    contents(ch).any(|(_, t)| {
        t.split("<macros>")
            .nth(1)
            .and_then(|rest| rest.split("</macros>").next())
            .is_some_and(|m| m.contains("<shard>") && m.contains("<replica>"))
    })
}

fn macros(compose: &Compose, ch: &Service, out: &mut Diagnostics) {
    if has_macros(ch) {
        return;
    }
    for migrator in compose
        .services
        .iter()
        .filter(|s| common::is_image(s, SIGNOZ_COLLECTOR_IMAGE))
    {
        let Some(v) = migrator.env("SIGNOZ_OTEL_COLLECTOR_CLICKHOUSE_REPLICATION") else {
            continue;
        };
        if v.value != "true" {
            continue;
        }
        out.push(
            Diagnostic::error(
                "signoz::replication-without-macros",
                format!(
                    "service `{}` migrates SigNoz's schema with replication, but ClickHouse (`{}`) has no `<macros>`",
                    migrator.name, ch.name
                ),
            )
            .at(v.span.clone())
            .label("ReplicatedMergeTree needs {shard} and {replica}")
            .help(format!(
                "add `<macros><shard>01</shard><replica>{}-01</replica></macros>` to a config.d file of `{}` (SigNoz's config.xml:656-659), or turn replication off",
                ch.name, ch.name
            )),
        );
    }
}

/// A file ClickHouse reads as an executable function definition: beside config.xml and named
/// `*_function.*ml` (ClickHouse's default pattern), or anywhere when a config file sets its own
/// `user_defined_executable_functions_config`.
fn defines_histogram_quantile(ch: &Service) -> bool {
    let custom_pattern =
        contents(ch).any(|(_, t)| t.contains("user_defined_executable_functions_config"));
    contents(ch).any(|(path, text)| {
        let (dir, name) = path.rsplit_once('/').unwrap_or(("", path));
        let default_pattern = dir == SERVER_CONFIG_DIR
            && name
                .split_once("_function.")
                .is_some_and(|(_, ext)| ext.ends_with("ml"));
        (default_pattern || custom_pattern)
            && text.contains("<name>histogramQuantile</name>")
            && text.contains("<type>executable</type>")
    })
}

fn histogram_function(compose: &Compose, ch: &Service, out: &mut Diagnostics) {
    let runs_signoz = compose
        .services
        .iter()
        .any(|s| common::is_image(s, SIGNOZ_IMAGE));
    if !runs_signoz || defines_histogram_quantile(ch) {
        return;
    }
    out.push(
        Diagnostic::error(
            "signoz::no-histogram-function",
            format!(
                "ClickHouse (`{}`) has no `histogramQuantile` function, which SigNoz calls for histogram percentiles",
                ch.name
            ),
        )
        .at(ch.image.span.clone())
        .label("percentile panels fail")
        .help("mount an executable function definition named histogramQuantile at /etc/clickhouse-server/<name>_function.xml and put its binary (SigNoz release histogram-quantile, pinned with its sha256) into /var/lib/clickhouse/user_scripts, as the reference stack.hcl does"),
    );
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{help_has, none, only_at, stack_text};

    const STACK: &str = stack_text! {host, r#"
compose "s" {
  on = host.h
  service "clickhouse" {
    image = "clickhouse/clickhouse-server:CHVERSION"
    USERSETUP
    file "/etc/clickhouse-server/config.d/cluster.xml" {
      content = "<clickhouse>MACROS</clickhouse>"
    }
    file "FUNCTIONPATH" {
      content = "<functions><function><type>executable</type><name>histogramQuantile</name></function></functions>"
    }
  }
  service "schema-migrator" {
    image = "signoz/signoz-otel-collector:v0.144.6"
    environment = {
      SIGNOZ_OTEL_COLLECTOR_CLICKHOUSE_DSN         = "tcp://clickhouse:9000"
      SIGNOZ_OTEL_COLLECTOR_CLICKHOUSE_REPLICATION = "true"
    }
  }
  service "signoz" {
    image = "signoz/signoz:v0.138.0"
    depends_on = ["clickhouse"]
  }
  service "init-clickhouse" {
    image   = "clickhouse/clickhouse-server:CHVERSION"
    command = ["bash", "-ec", "echo put the function binary in place"]
  }
}
"#};

    const GOOD_SETUP: &str = r#"environment = { CLICKHOUSE_SKIP_USER_SETUP = "1" }"#;
    const GOOD_MACROS: &str = "<macros><shard>01</shard><replica>r1</replica></macros>";
    const GOOD_FUNCTION: &str = "/etc/clickhouse-server/histogram_quantile_function.xml";

    fn stack(version: &str, setup: &str, macros: &str, function: &str) -> String {
        STACK
            .replace("CHVERSION", version)
            .replace("USERSETUP", setup)
            .replace("MACROS", macros)
            .replace("FUNCTIONPATH", function)
    }

    fn good() -> String {
        stack("25.5.6", GOOD_SETUP, GOOD_MACROS, GOOD_FUNCTION)
    }

    #[test]
    fn a_complete_clickhouse_is_silent() {
        for code in [
            "clickhouse::user-setup",
            "signoz::replication-without-macros",
            "signoz::no-histogram-function",
        ] {
            none(&good(), code);
        }
    }

    #[test]
    fn clickhouse_25_without_user_setup_while_others_connect() {
        let text = stack("25.5.6", "", GOOD_MACROS, GOOD_FUNCTION);
        let d = only_at(
            &text,
            "clickhouse::user-setup",
            "\"clickhouse/clickhouse-server:25.5.6\"",
        );
        assert!(help_has(&d, "CLICKHOUSE_SKIP_USER_SETUP"));
        // Older images admit the network; a users file or a password user are setups too.
        none(
            &stack("24.1.2", "", GOOD_MACROS, GOOD_FUNCTION),
            "clickhouse::user-setup",
        );
        let users_file = r#"file "/etc/clickhouse-server/users.d/app.xml" {
      content = "<clickhouse/>"
    }"#;
        none(
            &stack("25.5.6", users_file, GOOD_MACROS, GOOD_FUNCTION),
            "clickhouse::user-setup",
        );
        let password = r#"environment = { CLICKHOUSE_USER = "app", CLICKHOUSE_PASSWORD = "x" }"#;
        none(
            &stack("25.5.6", password, GOOD_MACROS, GOOD_FUNCTION),
            "clickhouse::user-setup",
        );
    }

    #[test]
    fn nobody_connecting_needs_no_user_setup() {
        let text = stack("25.5.6", "", GOOD_MACROS, GOOD_FUNCTION)
            .replace("tcp://clickhouse:9000", "tcp://elsewhere:9000")
            .replace("depends_on = [\"clickhouse\"]", "");
        none(&text, "clickhouse::user-setup");
    }

    #[test]
    fn replicated_migration_without_macros() {
        let text = stack("25.5.6", GOOD_SETUP, "", GOOD_FUNCTION);
        let d = only_at(&text, "signoz::replication-without-macros", "\"true\"");
        assert!(help_has(&d, "<macros>"));
        none(
            &text.replace(
                r#"SIGNOZ_OTEL_COLLECTOR_CLICKHOUSE_REPLICATION = "true""#,
                r#"SIGNOZ_OTEL_COLLECTOR_CLICKHOUSE_REPLICATION = "false""#,
            ),
            "signoz::replication-without-macros",
        );
    }

    #[test]
    fn signoz_without_the_histogram_function() {
        // The definition where ClickHouse does not look for it.
        let text = stack(
            "25.5.6",
            GOOD_SETUP,
            GOOD_MACROS,
            "/etc/clickhouse-server/custom-function.xml",
        );
        let d = only_at(
            &text,
            "signoz::no-histogram-function",
            "\"clickhouse/clickhouse-server:25.5.6\"",
        );
        assert!(help_has(&d, "sha256"));
        // Unless a config file points the pattern at it, as upstream's config.xml does.
        let pointed = text.replace(
            GOOD_MACROS,
            &format!("{GOOD_MACROS}<user_defined_executable_functions_config>*function.xml</user_defined_executable_functions_config>"),
        );
        none(&pointed, "signoz::no-histogram-function");
    }
}
