//! `module "name" { source = "./dir"  <inputs> }`: the `.hcl` files of a local directory,
//! spliced into the stack at the syntax level before anything else reads it, as `count` and
//! `for_each` are expanded. Inside module `m`:
//! - every block is renamed `m·<name>` (an identifier character no written name may hold, so
//!   no written block can collide with one; addresses print it as `module.m.server.x`,
//!   `config::instance::block_address`);
//! - `var.x` and `local.x` become locals `m·x` (an input is a local holding the caller's
//!   expression, or the variable's default), and references to the module's blocks follow
//!   their new names;
//! - `output "o"` becomes local `m·o`, which the caller reads as `module.m.o`;
//! - a `module "n"` inside `m` is spliced the same way with the prefix `m·n·`;
//! - a module call with `count` or `for_each` is spliced once per instance, as module
//!   `m‿<key>` (`m⁀<index>`; `config::instance::MODULE_KEY`), and `module.m` reads local
//!   `m‿`: the instances' outputs as a map by key (a list by index), so the caller writes
//!   `module.m["a"].o` or `module.m[each.key].o` as in Terraform.
//!
//! `source` is a directory beside the calling file or a module shipped inside the binary
//! (`sovstack/<name>`, `config::shipped`).
//!
//! The module's files are parsed at offsets past the end of the stack file (and of every file
//! before them), so each span says which file it is in: [`ModuleFiles::relocate`] moves
//! a diagnostic into its module file (`Diagnostic::file`).

use crate::config::diagnostic::Diagnostic;
use crate::config::eval::Evaluator;
use crate::config::eval::{REFERENCEABLE, literal, span_of};
use crate::config::instance::{
    InstanceKey, MODULE_KEY, MODULE_SEPARATOR, module_instance, module_key_is_valid,
};
use crate::config::shipped::{self, ShippedModule};
use crate::config::source::{SourceFile, Span};
use crate::config::suggest::help_for_unknown;
use hcl_edit::expr::{Array, Expression, Object, ObjectValue, Traversal, TraversalOperator};
use hcl_edit::structure::{Attribute, Block, BlockLabel, Body, Structure};
use hcl_edit::visit_mut::{VisitMut, visit_expr_mut};
use hcl_edit::{Decorated, Ident};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use super::syntax::{attr_span, find_attr, header_span, label};

mod files;
mod inputs;
mod instances;
mod rewrite;

pub use files::ModuleFiles;
use files::{Base, Placed, Source};
pub use inputs::InputCheck;
use inputs::{input, output};
use instances::Instanced;
use rewrite::{
    CallerRefs, Rename, declared_blocks, inner, input_name, local, local_name, rename_label, shown,
};

/// The stack with its modules spliced in, and where each module file's spans lie.
pub(super) struct Spliced {
    pub body: Body,
    pub diagnostics: Vec<Diagnostic>,
    /// Spans of references already reported here (a module's reference to what it does not
    /// declare): the loader does not report them again.
    pub reported: BTreeSet<(usize, usize)>,
    /// What the loader checks of the module inputs once values are known.
    pub input_checks: Vec<InputCheck>,
    pub files: ModuleFiles,
}

/// Whether the file calls any module (most stacks do not and skip this pass).
pub(super) fn has_modules(body: &Body) -> bool {
    super::syntax::blocks(body).any(|b| b.ident.as_str() == "module")
}

/// Whether a module call has `count` or `for_each`: then the stack's variables and locals are
/// evaluated first, by a scratch run over the stack without its module calls.
pub(super) fn has_module_instances(body: &Body) -> bool {
    super::syntax::blocks(body)
        .any(|b| b.ident.as_str() == "module" && super::expand::count_or_for_each(b).is_some())
}

/// The stack without its module calls: what a module's `count` or `for_each` may read.
pub(super) fn without_modules(body: &Body) -> Body {
    body.iter()
        .filter(|s| !matches!(s, Structure::Block(b) if b.ident.as_str() == "module"))
        .cloned()
        .collect()
}

/// The stack `body` (of `root_len` bytes, in `base_dir`) with every module spliced in; `ev`
/// evaluates the counts and collections of module calls ([`has_module_instances`]).
pub(super) fn splice(
    body: &Body,
    root_len: usize,
    base_dir: &Path,
    ev: Option<&Evaluator>,
) -> Spliced {
    let mut s = Splicer {
        next_offset: root_len + 1,
        files: Vec::new(),
        diags: Vec::new(),
        outputs: BTreeMap::new(),
        instanced: BTreeMap::new(),
        ev,
        parsed: BTreeMap::new(),
        reported: BTreeSet::new(),
        input_checks: Vec::new(),
    };
    let mut out = Body::builder();
    let mut locals = Vec::new();
    let mut inputs = Vec::new();
    let base = Base::Dir(base_dir.to_path_buf());
    for st in body.iter() {
        match st {
            Structure::Block(b) if b.ident.as_str() == "module" => {
                for m in s.call(b, &base, "") {
                    for block in m.blocks {
                        out = out.block(block);
                    }
                    locals.extend(m.locals);
                    inputs.extend(m.inputs);
                }
            }
            other => out = out.structure(other.clone()),
        }
    }
    locals.extend(s.instance_locals());
    let mut body = out.build();
    // The caller reads outputs as `module.m.o`.
    let mut callers = CallerRefs {
        prefix: String::new(),
        outputs: &s.outputs,
        instanced: &s.instanced,
        diags: &mut s.diags,
    };
    // Not in `moved` and `import`, whose addresses (`module.m.server.x`) are not outputs.
    for mut st in body.iter_mut() {
        if let Some(b) = st.as_block_mut()
            && !matches!(b.ident.as_str(), "moved" | "import")
        {
            callers.visit_block_mut(b);
        }
    }
    // Inputs are expressions of the calling file, which may read any module's outputs: they
    // are rewritten once every module's outputs are known, with their caller's prefix.
    for (prefix, mut a) in inputs {
        CallerRefs {
            prefix,
            outputs: &s.outputs,
            instanced: &s.instanced,
            diags: &mut s.diags,
        }
        .visit_expr_mut(&mut a.value);
        locals.push(a);
    }
    if !locals.is_empty() {
        let mut block = Block::new(Ident::new("locals"));
        block.body = locals.into_iter().map(Structure::Attribute).collect();
        body.push(block);
    }
    Spliced {
        body,
        diagnostics: s.diags,
        reported: s.reported,
        input_checks: s.input_checks,
        files: ModuleFiles { files: s.files },
    }
}

struct Splicer<'e> {
    next_offset: usize,
    files: Vec<Placed>,
    diags: Vec<Diagnostic>,
    /// Module name (an instance's for a call with `count`/`for_each`) -> its output names.
    outputs: BTreeMap<String, Vec<String>>,
    /// Module calls with `count` or `for_each` -> their instances.
    instanced: BTreeMap<String, Instanced>,
    ev: Option<&'e Evaluator>,
    /// Each source read so far (its path, or `sovstack/<name>`) -> its files parsed.
    parsed: BTreeMap<String, Body>,
    /// Spans of the references reported by [`Splicer::report_unknown`].
    reported: BTreeSet<(usize, usize)>,
    input_checks: Vec<InputCheck>,
}

/// What one module call adds to the stack.
struct Call {
    blocks: Vec<Block>,
    locals: Vec<Attribute>,
    /// Its inputs (and those of the modules it calls), each with the internal prefix of the
    /// file that gives it ("" for the stack, "m·" for module `m`).
    inputs: Vec<(String, Attribute)>,
}

/// A module's `variable` block: its input.
struct Input {
    name: String,
    default: Option<Expression>,
    ty: Option<crate::config::model::VarType>,
    span: Span,
    sensitive: bool,
    /// Its `validation` blocks: (condition, error message).
    validations: Vec<(Expression, Expression)>,
}

const CALL_ARGUMENTS: &[&str] = &["source", "version", "count", "for_each"];

impl Splicer<'_> {
    /// One splice of module call `call` as module `name` (internal: `m`, `outer·m`, `m‿a`).
    fn module(&mut self, call: &Block, base: &Base, name: &str) -> Option<Call> {
        let name = name.to_string();
        let source = self.source(call, base)?;
        let body = self.read_source(&source, call)?;
        let inner_base = match &source {
            Source::Local(dir) => Base::Dir(dir.clone()),
            Source::Shipped(m) => Base::Shipped(m),
        };
        let mut nested = Vec::new();
        let mut blocks = Vec::new();
        let mut inputs = Vec::new();
        let mut outputs = Vec::new();
        let mut own_locals = Vec::new();
        for b in super::syntax::blocks(&body) {
            match b.ident.as_str() {
                "variable" => inputs.extend(input(b)),
                "output" => outputs.extend(output(b)),
                "locals" => own_locals.extend(super::syntax::attrs(&b.body).cloned()),
                "module" => nested.push(b.clone()),
                "stack" | "moved" | "import" => self.diags.push(
                    Diagnostic::error(
                        "language::module",
                        format!("a module may not hold a `{}` block", b.ident.as_str()),
                    )
                    .at(header_span(b))
                    .help("modules hold variables, locals, outputs, modules and resource blocks; move this block to the stack"),
                ),
                _ => blocks.push(b.clone()),
            }
        }
        let declared = declared_blocks(&blocks);
        let input_names: BTreeSet<String> = inputs.iter().map(|i| i.name.clone()).collect();
        let local_names: BTreeSet<String> = own_locals
            .iter()
            .map(|a| a.key.as_str().to_string())
            .collect();
        let mut rename = Rename {
            module: &name,
            blocks: &declared,
            inputs: &input_names,
            locals: &local_names,
            unknown: Vec::new(),
        };
        let caller = name.rfind(MODULE_SEPARATOR).map_or(String::new(), |i| {
            name[..i + MODULE_SEPARATOR.len_utf8()].to_string()
        });
        let mut call_inputs: Vec<(String, Attribute)> = self
            .inputs(call, &name, &inputs, &mut rename)
            .into_iter()
            .map(|a| (caller.clone(), a))
            .collect();
        let mut own = Vec::new();
        for mut a in own_locals {
            rename.visit_expr_mut(&mut a.value);
            own.push(local(local_name(&name, a.key.as_str()), a.value));
        }
        for (o, mut value) in outputs.clone() {
            rename.visit_expr_mut(&mut value);
            own.push(local(inner(&name, &o), value));
        }
        for b in &mut blocks {
            rename_label(b, &name);
            rename.visit_body_mut(&mut b.body);
        }
        // Modules this module calls: their inputs are in this module's scope.
        let inner_prefix = format!("{name}{MODULE_SEPARATOR}");
        let mut inner_blocks = Vec::new();
        let mut locals = Vec::new();
        for mut c in nested {
            rename.visit_body_mut(&mut c.body);
            for m in self.call(&c, &inner_base, &inner_prefix) {
                inner_blocks.extend(m.blocks);
                locals.extend(m.locals);
                call_inputs.extend(m.inputs);
            }
        }
        let unknown = std::mem::take(&mut rename.unknown);
        self.report_unknown(&name, unknown, &input_names, &local_names, &declared);
        // `module.<inner>.<output>` in this module's own parts.
        let mut callers = CallerRefs {
            prefix: inner_prefix,
            outputs: &self.outputs,
            instanced: &self.instanced,
            diags: &mut self.diags,
        };
        for b in &mut blocks {
            callers.visit_block_mut(b);
        }
        for a in &mut own {
            callers.visit_expr_mut(&mut a.value);
        }
        locals.extend(own);
        blocks.extend(inner_blocks);
        self.outputs
            .insert(name, outputs.into_iter().map(|(n, _)| n).collect());
        Some(Call {
            blocks,
            locals,
            inputs: call_inputs,
        })
    }

    /// References in a module to inputs, locals or blocks it does not declare: a module sees
    /// only its own (the stack's must be passed in as inputs).
    fn report_unknown(
        &mut self,
        module: &str,
        unknown: Vec<(String, Span)>,
        inputs: &BTreeSet<String>,
        locals: &BTreeSet<String>,
        blocks: &BTreeMap<String, BTreeSet<String>>,
    ) {
        for (reference, span) in unknown {
            if !self.reported.insert((span.start, span.end)) {
                continue;
            }
            let (kind, name) = reference.rsplit_once('.').unwrap_or(("", &reference));
            let (what, known): (&str, Vec<&str>) = match kind {
                "var" => ("input", inputs.iter().map(String::as_str).collect()),
                "local" => ("local", locals.iter().map(String::as_str).collect()),
                k => (
                    k,
                    blocks
                        .get(k)
                        .into_iter()
                        .flatten()
                        .map(String::as_str)
                        .collect(),
                ),
            };
            let help = if known.is_empty() && !matches!(kind, "var" | "local") {
                format!(
                    "a module sees only its own blocks and inputs: declare `variable \"{name}\"` in the module and give it `{reference}` in the module block"
                )
            } else {
                let plural = match kind {
                    "var" => "inputs",
                    "local" => "locals",
                    _ => "names",
                };
                help_for_unknown(name, known.iter().copied(), plural)
            };
            self.diags.push(
                Diagnostic::error(
                    "language::undefined-reference",
                    format!("module `{}` has no {what} `{name}`", shown(module)),
                )
                .at(span)
                .help(help),
            );
        }
    }
}

#[cfg(test)]
mod tests;
