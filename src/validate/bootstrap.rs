//! The versions a `bootstrap` block pins on a server or host, against the container escapes
//! known for them (`knowledge::runtime`, with its sources).

use super::knowledge::Version;
use super::knowledge::runtime::{Runtime, escapes, minimum_safe};
use crate::config::{BootstrapPins, Diagnostic, Diagnostics, Spanned, Stack};

pub fn check(stack: &Stack, out: &mut Diagnostics) {
    let pins = stack
        .servers
        .iter()
        .map(|s| &s.bootstrap)
        .chain(stack.hosts.iter().map(|h| &h.bootstrap));
    for p in pins {
        pinned(p, out);
    }
}

fn pinned(p: &BootstrapPins, out: &mut Diagnostics) {
    let each = [
        (Runtime::DockerEngine, &p.docker_version),
        (
            Runtime::NvidiaContainerToolkit,
            &p.nvidia_container_toolkit_version,
        ),
    ];
    for (runtime, pin) in each {
        if let Some(pin) = pin {
            version(runtime, pin, out);
        }
    }
    if let Some(m) = &p.docker_minimum {
        lowered_minimum(m, out);
    }
}

/// A `docker_minimum` below the first release without known escapes: allowed, said aloud.
fn lowered_minimum(m: &Spanned<String>, out: &mut Diagnostics) {
    let Some(v) = Version::parse(&m.value) else {
        out.push(
            Diagnostic::error(
                "bootstrap::version",
                format!("`{}` is not a Docker Engine release version", m.value),
            )
            .at(m.span.clone())
            .help("write the release, e.g. `20.10.24`"),
        );
        return;
    };
    let safe = minimum_safe(Runtime::DockerEngine);
    if v >= safe {
        return;
    }
    out.push(
        Diagnostic::warning(
            "bootstrap::minimum-lowered",
            format!(
                "installed Docker Engines down to {} are accepted, below {} (the first release without known container escapes)",
                m.value,
                safe.plain()
            ),
        )
        .at(m.span.clone())
        .help("keep this only for a distribution's engine that carries the fixes as backports (Debian 12's docker.io 20.10.24+dfsg1), and remove it once the node runs a current engine"),
    );
}

fn version(runtime: Runtime, pin: &Spanned<String>, out: &mut Diagnostics) {
    let Some(v) = Version::parse(&pin.value) else {
        out.push(
            Diagnostic::error(
                "bootstrap::version",
                format!("`{}` is not a {runtime} release version", pin.value),
            )
            .at(pin.span.clone())
            .help("write the release, e.g. `29.7.2` or `1.20.1`, as the vendor's apt repository lists it"),
        );
        return;
    };
    let found: Vec<_> = escapes(runtime, v).collect();
    if found.is_empty() {
        return;
    }
    let cves: Vec<&str> = found.iter().map(|e| e.cves).collect();
    let sources: Vec<&str> = found.iter().map(|e| e.source).collect();
    out.push(
        Diagnostic::error(
            "bootstrap::container-escape",
            format!(
                "{runtime} {} has known container escapes: {} ({})",
                pin.value,
                cves.join("; "),
                found[0].what
            ),
        )
        .at(pin.span.clone())
        .label("a container can take the host")
        .help(format!(
            "pin {} or later, or drop the pin to take sovstack's (sources: {})",
            minimum_safe(runtime).plain(),
            sources.join("; ")
        )),
    );
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{help_has, none, only_at, stack_text};

    const STACK: &str = stack_text! {r#"
host "gpu" {
  address = "203.0.113.1"
  gpus    = 1
  bootstrap {
    docker_version                   = "DOCKER"
    nvidia_container_toolkit_version = "CTK"
  }
}
"#};

    fn stack(docker: &str, ctk: &str) -> String {
        STACK.replace("DOCKER", docker).replace("CTK", ctk)
    }

    #[test]
    fn current_pins_are_silent() {
        let text = stack("29.7.2", "1.20.1");
        none(&text, "bootstrap::container-escape");
        none(&text, "bootstrap::version");
    }

    #[test]
    fn the_toolkit_before_1_17_8_is_an_escape() {
        let d = only_at(
            &stack("29.7.2", "1.17.3"),
            "bootstrap::container-escape",
            "\"1.17.3\"",
        );
        assert!(d.message.contains("CVE-2025-23266"), "{}", d.message);
        assert!(help_has(&d, "1.17.8"));
        none(&stack("29.7.2", "1.17.8"), "bootstrap::container-escape");
    }

    #[test]
    fn docker_with_a_leaky_runc_is_an_escape() {
        let d = only_at(
            &stack("25.0.1", "1.20.1"),
            "bootstrap::container-escape",
            "\"25.0.1\"",
        );
        assert!(d.message.contains("CVE-2024-21626"), "{}", d.message);
        none(&stack("24.0.9", "1.20.1"), "bootstrap::container-escape");
    }

    #[test]
    fn a_version_that_is_no_release() {
        only_at(
            &stack("latest", "1.20.1"),
            "bootstrap::version",
            "\"latest\"",
        );
    }
}
