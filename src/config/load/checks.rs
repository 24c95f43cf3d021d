//! `check` blocks: assertions run on the node after apply (an HTTP endpoint answering, or a
//! traced request reaching the audit log); a failing check fails the apply.

use super::readers::ModelBuilder;
use super::syntax::blocks;
use crate::config::diagnostic::Diagnostic;
use crate::config::model::{Check, CheckKind};
use crate::config::source::Span;
use hcl_edit::structure::Block;

impl ModelBuilder<'_, '_> {
    pub(super) fn check(&mut self, b: &Block, name: String, span: Span) -> Option<Check> {
        let compose = self
            .block_ref(&b.body, "compose", &["compose"])
            .map(|(_, n)| n);
        let within = self
            .string(&b.body, "within")
            .map(|s| s.value)
            .unwrap_or_else(|| "10m".to_string());
        let kinds: Vec<&Block> = blocks(&b.body).collect();
        if kinds.len() != 1 {
            let d = Diagnostic::error(
                "language::check-kind",
                "a check needs exactly one `http` or `trace_roundtrip` block",
            )
            .at(span.clone());
            self.err(d);
            return None;
        }
        let kb = kinds[0];
        let kind = match kb.ident.as_str() {
            "http" => {
                let url = self.string(&kb.body, "url")?;
                let status = self.u32(&kb.body, "status").map_or(200, |s| s.value as u16);
                CheckKind::Http {
                    url: url.value,
                    status,
                }
            }
            "trace_roundtrip" => CheckKind::TraceRoundtrip {
                url: self.string(&kb.body, "url")?.value,
                model: self.string(&kb.body, "model")?.value,
                audit_file: self.string(&kb.body, "audit_file")?,
            },
            _ => return None,
        };
        Some(Check {
            name,
            span,
            compose: compose?,
            kind,
            within,
        })
    }
}
