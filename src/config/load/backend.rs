//! The `backend "pg"` block inside `stack`: where the state lives.
//!
//! It is read on its own, from the syntax tree, before the rest of the stack: every command
//! that touches state needs it first (`state list` needs no valid server blocks), and as in
//! Terraform its values are literal strings, since variables may need the state to evaluate.
//! The full load checks the same block (through [`check`]) so that `validate` reports it too.

use super::syntax::{attrs, blocks, header_span, label};
use crate::config::diagnostic::{Diagnostic, Diagnostics, render};
use crate::config::source::{SourceFile, Span};
use crate::state::pg_conn::{
    DEFAULT_SCHEMA, PG_CONN_STR_ENV, PG_SCHEMA_NAME_ENV, PgSettings, SslMode, valid_schema_name,
};
use hcl_edit::Span as _;
use hcl_edit::expr::Expression;
use hcl_edit::structure::{Block, Body};
use std::path::Path;

/// The diagnostic code of every problem with the block.
const CODE: &str = "language::backend";

/// A state kept in PostgreSQL: under the stack's name, where the settings say.
#[derive(Debug, Clone)]
pub struct RemoteState {
    pub stack: String,
    pub settings: PgSettings,
}

/// The backend block is wrong; `rendered` shows where and what to do.
#[derive(Debug, thiserror::Error)]
#[error("the stack's backend block is not valid")]
pub struct BackendInvalid {
    pub rendered: String,
}

/// What the block says, before the environment fills in what it leaves out.
#[derive(Default)]
struct PgBlock {
    span: Span,
    conn_str: Option<String>,
    schema_name: Option<(String, Span)>,
    sslmode: Option<SslMode>,
    sslrootcert: Option<String>,
}

/// Reads the backend of the stack file at `path`. `None` (the local state) when the file does
/// not exist or has no backend block; `env` supplies `PG_CONN_STR` and `PG_SCHEMA_NAME`.
pub fn read_backend(
    path: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<RemoteState>, BackendInvalid> {
    let Ok(text) = std::fs::read_to_string(path) else {
        // A missing stack file is reported by what needs the stack; the state is local.
        return Ok(None);
    };
    let source = SourceFile::new(path.display().to_string(), text);
    let invalid = |d: Vec<Diagnostic>| {
        let mut diags = Diagnostics::new();
        diags.extend(d);
        BackendInvalid {
            rendered: render(&diags, &source),
        }
    };
    // Syntax errors are the full load's to report, with everything else wrong.
    let Ok(body) = hcl_edit::parser::parse_body(source.text()) else {
        return Ok(None);
    };
    let Some(stack) = stack_block(&body) else {
        return Ok(None);
    };
    let (block, mut diags) = read(stack);
    let Some(block) = block else {
        return if diags.is_empty() {
            Ok(None)
        } else {
            Err(invalid(diags))
        };
    };
    let conn_str = block.conn_str.clone().or_else(|| env(PG_CONN_STR_ENV));
    if conn_str.is_none() {
        diags.push(
            Diagnostic::error(CODE, "the `pg` backend has no connection string")
                .at(block.span.clone())
                .label("state in PostgreSQL, but where?")
                .help(format!(
                    "set {PG_CONN_STR_ENV} (keeps the password out of the stack file), or write `conn_str = \"host=... dbname=... user=...\"` in this block"
                )),
        );
    }
    if !diags.is_empty() {
        return Err(invalid(diags));
    }
    let base = path.parent().unwrap_or(Path::new(""));
    Ok(Some(RemoteState {
        stack: stack.labels.first().map(label).unwrap_or_default().0,
        settings: PgSettings {
            conn_str: conn_str.unwrap_or_default(),
            schema_name: block
                .schema_name
                .map(|(s, _)| s)
                .or_else(|| env(PG_SCHEMA_NAME_ENV))
                .unwrap_or_else(|| DEFAULT_SCHEMA.to_string()),
            sslmode: block.sslmode,
            sslrootcert: block.sslrootcert.map(|p| base.join(p)),
        },
    }))
}

fn stack_block(body: &Body) -> Option<&Block> {
    blocks(body).find(|b| b.ident.as_str() == "stack")
}

/// The problems with the `backend` block of `stack`, for the full load.
pub(super) fn check(stack: &Block) -> Vec<Diagnostic> {
    read(stack).1
}

/// The `backend` block of `stack`, if it has one, and what is wrong with it.
fn read(stack: &Block) -> (Option<PgBlock>, Vec<Diagnostic>) {
    let mut diags = Vec::new();
    let mut found = blocks(&stack.body).filter(|b| b.ident.as_str() == "backend");
    let Some(b) = found.next() else {
        return (None, diags);
    };
    for extra in found {
        diags.push(
            Diagnostic::error(CODE, "a stack has one `backend` block")
                .at(header_span(extra))
                .help("keep the one that says where the state is; remove the others"),
        );
    }
    let (kind, kind_span) = b.labels.first().map(label).unwrap_or_default();
    if kind != "pg" {
        diags.push(
            Diagnostic::error(CODE, format!("sovstack has no `{kind}` backend"))
                .at(if kind_span.is_empty() { header_span(b) } else { kind_span })
                .label("unknown backend")
                .help("state is kept in PostgreSQL with `backend \"pg\" { }`; leave the block out to keep it in the local file"),
        );
        return (None, diags);
    }
    let mut block = PgBlock {
        span: header_span(b),
        ..PgBlock::default()
    };
    for a in attrs(&b.body) {
        let Some((value, span)) = literal(&a.value) else {
            diags.push(
                Diagnostic::error(CODE, format!("the backend's `{}` must be a literal string", a.key.as_str()))
                    .at(crate::config::eval::span_of(&a.value))
                    .help("the backend is read before variables and locals: write the value in quotes, or set PG_CONN_STR / PG_SCHEMA_NAME in the environment"),
            );
            continue;
        };
        match a.key.as_str() {
            "conn_str" => block.conn_str = Some(value),
            "schema_name" if !valid_schema_name(&value) => diags.push(
                Diagnostic::error(CODE, format!("`{value}` is not a schema name sovstack uses"))
                    .at(span)
                    .help("use a lower-case identifier: letters, digits and `_`, e.g. `sovstack`"),
            ),
            "schema_name" => block.schema_name = Some((value, span)),
            "sslmode" => match SslMode::parse(&value) {
                Some(m) => block.sslmode = Some(m),
                None => diags.push(
                    Diagnostic::error(CODE, format!("sslmode `{value}` is not supported"))
                        .at(span)
                        .help("use `disable`, `prefer`, `require` (encrypted, unverified) or `verify-full` (with `sslrootcert`)"),
                ),
            },
            "sslrootcert" => block.sslrootcert = Some(value),
            // Unknown attributes are the schema check's (with a did-you-mean).
            _ => {}
        }
    }
    if block.sslmode == Some(SslMode::VerifyFull) && block.sslrootcert.is_none() {
        diags.push(
            Diagnostic::error(CODE, "sslmode `verify-full` needs `sslrootcert`")
                .at(block.span.clone())
                .help("set `sslrootcert` to the PEM file of the CA that signed the server's certificate (relative to the stack file)"),
        );
    }
    (Some(block), diags)
}

/// A string written literally, without interpolation.
fn literal(e: &Expression) -> Option<(String, Span)> {
    match e {
        Expression::String(s) => Some((s.value().to_string(), s.span().unwrap_or(0..0))),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_text(text: &str, env: &[(&str, &str)]) -> Result<Option<RemoteState>, String> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("stack.hcl");
        std::fs::write(&path, text).unwrap();
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let lookup = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        read_backend(&path, &lookup).map_err(|e| e.rendered)
    }

    #[test]
    fn no_block_or_no_file_is_the_local_state() {
        assert!(
            read_text("stack \"s\" {}\n", &[("PG_CONN_STR", "host=db")])
                .unwrap()
                .is_none()
        );
        let none = read_backend(Path::new("/nonexistent/stack.hcl"), &|_| None);
        assert!(none.unwrap().is_none());
    }

    #[test]
    fn the_connection_comes_from_the_block_or_pg_conn_str() {
        let r = read_text(
            "stack \"s\" {\n  backend \"pg\" {}\n}\n",
            &[("PG_CONN_STR", "host=db")],
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            (r.stack.as_str(), r.settings.conn_str.as_str()),
            ("s", "host=db")
        );
        assert_eq!(r.settings.schema_name, "sovstack");
        let text = "stack \"s\" {\n  backend \"pg\" {\n    conn_str    = \"host=a\"\n    schema_name = \"team\"\n    sslmode     = \"verify-full\"\n    sslrootcert = \"ca.pem\"\n  }\n}\n";
        let r = read_text(text, &[("PG_CONN_STR", "host=db")])
            .unwrap()
            .unwrap();
        assert_eq!(r.settings.conn_str, "host=a");
        assert_eq!(r.settings.schema_name, "team");
        assert_eq!(r.settings.sslmode, Some(SslMode::VerifyFull));
        assert!(r.settings.sslrootcert.unwrap().ends_with("ca.pem"));
    }

    /// `validate` (the full load) reports the same problems, and unknown attributes by name.
    #[test]
    fn the_full_load_checks_the_block_too() {
        let codes = |text: &str| -> Vec<String> {
            let l = crate::config::load_str("s.hcl", text, Path::new("."), &Default::default());
            l.diagnostics.iter().map(|d| d.code.to_string()).collect()
        };
        assert!(codes("stack \"s\" {\n  backend \"pg\" {\n    sslmode = \"verify-full\"\n    sslrootcert = \"ca.pem\"\n  }\n}\n").is_empty());
        assert_eq!(
            codes("stack \"s\" {\n  backend \"s3\" {}\n}\n"),
            ["language::backend"]
        );
        assert_eq!(
            codes("stack \"s\" {\n  backend \"pg\" {\n    conn_string = \"x\"\n  }\n}\n"),
            ["language::unknown-attribute"]
        );
    }

    #[test]
    fn a_wrong_block_is_pointed_at_with_what_to_do() {
        let err = read_text("stack \"s\" {\n  backend \"pg\" {}\n}\n", &[]).unwrap_err();
        assert!(
            err.contains("no connection string") && err.contains("PG_CONN_STR"),
            "{err}"
        );
        assert!(err.contains(":2:"), "points at the block's line: {err}");
        let err = read_text("stack \"s\" {\n  backend \"s3\" {}\n}\n", &[]).unwrap_err();
        assert!(err.contains("no `s3` backend"), "{err}");
        let text = "stack \"s\" {\n  backend \"pg\" {\n    conn_str = var.db\n    sslmode = \"verify-ca\"\n  }\n}\n";
        let err = read_text(text, &[]).unwrap_err();
        assert!(err.contains("must be a literal string"), "{err}");
        assert!(
            err.contains("sslmode `verify-ca` is not supported") && err.contains(":4:"),
            "{err}"
        );
        let text = "stack \"s\" {\n  backend \"pg\" {\n    schema_name = \"Team-State\"\n    sslmode = \"verify-full\"\n  }\n}\n";
        let err = read_text(text, &[("PG_CONN_STR", "host=db")]).unwrap_err();
        assert!(
            err.contains("not a schema name") && err.contains("needs `sslrootcert`"),
            "{err}"
        );
    }
}
