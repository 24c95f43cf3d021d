//! Collector rules, one broken thing at a time, against a good config at 0.102.0 and 0.159.0.

use crate::config::Severity;
use crate::validate::test_support::{
    help_has, none, only, only_at, pointed, run, stack_text, with_code,
};

/// A correct collector run by a service; tests break one thing at a time.
const GOOD: &str = stack_text! {host, r#"
collector "c" {
  version = "VERSION"
  receiver "otlp" {
    protocols {
      grpc {
        endpoint = "0.0.0.0:4317"
      }
    }
  }
  processor "memory_limiter" {
    check_interval   = "1s"
    limit_percentage = 80
  }
  processor "batch" {}
  exporter "EXPORTER" {
    endpoint = "ingest.example.com:4317"
  }
  exporter "file/audit" {
    path = "/var/lib/otelcol/audit/spans.jsonl"
  }
  extension "health_check" {
    endpoint = "0.0.0.0:13133"
  }
  pipeline "traces" {
    receivers  = ["otlp"]
    processors = ["memory_limiter", "batch"]
    exporters  = ["EXPORTER", "file/audit"]
  }
}
compose "p" {
  on = host.h
  service "otel-collector" {
    image   = "otel/opentelemetry-collector-contrib:VERSION"
    volumes = ["./audit:/var/lib/otelcol/audit"]
    file "/etc/otelcol-contrib/config.yaml" {
      collector = collector.c
    }
  }
}
"#};

fn good(version: &str) -> String {
    let exporter = if version == "0.102.0" {
        "otlp"
    } else {
        "otlp_grpc"
    };
    GOOD.replace("VERSION", version)
        .replace("EXPORTER", exporter)
}

fn collector_findings(text: &str) -> Vec<crate::config::Diagnostic> {
    run(text)
        .into_iter()
        .filter(|d| d.code.starts_with("collector::"))
        .collect()
}

#[test]
fn good_configs_are_silent() {
    assert!(
        collector_findings(&good("0.159.0")).is_empty(),
        "{:#?}",
        collector_findings(&good("0.159.0"))
    );
    let old: Vec<_> = collector_findings(&good("0.102.0"))
        .into_iter()
        .map(|d| d.code)
        .collect();
    assert_eq!(old, vec!["collector::outdated"]);
}

#[test]
fn undefined_and_unused_components() {
    let text = good("0.159.0").replace(
        "[\"memory_limiter\", \"batch\"]",
        "[\"memory_limiter\", \"bacth\"]",
    );
    let d = only_at(&text, "collector::undefined-component", "\"bacth\"");
    assert!(help_has(&d, "did you mean `batch`"));
    let unused = with_code(&text, "collector::unused-component");
    assert_eq!(unused.len(), 1);
    assert_eq!(pointed(&text, &unused[0]), "\"batch\"");
}

#[test]
fn component_types_per_version() {
    // `otlp` is a deprecated alias from v0.144.0: a warning.
    let text = GOOD
        .replace("VERSION", "0.159.0")
        .replace("EXPORTER", "otlp");
    let d = only(&text, "collector::deprecated-component");
    assert_eq!(d.severity, Severity::Warning);
    // `otlp_grpc` does not exist before v0.144.0: an error that names the old type.
    let text = GOOD
        .replace("VERSION", "0.102.0")
        .replace("EXPORTER", "otlp_grpc");
    let d = only(&text, "collector::component-type");
    assert!(help_has(&d, "`otlp`"));
    // `logging` was removed in v0.111.0.
    let text = good("0.159.0").replace(
        "exporter \"file/audit\"",
        "exporter \"logging\" {}\n exporter \"file/audit\"",
    );
    let d = only(&text, "collector::component-type");
    assert!(d.message.contains("removed"));
}

#[test]
fn telemetry_metrics_address_is_invalid_from_0_128() {
    let tele = "telemetry {\n metrics {\n address = \"0.0.0.0:8888\"\n }\n }\n pipeline \"traces\"";
    let text = good("0.159.0").replacen("pipeline \"traces\"", tele, 1);
    let d = with_code(&text, "collector::invalid-key");
    assert_eq!(d.len(), 1, "{d:#?}");
    assert!(d[0].message.contains("telemetry.metrics.address"));
    let text = good("0.102.0").replacen("pipeline \"traces\"", tele, 1);
    none(&text, "collector::invalid-key");
}

#[test]
fn unknown_key_in_complete_table() {
    let text = good("0.159.0").replace("send_batch_size", "x").replace(
        "processor \"batch\" {}",
        "processor \"batch\" {\n send_batch_szie = 10\n }",
    );
    let d = only(&text, "collector::invalid-key");
    assert!(help_has(&d, "send_batch_size"));
}

#[test]
fn receiver_without_endpoint_binds_localhost() {
    let text = good("0.159.0").replace(
        "grpc {\n        endpoint = \"0.0.0.0:4317\"\n      }",
        "grpc {}",
    );
    let d = with_code(&text, "collector::receiver-endpoint");
    assert_eq!(d.len(), 1, "{d:#?}");
    assert_eq!(d[0].severity, Severity::Error);
    let text = good("0.102.0").replace(
        "grpc {\n        endpoint = \"0.0.0.0:4317\"\n      }",
        "grpc {}",
    );
    let d = with_code(&text, "collector::receiver-endpoint");
    assert_eq!(d[0].severity, Severity::Warning);
}

#[test]
fn file_exporter_needs_a_volume() {
    let text = good("0.159.0").replace("/var/lib/otelcol/audit/spans.jsonl", "/tmp/spans.jsonl");
    only_at(&text, "collector::file-tmp", "\"/tmp/spans.jsonl\"");
    let text = good("0.159.0").replace("./audit:/var/lib/otelcol/audit", "./audit:/data");
    only(&text, "collector::file-not-on-volume");
    let text = good("0.159.0").replace(
        "./audit:/var/lib/otelcol/audit",
        "./audit:/var/lib/otelcol/audit:ro",
    );
    only(&text, "collector::file-not-on-volume");
}

#[test]
fn filter_dropping_spans_before_audit() {
    let filter = "processor \"filter/pii\" {\n traces {\n span = [\"attributes[\\\"user.email\\\"] != nil\"]\n }\n }\n processor \"batch\" {}";
    let text = good("0.159.0")
        .replace("processor \"batch\" {}", filter)
        .replace(
            "[\"memory_limiter\", \"batch\"]",
            "[\"memory_limiter\", \"filter/pii\", \"batch\"]",
        );
    only_at(&text, "collector::filter-drops-audit", "\"filter/pii\"");
}

#[test]
fn memory_limiter_first() {
    let text = good("0.159.0").replace(
        "[\"memory_limiter\", \"batch\"]",
        "[\"batch\", \"memory_limiter\"]",
    );
    only_at(&text, "collector::memory-limiter", "\"memory_limiter\"");
    let text = good("0.159.0").replace("limit_percentage = 80", "");
    only(&text, "collector::memory-limiter-config");
}

#[test]
fn health_check_missing() {
    let text = good("0.159.0").replace("extension \"health_check\"", "extension \"pprof\"");
    only(&text, "collector::no-health-check");
}

#[test]
fn image_must_match_the_config_version() {
    let text = good("0.159.0").replace("contrib:0.159.0", "contrib:0.158.0");
    let d = only(&text, "collector::image-version");
    assert_eq!(
        pointed(&text, &d),
        "\"otel/opentelemetry-collector-contrib:0.158.0\""
    );
}

#[test]
fn resource_attributes_use_semconv() {
    let res = "processor \"resource\" {\n attributes = [{ key = \"deployment.region\", value = \"x\", action = \"upsert\" }]\n }\n processor \"batch\" {}";
    let text = good("0.159.0")
        .replace("processor \"batch\" {}", res)
        .replace(
            "[\"memory_limiter\", \"batch\"]",
            "[\"memory_limiter\", \"resource\", \"batch\"]",
        );
    only(&text, "collector::resource-attribute");
    let fixed = text.replace("deployment.region", "cloud.region");
    none(&fixed, "collector::resource-attribute");
}

#[test]
fn metrics_pipeline_fed_only_by_vllm_otlp() {
    let vllm = r#"
  service "vllm" {
    image   = "vllm/vllm-openai:v0.33.0"
    command = ["m", "--otlp-traces-endpoint", "http://otel-collector:4317"]
  }
  service "otel-collector" {"#;
    let metrics = "pipeline \"metrics\" {\n receivers = [\"otlp\"]\n processors = [\"memory_limiter\"]\n exporters = [\"otlp_grpc\"]\n }\n pipeline \"traces\"";
    let text = good("0.159.0")
        .replace("  service \"otel-collector\" {", vllm)
        .replacen("pipeline \"traces\"", metrics, 1);
    only(&text, "collector::metrics-no-source");
    // Without vLLM feeding it, other OTLP senders may exist: no finding.
    let text = good("0.159.0").replacen("pipeline \"traces\"", metrics, 1);
    none(&text, "collector::metrics-no-source");
}
