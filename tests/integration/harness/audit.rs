//! Reading what the collector's file exporter wrote: find the span of one trace id, and the
//! trace id a round-trip check reported.

use serde_json::Value;

/// The trace id in the first `trace <32 hex> found in` line of a check's progress output.
pub fn checked_trace_id<'a>(lines: impl IntoIterator<Item = &'a str>) -> String {
    let all: Vec<&str> = lines.into_iter().collect();
    all.iter()
        .find_map(|l| {
            let start = l.find("trace ")? + "trace ".len();
            let id = l.get(start..start + 32)?;
            (l[start + 32..].starts_with(" found in ") && id.bytes().all(|b| b.is_ascii_hexdigit()))
                .then(|| id.to_string())
        })
        .unwrap_or_else(|| panic!("no round-trip line in {all:#?}"))
}

/// The resource spans and the span with this trace id in `audit` (JSON lines).
pub fn audited_span(audit: &str, trace_id: &str) -> (Value, Value) {
    for line in audit.lines() {
        let v: Value = serde_json::from_str(line).expect("audit line is JSON");
        for rs in v["resourceSpans"].as_array().into_iter().flatten() {
            for ss in rs["scopeSpans"].as_array().into_iter().flatten() {
                for span in ss["spans"].as_array().into_iter().flatten() {
                    if span["traceId"] == trace_id {
                        return (rs.clone(), span.clone());
                    }
                }
            }
        }
    }
    panic!("no span with trace id {trace_id} in:\n{audit}")
}

/// Asserts the span is the one the vLLM stand-in emits for a request: `llm_request` of
/// vLLM's instrumentation scope, from the service named `service`.
pub fn assert_emitted_by_vllm(resource_spans: &Value, span: &Value, service: &str) {
    assert_eq!(span["name"], "llm_request", "{span}");
    assert_eq!(span["kind"], 2, "{span}");
    assert_eq!(
        resource_spans["scopeSpans"][0]["scope"]["name"], "vllm.llm_engine",
        "{resource_spans}"
    );
    assert_eq!(
        resource_spans["resource"]["attributes"][0],
        serde_json::json!({"key": "service.name", "value": {"stringValue": service}}),
        "{resource_spans}"
    );
}
