//! Contract checks against the official Hetzner Cloud OpenAPI document (`tests/data/hcloud/cloud.spec.json`).
//!
//! The document is loaded once. A concrete `METHOD /v1/path` is matched to its operation (the most literal template
//! wins, so `/servers/{id}/actions/poweroff` beats `/servers/{id}/actions/{action_id}`), then request bodies, query
//! parameters and responses (status + body) are validated with JSON Schema 2020-12, the dialect of OpenAPI 3.1.
//! The spec inlines its schemas; any `#/components/...` reference is resolved against the whole document.

#![allow(dead_code)]

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, OnceLock};

use jsonschema::{Draft, Validator};
use serde_json::Value;
use sovstack::sandbox::LoggedRequest;

/// One way a message breaks the contract.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// `METHOD /path` of the exchange.
    pub exchange: String,
    /// `request`, `query` or `response <status>`.
    pub part: String,
    /// JSON pointer into the body (empty for the root).
    pub instance_path: String,
    pub message: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} [{}] at `{}`: {}",
            self.exchange, self.part, self.instance_path, self.message
        )
    }
}

/// One operation of the spec.
#[derive(Debug, Clone)]
pub struct Operation {
    pub method: String,
    /// The template relative to `/v1`, e.g. `/servers/{id}/actions/poweroff`.
    pub template: String,
    pub operation_id: String,
    segments: Vec<Option<String>>,
    /// JSON pointer of the operation object.
    pointer: String,
}

pub struct OpenApi {
    doc: Arc<Value>,
    operations: Vec<Operation>,
    validators: Mutex<HashMap<String, Arc<Validator>>>,
}

fn escape(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

/// The spec, loaded and indexed once per test binary.
pub fn spec() -> &'static OpenApi {
    static SPEC: OnceLock<OpenApi> = OnceLock::new();
    SPEC.get_or_init(|| {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/hcloud/cloud.spec.json"
        );
        let text = std::fs::read_to_string(path).expect("read the vendored Hetzner OpenAPI spec");
        let doc: Value = serde_json::from_str(&text).expect("the vendored spec is JSON");
        OpenApi::new(doc)
    })
}

impl OpenApi {
    pub fn new(doc: Value) -> Self {
        let mut operations = Vec::new();
        if let Some(paths) = doc["paths"].as_object() {
            for (template, item) in paths {
                let Some(item) = item.as_object() else {
                    continue;
                };
                for (method, op) in item {
                    if !["get", "post", "put", "delete", "patch"].contains(&method.as_str()) {
                        continue;
                    }
                    let segments = template
                        .split('/')
                        .filter(|s| !s.is_empty())
                        .map(|s| (!s.starts_with('{')).then(|| s.to_owned()))
                        .collect();
                    operations.push(Operation {
                        method: method.to_uppercase(),
                        template: template.clone(),
                        operation_id: op["operationId"].as_str().unwrap_or_default().to_owned(),
                        segments,
                        pointer: format!("/paths/{}/{method}", escape(template)),
                    });
                }
            }
        }
        Self {
            doc: Arc::new(doc),
            operations,
            validators: Mutex::new(HashMap::new()),
        }
    }

    pub fn operations(&self) -> &[Operation] {
        &self.operations
    }

    /// The operation for a concrete method and path (with or without `/v1`, without the query).
    pub fn find(&self, method: &str, path: &str) -> Option<&Operation> {
        let path = path.strip_prefix("/v1").unwrap_or(path);
        let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        self.operations
            .iter()
            .filter(|op| op.method.eq_ignore_ascii_case(method) && op.segments.len() == segs.len())
            .filter(|op| {
                op.segments
                    .iter()
                    .zip(&segs)
                    .all(|(t, s)| t.as_deref().is_none_or(|lit| lit == *s))
            })
            .max_by_key(|op| op.segments.iter().filter(|s| s.is_some()).count())
    }

    fn at(&self, pointer: &str) -> Option<&Value> {
        self.doc.pointer(pointer)
    }

    /// Compiles (once) the schema at `pointer`; `$ref`s into the document resolve against its root.
    fn validator(&self, pointer: &str) -> Result<Arc<Validator>, String> {
        if let Some(v) = self.validators.lock().unwrap().get(pointer) {
            return Ok(v.clone());
        }
        let schema = self
            .at(pointer)
            .ok_or_else(|| format!("spec has no schema at {pointer}"))?;
        let schema = if schema.to_string().contains("\"$ref\"") {
            // Validate against the whole document, entering it at this schema, so `#/components/...` resolves.
            let mut root = (*self.doc).clone();
            if let Some(obj) = root.as_object_mut() {
                obj.insert("$ref".into(), Value::String(format!("#{pointer}")));
            }
            root
        } else {
            schema.clone()
        };
        let validator = jsonschema::options()
            .with_draft(Draft::Draft202012)
            .should_validate_formats(true)
            .should_ignore_unknown_formats(true)
            .build(&schema)
            .map_err(|e| format!("schema at {pointer} does not compile: {e}"))?;
        let validator = Arc::new(validator);
        self.validators
            .lock()
            .unwrap()
            .insert(pointer.to_owned(), validator.clone());
        Ok(validator)
    }

    fn check(&self, pointer: &str, instance: &Value, exchange: &str, part: &str) -> Vec<Violation> {
        match self.validator(pointer) {
            Err(message) => vec![Violation {
                exchange: exchange.into(),
                part: part.into(),
                instance_path: String::new(),
                message,
            }],
            Ok(v) => v
                .iter_errors(instance)
                .map(|e| Violation {
                    exchange: exchange.into(),
                    part: part.into(),
                    instance_path: e.instance_path().to_string(),
                    message: e.to_string(),
                })
                .collect(),
        }
    }

    fn operation_or_violation(&self, method: &str, path: &str) -> Result<&Operation, Violation> {
        self.find(method, path).ok_or_else(|| Violation {
            exchange: format!("{method} {path}"),
            part: "path".into(),
            instance_path: String::new(),
            message: "no operation in the spec matches this method and path".into(),
        })
    }

    /// Checks a request body against the operation's `requestBody` schema.
    pub fn validate_request(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Vec<Violation> {
        let op = match self.operation_or_violation(method, path) {
            Ok(op) => op,
            Err(v) => return vec![v],
        };
        let exchange = format!("{method} {}", op.template);
        let rb = format!("{}/requestBody", op.pointer);
        let Some(request_body) = self.at(&rb) else {
            return match body {
                Some(b) if !(b.is_object() && b.as_object().is_some_and(|o| o.is_empty())) => {
                    vec![Violation {
                        exchange,
                        part: "request".into(),
                        instance_path: String::new(),
                        message: "the operation takes no request body".into(),
                    }]
                }
                _ => vec![],
            };
        };
        match body {
            None if request_body["required"] == Value::Bool(true) => vec![Violation {
                exchange,
                part: "request".into(),
                instance_path: String::new(),
                message: "a request body is required".into(),
            }],
            None => vec![],
            Some(b) => self.check(
                &format!("{rb}/content/application~1json/schema"),
                b,
                &exchange,
                "request",
            ),
        }
    }

    /// Checks query parameters: each must be declared for the operation, with a value of the declared type.
    pub fn validate_query(&self, method: &str, path: &str, query: Option<&str>) -> Vec<Violation> {
        let op = match self.operation_or_violation(method, path) {
            Ok(op) => op,
            Err(v) => return vec![v],
        };
        let exchange = format!("{method} {}", op.template);
        let params = self
            .at(&format!("{}/parameters", op.pointer))
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let mut out = Vec::new();
        for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let k = sovstack::sandbox::query::decode(k);
            let v = sovstack::sandbox::query::decode(v);
            let Some(param) = params
                .iter()
                .find(|p| p["in"] == "query" && p["name"] == k.as_str())
            else {
                out.push(Violation {
                    exchange: exchange.clone(),
                    part: "query".into(),
                    instance_path: format!("/{k}"),
                    message: format!("query parameter `{k}` is not declared for this operation"),
                });
                continue;
            };
            let schema = &param["schema"];
            let (ty, enumeration) = if schema["type"] == "array" {
                (&schema["items"]["type"], &schema["items"]["enum"])
            } else {
                (&schema["type"], &schema["enum"])
            };
            let bad_type = match ty.as_str() {
                Some("integer") => v.parse::<i64>().is_err(),
                Some("boolean") => v != "true" && v != "false",
                _ => false,
            };
            let bad_enum = enumeration
                .as_array()
                .is_some_and(|e| !e.iter().any(|x| x.as_str() == Some(v.as_str())));
            if bad_type || bad_enum {
                out.push(Violation {
                    exchange: exchange.clone(),
                    part: "query".into(),
                    instance_path: format!("/{k}"),
                    message: format!("value `{v}` does not fit the declared schema {schema}"),
                });
            }
        }
        out
    }

    /// Checks a response: the status must be declared (exactly, or as `4xx`/`5xx`/`default`) and the body must
    /// match that response's schema; a response without content in the spec must have no body.
    pub fn validate_response(
        &self,
        method: &str,
        path: &str,
        status: u16,
        body: Option<&Value>,
    ) -> Vec<Violation> {
        let op = match self.operation_or_violation(method, path) {
            Ok(op) => op,
            Err(v) => return vec![v],
        };
        let exchange = format!("{method} {}", op.template);
        let part = format!("response {status}");
        let responses = format!("{}/responses", op.pointer);
        let class = format!("{}xx", status / 100);
        let key = [
            status.to_string(),
            class.clone(),
            class.to_uppercase(),
            "default".into(),
        ]
        .into_iter()
        .find(|k| self.at(&format!("{responses}/{k}")).is_some());
        let Some(key) = key else {
            return vec![Violation {
                exchange,
                part,
                instance_path: String::new(),
                message: format!("status {status} is not declared for this operation"),
            }];
        };
        let schema_ptr = format!("{responses}/{key}/content/application~1json/schema");
        match (self.at(&schema_ptr).is_some(), body) {
            (true, Some(b)) => self.check(&schema_ptr, b, &exchange, &part),
            (true, None) => vec![Violation {
                exchange,
                part,
                instance_path: String::new(),
                message: "a JSON body is declared but the response has none".into(),
            }],
            (false, Some(_)) => vec![Violation {
                exchange,
                part,
                instance_path: String::new(),
                message: "the spec declares no body for this response".into(),
            }],
            (false, None) => vec![],
        }
    }
}

/// What to check in a request log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestCheck {
    /// Validate every request (a client under test must never send an invalid one).
    All,
    /// Validate requests the server accepted (2xx); rejected ones are error-path tests.
    Accepted,
    /// Validate no request, only the answers: the client is not ours (the official clients send IDs as JSON numbers
    /// where the spec types the field as a string, and the API accepts them).
    None,
}

/// Validates every entry of a sandbox request log and returns every violation.
pub fn check_log(entries: &[LoggedRequest], requests: RequestCheck) -> Vec<Violation> {
    let api = spec();
    let mut out = Vec::new();
    for e in entries {
        let accepted = (200..300).contains(&e.status);
        let check_request = match requests {
            RequestCheck::All => true,
            RequestCheck::Accepted => accepted,
            RequestCheck::None => false,
        };
        if check_request {
            out.extend(api.validate_request(&e.method, &e.path, e.request_body.as_ref()));
            out.extend(api.validate_query(&e.method, &e.path, e.query.as_deref()));
        }
        if api.find(&e.method, &e.path).is_some() {
            out.extend(api.validate_response(
                &e.method,
                &e.path,
                e.status,
                e.response_body.as_ref(),
            ));
        } else if e.status != 404 && e.status != 405 {
            // Paths outside the spec may only be answered with an error.
            out.push(Violation {
                exchange: format!("{} {}", e.method, e.path),
                part: "path".into(),
                instance_path: String::new(),
                message: format!("answered {} for a path the spec does not have", e.status),
            });
        }
    }
    out
}

/// Panics with every violation in the log, one per line.
pub fn assert_log_conforms(entries: &[LoggedRequest], requests: RequestCheck) {
    let violations = check_log(entries, requests);
    assert!(
        violations.is_empty(),
        "{} contract violation(s) in {} logged exchanges:\n{}",
        violations.len(),
        entries.len(),
        violations
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    );
}
