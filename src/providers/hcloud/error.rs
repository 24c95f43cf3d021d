//! Errors of the Hetzner client: API error codes mapped to messages and help lines, transport
//! failures, failed or stuck actions. Nothing here can contain the token: errors are built from the
//! method, the path, the response and the status only, never from request headers.

use std::fmt;
use std::time::Duration;

use miette::Diagnostic;
use serde::Deserialize;
use thiserror::Error;

use super::ids::ActionId;
use super::labels::LabelError;
use super::models::ActionResource;

/// An API error code (`error.code`). Known codes get variants; anything else is kept verbatim.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    JsonError,
    Unauthorized,
    Forbidden,
    TokenReadonly,
    Maintenance,
    ResourceLimitExceeded,
    NotFound,
    MethodNotAllowed,
    UniquenessError,
    Conflict,
    DeprecatedApiEndpoint,
    ResourceUnavailable,
    InvalidInput,
    ServiceError,
    UnsupportedError,
    Locked,
    Protected,
    RateLimitExceeded,
    ServerError,
    BadGateway,
    Unavailable,
    Timeout,
    ServerNotStopped,
    InvalidServerType,
    PlacementError,
    ResourceInUse,
    NoSpaceLeftInLocation,
    FirewallAlreadyApplied,
    FirewallResourceNotFound,
    FirewallManagedByLabelSelector,
    VolumeAlreadyAttached,
    Other(String),
}

impl ErrorCode {
    pub fn parse(code: &str) -> Self {
        match code {
            "json_error" => Self::JsonError,
            "unauthorized" => Self::Unauthorized,
            "forbidden" => Self::Forbidden,
            "token_readonly" => Self::TokenReadonly,
            "maintenance" => Self::Maintenance,
            "resource_limit_exceeded" => Self::ResourceLimitExceeded,
            "not_found" => Self::NotFound,
            "method_not_allowed" => Self::MethodNotAllowed,
            "uniqueness_error" => Self::UniquenessError,
            "conflict" => Self::Conflict,
            "deprecated_api_endpoint" => Self::DeprecatedApiEndpoint,
            "resource_unavailable" => Self::ResourceUnavailable,
            "invalid_input" => Self::InvalidInput,
            "service_error" => Self::ServiceError,
            "unsupported_error" => Self::UnsupportedError,
            "locked" => Self::Locked,
            "protected" => Self::Protected,
            // `limit_reached` is the old name of the same condition.
            "rate_limit_exceeded" | "limit_reached" => Self::RateLimitExceeded,
            "server_error" => Self::ServerError,
            "bad_gateway" => Self::BadGateway,
            "unavailable" => Self::Unavailable,
            "timeout" => Self::Timeout,
            "server_not_stopped" => Self::ServerNotStopped,
            "invalid_server_type" => Self::InvalidServerType,
            "placement_error" => Self::PlacementError,
            "resource_in_use" => Self::ResourceInUse,
            "no_space_left_in_location" => Self::NoSpaceLeftInLocation,
            "firewall_already_applied" => Self::FirewallAlreadyApplied,
            "firewall_resource_not_found" => Self::FirewallResourceNotFound,
            "firewall_managed_by_label_selector" => Self::FirewallManagedByLabelSelector,
            "volume_already_attached" => Self::VolumeAlreadyAttached,
            other => Self::Other(other.to_owned()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Self::JsonError => "json_error",
            Self::Unauthorized => "unauthorized",
            Self::Forbidden => "forbidden",
            Self::TokenReadonly => "token_readonly",
            Self::Maintenance => "maintenance",
            Self::ResourceLimitExceeded => "resource_limit_exceeded",
            Self::NotFound => "not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::UniquenessError => "uniqueness_error",
            Self::Conflict => "conflict",
            Self::DeprecatedApiEndpoint => "deprecated_api_endpoint",
            Self::ResourceUnavailable => "resource_unavailable",
            Self::InvalidInput => "invalid_input",
            Self::ServiceError => "service_error",
            Self::UnsupportedError => "unsupported_error",
            Self::Locked => "locked",
            Self::Protected => "protected",
            Self::RateLimitExceeded => "rate_limit_exceeded",
            Self::ServerError => "server_error",
            Self::BadGateway => "bad_gateway",
            Self::Unavailable => "unavailable",
            Self::Timeout => "timeout",
            Self::ServerNotStopped => "server_not_stopped",
            Self::InvalidServerType => "invalid_server_type",
            Self::PlacementError => "placement_error",
            Self::ResourceInUse => "resource_in_use",
            Self::NoSpaceLeftInLocation => "no_space_left_in_location",
            Self::FirewallAlreadyApplied => "firewall_already_applied",
            Self::FirewallResourceNotFound => "firewall_resource_not_found",
            Self::FirewallManagedByLabelSelector => "firewall_managed_by_label_selector",
            Self::VolumeAlreadyAttached => "volume_already_attached",
            Self::Other(code) => code,
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The `error` object of an API error response.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct ErrorBody {
    pub code: String,
    pub message: String,
    #[serde(default)]
    pub details: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct ErrorEnvelope {
    pub error: ErrorBody,
}

/// One field named by `invalid_input` (with messages) or `uniqueness_error` (without).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct FieldError {
    pub name: String,
    #[serde(default)]
    pub messages: Vec<String>,
}

/// An error the API answered with, plus where it happened.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub method: String,
    pub path: String,
    pub status: u16,
    pub code: ErrorCode,
    pub message: String,
    /// Fields from `details.fields` (`invalid_input`, `uniqueness_error`).
    pub fields: Vec<FieldError>,
    /// Limit names from `details.limits` (`resource_limit_exceeded`).
    pub limits: Vec<String>,
    /// `X-Correlation-Id`, the ID Hetzner support asks for.
    pub correlation_id: Option<String>,
    /// How many HTTP attempts were made before giving up.
    pub attempts: u32,
}

impl ApiError {
    pub(crate) fn from_body(
        method: &str,
        path: &str,
        status: u16,
        body: ErrorBody,
        correlation_id: Option<String>,
    ) -> Self {
        let mut fields = Vec::new();
        let mut limits = Vec::new();
        if let Some(details) = &body.details {
            if let Some(list) = details.get("fields") {
                fields = serde_json::from_value(list.clone()).unwrap_or_default();
            }
            if let Some(list) = details.get("limits").and_then(|l| l.as_array()) {
                limits = list
                    .iter()
                    .filter_map(|l| l.get("name").and_then(|n| n.as_str()).map(str::to_owned))
                    .collect();
            }
        }
        Self {
            method: method.to_owned(),
            path: path.to_owned(),
            status,
            code: ErrorCode::parse(&body.code),
            message: body.message,
            fields,
            limits,
            correlation_id,
            attempts: 1,
        }
    }

    fn help_text(&self) -> Option<String> {
        let names = |v: &[String]| v.join(", ");
        let field_names: Vec<String> = self.fields.iter().map(|f| f.name.clone()).collect();
        Some(match &self.code {
            ErrorCode::Unauthorized => "check HCLOUD_TOKEN: the token is unknown, revoked or was \
                 created in another project"
                .to_owned(),
            ErrorCode::Forbidden | ErrorCode::TokenReadonly => {
                "the token may not do this; a read-only token cannot change resources, create a \
                 Read & Write token for the project"
                    .to_owned()
            }
            ErrorCode::InvalidInput => {
                if field_names.is_empty() {
                    "the API rejected the request body; check the values in stack.hcl".to_owned()
                } else {
                    format!(
                        "fix the value of {} in stack.hcl; retrying cannot help",
                        names(&field_names)
                    )
                }
            }
            ErrorCode::UniquenessError => format!(
                "another resource in the project already uses this {}; rename it, or adopt the \
                 existing one if sovstack created it",
                if field_names.is_empty() {
                    "value".to_owned()
                } else {
                    names(&field_names)
                }
            ),
            ErrorCode::Protected => "the resource has delete/rebuild protection; lift it with \
                 change_protection first if this is intended"
                .to_owned(),
            ErrorCode::NotFound => "the resource no longer exists (deleted outside sovstack?); \
                 run refresh to update the state"
                .to_owned(),
            ErrorCode::ResourceLimitExceeded => format!(
                "the project's quota is reached{}; delete unused resources or ask Hetzner for a \
                 limit increase",
                if self.limits.is_empty() {
                    String::new()
                } else {
                    format!(" for {}", names(&self.limits))
                }
            ),
            ErrorCode::RateLimitExceeded => "the project's request budget (3600/hour by default) \
                 is used up; wait a few minutes or lower the parallelism"
                .to_owned(),
            ErrorCode::Locked => "another action is still running on this resource; wait for it \
                 and try again"
                .to_owned(),
            ErrorCode::Conflict => {
                "the resource changed while the request ran; try again".to_owned()
            }
            ErrorCode::Maintenance => {
                "Hetzner is running maintenance on this resource; try again later".to_owned()
            }
            ErrorCode::ResourceUnavailable => "the resource is not available here, e.g. the \
                 server type cannot be ordered in this location; pick another location or type"
                .to_owned(),
            ErrorCode::ServerNotStopped => "the server must be powered off first".to_owned(),
            ErrorCode::InvalidServerType => {
                "the new server type is not compatible (architecture, storage or disk size)"
                    .to_owned()
            }
            ErrorCode::ResourceInUse => {
                "the resource is still in use; detach or remove it from all resources first"
                    .to_owned()
            }
            ErrorCode::NoSpaceLeftInLocation => {
                "the location has no capacity left; pick another location".to_owned()
            }
            ErrorCode::DeprecatedApiEndpoint => {
                "this API endpoint was removed; upgrade sovstack".to_owned()
            }
            ErrorCode::FirewallManagedByLabelSelector => {
                "the server gets this firewall through a label selector; change its labels or \
                 the selector instead"
                    .to_owned()
            }
            ErrorCode::FirewallAlreadyApplied => {
                "the firewall is already applied to this resource".to_owned()
            }
            ErrorCode::VolumeAlreadyAttached => {
                "the volume is attached to a server; detach it first".to_owned()
            }
            ErrorCode::ServerError
            | ErrorCode::BadGateway
            | ErrorCode::Unavailable
            | ErrorCode::Timeout => format!(
                "a Hetzner-side failure{}; try again later, and quote the correlation ID to \
                 Hetzner support if it persists",
                if self.attempts > 1 {
                    format!(" that persisted over {} attempts", self.attempts)
                } else {
                    String::new()
                }
            ),
            _ => return None,
        })
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} failed: {} ({}, HTTP {}",
            self.method, self.path, self.message, self.code, self.status
        )?;
        if let Some(id) = &self.correlation_id {
            write!(f, ", correlation ID {id}")?;
        }
        if self.attempts > 1 {
            write!(f, ", after {} attempts", self.attempts)?;
        }
        f.write_str(")")?;
        for field in &self.fields {
            if field.messages.is_empty() {
                write!(f, "\n  field `{}`", field.name)?;
            } else {
                write!(
                    f,
                    "\n  field `{}`: {}",
                    field.name,
                    field.messages.join("; ")
                )?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for ApiError {}

impl Diagnostic for ApiError {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(format!("hcloud::{}", self.code)))
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help_text()
            .map(|h| Box::new(h) as Box<dyn fmt::Display + 'a>)
    }
}

/// A finished action whose status is `error`.
#[derive(Debug, Clone)]
pub struct ActionFailure {
    pub id: ActionId,
    pub command: String,
    pub code: String,
    pub message: String,
    pub resources: Vec<ActionResource>,
    /// Other actions of the same wait that also failed.
    pub also_failed: Vec<ActionId>,
}

impl fmt::Display for ActionFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "action {} ({}) failed: {} ({})",
            self.id, self.command, self.message, self.code
        )?;
        if !self.resources.is_empty() {
            let list: Vec<String> = self
                .resources
                .iter()
                .map(|r| format!("{} {}", r.kind, r.id))
                .collect();
            write!(f, " on {}", list.join(", "))?;
        }
        if !self.also_failed.is_empty() {
            let ids: Vec<String> = self.also_failed.iter().map(|i| i.to_string()).collect();
            write!(f, "; actions {} failed too", ids.join(", "))?;
        }
        Ok(())
    }
}

/// Which kind of transport failure happened; decides whether a retry is safe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportKind {
    /// The connection could not be established: the request was certainly not sent.
    Connect,
    /// No (complete) answer in time: the request may or may not have been applied.
    Timeout,
    /// The connection broke during the exchange: the request may or may not have been applied.
    Interrupted,
}

impl fmt::Display for TransportKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Connect => "could not connect",
            Self::Timeout => "timed out",
            Self::Interrupted => "connection interrupted",
        })
    }
}

#[derive(Debug, Error, Diagnostic)]
pub enum HcloudError {
    #[error("HCLOUD_TOKEN is not set or empty")]
    #[diagnostic(
        code(hcloud::missing_token),
        help(
            "create an API token in the Hetzner Console (Security > API tokens) and export it as HCLOUD_TOKEN"
        )
    )]
    MissingToken,

    #[error("HCLOUD_TOKEN contains characters that cannot be sent in an HTTP header")]
    #[diagnostic(
        code(hcloud::invalid_token),
        help("check HCLOUD_TOKEN for stray spaces, quotes or line breaks in the middle")
    )]
    InvalidToken,

    #[error("invalid Hetzner API endpoint `{endpoint}`: {reason}")]
    #[diagnostic(
        code(hcloud::invalid_endpoint),
        help("HCLOUD_ENDPOINT must be an http(s) URL such as https://api.hetzner.cloud/v1")
    )]
    InvalidEndpoint { endpoint: String, reason: String },

    #[error("could not build the HTTP client: {0}")]
    #[diagnostic(code(hcloud::client))]
    ClientBuild(#[source] reqwest::Error),

    #[error(transparent)]
    #[diagnostic(transparent)]
    Api(Box<ApiError>),

    #[error("{method} {path} failed with HTTP {status}{}: {body}", correlation_suffix(.correlation_id))]
    #[diagnostic(
        code(hcloud::http_status),
        help("the API answered without a JSON error body; try again later")
    )]
    HttpStatus {
        method: String,
        path: String,
        status: u16,
        correlation_id: Option<String>,
        /// The start of the response body, for diagnosis.
        body: String,
        attempts: u32,
    },

    #[error("{method} {path}: {kind} after {attempts} attempt(s)")]
    #[diagnostic(
        code(hcloud::transport),
        help("check network access to the API endpoint (HCLOUD_ENDPOINT)")
    )]
    Transport {
        method: String,
        path: String,
        kind: TransportKind,
        attempts: u32,
        #[source]
        source: reqwest::Error,
    },

    #[error("{method} {path}: the outcome is unknown, the request may have been applied")]
    #[diagnostic(
        code(hcloud::outcome_unknown),
        help("look the resource up by its sovstack labels and adopt it before creating it again")
    )]
    OutcomeUnknown {
        method: String,
        path: String,
        #[source]
        source: Box<HcloudError>,
    },

    #[error("{method} {path}: unexpected response body: {source}")]
    #[diagnostic(
        code(hcloud::decode),
        help("the API answered with a shape sovstack does not understand; upgrade sovstack")
    )]
    Decode {
        method: String,
        path: String,
        #[source]
        source: serde_json::Error,
    },

    #[error("{method} {path}: could not encode the request body: {source}")]
    #[diagnostic(code(hcloud::encode))]
    Encode {
        method: String,
        path: String,
        #[source]
        source: serde_json::Error,
    },

    #[error("{0}")]
    #[diagnostic(
        code(hcloud::action_failed),
        help("the API accepted the request but the operation failed; see the error code above")
    )]
    ActionFailed(Box<ActionFailure>),

    #[error("gave up waiting for actions {} after {waited:?}", join_ids(.pending))]
    #[diagnostic(
        code(hcloud::action_timeout),
        help("the actions may still finish; run refresh later to see the outcome")
    )]
    ActionTimeout {
        pending: Vec<ActionId>,
        waited: Duration,
    },

    #[error("the API does not know actions {}", join_ids(.ids))]
    #[diagnostic(code(hcloud::actions_not_found))]
    ActionsNotFound { ids: Vec<ActionId> },

    #[error(transparent)]
    #[diagnostic(code(hcloud::label_selector))]
    LabelSelector(#[from] LabelError),

    #[error("request budget of {budget} API calls for this run is used up")]
    #[diagnostic(
        code(hcloud::request_budget),
        help("raise the budget or split the work; the project allows 3600 requests per hour")
    )]
    RequestBudgetExhausted { budget: u64 },

    #[error("{path}: broken pagination: {reason}")]
    #[diagnostic(code(hcloud::pagination))]
    Pagination { path: String, reason: String },
}

fn correlation_suffix(id: &Option<String>) -> String {
    id.as_ref()
        .map(|id| format!(", correlation ID {id}"))
        .unwrap_or_default()
}

fn join_ids(ids: &[ActionId]) -> String {
    ids.iter()
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

impl HcloudError {
    /// The API error code, if the API answered with one.
    pub fn api_code(&self) -> Option<&ErrorCode> {
        match self {
            Self::Api(e) => Some(&e.code),
            Self::OutcomeUnknown { source, .. } => source.api_code(),
            _ => None,
        }
    }

    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::Api(e) if e.code == ErrorCode::NotFound)
    }

    /// True when a mutation may have been applied although no success was seen; the caller must
    /// look the resource up (by labels) before trying again.
    pub fn is_outcome_unknown(&self) -> bool {
        matches!(self, Self::OutcomeUnknown { .. })
    }

    /// The `X-Correlation-Id` of the failing response, if any.
    pub fn correlation_id(&self) -> Option<&str> {
        match self {
            Self::Api(e) => e.correlation_id.as_deref(),
            Self::HttpStatus { correlation_id, .. } => correlation_id.as_deref(),
            Self::OutcomeUnknown { source, .. } => source.correlation_id(),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use miette::Diagnostic;

    fn api(code: &str, details: serde_json::Value) -> ApiError {
        let body = ErrorBody {
            code: code.to_owned(),
            message: "msg".to_owned(),
            details: Some(details),
        };
        ApiError::from_body("POST", "/servers", 422, body, Some("abc-123".to_owned()))
    }

    #[test]
    fn invalid_input_lists_fields_and_correlation() {
        let e = api(
            "invalid_input",
            serde_json::json!({"fields":[{"name":"broken_field","messages":["is too long"]}]}),
        );
        let text = e.to_string();
        assert!(text.contains("POST /servers failed: msg (invalid_input, HTTP 422"));
        assert!(text.contains("correlation ID abc-123"));
        assert!(text.contains("field `broken_field`: is too long"));
        let help = e.help().map(|h| h.to_string()).unwrap_or_default();
        assert!(help.contains("broken_field"), "{help}");
        assert_eq!(
            e.code().map(|c| c.to_string()).as_deref(),
            Some("hcloud::invalid_input")
        );
    }

    #[test]
    fn unauthorized_points_at_the_variable() {
        let e = api("unauthorized", serde_json::Value::Null);
        let help = e.help().map(|h| h.to_string()).unwrap_or_default();
        assert!(help.contains("check HCLOUD_TOKEN"));
    }

    #[test]
    fn limits_and_uniqueness_details() {
        let e = api(
            "resource_limit_exceeded",
            serde_json::json!({"limits":[{"name":"project_limit"}]}),
        );
        assert_eq!(e.limits, vec!["project_limit".to_owned()]);
        assert!(e.help().unwrap().to_string().contains("project_limit"));
        let e = api(
            "uniqueness_error",
            serde_json::json!({"fields":[{"name":"public_key"}]}),
        );
        assert!(e.help().unwrap().to_string().contains("public_key"));
    }

    #[test]
    fn codes_round_trip_and_alias() {
        for code in [
            "conflict",
            "locked",
            "invalid_input",
            "protected",
            "not_found",
            "server_not_stopped",
        ] {
            assert_eq!(ErrorCode::parse(code).as_str(), code);
        }
        assert_eq!(
            ErrorCode::parse("limit_reached"),
            ErrorCode::RateLimitExceeded
        );
        assert_eq!(
            ErrorCode::parse("brand_new"),
            ErrorCode::Other("brand_new".into())
        );
    }
}
