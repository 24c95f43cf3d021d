//! The span vLLM emits for one request: `llm_request`, kind SERVER, child of the request's
//! `traceparent`, with the `gen_ai.*` attributes vLLM sets, in a resource named by
//! `OTEL_SERVICE_NAME` and the instrumentation scope `vllm.llm_engine`.

use crate::ids::{TraceParent, random_id};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, InstrumentationScope, KeyValue, any_value::Value,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{
    ResourceSpans, ScopeSpans, Span, Status, span::SpanKind,
};
use std::time::{SystemTime, UNIX_EPOCH};

/// What one finished request contributes to its span.
#[derive(Debug, Clone)]
pub struct LlmRequest {
    pub request_id: String,
    /// The served model name.
    pub model: String,
    pub max_tokens: Option<i64>,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub started: SystemTime,
    pub finished: SystemTime,
}

fn attribute(key: &str, value: Value) -> KeyValue {
    KeyValue {
        key: key.to_string(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}

fn unix_nanos(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

impl LlmRequest {
    fn attributes(&self) -> Vec<KeyValue> {
        let latency = self
            .finished
            .duration_since(self.started)
            .unwrap_or_default()
            .as_secs_f64();
        let mut out = vec![
            attribute(
                "gen_ai.response.model",
                Value::StringValue(self.model.clone()),
            ),
            attribute(
                "gen_ai.request.id",
                Value::StringValue(self.request_id.clone()),
            ),
            attribute(
                "gen_ai.usage.prompt_tokens",
                Value::IntValue(self.prompt_tokens),
            ),
            attribute(
                "gen_ai.usage.completion_tokens",
                Value::IntValue(self.completion_tokens),
            ),
            attribute("gen_ai.latency.e2e", Value::DoubleValue(latency)),
        ];
        if let Some(max) = self.max_tokens {
            out.push(attribute("gen_ai.request.max_tokens", Value::IntValue(max)));
        }
        out
    }

    /// The export request holding this request's span, as a child of `parent` when the
    /// request carried a trace context (else the root of a new trace).
    pub fn export_request(
        &self,
        service_name: &str,
        parent: Option<&TraceParent>,
    ) -> std::io::Result<ExportTraceServiceRequest> {
        let trace_id = match parent {
            Some(p) => p.trace_id,
            None => random_id::<16>()?,
        };
        let span = Span {
            trace_id: trace_id.to_vec(),
            span_id: random_id::<8>()?.to_vec(),
            parent_span_id: parent
                .map(|p| p.parent_span_id.to_vec())
                .unwrap_or_default(),
            name: "llm_request".to_string(),
            kind: SpanKind::Server as i32,
            start_time_unix_nano: unix_nanos(self.started),
            end_time_unix_nano: unix_nanos(self.finished),
            attributes: self.attributes(),
            // UNSET: vLLM does not set a status on success.
            status: Some(Status::default()),
            ..Default::default()
        };
        Ok(ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: Some(Resource {
                    attributes: vec![attribute(
                        "service.name",
                        Value::StringValue(service_name.to_string()),
                    )],
                    ..Default::default()
                }),
                scope_spans: vec![ScopeSpans {
                    scope: Some(InstrumentationScope {
                        name: "vllm.llm_engine".to_string(),
                        ..Default::default()
                    }),
                    spans: vec![span],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn request() -> LlmRequest {
        let started = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        LlmRequest {
            request_id: "chatcmpl-1".into(),
            model: "qwen2.5-1.5b".into(),
            max_tokens: Some(1),
            prompt_tokens: 1,
            completion_tokens: 1,
            started,
            finished: started + Duration::from_millis(5),
        }
    }

    #[test]
    fn child_of_the_traceparent() {
        let parent =
            TraceParent::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").unwrap();
        let export = request().export_request("vllm", Some(&parent)).unwrap();
        let span = &export.resource_spans[0].scope_spans[0].spans[0];
        assert_eq!(span.trace_id, parent.trace_id);
        assert_eq!(span.parent_span_id, parent.parent_span_id);
        assert_eq!(span.span_id.len(), 8);
        assert_eq!(span.name, "llm_request");
        assert_eq!(span.kind, SpanKind::Server as i32);
        assert_eq!(
            span.end_time_unix_nano - span.start_time_unix_nano,
            5_000_000
        );
        assert!(
            span.attributes
                .iter()
                .any(|a| a.key == "gen_ai.request.max_tokens")
        );
    }

    #[test]
    fn a_root_without_traceparent() {
        let export = request().export_request("vllm", None).unwrap();
        let span = &export.resource_spans[0].scope_spans[0].spans[0];
        assert_eq!(span.trace_id.len(), 16);
        assert!(span.parent_span_id.is_empty());
    }
}
