//! Hetzner volumes on servers that run compose projects: one is there for a service's data, so
//! it must be mounted (`mount_path`) and a service must bind a directory on it; sovstack mounts
//! only a volume Hetzner formatted.

use super::common::Mount;
use crate::config::{Diagnostic, Diagnostics, Stack, Target, Volume};

pub fn check(stack: &Stack, out: &mut Diagnostics) {
    for v in &stack.volumes {
        unformatted(v, out);
        unused(stack, v, out);
    }
}

fn unformatted(v: &Volume, out: &mut Diagnostics) {
    let Some(path) = &v.mount_path else { return };
    if v.format.is_some() {
        return;
    }
    out.push(
        Diagnostic::error(
            "volume::mount-unformatted",
            format!("volume `{}` is to be mounted at `{}` but has no `format`", v.name, path.value),
        )
        .at(path.span.clone())
        .label("nothing to mount")
        .help("add `format = \"ext4\"` (or \"xfs\"): Hetzner formats the volume when it creates it; sovstack never formats one"),
    );
}

/// The bind sources of every service on `server`.
fn bind_sources<'a>(stack: &'a Stack, server: &'a str) -> impl Iterator<Item = String> + 'a {
    stack
        .composes
        .iter()
        .filter(move |c| c.on.value == Target::Server(server.to_string()))
        .flat_map(|c| &c.services)
        .flat_map(|s| &s.volumes)
        .filter_map(|m| Mount::parse(&m.value))
        .filter(Mount::is_bind)
        .filter_map(|m| m.source)
}

fn unused(stack: &Stack, v: &Volume, out: &mut Diagnostics) {
    let Some(server) = &v.server else { return };
    let runs_projects = stack
        .composes
        .iter()
        .any(|c| c.on.value == Target::Server(server.value.clone()));
    if !runs_projects {
        return;
    }
    let used = v.mount_path.as_ref().is_some_and(|p| {
        bind_sources(stack, &server.value).any(|src| super::common::is_under(&src, &p.value))
    });
    if used {
        return;
    }
    let help = match &v.mount_path {
        Some(p) => format!(
            "bind a directory on it into the service that needs the space, e.g. `\"{}/data:/var/lib/<service>\"`",
            p.value
        ),
        None => format!(
            "give it `mount_path = \"/mnt/{}\"` and bind a directory below that into the service that needs the space",
            v.name
        ),
    };
    out.push(
        Diagnostic::warning(
            "volume::unused",
            format!(
                "volume `{}` is attached to server `{}`, but no service there mounts it",
                v.name, server.value
            ),
        )
        .at(v.span.clone())
        .label("paid for, holds nothing")
        .help(help),
    );
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{help_has, none, only_at, stack_text};

    const STACK: &str = stack_text! {server "db" "ccx23", r#"
volume "data" {
  size   = 100
  server = server.db
  format = "ext4"
  MOUNT
}
compose "app" {
  on = server.db
  service "clickhouse" {
    image   = "clickhouse/clickhouse-server:25.5.6"
    volumes = [BIND]
  }
}
"#};

    fn stack(mount: &str, bind: &str) -> String {
        STACK.replace("MOUNT", mount).replace("BIND", bind)
    }

    #[test]
    fn a_volume_a_service_binds_is_silent() {
        let text = stack(
            r#"mount_path = "/mnt/data""#,
            r#""/mnt/data/clickhouse:/var/lib/clickhouse""#,
        );
        none(&text, "volume::unused");
        none(&text, "volume::mount-unformatted");
    }

    #[test]
    fn an_attached_volume_no_service_mounts() {
        // The data on the root disk in a named volume, as SigNoz's own compose keeps it.
        let text = stack(r#"mount_path = "/mnt/data""#, r#""ch:/var/lib/clickhouse""#);
        let d = only_at(&text, "volume::unused", "volume \"data\"");
        assert!(help_has(&d, "/mnt/data/data"));
        // Without a mount path nothing could bind it.
        let d = only_at(
            &stack("", r#""./x:/x""#),
            "volume::unused",
            "volume \"data\"",
        );
        assert!(help_has(&d, "mount_path"));
    }

    #[test]
    fn a_server_without_projects_is_the_operators_business() {
        let text = stack_text! {server "db" "ccx23", r#"
volume "data" {
  size   = 100
  server = server.db
}
"#};
        none(text, "volume::unused");
    }

    #[test]
    fn a_mount_path_without_format() {
        let text = stack(
            r#"mount_path = "/mnt/data""#,
            r#""/mnt/data/clickhouse:/var/lib/clickhouse""#,
        )
        .replace("  format = \"ext4\"\n", "");
        only_at(&text, "volume::mount-unformatted", "\"/mnt/data\"");
    }
}
