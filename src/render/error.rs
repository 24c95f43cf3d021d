//! Why a stack cannot be rendered; each error names what to change.

use thiserror::Error;

#[derive(Debug, Error, miette::Diagnostic)]
pub enum RenderError {
    #[error(
        "sensitive value{} not provided: {}",
        if .0.len() == 1 { "" } else { "s" },
        .0.iter().map(|m| format!("var.{} (for `{}` of service `{}`)", m.variable, m.env, m.service)).collect::<Vec<_>>().join(", ")
    )]
    #[diagnostic(
        code(sovstack::render::missing_secret),
        help("{}", missing_secret_help(.0))
    )]
    MissingSecrets(Vec<MissingSecret>),

    #[error("values not known yet: {}", .references.join(", "))]
    #[diagnostic(
        code(sovstack::render::unknown),
        help("{}", unknown_help(.references))
    )]
    Unresolved {
        references: Vec<String>,
        /// `node:remote_path` of every artifact that needs them.
        artifacts: Vec<String>,
    },

    #[error("no host key was supplied for server `{server}`")]
    #[diagnostic(
        code(sovstack::render::host_key),
        help(
            "sovstack generates and pins the host key of every server it creates; pass it in RenderOptions.host_keys, or render with RenderMode::Redacted for a plan"
        )
    )]
    MissingHostKey { server: String },

    #[error("no digest key to record secret-bearing artifacts with")]
    #[diagnostic(
        code(sovstack::render::digest_key),
        help(
            "set RenderOptions.digest_key (the stack's state key): digests of files holding secrets are keyed so that recorded hashes cannot be used to guess the secrets"
        )
    )]
    MissingDigestKey,

    #[error(
        "the value of `{env}` for service `{service}` cannot be written to a compose env file safely: {reason}"
    )]
    #[diagnostic(
        code(sovstack::render::env_value),
        help(
            "compose reads single-quoted env values literally but has no escape for a single quote or a trailing backslash; choose a secret without them"
        )
    )]
    UnrepresentableEnvValue {
        service: String,
        env: String,
        reason: &'static str,
    },

    #[error("`{name}` is not a valid environment variable name (service `{service}`)")]
    #[diagnostic(
        code(sovstack::render::env_name),
        help("use letters, digits, `_` and `.` only, not starting with a digit")
    )]
    InvalidEnvName { service: String, name: String },

    #[error(
        "container path `{path}` of a file in service `{service}` is not a clean absolute path"
    )]
    #[diagnostic(
        code(sovstack::render::file_path),
        help(
            "write an absolute path without `.`, `..`, empty components, `:` or `,`, e.g. /etc/otelcol-contrib/config.yaml"
        )
    )]
    InvalidContainerPath { service: String, path: String },

    #[error("two artifacts would be written to {path} on {node}")]
    #[diagnostic(
        code(sovstack::render::path_clash),
        help(
            "give each compose project on a node its own `directory`, and each `file` block of a service its own container path"
        )
    )]
    PathClash { node: String, path: String },

    #[error("label `{label}` on service `{service}` uses the reserved prefix `dev.sovstack.`")]
    #[diagnostic(
        code(sovstack::render::reserved_label),
        help(
            "sovstack sets dev.sovstack.project, dev.sovstack.service and dev.sovstack.inputs-hash itself; choose another label name"
        )
    )]
    ReservedLabel { service: String, label: String },

    #[error("service `{service}` mounts collector `{collector}`, which is not declared")]
    #[diagnostic(
        code(sovstack::render::collector),
        help("declare `collector \"{collector}\"` or fix the reference")
    )]
    UnknownCollector { service: String, collector: String },

    #[error("cannot serialise {what} as YAML: {message}")]
    #[diagnostic(code(sovstack::render::yaml))]
    Yaml { what: String, message: String },

    #[error("cannot write {path}: {source}")]
    #[diagnostic(
        code(sovstack::render::write),
        help("check that the output directory is writable")
    )]
    Write {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// A secret whose value was not provided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingSecret {
    pub variable: String,
    pub env: String,
    pub service: String,
}

fn missing_secret_help(m: &[MissingSecret]) -> String {
    // Each variable once, in the order the services need them (one secret may feed several).
    let mut vars: Vec<&str> = Vec::new();
    for v in m.iter().map(|m| m.variable.as_str()) {
        if !vars.contains(&v) {
            vars.push(v);
        }
    }
    let how: Vec<String> = vars
        .iter()
        .map(|v| format!("SOVSTACK_VAR_{v}=... (or --var {v}=...)"))
        .collect();
    format!(
        "set {} before apply; `plan` renders secrets as (sensitive) and does not need them",
        how.join(", ")
    )
}

fn unknown_help(refs: &[String]) -> String {
    let vars: Vec<&str> = refs.iter().filter_map(|r| r.strip_prefix("var.")).collect();
    let mut parts = Vec::new();
    if !vars.is_empty() {
        parts.push(format!(
            "set {}",
            vars.iter()
                .map(|v| format!("SOVSTACK_VAR_{v}"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if refs.iter().any(|r| !r.starts_with("var.")) {
        parts.push("attributes known only after apply are rendered once the resources they come from exist (apply creates them first)".to_string());
    }
    parts.join("; ")
}

impl RenderError {
    pub(crate) fn yaml(what: impl Into<String>, e: impl std::fmt::Display) -> Self {
        RenderError::Yaml {
            what: what.into(),
            message: e.to_string(),
        }
    }
}
