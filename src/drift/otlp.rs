//! The report as OTLP/HTTP JSON log records, so drift lands in the same collector (and audit
//! trail) as the inference traces: one record per finding and per error, plus one summary record
//! that proves the check ran even when it found nothing.

use super::model::*;
use crate::plan::DriftKind;
use serde_json::{Value as Json, json};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// OTLP severity numbers (logs data model): INFO, WARN, ERROR.
const INFO: (u8, &str) = (9, "INFO");
const WARN: (u8, &str) = (13, "WARN");
const ERROR: (u8, &str) = (17, "ERROR");

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum ExportError {
    #[error("cannot send the drift report to {url}: {source}")]
    #[diagnostic(
        code(sovstack::drift::otlp),
        help(
            "check --otlp-endpoint (or OTEL_EXPORTER_OTLP_ENDPOINT): the base URL of the collector's OTLP/HTTP receiver, e.g. http://127.0.0.1:4318"
        )
    )]
    Send {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("the collector at {url} refused the drift report: HTTP {status}: {body}")]
    #[diagnostic(code(sovstack::drift::otlp))]
    Refused {
        url: String,
        status: u16,
        body: String,
    },
}

/// `{endpoint}/v1/logs`, as the OTLP exporter specification builds signal URLs from the base.
pub fn logs_url(endpoint: &str) -> String {
    format!("{}/v1/logs", endpoint.trim_end_matches('/'))
}

fn attr(key: &str, value: &str) -> Json {
    json!({ "key": key, "value": { "stringValue": value } })
}

fn kind_name(k: DriftKind) -> &'static str {
    match k {
        DriftKind::Policy => "policy",
        DriftKind::Changed => "changed",
        DriftKind::Deleted => "deleted",
        DriftKind::Orphan => "orphan",
    }
}

fn record(time: &str, sev: (u8, &str), body: String, attrs: Vec<Json>) -> Json {
    json!({
        "timeUnixNano": time,
        "observedTimeUnixNano": time,
        "severityNumber": sev.0,
        "severityText": sev.1,
        "body": { "stringValue": body },
        "attributes": attrs,
    })
}

/// The `ExportLogsServiceRequest` body for a report.
pub fn logs_request(r: &DriftReport) -> Json {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos()
        .to_string();
    let mut records = Vec::new();
    for f in &r.findings {
        let sev = if f.kind == DriftKind::Policy {
            ERROR
        } else {
            WARN
        };
        let mut attrs = vec![
            attr("sovstack.stack", &r.stack),
            attr("sovstack.address", &f.address),
            attr("sovstack.drift.kind", kind_name(f.kind)),
            attr("sovstack.drift.area", area_name(f.area)),
            attr("sovstack.drift.remedy", &f.remedy),
        ];
        if !f.changes.is_empty() {
            let names: Vec<&str> = f.changes.iter().map(|c| c.name.as_str()).collect();
            attrs.push(attr("sovstack.drift.attributes", &names.join(",")));
        }
        if let Some(d) = &f.diff {
            attrs.push(attr("sovstack.drift.diff", d));
        }
        records.push(record(
            &now,
            sev,
            format!("{}: {}", f.address, f.summary),
            attrs,
        ));
    }
    for e in &r.errors {
        let mut attrs = vec![
            attr("sovstack.stack", &r.stack),
            attr("sovstack.drift.kind", "error"),
        ];
        if let Some(a) = &e.address {
            attrs.push(attr("sovstack.address", a));
        }
        let body = match &e.address {
            Some(a) => format!("{a} could not be checked: {}", e.message),
            None => format!("could not be checked: {}", e.message),
        };
        records.push(record(&now, ERROR, body, attrs));
    }
    let s = &r.summary;
    let (sev, status) = match r.status {
        Status::Clean => (INFO, "clean"),
        Status::Drift => (WARN, "drift"),
        Status::Error => (ERROR, "error"),
    };
    records.push(record(
        &now,
        sev,
        format!(
            "drift check of stack {}: {status} ({} policy, {} cloud, {} node, {} unapplied, {} errors)",
            r.stack, s.policy, s.cloud, s.node, s.unapplied, s.errors
        ),
        vec![
            attr("sovstack.stack", &r.stack),
            attr("sovstack.drift.status", status),
            attr("sovstack.state.lineage", &r.state.lineage),
        ],
    ));
    json!({
        "resourceLogs": [{
            "resource": { "attributes": [
                attr("service.name", "sovstack"),
                attr("service.version", &r.tool_version),
                attr("sovstack.stack", &r.stack),
            ]},
            "scopeLogs": [{
                "scope": { "name": "sovstack.drift", "version": r.tool_version },
                "logRecords": records,
            }],
        }]
    })
}

fn area_name(a: Area) -> &'static str {
    match a {
        Area::Policy => "policy",
        Area::Cloud => "cloud",
        Area::Node => "node",
    }
}

/// `OTEL_EXPORTER_OTLP_HEADERS` (`k=v,k2=v2`, values percent-decoded only for `%20`, the
/// common case of an `Authorization=Bearer%20...` header).
pub fn headers_from_env() -> Vec<(String, String)> {
    std::env::var("OTEL_EXPORTER_OTLP_HEADERS")
        .ok()
        .map(|v| parse_headers(&v))
        .unwrap_or_default()
}

fn parse_headers(v: &str) -> Vec<(String, String)> {
    v.split(',')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().replace("%20", " ")))
        .filter(|(k, _)| !k.is_empty())
        .collect()
}

/// Sends the report; any non-2xx answer is an error.
pub async fn export(
    endpoint: &str,
    headers: &[(String, String)],
    r: &DriftReport,
) -> Result<(), ExportError> {
    let url = logs_url(endpoint);
    let send = |source| ExportError::Send {
        url: url.clone(),
        source,
    };
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(send)?;
    let mut req = client.post(&url).json(&logs_request(r));
    for (k, v) in headers {
        req = req.header(k.as_str(), v.as_str());
    }
    let resp = req.send().await.map_err(send)?;
    let status = resp.status();
    if status.is_success() {
        return Ok(());
    }
    let body: String = resp
        .text()
        .await
        .unwrap_or_default()
        .chars()
        .take(300)
        .collect();
    Err(ExportError::Refused {
        url,
        status: status.as_u16(),
        body,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_logs_url_is_the_base_plus_the_signal_path() {
        assert_eq!(
            logs_url("http://127.0.0.1:4318"),
            "http://127.0.0.1:4318/v1/logs"
        );
        assert_eq!(
            logs_url("http://127.0.0.1:4318/"),
            "http://127.0.0.1:4318/v1/logs"
        );
    }

    #[test]
    fn headers_parse_like_the_otel_variable() {
        assert_eq!(
            parse_headers("Authorization=Bearer%20abc, x-tenant = t1,bad"),
            vec![
                ("Authorization".to_string(), "Bearer abc".to_string()),
                ("x-tenant".to_string(), "t1".to_string())
            ]
        );
    }
}
