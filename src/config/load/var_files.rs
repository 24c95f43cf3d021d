//! Variable files: `sovstack.vars.hcl` and `*.auto.vars.hcl` beside the stack (found without
//! being named), then every `--var-file`, each a list of `name = value` attributes. A later file
//! overrides an earlier one; all of them override defaults and are overridden by the
//! environment (`SOVSTACK_VAR_<name>`) and `--var`.

use super::LoadError;
use super::loader::Loader;
use super::syntax::attr_span;
use crate::config::diagnostic::Diagnostic;
use crate::config::eval;
use crate::config::source::{SourceFile, Span};
use crate::config::suggest::help_for_unknown;
use hcl_edit::Span as _;
use hcl_edit::structure::{Body, Structure};
use serde_json::Value as Json;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The file loaded without being named, beside the stack.
pub const DEFAULT_VAR_FILE: &str = "sovstack.vars.hcl";
/// Files with this ending beside the stack are loaded too, in lexical order of their names.
pub const AUTO_VAR_FILE_SUFFIX: &str = ".auto.vars.hcl";

/// The variable files for a stack in `stack_dir`, lowest precedence first: the default file,
/// the `*.auto.vars.hcl` files by name, then the named ones in the order given.
pub fn var_file_paths(stack_dir: &Path, named: &[PathBuf]) -> Result<Vec<PathBuf>, LoadError> {
    let dir = if stack_dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        stack_dir
    };
    let mut out = Vec::new();
    let default = dir.join(DEFAULT_VAR_FILE);
    if default.is_file() {
        out.push(default);
    }
    let entries = std::fs::read_dir(dir).map_err(|source| LoadError::Read {
        path: dir.display().to_string(),
        source,
    })?;
    let mut auto: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.is_file()
                && p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.ends_with(AUTO_VAR_FILE_SUFFIX))
        })
        .collect();
    auto.sort();
    out.extend(auto);
    out.extend(named.iter().cloned());
    Ok(out)
}

/// Reads every file; a file that cannot be read stops loading (a named file that is missing
/// is a mistake the user must see, not a variable silently left at its default).
pub fn read_var_files(paths: &[PathBuf]) -> Result<Vec<SourceFile>, LoadError> {
    paths
        .iter()
        .map(|p| {
            std::fs::read_to_string(p)
                .map(|text| SourceFile::new(p.display().to_string(), text))
                .map_err(|source| LoadError::Read {
                    path: p.display().to_string(),
                    source,
                })
        })
        .collect()
}

/// A value set in a variable file, with where it was set.
#[derive(Debug, Clone)]
pub(super) struct FileValue {
    pub value: Json,
    pub file: SourceFile,
    pub span: Span,
}

impl Loader<'_> {
    /// Every value the variable files set, the last file's winning. Names the stack does not
    /// declare are warned about (a file may be shared by stacks that use part of it); what is
    /// not a literal value is an error at its place in the file.
    pub(super) fn file_values(&mut self, declared: &[&str]) -> BTreeMap<String, FileValue> {
        let mut out = BTreeMap::new();
        for file in &self.opts.var_files {
            let Some(body) = self.parse_var_file(file) else {
                continue;
            };
            for s in body.iter() {
                if let Some((name, v)) = self.file_entry(file, s, declared) {
                    out.insert(name, v);
                }
            }
        }
        out
    }

    fn parse_var_file(&mut self, file: &SourceFile) -> Option<Body> {
        match hcl_edit::parser::parse_body(file.text()) {
            Ok(b) => Some(b),
            Err(e) => {
                let at = e.location().offset();
                let d = Diagnostic::error(
                    "language::syntax",
                    format!("syntax error in variable file: {}", e.message()),
                )
                .at(at..at)
                .in_file(file)
                .label("here")
                .help("a variable file holds `name = value` lines");
                self.err(d);
                None
            }
        }
    }

    fn file_entry(
        &mut self,
        file: &SourceFile,
        s: &Structure,
        declared: &[&str],
    ) -> Option<(String, FileValue)> {
        let a = match s {
            Structure::Attribute(a) => a,
            Structure::Block(b) => {
                let d = Diagnostic::error(
                    "language::var-file",
                    format!(
                        "a variable file holds no blocks (found `{}`)",
                        b.ident.as_str()
                    ),
                )
                .at(super::syntax::header_span(b))
                .in_file(file)
                .help("write each value as `name = value`");
                self.err(d);
                return None;
            }
        };
        let name = a.key.as_str().to_string();
        if !declared.contains(&name.as_str()) {
            let d = Diagnostic::warning(
                "language::undeclared-variable",
                format!("the stack declares no variable `{name}`; this value is not used"),
            )
            .at(a.key.span().unwrap_or_else(|| attr_span(a)))
            .in_file(file)
            .help(help_for_unknown(
                &name,
                declared.iter().copied(),
                "variables",
            ));
            self.err(d);
            return None;
        }
        let Some(value) = eval::literal(&a.value) else {
            let d = Diagnostic::error(
                "language::var-value",
                format!("the value of `{name}` is an expression, not a value"),
            )
            .at(eval::span_of(&a.value))
            .in_file(file)
            .help("a variable file takes values written literally: a string, a number, true or false, or a list or map of those");
            self.err(d);
            self.refused_vars.insert(name);
            return None;
        };
        let span = eval::span_of(&a.value);
        Some((
            name,
            FileValue {
                value,
                file: file.clone(),
                span,
            },
        ))
    }
}

#[cfg(test)]
mod tests {
    use crate::config::{LoadOptions, Loaded, SourceFile, VarOrigin, diagnostic, load_str};
    use std::path::Path;

    const STACK: &str = "stack \"s\" {}\nvariable \"region\" {\n  default = \"fsn1\"\n}\nvariable \"hosts\" {\n  type    = list(string)\n  default = []\n}\n";

    fn load(files: &[(&str, &str)], env: &[(&str, &str)], vars: &[(&str, &str)]) -> Loaded {
        let opts = LoadOptions {
            var_files: files.iter().map(|(n, t)| SourceFile::new(*n, *t)).collect(),
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            vars: vars
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..LoadOptions::default()
        };
        load_str("stack.hcl", STACK, Path::new("."), &opts)
    }

    fn value(l: &Loaded, name: &str) -> (serde_json::Value, VarOrigin) {
        let stack = l.stack.as_ref().expect("a stack");
        let v = stack
            .variables
            .iter()
            .find(|v| v.name == name)
            .expect("declared");
        (v.value.clone().unwrap_or_default(), v.origin)
    }

    /// The default file first, then `*.auto.vars.hcl` by name, then the named files as given.
    #[test]
    fn files_beside_the_stack_are_found_in_precedence_order() {
        let dir = tempfile::tempdir().expect("temp dir");
        for f in [
            "b.auto.vars.hcl",
            "a.auto.vars.hcl",
            "sovstack.vars.hcl",
            "other.hcl",
        ] {
            std::fs::write(dir.path().join(f), "").expect("write");
        }
        let named = [dir.path().join("other.hcl")];
        let found = super::var_file_paths(dir.path(), &named).expect("listed");
        let names: Vec<_> = found
            .iter()
            .map(|p| {
                p.file_name()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        assert_eq!(
            names,
            [
                "sovstack.vars.hcl",
                "a.auto.vars.hcl",
                "b.auto.vars.hcl",
                "other.hcl"
            ]
        );
    }

    #[test]
    fn files_override_defaults_and_later_files_override_earlier_ones() {
        let l = load(
            &[
                ("sovstack.vars.hcl", "region = \"nbg1\"\nhosts = [\"a\"]\n"),
                ("prod.vars.hcl", "region = \"hel1\"\n"),
            ],
            &[],
            &[],
        );
        assert!(l.diagnostics.is_empty(), "{:?}", l.diagnostics);
        assert_eq!(value(&l, "region"), ("hel1".into(), VarOrigin::File));
        assert_eq!(
            value(&l, "hosts"),
            (serde_json::json!(["a"]), VarOrigin::File)
        );
    }

    #[test]
    fn the_environment_overrides_files_and_var_overrides_the_environment() {
        let files = [("v.hcl", "region = \"nbg1\"\n")];
        let env = [("SOVSTACK_VAR_region", "hel1")];
        let l = load(&files, &env, &[]);
        assert_eq!(value(&l, "region"), ("hel1".into(), VarOrigin::Environment));
        let l = load(&files, &env, &[("region", "fsn1")]);
        assert_eq!(value(&l, "region"), ("fsn1".into(), VarOrigin::CommandLine));
        let l = load(&files, &[], &[("region", "fsn1")]);
        assert_eq!(value(&l, "region"), ("fsn1".into(), VarOrigin::CommandLine));
    }

    /// A name the stack does not declare is a warning at its line in the file, with the
    /// declared name it most resembles.
    #[test]
    fn an_undeclared_variable_in_a_file_warns_at_its_line() {
        let l = load(
            &[("prod.vars.hcl", "region = \"nbg1\"\nregoin = \"hel1\"\n")],
            &[],
            &[],
        );
        assert!(!l.diagnostics.has_errors(), "{:?}", l.diagnostics);
        insta::assert_snapshot!(diagnostic::render(&l.diagnostics, &l.source));
        assert_eq!(value(&l, "region"), ("nbg1".into(), VarOrigin::File));
    }

    #[test]
    fn a_value_of_the_wrong_type_or_an_expression_is_an_error_in_the_file() {
        let l = load(
            &[("prod.vars.hcl", "hosts = \"a\"\nregion = lower(\"X\")\n")],
            &[],
            &[],
        );
        insta::assert_snapshot!(diagnostic::render(&l.diagnostics, &l.source));
    }
}
