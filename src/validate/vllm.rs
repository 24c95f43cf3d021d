//! vLLM services (image `vllm/vllm-openai`): the command line against the pinned release's real
//! flags, environment variables that mislead, shared memory, health, and the tracing wiring.

use super::common::{Endpoint, ImageRef, VLLM_IMAGE, did_you_mean};
use super::knowledge::vllm::{
    self as kv, AdviceKind, CommandProblem, EnvVarFact, OtelPackages, OtlpEndpointProblem,
    ParsedCommand, VllmFlags,
};
use super::knowledge::{Version, closest};
use crate::config::{Compose, Diagnostic, Diagnostics, Service, Span, Stack, value};

pub fn check(stack: &Stack, out: &mut Diagnostics) {
    for compose in &stack.composes {
        for service in &compose.services {
            let Some(image) = ImageRef::parse(&service.image.value) else {
                continue;
            };
            if image.repository != VLLM_IMAGE {
                continue;
            }
            let version = image.tag.as_deref().and_then(Version::parse);
            Rules {
                compose,
                service,
                version,
                out,
            }
            .run();
        }
    }
}

struct Rules<'a> {
    compose: &'a Compose,
    service: &'a Service,
    /// The image's release, when the tag names one.
    version: Option<Version>,
    out: &'a mut Diagnostics,
}

impl Rules<'_> {
    fn run(&mut self) {
        let parsed = self.command();
        self.environment(parsed.as_ref());
        self.shared_memory();
        self.healthcheck();
        if let Some(parsed) = &parsed {
            self.tracing(parsed);
        }
    }

    fn arg_span(&self, index: usize) -> Span {
        let Some(args) = &self.service.command else {
            return self.service.span.clone();
        };
        args.items
            .get(index)
            .map_or_else(|| args.span.clone(), |a| a.span.clone())
    }

    /// Parse the command the way `vllm serve` does and report what the parser would reject.
    fn command(&mut self) -> Option<ParsedCommand> {
        // A custom entrypoint means the command is not `vllm serve` arguments any more.
        if self.service.entrypoint.is_some() {
            return None;
        }
        let table = self.version.and_then(VllmFlags::for_parsed_version);
        let exact = table.is_some();
        let table = table.unwrap_or_else(VllmFlags::latest);
        let args = self
            .service
            .command
            .as_ref()
            .map(|a| a.values())
            .unwrap_or_default();
        if args.iter().any(|a| value::is_unknown(a)) {
            return None;
        }
        let parsed = table.parse_command(&args);
        self.command_problems(&parsed, &args, table.version, exact);
        self.flag_advice(&parsed);
        Some(parsed)
    }

    /// What the parser would reject or warn about. `exact`: the flag table is the image's own release, so
    /// unknown flags can be judged.
    fn command_problems(
        &mut self,
        parsed: &ParsedCommand,
        args: &[String],
        release: Version,
        exact: bool,
    ) {
        let svc = self.service.name.clone();
        for problem in &parsed.problems {
            let d = match problem {
                CommandProblem::LeadingServe { index } => Diagnostic::error(
                    "vllm::leading-serve",
                    format!("`{}` starts the command of service `{svc}`, but the image's entrypoint already is `vllm serve`", args[*index]),
                )
                .at(self.arg_span(*index))
                .label("taken as the model name")
                .help("start `command` with the model, e.g. [\"Qwen/Qwen2.5-1.5B-Instruct\", \"--max-model-len\", \"8192\"]"),
                CommandProblem::UnknownFlag { index, written, suggestion } => {
                    if !exact {
                        // Flags of an unpinned or untabled release are not ours to judge.
                        continue;
                    }
                    let hint = did_you_mean(*suggestion);
                    Diagnostic::error(
                        "vllm::unknown-flag",
                        format!("`{written}` is not a flag of vLLM {release}"),
                    )
                    .at(self.arg_span(*index))
                    .label("unknown flag")
                    .help(format!("{hint}vLLM refuses to start with \"unrecognized arguments\"; see `vllm serve --help=all` for {release}"))
                }
                CommandProblem::DeprecatedFlag { index, flag, replacement, why } => Diagnostic::warning(
                    "vllm::deprecated-flag",
                    format!("`{flag}` is deprecated: {why}"),
                )
                .at(self.arg_span(*index))
                .label("deprecated")
                .help(format!("use {replacement}")),
                CommandProblem::Abbreviated { index, written, full } => Diagnostic::warning(
                    "vllm::abbreviated-flag",
                    format!("`{written}` is accepted only as an abbreviation of `{full}`"),
                )
                .at(self.arg_span(*index))
                .help(format!("write `{full}`: an abbreviation breaks as soon as a new flag shares the prefix")),
                CommandProblem::Duplicate { second, dest, .. } => Diagnostic::warning(
                    "vllm::duplicate-flag",
                    format!("`{dest}` is set twice; the last one wins"),
                )
                .at(self.arg_span(*second))
                .help("keep one of them"),
                other => {
                    let (index, msg, help) = describe_problem(other, args);
                    Diagnostic::error("vllm::command", msg)
                        .at(index.map_or_else(|| self.command_span(), |i| self.arg_span(i)))
                        .help(help)
                }
            };
            self.out.push(d);
        }
    }

    /// Flags that are valid but redundant, without effect, or wrong in combination.
    fn flag_advice(&mut self, parsed: &ParsedCommand) {
        for (index, advice) in parsed.advice() {
            let d = match advice.kind {
                AdviceKind::Redundant => Diagnostic::warning(
                    "vllm::redundant-flag",
                    format!("`{}` is redundant: {}", advice.flag, advice.why),
                )
                .label("already the default")
                .help(format!("remove `{}` ({})", advice.flag, advice.source)),
                AdviceKind::NoEffect => Diagnostic::warning(
                    "vllm::flag-no-effect",
                    format!("`{}` has no effect: {}", advice.flag, advice.why),
                )
                .help(format!("remove `{}` ({})", advice.flag, advice.source)),
                AdviceKind::Requires(other) => Diagnostic::error(
                    "vllm::flag-requires",
                    format!("`{}` needs `{other}`: {}", advice.flag, advice.why),
                )
                .help(format!("add `{other}` or remove `{}`", advice.flag)),
                AdviceKind::RiskyWith(other) => Diagnostic::warning(
                    "vllm::risky-flags",
                    format!("`{}` together with `{other}`: {}", advice.flag, advice.why),
                )
                .help(format!("remove `{}` ({})", advice.flag, advice.source)),
            };
            self.out.push(d.at(self.arg_span(index)));
        }
    }

    fn command_span(&self) -> Span {
        self.service
            .command
            .as_ref()
            .map_or_else(|| self.service.span.clone(), |a| a.span.clone())
    }

    fn environment(&mut self, parsed: Option<&ParsedCommand>) {
        let tracing_flag = parsed.is_some_and(|p| p.has(kv::OTLP_TRACES_ENDPOINT_FLAG));
        for (name, val) in &self.service.environment {
            let Some(info) = kv::env_var(name) else {
                continue;
            };
            let d = match info.fact {
                EnvVarFact::DoesNotExist { use_instead, why } => {
                    let d = if tracing_flag {
                        Diagnostic::warning(
                            "vllm::env-no-effect",
                            format!("`{name}` does nothing: vLLM never reads it (tracing is on because `command` has `--otlp-traces-endpoint`)"),
                        )
                        .help(format!("remove it (source: {})", info.source))
                    } else {
                        Diagnostic::error(
                            "vllm::env-no-effect",
                            format!("`{name}` does nothing: {why}"),
                        )
                        .help(format!(
                            "use {use_instead} instead (source: {})",
                            info.source
                        ))
                    };
                    d.label("not read by vLLM")
                }
                EnvVarFact::Harmful { why } => Diagnostic::error(
                    "vllm::env-harmful",
                    format!(
                        "`{name}` on service `{}` is harmful: {why}",
                        self.service.name
                    ),
                )
                .label("remove")
                .help(format!(
                    "remove it; OpenTelemetry tracing is `--otlp-traces-endpoint` ({})",
                    info.source
                )),
                EnvVarFact::Ignored { why } => Diagnostic::warning(
                    "vllm::env-no-effect",
                    format!("`{name}` has no effect on vLLM: {why}"),
                )
                .label("ignored")
                .help(format!("remove it (source: {})", info.source)),
                EnvVarFact::Enumerated { values, why, .. } => {
                    if value::is_unknown(&val.value) || values.contains(&val.value.as_str()) {
                        continue;
                    }
                    Diagnostic::error(
                        "vllm::otlp-protocol",
                        format!("`{name}={}` is not supported: {why}", val.value),
                    )
                    .label("unsupported")
                    .help(format!("use one of {}", values.join(", ")))
                }
                EnvVarFact::Effective { .. } => continue,
            };
            self.out.push(d.at(val.span.clone()));
        }
    }

    fn shared_memory(&mut self) {
        let ipc_host = self.service.ipc.as_ref().is_some_and(|i| i.value == "host");
        if ipc_host || self.service.shm_size.is_some() {
            return;
        }
        let (span, label) = match &self.service.ipc {
            Some(i) => (i.span.clone(), "not the host's IPC namespace"),
            None => (self.service.span.clone(), "no `ipc` or `shm_size`"),
        };
        self.out.push(
            Diagnostic::error(
                "vllm::shared-memory",
                format!(
                    "service `{}` runs vLLM with Docker's default 64 MB /dev/shm",
                    self.service.name
                ),
            )
            .at(span)
            .label(label)
            .help("set `ipc = \"host\"` (or `shm_size = \"16g\"`): vLLM uses PyTorch, which shares tensors between processes through shared memory (vLLM docs, \"Deploying with Docker\")"),
        );
    }

    fn healthcheck(&mut self) {
        if self.service.healthcheck.is_some() {
            return;
        }
        self.out.push(
            Diagnostic::warning(
                "vllm::no-healthcheck",
                format!("service `{}` has no healthcheck", self.service.name),
            )
            .at(self.service.span.clone())
            .label("no healthcheck")
            .help(format!(
                "add `healthcheck {{ test = [\"CMD\", \"python3\", \"-c\", \"import urllib.request; urllib.request.urlopen('http://127.0.0.1:{}{}')\"] start_period = \"15m\" }}`: {} answers 200, or 503 once the engine is dead, and the long start period covers the model download",
                kv::DEFAULT_PORT,
                kv::HEALTH_PATH,
                kv::HEALTH_PATH
            )),
        );
    }

    fn tracing(&mut self, parsed: &ParsedCommand) {
        let Some(flag) = parsed.find(kv::OTLP_TRACES_ENDPOINT_FLAG).last() else {
            return;
        };
        let Some((endpoint, vindex)) = flag.values.last().cloned() else {
            return;
        };
        if value::is_unknown(&endpoint) {
            return;
        }
        let span = self.arg_span(vindex);
        let svc = self.service.name.clone();

        let named = self.service.env("OTEL_SERVICE_NAME").is_some()
            || self
                .service
                .secret_environment
                .iter()
                .any(|s| s.name == "OTEL_SERVICE_NAME")
            || self
                .service
                .env("OTEL_RESOURCE_ATTRIBUTES")
                .is_some_and(|v| {
                    v.value
                        .split(',')
                        .any(|kv| kv.trim().starts_with("service.name="))
                });
        if !named {
            let at = self
                .service
                .environment_span
                .clone()
                .unwrap_or_else(|| self.arg_span(flag.index));
            self.out.push(
                Diagnostic::warning(
                    "vllm::no-service-name",
                    format!("service `{svc}` sends traces without `OTEL_SERVICE_NAME`"),
                )
                .at(at)
                .label("no service name")
                .help("set `OTEL_SERVICE_NAME = \"vllm\"` in `environment`: otherwise every span arrives as `unknown_service`"),
            );
        }

        let protocol = self.service.env("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL");
        if protocol.is_none_or(|p| !value::is_unknown(&p.value)) {
            match kv::check_trace_endpoint(protocol.map(|p| p.value.as_str()), &endpoint) {
                Ok(()) => {}
                // Reported on the variable by `environment`.
                Err(OtlpEndpointProblem::UnsupportedProtocol(_)) => {}
                Err(problem) => {
                    let help = match &problem {
                        OtlpEndpointProblem::HttpPathMissing(_) => format!(
                            "use `{}/v1/traces`, or switch `OTEL_EXPORTER_OTLP_TRACES_PROTOCOL` to grpc (port 4317)",
                            endpoint.trim_end_matches('/')
                        ),
                        _ => "write it as `http://<collector-service>:4317`".to_string(),
                    };
                    let mut d = Diagnostic::error("vllm::otlp-endpoint", problem.to_string())
                        .at(span.clone())
                        .label("trace endpoint")
                        .help(help);
                    if let Some(p) = protocol {
                        d = d.related(p.span.clone(), "protocol");
                    }
                    self.out.push(d);
                }
            }
        }

        if let Some(ep) = Endpoint::parse(&endpoint) {
            self.endpoint_host(&ep, span.clone());
        }

        if let Some(v) = self.version
            && kv::image_otel_packages(v) == OtelPackages::Missing
        {
            self.out.push(
                Diagnostic::error(
                    "vllm::no-otel-packages",
                    format!("the vLLM {v} image has no OpenTelemetry packages, so `--otlp-traces-endpoint` stops it at start-up"),
                )
                .at(self.service.image.span.clone())
                .label("no OpenTelemetry in this image")
                .related(span, "tracing requested here")
                .help("use an image from v0.17.0 on (they bundle the packages), or build a derived image that installs opentelemetry-sdk and the OTLP exporter"),
            );
        }
    }

    /// The endpoint host must be reachable from the vLLM container: a service of the same project,
    /// an address, or a resolvable DNS name; never the container's own loopback.
    fn endpoint_host(&mut self, ep: &Endpoint, span: Span) {
        let names: Vec<&str> = self
            .compose
            .services
            .iter()
            .map(|s| s.name.as_str())
            .collect();
        if ep.is_loopback() {
            self.out.push(
                Diagnostic::error(
                    "vllm::otlp-host",
                    format!("the trace endpoint points at `{}`, which inside the container is vLLM itself", ep.host),
                )
                .at(span)
                .label("loopback")
                .help("use the collector's service name, e.g. `http://otel-collector:4317`"),
            );
        } else if ep.is_single_label_name() && !names.contains(&ep.host.as_str()) {
            let hint = did_you_mean(closest(&ep.host, names.iter().copied()));
            self.out.push(
                Diagnostic::error(
                    "vllm::otlp-host",
                    format!(
                        "the trace endpoint names host `{}`, which is no service of compose `{}`",
                        ep.host, self.compose.name
                    ),
                )
                .at(span)
                .label("does not resolve")
                .help(format!(
                    "{hint}containers resolve the service names of their own project: {}",
                    names.join(", ")
                )),
            );
        }
    }
}

fn describe_problem(problem: &CommandProblem, args: &[String]) -> (Option<usize>, String, String) {
    match problem {
        CommandProblem::MissingValue { index, flag } => (
            Some(*index),
            format!("`{flag}` needs a value"),
            format!("give `{flag}` its value as the next argument"),
        ),
        CommandProblem::UnexpectedValue { index, flag } => (
            Some(*index),
            format!("`{flag}` is a switch and takes no value"),
            format!("write just `{flag}` (argparse rejects \"ignored explicit argument\")"),
        ),
        CommandProblem::InvalidChoice { index, flag, value, choices } => (
            Some(*index),
            format!("`{value}` is not a valid value of `{flag}`"),
            format!("use one of {}", choices.join(", ")),
        ),
        CommandProblem::ExtraPositional { index, value } => (
            Some(*index),
            format!("`{value}` is an extra positional argument"),
            "vLLM takes one positional argument, the model; argparse fails with \"unrecognized arguments\"".to_string(),
        ),
        CommandProblem::ModelGivenTwice { flag, .. } => (
            Some(*flag),
            "the model is given both positionally and with `--model`".to_string(),
            "keep only the positional model".to_string(),
        ),
        CommandProblem::ServedNameWithoutModel { index } => (
            Some(*index),
            "`--served-model-name` without a model".to_string(),
            "vLLM raises \"`model` should be provided as the first positional argument\": put the model first".to_string(),
        ),
        CommandProblem::NoModel => (
            None,
            "the command names no model".to_string(),
            "start `command` with the model to serve, e.g. \"Qwen/Qwen2.5-1.5B-Instruct\"".to_string(),
        ),
        CommandProblem::ModelSwallowed { flag_index, value_index } => (
            Some(*value_index),
            format!(
                "`{}` is taken as a value of `{}`, not as the model",
                args.get(*value_index).map_or("", String::as_str),
                args.get(*flag_index).map_or("", String::as_str)
            ),
            "put the model first, before any flag".to_string(),
        ),
        // Handled by the caller; kept total so a new variant is still reported.
        other => (None, format!("{other:?}"), "fix the command line".to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{
        help_has, none, only, only_at, pointed, run, stack_text, with_code,
    };

    /// A correct vLLM service; tests break one thing at a time.
    const GOOD: &str = stack_text! {host gpus = 1, r#"
compose "c" {
  on = host.h
  service "vllm" {
    image   = "vllm/vllm-openai:v0.33.0"
    command = ["Qwen/Qwen2.5-1.5B-Instruct", "--max-model-len", "8192", "--otlp-traces-endpoint", "http://otel-collector:4317"]
    environment = {
      OTEL_SERVICE_NAME = "vllm"
    }
    gpus = "all"
    ipc  = "host"
    healthcheck {
      test = ["CMD", "true"]
    }
  }
  service "otel-collector" {
    image = "otel/opentelemetry-collector-contrib:0.159.0"
  }
}
"#};

    #[test]
    fn the_good_service_is_silent() {
        let d: Vec<_> = run(GOOD)
            .into_iter()
            .filter(|d| d.code.starts_with("vllm::"))
            .collect();
        assert!(d.is_empty(), "{d:#?}");
    }

    #[test]
    fn unknown_flag_with_suggestion() {
        let text = GOOD.replace("\"--max-model-len\"", "\"--max-model-lenght\"");
        let d = only_at(&text, "vllm::unknown-flag", "\"--max-model-lenght\"");
        assert!(help_has(&d, "did you mean `--max-model-len`"));
    }

    /// Each command line mistake: one finding, pointing at the argument at fault.
    #[test]
    fn command_line_mistakes_point_at_the_argument() {
        let cases = [
            (
                "[\"Qwen",
                "[\"--model\", \"Qwen",
                "vllm::deprecated-flag",
                "\"--model\"",
            ),
            (
                "[\"Qwen",
                "[\"serve\", \"Qwen",
                "vllm::leading-serve",
                "\"serve\"",
            ),
            (
                "\"8192\",",
                "\"8192\", \"--enable-chunked-prefill\",",
                "vllm::redundant-flag",
                "\"--enable-chunked-prefill\"",
            ),
        ];
        for (from, to, code, at) in cases {
            only_at(&GOOD.replace(from, to), code, at);
        }
    }

    #[test]
    fn misleading_environment() {
        let text = GOOD.replace(
            "OTEL_SERVICE_NAME = \"vllm\"",
            "OTEL_SERVICE_NAME = \"vllm\"\n VLLM_OTLP_TRACES_ENDPOINT = \"http://otel-collector:4317\"\n VLLM_TRACE_FUNCTION = \"1\"",
        );
        let no_effect = with_code(&text, "vllm::env-no-effect");
        assert_eq!(no_effect.len(), 1);
        // The flag is there too, so the variable is only dead weight.
        assert_eq!(no_effect[0].severity, crate::config::Severity::Warning);
        let harmful = with_code(&text, "vllm::env-harmful");
        assert_eq!(harmful.len(), 1);
        assert_eq!(pointed(&text, &harmful[0]), "\"1\"");
        // Without the flag, the variable is the only tracing switch: an error.
        let text = text.replace(
            ", \"--otlp-traces-endpoint\", \"http://otel-collector:4317\"",
            "",
        );
        let d = with_code(&text, "vllm::env-no-effect");
        assert_eq!(d[0].severity, crate::config::Severity::Error);
    }

    #[test]
    fn shared_memory_required() {
        let text = GOOD.replace("ipc  = \"host\"", "");
        only(&text, "vllm::shared-memory");
        let fixed = GOOD.replace("ipc  = \"host\"", "shm_size = \"16g\"");
        none(&fixed, "vllm::shared-memory");
    }

    /// Each missing piece of the service: one finding.
    #[test]
    fn missing_pieces() {
        let cases = [
            (
                "healthcheck {\n      test = [\"CMD\", \"true\"]\n    }",
                "",
                "vllm::no-healthcheck",
            ),
            (
                "OTEL_SERVICE_NAME = \"vllm\"",
                "HF_HOME = \"/hf\"",
                "vllm::no-service-name",
            ),
        ];
        for (from, to, code) in cases {
            only(&GOOD.replace(from, to), code);
        }
    }

    #[test]
    fn http_protocol_needs_v1_traces() {
        let text = GOOD
            .replace("OTEL_SERVICE_NAME = \"vllm\"", "OTEL_SERVICE_NAME = \"vllm\"\n OTEL_EXPORTER_OTLP_TRACES_PROTOCOL = \"http/protobuf\"")
            .replace("otel-collector:4317\"]", "otel-collector:4318\"]");
        only_at(
            &text,
            "vllm::otlp-endpoint",
            "\"http://otel-collector:4318\"",
        );
        let fixed = text.replace("otel-collector:4318\"]", "otel-collector:4318/v1/traces\"]");
        none(&fixed, "vllm::otlp-endpoint");
        let bad = GOOD.replace(
            "OTEL_SERVICE_NAME = \"vllm\"",
            "OTEL_SERVICE_NAME = \"vllm\"\n OTEL_EXPORTER_OTLP_TRACES_PROTOCOL = \"http/json\"",
        );
        only(&bad, "vllm::otlp-protocol");
    }

    #[test]
    fn endpoint_host_must_be_a_service() {
        let text = GOOD.replace("http://otel-collector:4317", "http://otelcollector:4317");
        let d = only(&text, "vllm::otlp-host");
        assert!(help_has(&d, "did you mean `otel-collector`"));
        let text = GOOD.replace("http://otel-collector:4317", "http://localhost:4317");
        only(&text, "vllm::otlp-host");
        let text = GOOD.replace("http://otel-collector:4317", "http://10.0.0.5:4317");
        none(&text, "vllm::otlp-host");
    }

    #[test]
    fn images_without_otel_packages() {
        let text = GOOD.replace("v0.33.0", "v0.10.0");
        only(&text, "vllm::no-otel-packages");
        // Unknown tables for that release: flags are not judged.
        let text = text.replace("\"--max-model-len\"", "\"--max-model-lenght\"");
        none(&text, "vllm::unknown-flag");
    }
}
