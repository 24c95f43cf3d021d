//! Compose projects: their services (command, environment, secrets, ports, GPUs, healthcheck,
//! dependencies) and the files mounted into them.

use super::formats;
use super::ports::parse_port_mapping;
use super::readers::ModelBuilder;
use super::syntax::{blocks, find_attr, header_span, label, object_key, object_key_span};
use crate::config::diagnostic::Diagnostic;
use crate::config::eval::span_of;
use crate::config::model::{
    Args, Compose, DEFAULT_WAIT_TIMEOUT, Dependency, DependencyCondition, FileSource, Gpus,
    Healthcheck, MountedFile, PortMapping, SecretEnv, Service, Target,
};
use crate::config::source::{Span, Spanned};
use crate::config::value;
use hcl_edit::expr::Expression;
use hcl_edit::structure::{Block, Body};
use serde_json::Value as Json;

impl ModelBuilder<'_, '_> {
    pub(super) fn compose(&mut self, b: &Block, name: String, span: Span) -> Option<Compose> {
        let on = self.block_ref(&b.body, "on", &["server", "host"]);
        let project = self
            .string(&b.body, "project")
            .map(|s| s.value)
            .unwrap_or_else(|| crate::config::instance::flat_name(&name));
        let directory = self
            .string(&b.body, "directory")
            .unwrap_or_else(|| Spanned::new(format!("/opt/sovstack/{project}"), span.clone()));
        if !value::is_unknown(&directory.value)
            && let Some(problem) = formats::remote_path_problem(&directory.value)
        {
            let d = Diagnostic::error(
                "language::remote-path",
                format!("the project directory `{}` {problem}", directory.value.escape_debug()),
            )
            .at(directory.span.clone())
            .label("a directory on the node, named in remote commands")
            .help("use an absolute path of letters, digits and `/._-+@%:,=`, without `.` or `..` components, e.g. `/opt/sovstack/llm`");
            self.err(d);
        }
        let volumes = self.strings(&b.body, "volumes");
        let destroy_volumes = self.bool(&b.body, "destroy_volumes", false).value;
        let wait_timeout = self.wait_timeout(&b.body);
        let logging = self.logging(&b.body);
        let mut services = Vec::new();
        for sb in blocks(&b.body).filter(|s| s.ident.as_str() == "service") {
            let Some((sname, _)) = sb.labels.first().map(label) else {
                continue;
            };
            if services.iter().any(|s: &Service| s.name == sname) {
                let d = Diagnostic::error(
                    "language::duplicate",
                    format!("service `{sname}` is declared twice"),
                )
                .at(header_span(sb));
                self.err(d);
                continue;
            }
            if let Some(s) = self.service(sb, sname) {
                services.push(s);
            }
        }
        let (kind, target) = on?;
        let on = target.map(|n| {
            if kind == "server" {
                Target::Server(n)
            } else {
                Target::Host(n)
            }
        });
        Some(Compose {
            name,
            span,
            on,
            project,
            directory,
            services,
            volumes,
            destroy_volumes,
            wait_timeout,
            logging,
        })
    }

    /// `wait_timeout`: whole seconds, at least one.
    fn wait_timeout(&mut self, body: &Body) -> u32 {
        match self.u32(body, "wait_timeout") {
            Some(t) if t.value == 0 => {
                let d = Diagnostic::error(
                    "language::wait-timeout",
                    "`wait_timeout` of 0 s would give up before any service could start",
                )
                .at(t.span)
                .label("seconds to wait for the services to be healthy")
                .help(format!(
                    "give the seconds the slowest service needs to become healthy, or leave it out for the default of {DEFAULT_WAIT_TIMEOUT}"
                ));
                self.err(d);
                DEFAULT_WAIT_TIMEOUT
            }
            Some(t) => t.value,
            None => DEFAULT_WAIT_TIMEOUT,
        }
    }

    fn args(&mut self, body: &Body, name: &str) -> Option<Args> {
        let a = find_attr(body, name)?;
        let span = span_of(&a.value);
        if let Expression::Array(_) = &a.value {
            let l = self.string_list(body, name)?;
            return Some(Args {
                span,
                items: l.value,
            });
        }
        match self.value(a)? {
            // Compose splits a string command shell-style; spans are shared by all words.
            Json::String(s) => Some(Args {
                span: span.clone(),
                items: split_command(&s)
                    .into_iter()
                    .map(|w| Spanned::new(w, span.clone()))
                    .collect(),
            }),
            Json::Array(items) => Some(Args {
                span: span.clone(),
                items: items
                    .into_iter()
                    .map(|i| {
                        Spanned::new(
                            i.as_str().map_or_else(|| i.to_string(), str::to_string),
                            span.clone(),
                        )
                    })
                    .collect(),
            }),
            other => {
                self.type_error(a, "a list of strings", &other);
                None
            }
        }
    }

    fn service(&mut self, sb: &Block, name: String) -> Option<Service> {
        let body = &sb.body;
        let span = header_span(sb);
        let image = self.string(body, "image");
        let command = self.args(body, "command");
        let entrypoint = self.args(body, "entrypoint");
        let environment_span = find_attr(body, "environment").map(|a| span_of(&a.value));
        let environment = self.string_map(body, "environment");
        let secret_environment = self.secret_env(body);
        let ports = self.ports(body);
        let volumes = self.strings(body, "volumes");
        let gpus = self.gpus(body);
        let runtime = self.string(body, "runtime");
        let ipc = self.string(body, "ipc");
        let shm_size = self.string(body, "shm_size");
        let user = self.string(body, "user");
        let restart = self.string(body, "restart").map(|s| s.value);
        let labels = self.labels_map(body);
        let depends_on = self.depends_on(body);
        let healthcheck = blocks(body)
            .find(|b| b.ident.as_str() == "healthcheck")
            .map(|hb| self.healthcheck(hb));
        let files = blocks(body)
            .filter(|b| b.ident.as_str() == "file")
            .filter_map(|fb| self.mounted_file(fb))
            .collect();
        let ulimits = self.ulimits(body);
        let mem_limit = self.string(body, "mem_limit");
        let logging = self.logging(body);
        Some(Service {
            name,
            span,
            image: image?,
            command,
            entrypoint,
            environment,
            environment_span,
            secret_environment,
            ports,
            volumes,
            gpus,
            runtime,
            ipc,
            shm_size,
            user,
            restart,
            healthcheck,
            depends_on,
            files,
            labels,
            ulimits,
            mem_limit,
            logging,
        })
    }

    /// Port mappings in compose short syntax, each at its own span.
    fn ports(&mut self, body: &Body) -> Vec<Spanned<PortMapping>> {
        let mut ports = Vec::new();
        for p in self.strings(body, "ports") {
            match parse_port_mapping(&p.value) {
                Some(m) => ports.push(Spanned::new(m, p.span)),
                None => {
                    let d = Diagnostic::error("language::value", format!("`{}` is not a port mapping", p.value))
                        .at(p.span)
                        .help("use compose short syntax: `8000:8000`, `127.0.0.1:8000:8000` or `4317:4317/tcp`");
                    self.err(d);
                }
            }
        }
        ports
    }

    fn gpus(&mut self, body: &Body) -> Option<Spanned<Gpus>> {
        let a = find_attr(body, "gpus")?;
        let span = span_of(&a.value);
        match self.value(a)? {
            Json::String(s) if s == "all" => Some(Spanned::new(Gpus::All, span)),
            Json::Number(n) if n.as_u64().is_some() => Some(Spanned::new(
                Gpus::Count(n.as_u64().unwrap_or(0) as u32),
                span,
            )),
            other => {
                self.type_error(a, "`all` or a number", &other);
                None
            }
        }
    }

    fn healthcheck(&mut self, hb: &Block) -> Healthcheck {
        Healthcheck {
            span: header_span(hb),
            test: self.plain_list(&hb.body, "test"),
            interval: self.string(&hb.body, "interval").map(|s| s.value),
            timeout: self.string(&hb.body, "timeout").map(|s| s.value),
            retries: self.u32(&hb.body, "retries").map(|s| s.value),
            start_period: self.string(&hb.body, "start_period").map(|s| s.value),
        }
    }

    /// A `file "<container path>"` block: its content is written or a collector's config.
    fn mounted_file(&mut self, fb: &Block) -> Option<MountedFile> {
        let (path, pspan) = fb.labels.first().map(label)?;
        let content = self.string(&fb.body, "content");
        let collector = self.block_ref(&fb.body, "collector", &["collector"]);
        let source = match (content, collector) {
            (Some(c), None) => FileSource::Content(c.value),
            (None, Some((_, c))) => FileSource::Collector(c),
            _ => {
                let d = Diagnostic::error(
                    "language::file-source",
                    "a file needs exactly one of `content` or `collector`",
                )
                .at(header_span(fb));
                self.err(d);
                return None;
            }
        };
        if !path.starts_with('/') {
            let d = Diagnostic::error(
                "language::value",
                "the file's container path must be absolute",
            )
            .at(pspan.clone());
            self.err(d);
        }
        Some(MountedFile {
            span: header_span(fb),
            container_path: Spanned::new(path, pspan),
            source,
        })
    }

    fn secret_env(&mut self, body: &Body) -> Vec<SecretEnv> {
        let mut out = Vec::new();
        let Some(a) = find_attr(body, "secret_environment") else {
            return out;
        };
        let Expression::Object(obj) = &a.value else {
            let d = Diagnostic::error(
                "language::type",
                "`secret_environment` must be written as `{ KEY = var.secret }`",
            )
            .at(span_of(&a.value));
            self.err(d);
            return out;
        };
        for (k, v) in obj.iter() {
            let key = object_key(k);
            let span = span_of(v.expr());
            let sources = self.ev.sensitive_sources(v.expr());
            let Some(variable) = sources.first().cloned() else {
                let d = Diagnostic::error(
                    "language::secret-not-sensitive",
                    format!("`secret_environment.{key}` does not come from a sensitive variable"),
                )
                .at(span)
                .label("not sensitive")
                .help("declare a `variable` with `sensitive = true` and reference it: a literal secret in stack.hcl ends up in git");
                self.err(d);
                continue;
            };
            let value = match self.ev.eval(v.expr()) {
                Ok(Json::String(s)) if !value::is_unknown(&s) => Some(s),
                Ok(Json::String(_)) => None,
                Ok(other) => Some(other.to_string()),
                Err(d) => {
                    self.err(d);
                    None
                }
            };
            out.push(SecretEnv {
                name: key,
                span,
                variable,
                value,
            });
        }
        out
    }

    fn depends_on(&mut self, body: &Body) -> Vec<Dependency> {
        let Some(a) = find_attr(body, "depends_on") else {
            return Vec::new();
        };
        let mut out = Vec::new();
        match &a.value {
            Expression::Object(obj) => {
                for (k, v) in obj.iter() {
                    let key = object_key(k);
                    let kspan = object_key_span(k);
                    let cond = match self.ev.eval(v.expr()) {
                        Ok(Json::String(s)) => match s.as_str() {
                            "service_started" => DependencyCondition::Started,
                            "service_healthy" => DependencyCondition::Healthy,
                            "service_completed_successfully" => {
                                DependencyCondition::CompletedSuccessfully
                            }
                            other => {
                                let d = Diagnostic::error("language::value", format!("unknown condition `{other}`"))
                                    .at(span_of(v.expr()))
                                    .help("use service_started, service_healthy or service_completed_successfully");
                                self.err(d);
                                continue;
                            }
                        },
                        _ => continue,
                    };
                    out.push(Dependency {
                        service: Spanned::new(key, kspan),
                        condition: cond,
                    });
                }
            }
            _ => {
                for s in self.strings(body, "depends_on") {
                    out.push(Dependency {
                        service: s,
                        condition: DependencyCondition::Started,
                    });
                }
            }
        }
        out
    }
}

/// Splits like a POSIX shell for the simple cases compose sees: whitespace, quotes.
fn split_command(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut in_word = false;
    for c in s.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => cur.push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                in_word = true;
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            (None, c) => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        out.push(cur);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A secret behind a local (as a module's input is) is still the variable's secret, and a
    /// local that reads no sensitive variable is refused in `secret_environment`.
    #[test]
    fn a_secret_through_locals_names_its_variable() {
        let text = |value: &str| {
            format!(
                "stack \"s\" {{}}\nvariable \"pw\" {{\n  type      = string\n  sensitive = true\n}}\nlocals {{\n  inner = var.pw\n  outer = \"x-${{local.inner}}\"\n  plain = \"not-secret\"\n}}\nhost \"h\" {{\n  address  = \"192.0.2.1\"\n  host_key = \"SHA256:Jq3v8mN5bYx2cT7wQ1pR4sL9eK6hD0fG3aU8iO5yZ2E\"\n  location = \"fsn1\"\n}}\ncompose \"c\" {{\n  on = host.h\n  service \"s\" {{\n    image              = \"busybox:1.36\"\n    secret_environment = {{ PW = {value} }}\n  }}\n}}\n"
            )
        };
        let mut opts = crate::config::LoadOptions::default();
        opts.vars.insert("pw".into(), "hunter2-hunter2".into());
        let load = |value: &str| {
            crate::config::load_str("stack.hcl", &text(value), std::path::Path::new("."), &opts)
        };
        let loaded = load("local.outer");
        assert!(!loaded.diagnostics.has_errors(), "{:?}", loaded.diagnostics);
        let stack = loaded.stack.expect("a stack");
        let secret = &stack.composes[0].services[0].secret_environment[0];
        assert_eq!(secret.variable, "pw");
        assert_eq!(secret.value.as_deref(), Some("x-hunter2-hunter2"));
        let refused = load("local.plain");
        assert!(
            refused
                .diagnostics
                .iter()
                .any(|d| d.code == "language::secret-not-sensitive"),
            "{:?}",
            refused.diagnostics
        );
    }

    #[test]
    fn commands_split_like_a_shell() {
        assert_eq!(
            split_command("--model 'a b'  --x\n--y"),
            vec!["--model", "a b", "--x", "--y"]
        );
    }
}
