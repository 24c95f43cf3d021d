//! Diagnostics: what `validate` (and loading) says about a stack, with spans, shown through miette.

use super::source::{SourceFile, Span};
use miette::{GraphicalReportHandler, GraphicalTheme, LabeledSpan, NamedSource};
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// One finding about the stack. `code` is stable (tests and users grep for it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub code: &'static str,
    pub message: String,
    pub span: Option<Span>,
    pub label: Option<String>,
    pub help: Option<String>,
    /// Secondary places that explain the finding (e.g. every member of a cycle).
    pub related: Vec<(Span, String)>,
    /// The file the spans point into when it is not the stack file (a variable file).
    pub file: Option<SourceFile>,
}

impl Diagnostic {
    pub fn error(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Error,
            code,
            message: message.into(),
            span: None,
            label: None,
            help: None,
            related: Vec::new(),
            file: None,
        }
    }

    pub fn warning(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Warning,
            ..Self::error(code, message)
        }
    }

    pub fn at(mut self, span: Span) -> Self {
        self.span = Some(span);
        self
    }

    /// Spans of this diagnostic point into `file`, not the stack file.
    pub fn in_file(mut self, file: &SourceFile) -> Self {
        self.file = Some(file.clone());
        self
    }

    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }

    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub fn related(mut self, span: Span, label: impl Into<String>) -> Self {
        self.related.push((span, label.into()));
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// An ordered collection of diagnostics for one source file.
#[derive(Debug, Clone, Default)]
pub struct Diagnostics {
    items: Vec<Diagnostic>,
}

impl Diagnostics {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn push(&mut self, d: Diagnostic) {
        self.items.push(d);
    }

    pub fn extend(&mut self, other: impl IntoIterator<Item = Diagnostic>) {
        self.items.extend(other);
    }

    pub fn has_errors(&self) -> bool {
        self.items.iter().any(Diagnostic::is_error)
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Diagnostic> {
        self.items.iter()
    }

    pub fn errors(&self) -> usize {
        self.items.iter().filter(|d| d.is_error()).count()
    }

    pub fn warnings(&self) -> usize {
        self.items.len() - self.errors()
    }

    /// Source order, errors before warnings at the same place; duplicates removed.
    pub fn sort(&mut self) {
        self.items.sort_by(|a, b| {
            let file = |d: &Diagnostic| d.file.as_ref().map(|f| f.name().to_string());
            let ka = (
                file(a),
                a.span.as_ref().map(|s| s.start),
                a.severity,
                a.code,
            );
            let kb = (
                file(b),
                b.span.as_ref().map(|s| s.start),
                b.severity,
                b.code,
            );
            ka.cmp(&kb).then_with(|| a.message.cmp(&b.message))
        });
        self.items.dedup();
        self.merge_instances();
    }

    /// One finding per place: the instances of a block with `count`/`for_each` (or of a
    /// module) share their spans, so the same finding about each would print once per
    /// instance at the same line. The first stays, saying how many instances it is about.
    fn merge_instances(&mut self) {
        let mut out: Vec<Diagnostic> = Vec::with_capacity(self.items.len());
        let mut more = 0usize;
        let same_place = |a: &Diagnostic, b: &Diagnostic| {
            a.code == b.code
                && a.severity == b.severity
                && a.span.is_some()
                && a.span == b.span
                && a.file.as_ref().map(SourceFile::name) == b.file.as_ref().map(SourceFile::name)
                && without_instance_keys(&a.message) == without_instance_keys(&b.message)
        };
        for d in std::mem::take(&mut self.items) {
            match out.last_mut() {
                Some(last) if same_place(last, &d) => more += 1,
                _ => {
                    note_more(out.last_mut(), more);
                    more = 0;
                    out.push(d);
                }
            }
        }
        note_more(out.last_mut(), more);
        self.items = out;
    }

    pub fn into_vec(self) -> Vec<Diagnostic> {
        self.items
    }
}

fn note_more(d: Option<&mut Diagnostic>, more: usize) {
    if let Some(d) = d
        && more > 0
    {
        let s = if more == 1 { "" } else { "s" };
        d.message
            .push_str(&format!(" (and in {more} more instance{s})"));
    }
}

/// `text` without instance keys (`["a"]`, `[0]`), to compare findings about instances.
fn without_instance_keys(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find('[') {
        out.push_str(&rest[..i]);
        let after = &rest[i..];
        match crate::config::instance::InstanceKey::parse_prefix(after) {
            Some((_, tail)) => {
                out.push_str("[]");
                rest = tail;
            }
            None => {
                out.push('[');
                rest = &after[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

impl IntoIterator for Diagnostics {
    type Item = Diagnostic;
    type IntoIter = std::vec::IntoIter<Diagnostic>;
    fn into_iter(self) -> Self::IntoIter {
        self.items.into_iter()
    }
}

impl FromIterator<Diagnostic> for Diagnostics {
    fn from_iter<I: IntoIterator<Item = Diagnostic>>(iter: I) -> Self {
        Self {
            items: iter.into_iter().collect(),
        }
    }
}

/// A diagnostic bound to its source, in the shape miette renders.
struct Bound<'a> {
    diag: &'a Diagnostic,
    source: NamedSource<String>,
}

impl fmt::Debug for Bound<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Bound").field("diag", self.diag).finish()
    }
}

impl fmt::Display for Bound<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.diag.message)
    }
}

impl std::error::Error for Bound<'_> {}

impl miette::Diagnostic for Bound<'_> {
    // The code is already on the `file:line:col` header line; miette would repeat it.
    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.diag.severity {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
        })
    }

    fn help<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        self.diag
            .help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.diag.span.as_ref().map(|_| &self.source as _)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let span = self.diag.span.clone()?;
        let primary =
            LabeledSpan::new_primary_with_span(self.diag.label.clone(), span.start..span.end);
        let related = self
            .diag
            .related
            .iter()
            .map(|(s, l)| LabeledSpan::new_with_span(Some(l.clone()), s.start..s.end));
        Some(Box::new(std::iter::once(primary).chain(related)))
    }
}

/// Renders diagnostics as text: a `file:line:col: severity[code]: message` line (for grep and
/// editors), then miette's source excerpt with the label and help. No colour, fixed width, so
/// output is stable for snapshots and CI logs.
pub fn render(diags: &Diagnostics, stack_source: &SourceFile) -> String {
    let handler = GraphicalReportHandler::new_themed(GraphicalTheme::unicode_nocolor())
        .with_width(100)
        .with_links(false);
    let mut out = String::new();
    for d in diags.iter() {
        let source = d.file.as_ref().unwrap_or(stack_source);
        let sev = match d.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        match &d.span {
            Some(span) => {
                let (line, col) = source.line_col(span.start);
                out.push_str(&format!(
                    "{}:{line}:{col}: {sev}[{}]: {}\n",
                    source.name(),
                    d.code,
                    d.message
                ));
            }
            None => out.push_str(&format!(
                "{}: {sev}[{}]: {}\n",
                source.name(),
                d.code,
                d.message
            )),
        }
        let bound = Bound {
            diag: d,
            source: NamedSource::new(source.name(), source.text().to_string()),
        };
        let mut excerpt = String::new();
        if handler.render_report(&mut excerpt, &bound).is_ok() {
            out.push_str(&excerpt);
        }
        out.push('\n');
    }
    let (e, w) = (diags.errors(), diags.warnings());
    if e + w > 0 {
        out.push_str(&format!(
            "{}: {e} error{}, {w} warning{}\n",
            stack_source.name(),
            if e == 1 { "" } else { "s" },
            if w == 1 { "" } else { "s" }
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(message: &str, start: usize) -> Diagnostic {
        Diagnostic::warning("compose::no-log-cap", message).at(start..start + 3)
    }

    /// The same finding about each instance of a block is one finding that says so; findings
    /// at other places, or saying other things, stay apart.
    #[test]
    fn findings_about_each_instance_of_a_block_print_once() {
        let mut d: Diagnostics = [
            at("service `vllm` of `llm[\"gex-b\"]` has no cap", 10),
            at("service `vllm` of `llm[\"gex-a\"]` has no cap", 10),
            at("service `vllm` of `llm[\"gex-c\"]` has no cap", 10),
            at("service `otel` of `llm[\"gex-a\"]` has no cap", 10),
            at("service `vllm` of `llm[\"gex-a\"]` has no cap", 40),
        ]
        .into_iter()
        .collect();
        d.sort();
        let messages: Vec<&str> = d.iter().map(|d| d.message.as_str()).collect();
        assert_eq!(
            messages,
            [
                "service `otel` of `llm[\"gex-a\"]` has no cap",
                "service `vllm` of `llm[\"gex-a\"]` has no cap (and in 2 more instances)",
                "service `vllm` of `llm[\"gex-a\"]` has no cap",
            ]
        );
    }
}
