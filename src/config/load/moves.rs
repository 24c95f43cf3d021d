//! `moved` and `import` blocks: their addresses are read as written (a bare traversal such as
//! `server.db` names a block that may no longer exist, so it is never evaluated).

use super::readers::ModelBuilder;
use super::syntax::{find_attr, header_span};
use crate::config::diagnostic::Diagnostic;
use crate::config::eval::span_of;
use crate::config::model::{Import, Moved};
use crate::config::source::Spanned;
use hcl_edit::structure::Block;

impl ModelBuilder<'_, '_> {
    pub(super) fn moved(&mut self, b: &Block) -> Option<Moved> {
        Some(Moved {
            span: header_span(b),
            from: self.address(b, "from")?,
            to: self.address(b, "to")?,
        })
    }

    pub(super) fn import(&mut self, b: &Block) -> Option<Import> {
        let to = self.address(b, "to");
        let id = self.string(&b.body, "id");
        Some(Import {
            span: header_span(b),
            to: to?,
            id: id?,
        })
    }

    /// An address attribute as its source text (`server.db`, `file.llm["compose.yaml"]`).
    fn address(&mut self, b: &Block, name: &str) -> Option<Spanned<String>> {
        let a = find_attr(&b.body, name)?;
        let span = span_of(&a.value);
        let text = self.l.source.text().get(span.clone())?.trim().to_string();
        if text.starts_with('"') {
            let d = Diagnostic::error(
                "language::address",
                format!("`{name}` is an address, written without quotes"),
            )
            .at(span)
            .help(format!("write `{name} = {}`", text.trim_matches('"')));
            self.err(d);
            return None;
        }
        Some(Spanned::new(text, span))
    }
}
