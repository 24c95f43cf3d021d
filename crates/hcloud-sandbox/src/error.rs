//! API errors in the spec's shape: `{"error": {"code", "message", "details"}}` with the status from its error table.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: String,
    pub message: String,
    pub details: Value,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        Self {
            status,
            code: code.to_owned(),
            message: message.into(),
            details: Value::Null,
        }
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{what} not found"),
        )
    }

    pub fn json_error(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "json_error", message)
    }

    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "unable to authenticate",
        )
    }

    pub fn locked(what: &str) -> Self {
        Self::new(
            StatusCode::LOCKED,
            "locked",
            format!("{what} is locked: another action is running"),
        )
    }

    /// 423 `protected`: the resource's protection forbids this (`what` is e.g. `deletion`).
    pub fn protected(noun: &str, id: u64, what: &str) -> Self {
        Self::new(
            StatusCode::LOCKED,
            "protected",
            format!(
                "{noun} {id} is protected against {what}; lift it with change_protection first"
            ),
        )
    }

    pub fn rate_limited(limit: u32) -> Self {
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limit_exceeded",
            format!("limit of {limit} requests per hour reached"),
        )
    }

    /// 422 with an operation-specific code (`server_not_stopped`, `resource_in_use`, ...).
    pub fn unprocessable(code: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
    }

    /// `invalid_input` for a single field.
    pub fn invalid_field(field: &str, message: &str) -> Self {
        Self::invalid_fields(vec![(field.to_owned(), vec![message.to_owned()])])
    }

    /// `invalid_input` listing every bad field at once, as `details.fields[{name, messages}]`.
    pub fn invalid_fields(fields: Vec<(String, Vec<String>)>) -> Self {
        let message = match fields.first() {
            Some((name, msgs)) => format!(
                "invalid input in field '{name}': {}",
                msgs.first().map(String::as_str).unwrap_or("is invalid")
            ),
            None => "invalid input".to_owned(),
        };
        let details = json!({"fields": fields
            .iter()
            .map(|(name, messages)| json!({"name": name, "messages": messages}))
            .collect::<Vec<_>>()});
        Self {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            code: "invalid_input".to_owned(),
            message,
            details,
        }
    }

    pub fn uniqueness(field: &str, message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::CONFLICT,
            code: "uniqueness_error".to_owned(),
            message: message.into(),
            details: json!({"fields": [{"name": field}]}),
        }
    }

    pub fn body(&self) -> Value {
        json!({"error": {"code": self.code, "message": self.message, "details": self.details}})
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, axum::Json(self.body())).into_response()
    }
}
