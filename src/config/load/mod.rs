//! From source text to a typed `Stack`: parse (hcl-edit, with spans), check every block and
//! attribute against the schema, resolve variables and locals, check references, evaluate,
//! and convert to the model. Every problem becomes a diagnostic at its span; loading goes
//! on after errors so that one run reports as much as it can.
//!
//! `loader` runs the passes in order. `structure` is pass 1; `variables`, `references` and
//! `locals` are pass 2; pass 3 reads each group of blocks into the model in its own module
//! (`stack`, `infrastructure`, `collector`, `compose`, `checks`) through the shared
//! attribute readers of `readers`. `syntax` reads the syntax tree; `ports` parses ports.

pub mod backend;
mod checks;
mod collector;
mod compose;
mod data;
mod expand;
mod formats;
mod infrastructure;
mod input_checks;
mod limits;
mod loader;
mod locals;
mod modules;
mod moves;
mod ports;
mod readers;
mod references;
mod stack;
mod structure;
mod syntax;
mod var_files;
mod variables;

pub use expand::NoInstances;
pub use modules::ModuleFiles;
pub use ports::{parse_port_mapping, parse_port_range};
pub use var_files::{AUTO_VAR_FILE_SUFFIX, DEFAULT_VAR_FILE, read_var_files, var_file_paths};

use super::diagnostic::{Diagnostic, Diagnostics};
use super::model::Stack;
use super::source::SourceFile;
use loader::Loader;
use std::collections::BTreeMap;
use std::path::Path;

/// Inputs beyond the file itself.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// `--var name=value` pairs (highest precedence).
    pub vars: BTreeMap<String, String>,
    /// The environment: `SOVSTACK_VAR_<name>` values and what `env()` reads.
    pub env: BTreeMap<String, String>,
    /// Variable files, lowest precedence first ([`var_file_paths`], [`read_var_files`]).
    pub var_files: Vec<SourceFile>,
    /// Attributes known from state after apply: `server.gpu.ipv4_address` -> value. Shared:
    /// the same map serves loading and rendering, and is large for a large state.
    pub known: std::sync::Arc<BTreeMap<String, String>>,
}

impl LoadOptions {
    /// Options from the process environment.
    pub fn from_process_env() -> Self {
        Self {
            env: std::env::vars().collect(),
            ..Self::default()
        }
    }
}

/// The result of loading: the stack when it could be built, and every diagnostic.
#[derive(Debug)]
pub struct Loaded {
    pub source: SourceFile,
    pub stack: Option<Stack>,
    pub diagnostics: Diagnostics,
    /// The module files spans may point into: findings made after loading (`validate`) are
    /// added through [`Loaded::add_findings`], which moves them there.
    pub module_files: ModuleFiles,
}

impl Loaded {
    /// Findings about the loaded stack (`validate`'s rules), located in the stack or in the
    /// module file their span lies in, with modules' blocks named by their addresses.
    pub fn add_findings(&mut self, findings: Diagnostics) {
        let files = &self.module_files;
        self.diagnostics
            .extend(findings.into_iter().map(|d| files.relocate(d)));
        self.diagnostics.sort();
    }
}

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum LoadError {
    #[error("cannot read {path}: {source}")]
    #[diagnostic(
        code(sovstack::config::read),
        help("run in the directory holding stack.hcl, or pass -C DIR / --stack FILE")
    )]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

pub fn load_file(path: &Path, opts: &LoadOptions) -> Result<Loaded, LoadError> {
    let text = std::fs::read_to_string(path).map_err(|source| LoadError::Read {
        path: path.display().to_string(),
        source,
    })?;
    let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
    Ok(load_str(&path.display().to_string(), &text, &base, opts))
}

pub fn load_str(name: &str, text: &str, base_dir: &Path, opts: &LoadOptions) -> Loaded {
    let source = SourceFile::new(name, text);
    let mut diags = Diagnostics::new();
    super::functions::set_environment(base_dir.to_path_buf(), opts.env.clone());
    let body = match hcl_edit::parser::parse_body(text) {
        Ok(b) => b,
        Err(e) => {
            let loc = e.location();
            diags.push(
                Diagnostic::error("language::syntax", format!("syntax error: {}", e.message()))
                    .at(loc.offset()..loc.offset())
                    .label("here")
                    .help(
                        "fix the HCL syntax at this place; `sovstack fmt` only formats valid files",
                    ),
            );
            return Loaded {
                source,
                stack: None,
                diagnostics: diags,
                module_files: ModuleFiles::default(),
            };
        }
    };
    // Modules first: their blocks may have `count` and `for_each` of their own.
    let spliced = modules::has_modules(&body).then(|| {
        // A module call's `count`/`for_each` reads the stack's variables and locals: a scratch
        // run over the stack without its module calls evaluates them (its findings are made
        // again by the run over the whole file).
        let scratch_ev = modules::has_module_instances(&body).then(|| {
            let mut scratch = Diagnostics::new();
            Loader::new(&source, &mut scratch, opts)
                .variables_and_locals(&modules::without_modules(&body))
        });
        modules::splice(&body, text.len(), base_dir, scratch_ev.as_ref())
    });
    let (body, combined) = match &spliced {
        Some(m) => {
            diags.extend(m.diagnostics.iter().cloned());
            (m.body.clone(), m.combined(&source))
        }
        None => (body, source.clone()),
    };
    let source_for_load = &combined;
    let (body, empty) = if expand::has_instances(&body) {
        // What the counts and collections read is evaluated by a scratch run: its findings
        // are made again, once, by the run over the expanded file.
        let mut scratch = Diagnostics::new();
        let ev = Loader::new(source_for_load, &mut scratch, opts).variables_and_locals(&body);
        let expanded = expand::expand(&body, &ev);
        diags.extend(expanded.diagnostics);
        (expanded.body, expanded.empty)
    } else {
        (body, Vec::new())
    };
    let mut loader = Loader::new(source_for_load, &mut diags, opts);
    loader.no_instances = empty;
    if let Some(m) = &spliced {
        loader.bad_refs = m.reported.clone();
        loader.input_checks = m.input_checks.clone();
    }
    let stack = loader.run(&body);
    let module_files = spliced.map(|m| m.files).unwrap_or_default();
    diags = diags
        .into_iter()
        .map(|d| module_files.relocate(d))
        .collect();
    diags.sort();
    Loaded {
        source,
        stack,
        diagnostics: diags,
        module_files,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_for_an_undeclared_variable_is_an_error() {
        let mut opts = LoadOptions::default();
        opts.vars.insert("imgae".into(), "x".into());
        let l = load_str(
            "s.hcl",
            "stack \"s\" {}\nvariable \"image\" {}\n",
            Path::new("."),
            &opts,
        );
        let d = l
            .diagnostics
            .iter()
            .find(|d| d.code == "language::undeclared-variable")
            .expect("reported");
        assert_eq!(d.help.as_deref(), Some("did you mean `image`?"));
    }

    /// The evaluator is given only the blocks some expression refers to, wherever that
    /// expression is: in a local, a nested block, a list.
    #[test]
    fn blocks_referred_to_from_anywhere_evaluate() {
        let opts = LoadOptions {
            known: std::sync::Arc::new(BTreeMap::from([(
                "server.a.ipv4_address".to_string(),
                "127.0.0.9".to_string(),
            )])),
            ..LoadOptions::default()
        };
        let text = r#"
stack "s" {}
ssh_key "k" {
  public_key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHjnsxkcV8lBTYD+jNVRMH3xx6UXzdeDRxQJFOB9ueSt k"
}
locals {
  peer = server.a.ipv4_address
}
server "a" {
  server_type = "cpx22"
  location    = "hel1"
  image       = "ubuntu-24.04"
  ssh_keys    = [ssh_key.k]
}
server "b" {
  server_type = "cx33"
  location    = "nbg1"
  image       = "debian-12"
  ssh_keys    = [ssh_key.k]
  labels = {
    peer = local.peer
    name = server.a.name
  }
}
"#;
        let l = load_str("s.hcl", text, Path::new("."), &opts);
        assert!(!l.diagnostics.has_errors(), "{:?}", l.diagnostics);
        let stack = l.stack.expect("a stack");
        let b = stack.server("b").expect("server b");
        assert_eq!(b.labels.get("peer").map(String::as_str), Some("127.0.0.9"));
        assert_eq!(b.labels.get("name").map(String::as_str), Some("a"));
        // Every reference is an edge, known value or not, through locals too.
        let used = |a: &str| stack.references.get(a).cloned().unwrap_or_default();
        assert_eq!(
            used("server.b"),
            ["server.a", "ssh_key.k"].map(String::from).into()
        );
        assert_eq!(used("server.a"), ["ssh_key.k"].map(String::from).into());
    }

    /// A cycle among locals is reported once, whole, each step pointed at.
    #[test]
    fn a_cycle_of_locals_is_reported_once_with_every_step() {
        let text = "stack \"s\" {}\nlocals {\n  a = local.b\n  b = local.c\n  c = local.a\n  d = local.a\n}\n";
        let l = load_str("s.hcl", text, Path::new("."), &LoadOptions::default());
        let cycles: Vec<_> = l
            .diagnostics
            .iter()
            .filter(|d| d.code == "language::cycle")
            .collect();
        assert_eq!(cycles.len(), 1, "{:?}", l.diagnostics);
        assert_eq!(
            cycles[0].message,
            "reference cycle: local.a -> local.b -> local.c -> local.a"
        );
        let steps: Vec<&str> = cycles[0]
            .related
            .iter()
            .map(|(span, _)| l.source.slice(span))
            .collect();
        assert_eq!(steps, ["local.b", "local.c", "local.a"]);
    }

    /// A long chain of locals evaluates, each seeing the locals it names.
    #[test]
    fn chains_of_locals_evaluate() {
        let mut text = String::from("stack \"s\" {}\nlocals {\n  l0 = 1\n");
        for i in 1..200 {
            text.push_str(&format!("  l{i} = local.l{} + 1\n", i - 1));
        }
        text.push_str("  all = local.l199 + local.l0\n}\noutput \"o\" {\n  value = [local.l199, local.all]\n}\n");
        let l = load_str("s.hcl", &text, Path::new("."), &LoadOptions::default());
        assert!(!l.diagnostics.has_errors(), "{:?}", l.diagnostics);
        let stack = l.stack.expect("a stack");
        assert_eq!(stack.outputs[0].value.value, serde_json::json!([200, 201]));
    }
}
