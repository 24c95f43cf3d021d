//! Where a module's files come from (a directory beside the calling file, or a module shipped
//! in the binary), how each is parsed at its own offset, and how a finding whose span lies in
//! one is moved into it.

use super::*;

/// One module file as loaded: where its spans start in the combined offsets.
#[derive(Debug, Clone)]
pub(super) struct Placed {
    pub(super) file: SourceFile,
    pub(super) offset: usize,
}

/// The module files a stack's spans may point into, each at its offset past the stack file.
#[derive(Debug, Clone, Default)]
pub struct ModuleFiles {
    pub(super) files: Vec<Placed>,
}

impl Spliced {
    /// The text all spans index: the stack, then each module file at its offset, so that
    /// `SourceFile::slice` reads a module's expressions while loading.
    pub fn combined(&self, root: &SourceFile) -> SourceFile {
        let mut text = root.text().to_string();
        for p in &self.files.files {
            text.push_str(&" ".repeat(p.offset - text.len()));
            text.push_str(p.file.text());
        }
        SourceFile::new(root.name(), text)
    }
}

impl ModuleFiles {
    /// A diagnostic as users read it: moved into its module file when its span lies in one,
    /// and with the internal names of modules' blocks (`m·x`) written as addresses.
    pub fn relocate(&self, mut d: Diagnostic) -> Diagnostic {
        d.message = readable_names(&d.message);
        d.help = d.help.as_deref().map(readable_names);
        d.label = d.label.as_deref().map(readable_names);
        let Some(start) = d.span.as_ref().map(|s| s.start) else {
            return d;
        };
        let Some(p) = self
            .files
            .iter()
            .rev()
            .find(|p| p.offset <= start && d.file.is_none())
        else {
            return d;
        };
        let shift = |s: &Span| s.start.saturating_sub(p.offset)..s.end.saturating_sub(p.offset);
        d.span = d.span.as_ref().map(shift);
        d.related = d
            .related
            .iter()
            .filter(|(s, _)| s.start >= p.offset)
            .map(|(s, l)| (shift(s), readable_names(l)))
            .collect();
        d.file = Some(p.file.clone());
        d
    }
}

/// `text` with every internal name of a module's block (`m·web`, `m‿a·web`) written as users
/// read it (`module.m.web`, `module.m["a"].web`).
pub(super) fn readable_names(text: &str) -> String {
    if !text.contains(MODULE_SEPARATOR) {
        return text.to_string();
    }
    let in_name = |c: char| c.is_alphanumeric() || "_-\u{b7}\u{203f}\u{2040}\u{ff3f}".contains(c);
    let mut out = String::with_capacity(text.len() + 16);
    let mut rest = text;
    while let Some(start) = rest.find(in_name) {
        out.push_str(&rest[..start]);
        let after = &rest[start..];
        let end = after.find(|c: char| !in_name(c)).unwrap_or(after.len());
        let word = &after[..end];
        // A module's input or local: `m·var＿x` is `var.x` of module `m`.
        let namespaced = word.contains(super::rewrite::NAMESPACE);
        let word = &word.replace(super::rewrite::NAMESPACE, ".");
        // `local.m·var＿x` is what the module wrote as `var.x`: `module.m.var.x`.
        if namespaced && out.ends_with("local.") {
            out.truncate(out.len() - "local.".len());
        }
        if word.contains(MODULE_SEPARATOR) {
            // `compose.m·web` is the address `module.m.compose.web`.
            let kind_len = out
                .strip_suffix('.')
                .map(|before| {
                    before.len()
                        - before
                            .trim_end_matches(|c: char| c.is_ascii_alphanumeric() || c == '_')
                            .len()
                })
                .unwrap_or(0);
            if kind_len > 0 && !namespaced {
                let kind = out[out.len() - 1 - kind_len..out.len() - 1].to_string();
                out.truncate(out.len() - 1 - kind_len);
                out.push_str(&crate::config::instance::block_address(&kind, word));
            } else {
                out.push_str(&crate::config::instance::shown_name(word));
            }
        } else {
            out.push_str(word);
        }
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

/// Where a module's source is.
pub(super) enum Source {
    Local(PathBuf),
    Shipped(&'static ShippedModule),
}

/// Where the calling file is: the directory `./` paths are relative to, or a shipped module.
pub(super) enum Base {
    Dir(PathBuf),
    Shipped(&'static ShippedModule),
}

impl Splicer<'_> {
    /// `source`: a directory beside the calling file (`./dir`, `../dir`) or a module shipped
    /// with sovstack (`sovstack/signoz`).
    pub(super) fn source(&mut self, call: &Block, base: &Base) -> Option<Source> {
        let Some(a) = find_attr(&call.body, "source") else {
            self.diags.push(
                Diagnostic::error("language::missing-attribute", "module has no `source`")
                    .at(header_span(call))
                    .help("add `source = \"./modules/<name>\"` (a directory of .hcl files beside the stack) or `source = \"sovstack/<name>\"` (a module shipped with sovstack)"),
            );
            return None;
        };
        let refuse = |message: String, help: String| {
            Diagnostic::error("language::module-source", message)
                .at(span_of(&a.value))
                .help(help)
        };
        let text = match literal(&a.value) {
            Some(serde_json::Value::String(s)) => s,
            _ => {
                self.diags.push(refuse(
                    "a module's `source` must be a literal string".into(),
                    "write `source = \"./modules/signoz\"` or `source = \"sovstack/signoz\"`"
                        .into(),
                ));
                return None;
            }
        };
        let version = find_attr(&call.body, "version");
        if let Some(name) = text.strip_prefix(shipped::SOURCE_PREFIX) {
            return match shipped::find(name) {
                Some(m) => {
                    if let Some(v) = version {
                        self.check_version(&text, v)?;
                    }
                    Some(Source::Shipped(m))
                }
                None => {
                    let shipped: Vec<String> = shipped::names()
                        .map(|n| format!("{}{n}", shipped::SOURCE_PREFIX))
                        .collect();
                    self.diags.push(refuse(
                        format!("sovstack ships no module `{name}`"),
                        help_for_unknown(
                            &text,
                            shipped.iter().map(String::as_str),
                            "shipped modules",
                        ),
                    ));
                    None
                }
            };
        }
        if let Some(v) = version {
            self.diags.push(
                Diagnostic::error(
                    "language::module-source",
                    "`version` applies only to modules shipped with sovstack",
                )
                .at(attr_span(v))
                .help("a local module is the files in its directory; remove `version`"),
            );
        }
        if !(text.starts_with("./") || text.starts_with("../")) {
            self.diags.push(refuse(
                format!("`{text}` is neither a local path nor a shipped module"),
                "write a directory relative to the calling file (`./modules/signoz`) or a shipped module (`sovstack/signoz`)".into(),
            ));
            return None;
        }
        match base {
            Base::Dir(dir) => Some(Source::Local(dir.join(text.trim_start_matches("./")))),
            Base::Shipped(m) => {
                self.diags.push(refuse(
                    format!("shipped module `{}` may call only shipped modules", m.name),
                    "use `source = \"sovstack/<name>\"`".into(),
                ));
                None
            }
        }
    }

    /// `version` of a shipped module: the modules are versioned with the binary, so it names
    /// the sovstack release whose modules the stack was written for: `0.1` (any 0.1.x) or
    /// `0.1.0` (that release). Another release's modules are refused, not silently used.
    fn check_version(&mut self, source: &str, v: &Attribute) -> Option<()> {
        let ours = env!("CARGO_PKG_VERSION");
        let wanted = match literal(&v.value) {
            Some(serde_json::Value::String(s)) => s,
            _ => {
                self.diags.push(
                    Diagnostic::error(
                        "language::module-source",
                        "`version` must be a literal string",
                    )
                    .at(span_of(&v.value))
                    .help(format!("write `version = \"{ours}\"`")),
                );
                return None;
            }
        };
        let matches = ours == wanted
            || ours
                .strip_prefix(wanted.as_str())
                .is_some_and(|rest| rest.starts_with('.'));
        if matches {
            return Some(());
        }
        self.diags.push(
            Diagnostic::error(
                "language::module-source",
                format!("the stack wants `{source}` of sovstack {wanted}; this is sovstack {ours}"),
            )
            .at(span_of(&v.value))
            .help(format!(
                "shipped modules are versioned with sovstack: run sovstack {wanted}, or check the module's changes (docs/modules.md) and write `version = \"{ours}\"`"
            )),
        );
        None
    }

    /// The module's files: every `.hcl` file of a local directory in name order, or the
    /// files of a shipped module.
    /// Read and parsed once per source: every call of it (each instance of a `for_each`
    /// module, a module called twice) splices the same syntax tree, so its spans, and the
    /// findings at them, are one place in one file.
    pub(super) fn read_source(&mut self, source: &Source, call: &Block) -> Option<Body> {
        let key = match source {
            Source::Local(dir) => dir.display().to_string(),
            Source::Shipped(m) => format!("{}{}", shipped::SOURCE_PREFIX, m.name),
        };
        if let Some(body) = self.parsed.get(&key) {
            return Some(body.clone());
        }
        let body = match source {
            Source::Local(dir) => self.read_dir(dir, call)?,
            Source::Shipped(m) => {
                let mut body = Body::new();
                for f in m.files {
                    let file = SourceFile::new(m.file_name(f), f.text);
                    body.extend(self.parse_file(file));
                }
                body
            }
        };
        self.parsed.insert(key, body.clone());
        Some(body)
    }

    /// Every `.hcl` file of `dir`, in name order, each parsed at its own offset.
    pub(super) fn read_dir(&mut self, dir: &Path, call: &Block) -> Option<Body> {
        let unreadable = |what: String| {
            Diagnostic::error("language::module-source", what)
                .at(header_span(call))
                .help("`source` names a directory beside the stack holding the module's .hcl files")
        };
        let mut paths: Vec<_> = match std::fs::read_dir(dir) {
            Ok(entries) => entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "hcl"))
                .collect(),
            Err(e) => {
                self.diags.push(unreadable(format!(
                    "cannot read module directory {}: {e}",
                    dir.display()
                )));
                return None;
            }
        };
        paths.sort();
        if paths.is_empty() {
            self.diags.push(unreadable(format!(
                "module directory {} holds no .hcl file",
                dir.display()
            )));
            return None;
        }
        let mut body = Body::new();
        for path in paths {
            match std::fs::read_to_string(&path) {
                Ok(text) => {
                    let file = SourceFile::new(path.display().to_string(), text);
                    body.extend(self.parse_file(file));
                }
                Err(e) => {
                    self.diags
                        .push(unreadable(format!("cannot read {}: {e}", path.display())));
                }
            }
        }
        Some(body)
    }

    /// One module file parsed at the next free offset (empty after a syntax error, which is
    /// reported in the file).
    pub(super) fn parse_file(&mut self, file: SourceFile) -> Body {
        let offset = self.next_offset;
        self.next_offset += file.text().len() + 1;
        let padded = format!("{}{}", " ".repeat(offset), file.text());
        let body = match hcl_edit::parser::parse_body(&padded) {
            Ok(b) => b,
            Err(e) => {
                let at = e.location().offset().saturating_sub(offset);
                self.diags.push(
                    Diagnostic::error("language::syntax", format!("syntax error: {}", e.message()))
                        .at(at..at)
                        .label("here")
                        .help("fix the HCL syntax at this place")
                        .in_file(&file),
                );
                Body::new()
            }
        };
        self.files.push(Placed { file, offset });
        body
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn messages_name_modules_blocks_by_their_addresses() {
        assert_eq!(
            super::readable_names(
                "`compose.app\u{b7}web` has no attribute; add to compose `app\u{b7}web`"
            ),
            "`module.app.compose.web` has no attribute; add to compose `module.app.web`"
        );
        assert_eq!(
            super::readable_names("server `m\u{203f}gex-a\u{b7}gpu[0]`, plain `x`"),
            "server `module.m[\"gex-a\"].gpu[0]`, plain `x`"
        );
        assert_eq!(
            super::readable_names("in `f(local.db\u{b7}var\u{ff3f}size)`"),
            "in `f(module.db.var.size)`"
        );
    }
}
