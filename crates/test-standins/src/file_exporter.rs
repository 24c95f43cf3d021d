//! The line the collector's `file` exporter appends per batch: the batch as OTLP JSON
//! (`{"resourceSpans":[...]}`: camelCase names, trace and span ids in hex, 64-bit integers as
//! strings), fields holding their zero value left out as the collector's JSON marshaler does,
//! except a span's `status`, which it always writes.

use opentelemetry_proto::tonic::trace::v1::ResourceSpans;
use serde_json::{Map, Value};

/// Object keys written even when empty.
const ALWAYS_WRITTEN: [&str; 1] = ["status"];

/// One JSON line (without the newline) for these resource spans.
pub fn json_line(resource_spans: &[ResourceSpans]) -> serde_json::Result<String> {
    let mut value = serde_json::to_value(resource_spans)?;
    prune(&mut value);
    let mut top = Map::new();
    top.insert("resourceSpans".to_string(), value);
    serde_json::to_string(&Value::Object(top))
}

fn is_zero(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
    }
}

fn prune(v: &mut Value) {
    match v {
        Value::Array(items) => items.iter_mut().for_each(prune),
        Value::Object(fields) => {
            for item in fields.values_mut() {
                prune(item);
            }
            fields.retain(|k, item| ALWAYS_WRITTEN.contains(&k.as_str()) || !is_zero(item));
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::TraceParent;
    use crate::span::LlmRequest;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn otlp_json_with_hex_ids_and_string_integers() {
        let started = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let parent =
            TraceParent::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").unwrap();
        let export = LlmRequest {
            request_id: "chatcmpl-1".into(),
            model: "m".into(),
            max_tokens: Some(1),
            prompt_tokens: 3,
            completion_tokens: 1,
            started,
            finished: started,
        }
        .export_request("vllm", Some(&parent))
        .unwrap();
        let line = json_line(&export.resource_spans).unwrap();
        assert!(!line.contains('\n'));
        let v: Value = serde_json::from_str(&line).unwrap();
        let rs = &v["resourceSpans"][0];
        assert_eq!(
            rs["resource"]["attributes"][0],
            serde_json::json!({"key": "service.name", "value": {"stringValue": "vllm"}})
        );
        assert_eq!(
            rs["scopeSpans"][0]["scope"],
            serde_json::json!({"name": "vllm.llm_engine"})
        );
        let span = &rs["scopeSpans"][0]["spans"][0];
        assert_eq!(span["traceId"], "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(span["parentSpanId"], "00f067aa0ba902b7");
        assert_eq!(span["kind"], 2);
        assert_eq!(span["startTimeUnixNano"], "1700000000000000000");
        assert_eq!(span["status"], serde_json::json!({}));
        assert!(span.get("droppedAttributesCount").is_none());
        assert!(span.get("events").is_none());
        let max = span["attributes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["key"] == "gen_ai.request.max_tokens")
            .unwrap();
        assert_eq!(max["value"], serde_json::json!({"intValue": "1"}));
    }
}
