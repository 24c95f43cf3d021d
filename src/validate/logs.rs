//! Container output without a size cap fills the disk in the end: Docker's default `json-file`
//! driver keeps everything. SigNoz's own compose caps every service at 3 x 50 MB (v0.129.0
//! `deploy/docker/docker-compose.yaml:6-9`).

use crate::config::{Diagnostic, Diagnostics, Stack};

pub fn check(stack: &Stack, out: &mut Diagnostics) {
    for compose in &stack.composes {
        for s in &compose.services {
            if compose.logging_of(s).is_some_and(|l| l.is_capped()) {
                continue;
            }
            out.push(
                Diagnostic::warning(
                    "compose::no-log-cap",
                    format!("the output of service `{}` is kept without a size cap", s.name),
                )
                .at(s.span.clone())
                .label("grows until the disk is full")
                .help(format!(
                    "add to compose `{}`: `logging {{ driver = \"json-file\" options = {{ max-size = \"50m\", max-file = \"3\" }} }}` (or to the service, for it alone)",
                    compose.name
                )),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{help_has, none, only_at, stack_text, with_code};

    const STACK: &str = stack_text! {host, r#"
compose "app" {
  on = host.h
  PROJECT
  service "web" {
    image = "nginx:1.27"
    SERVICE
  }
}
"#};

    fn stack(project: &str, service: &str) -> String {
        STACK
            .replace("PROJECT", project)
            .replace("SERVICE", service)
    }

    const CAPPED: &str = r#"logging {
    driver  = "json-file"
    options = { max-size = "50m", max-file = "3" }
  }"#;

    #[test]
    fn a_service_without_log_caps() {
        let d = only_at(&stack("", ""), "compose::no-log-cap", "service \"web\"");
        assert!(help_has(&d, "max-size"));
        assert_eq!(
            with_code(&stack("", ""), "compose::no-log-cap")[0].severity,
            crate::config::Severity::Warning
        );
        // json-file options without a size are no cap.
        let no_size = r#"logging {
      options = { max-file = "3" }
    }"#;
        only_at(
            &stack("", no_size),
            "compose::no-log-cap",
            "service \"web\"",
        );
    }

    #[test]
    fn caps_from_the_project_or_the_service_or_a_rotating_driver() {
        none(&stack(CAPPED, ""), "compose::no-log-cap");
        none(
            &stack(
                "",
                r#"logging {
      driver = "local"
    }"#,
            ),
            "compose::no-log-cap",
        );
        // The service's own logging wins over the project's.
        only_at(
            &stack(
                CAPPED,
                r#"logging {
      driver = "json-file"
    }"#,
            ),
            "compose::no-log-cap",
            "service \"web\"",
        );
    }
}
