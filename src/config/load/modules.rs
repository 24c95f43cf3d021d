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
//! before them), so each span says which file it is in: [`Spliced::relocate`] moves a
//! diagnostic into its module file (`Diagnostic::file`).

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

/// One module file as loaded: where its spans start in the combined offsets.
#[derive(Debug, Clone)]
struct Placed {
    file: SourceFile,
    offset: usize,
}

/// The stack with its modules spliced in, and where each module file's spans lie.
pub(super) struct Spliced {
    pub body: Body,
    pub diagnostics: Vec<Diagnostic>,
    pub files: ModuleFiles,
}

/// The module files a stack's spans may point into, each at its offset past the stack file.
#[derive(Debug, Clone, Default)]
pub struct ModuleFiles {
    files: Vec<Placed>,
}

/// Whether the file calls any module (most stacks do not and skip this pass).
pub(super) fn has_modules(body: &Body) -> bool {
    super::syntax::blocks(body).any(|b| b.ident.as_str() == "module")
}

/// Whether a module call has `count` or `for_each`: then the stack's variables and locals are
/// evaluated first, by a scratch run over the stack without its module calls.
pub(super) fn has_module_instances(body: &Body) -> bool {
    super::syntax::blocks(body).any(|b| b.ident.as_str() == "module" && meta_argument(b).is_some())
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
    };
    let mut out = Body::builder();
    let mut locals = Vec::new();
    let base = Base::Dir(base_dir.to_path_buf());
    for st in body.iter() {
        match st {
            Structure::Block(b) if b.ident.as_str() == "module" => {
                for m in s.call(b, &base, "") {
                    for block in m.blocks {
                        out = out.block(block);
                    }
                    locals.extend(m.locals);
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
    if !locals.is_empty() {
        let mut block = Block::new(Ident::new("locals"));
        block.body = locals.into_iter().map(Structure::Attribute).collect();
        body.push(block);
    }
    Spliced {
        body,
        diagnostics: s.diags,
        files: ModuleFiles { files: s.files },
    }
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
fn readable_names(text: &str) -> String {
    if !text.contains(MODULE_SEPARATOR) {
        return text.to_string();
    }
    let in_name = |c: char| c.is_alphanumeric() || "_-\u{b7}\u{203f}\u{2040}".contains(c);
    let mut out = String::with_capacity(text.len() + 16);
    let mut rest = text;
    while let Some(start) = rest.find(in_name) {
        out.push_str(&rest[..start]);
        let after = &rest[start..];
        let end = after.find(|c: char| !in_name(c)).unwrap_or(after.len());
        let word = &after[..end];
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
            if kind_len > 0 {
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

struct Splicer<'e> {
    next_offset: usize,
    files: Vec<Placed>,
    diags: Vec<Diagnostic>,
    /// Module name (an instance's for a call with `count`/`for_each`) -> its output names.
    outputs: BTreeMap<String, Vec<String>>,
    /// Module calls with `count` or `for_each` -> their instances.
    instanced: BTreeMap<String, Instanced>,
    ev: Option<&'e Evaluator>,
}

/// The instances of a module call with `count` (`count`) or `for_each`.
struct Instanced {
    count: bool,
    /// Each instance's key and internal module name.
    keys: Vec<(InstanceKey, String)>,
}

/// Where a module's source is.
enum Source {
    Local(PathBuf),
    Shipped(&'static ShippedModule),
}

/// Where the calling file is: the directory `./` paths are relative to, or a shipped module.
enum Base {
    Dir(PathBuf),
    Shipped(&'static ShippedModule),
}

/// `count` or `for_each` of a module call, with its name.
fn meta_argument(call: &Block) -> Option<(&'static str, &Expression)> {
    ["count", "for_each"]
        .into_iter()
        .find_map(|n| find_attr(&call.body, n).map(|a| (n, &a.value)))
}

/// What one module call adds to the stack.
struct Call {
    blocks: Vec<Block>,
    locals: Vec<Attribute>,
}

/// A module's `variable` block: its input.
struct Input {
    name: String,
    default: Option<Expression>,
    ty: Option<crate::config::model::VarType>,
    span: Span,
}

const CALL_ARGUMENTS: &[&str] = &["source", "count", "for_each"];

impl Splicer<'_> {
    /// Module call `call` of the stack (`prefix` "") or of module `m` (`prefix` "m·"): spliced
    /// once, or once per instance of its `count` or `for_each`.
    fn call(&mut self, call: &Block, base: &Base, prefix: &str) -> Vec<Call> {
        let Some((short, name_span)) = call.labels.first().map(label) else {
            return Vec::new();
        };
        let name = format!("{prefix}{short}");
        if self.outputs.contains_key(&name) || self.instanced.contains_key(&name) {
            self.diags.push(
                Diagnostic::error(
                    "language::duplicate",
                    format!("module `{short}` is declared twice"),
                )
                .at(name_span)
                .help("give each module call its own name"),
            );
            return Vec::new();
        }
        let Some((arg, expr)) = meta_argument(call) else {
            return self.module(call, base, &name).into_iter().collect();
        };
        let count = arg == "count";
        let mut calls = Vec::new();
        let mut keys = Vec::new();
        for i in self.instances(arg, expr, prefix) {
            if let InstanceKey::Key(k) = &i.key
                && !module_key_is_valid(k)
            {
                self.diags.push(
                    Diagnostic::error(
                        "language::count-for-each",
                        format!("`for_each` of module `{short}` has key `{k}`, which cannot name a module instance"),
                    )
                    .at(span_of(expr))
                    .help("a module's instance keys hold only letters, digits, `-` and `_`; map the keys (`{ for k, v in var.x : replace(k, \".\", \"-\") => v }`)"),
                );
                continue;
            }
            let mut one = super::expand::without_meta(call);
            super::expand::substitute(&mut one.body, &i);
            let instance = module_instance(&name, &i.key);
            calls.extend(self.module(&one, base, &instance));
            keys.push((i.key, instance));
        }
        self.instanced.insert(name, Instanced { count, keys });
        calls
    }

    /// The instances of a module call's `count` or `for_each`; none (reported) when they
    /// cannot be known.
    fn instances(
        &mut self,
        arg: &str,
        expr: &Expression,
        prefix: &str,
    ) -> Vec<super::expand::Instance> {
        let refuse = |what: &str| {
            Diagnostic::error("language::count-for-each", format!("`{arg}` on {what}"))
                .at(span_of(expr))
        };
        let found = match self.ev {
            _ if !prefix.is_empty() => Err(refuse("a module called from a module is not supported yet")
                .help("give the outer module the `count`/`for_each`, or use them on the blocks inside the inner module")),
            None => Err(refuse("this module call cannot be evaluated")
                .help("this is a bug in sovstack; please report it with the stack file")),
            Some(ev) => super::expand::instances(arg, expr, ev),
        };
        found.unwrap_or_else(|d| {
            self.diags.push(d);
            Vec::new()
        })
    }

    /// For each module call with instances, local `m‿`: the instances' outputs, a map by key
    /// (`for_each`) or a list by index (`count`), which `module.m` reads.
    fn instance_locals(&self) -> Vec<Attribute> {
        let mut out = Vec::new();
        for (name, inst) in &self.instanced {
            let outputs = |instance: &str| {
                let mut o = Object::new();
                for output in self.outputs.get(instance).into_iter().flatten() {
                    let read = Traversal::new(
                        Expression::Variable(Decorated::new(Ident::new("local"))),
                        vec![Decorated::new(TraversalOperator::GetAttr(Decorated::new(
                            Ident::new_unchecked(inner(instance, output)),
                        )))],
                    );
                    o.insert(Expression::from(output.as_str()), ObjectValue::new(read));
                }
                Expression::from(o)
            };
            let all = if inst.count {
                let mut a = Array::new();
                for (_, instance) in &inst.keys {
                    a.push(outputs(instance));
                }
                Expression::from(a)
            } else {
                let mut o = Object::new();
                for (key, instance) in &inst.keys {
                    if let InstanceKey::Key(k) = key {
                        o.insert(
                            Expression::from(k.as_str()),
                            ObjectValue::new(outputs(instance)),
                        );
                    }
                }
                Expression::from(o)
            };
            out.push(Attribute::new(
                Decorated::new(Ident::new_unchecked(format!("{name}{MODULE_KEY}"))),
                all,
            ));
        }
        out
    }

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
            .chain(outputs.iter().map(|(n, _)| n.clone()))
            .collect();
        let mut rename = Rename {
            module: &name,
            blocks: &declared,
            inputs: &input_names,
            locals: &local_names,
        };
        let mut locals = self.inputs(call, &name, &inputs, &mut rename);
        let mut own = Vec::new();
        for mut a in own_locals {
            rename.visit_expr_mut(&mut a.value);
            own.push(local(&name, a.key.as_str(), a.value));
        }
        for (o, mut value) in outputs.clone() {
            rename.visit_expr_mut(&mut value);
            own.push(local(&name, &o, value));
        }
        for b in &mut blocks {
            rename_label(b, &name);
            rename.visit_body_mut(&mut b.body);
        }
        // Modules this module calls: their inputs are in this module's scope.
        let inner_prefix = format!("{name}{MODULE_SEPARATOR}");
        let mut inner_blocks = Vec::new();
        for mut c in nested {
            rename.visit_body_mut(&mut c.body);
            for m in self.call(&c, &inner_base, &inner_prefix) {
                inner_blocks.extend(m.blocks);
                locals.extend(m.locals);
            }
        }
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
        Some(Call { blocks, locals })
    }

    /// `source`: a directory beside the calling file (`./dir`, `../dir`) or a module shipped
    /// with sovstack (`sovstack/signoz`).
    fn source(&mut self, call: &Block, base: &Base) -> Option<Source> {
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
        if let Some(name) = text.strip_prefix(shipped::SOURCE_PREFIX) {
            return match shipped::find(name) {
                Some(m) => Some(Source::Shipped(m)),
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

    /// The module's files: every `.hcl` file of a local directory in name order, or the
    /// files of a shipped module.
    fn read_source(&mut self, source: &Source, call: &Block) -> Option<Body> {
        match source {
            Source::Local(dir) => self.read_dir(dir, call),
            Source::Shipped(m) => {
                let mut body = Body::new();
                for f in m.files {
                    let file = SourceFile::new(m.file_name(f), f.text);
                    body.extend(self.parse_file(file));
                }
                Some(body)
            }
        }
    }

    /// Every `.hcl` file of `dir`, in name order, each parsed at its own offset.
    fn read_dir(&mut self, dir: &Path, call: &Block) -> Option<Body> {
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
    fn parse_file(&mut self, file: SourceFile) -> Body {
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

    /// The module's inputs as locals: the caller's expression, else the default. A missing
    /// required input, an unknown one and a literal of the wrong type are reported.
    fn inputs(
        &mut self,
        call: &Block,
        module: &str,
        inputs: &[Input],
        rename: &mut Rename<'_>,
    ) -> Vec<Attribute> {
        let given: Vec<&Attribute> = super::syntax::attrs(&call.body)
            .filter(|a| !CALL_ARGUMENTS.contains(&a.key.as_str()))
            .collect();
        for a in &given {
            if !inputs.iter().any(|i| i.name == a.key.as_str()) {
                let names: Vec<&str> = inputs.iter().map(|i| i.name.as_str()).collect();
                self.diags.push(
                    Diagnostic::error(
                        "language::module-input",
                        format!(
                            "module `{}` has no input `{}`",
                            shown(module),
                            a.key.as_str()
                        ),
                    )
                    .at(attr_span(a))
                    .help(help_for_unknown(
                        a.key.as_str(),
                        names.iter().copied(),
                        "inputs",
                    )),
                );
            }
        }
        let mut locals = Vec::new();
        for i in inputs {
            match given.iter().find(|a| a.key.as_str() == i.name) {
                Some(a) => {
                    self.check_type(module, i, a);
                    locals.push(local(module, &i.name, a.value.clone()));
                }
                None => match &i.default {
                    Some(d) => {
                        let mut d = d.clone();
                        rename.visit_expr_mut(&mut d);
                        locals.push(local(module, &i.name, d));
                    }
                    None => {
                        self.diags.push(
                            Diagnostic::error(
                                "language::module-input",
                                format!("module `{}` needs input `{}`", shown(module), i.name),
                            )
                            .at(header_span(call))
                            .help(format!(
                                "add `{} = ...` to the module block; the module declares it without a default",
                                i.name
                            )),
                        );
                        // Declared, so that what reads it is not reported a second time.
                        locals.push(local(
                            module,
                            &i.name,
                            Expression::Null(Decorated::new(hcl_edit::expr::Null)),
                        ));
                    }
                },
            }
        }
        locals
    }

    /// A literal input of the wrong type, reported at the value, with the declaration (in
    /// the module's file) named.
    fn check_type(&mut self, module: &str, i: &Input, given: &Attribute) {
        let (Some(ty), Some(v)) = (i.ty, literal(&given.value)) else {
            return;
        };
        if let Err(found) = super::variables::check_type(&v, ty) {
            let declared = self
                .files
                .iter()
                .rev()
                .find(|p| p.offset <= i.span.start)
                .map(|p| {
                    let (line, _) = p.file.line_col(i.span.start - p.offset);
                    format!("{}:{line}", p.file.name())
                })
                .unwrap_or_default();
            self.diags.push(
                Diagnostic::error(
                    "language::module-input",
                    format!(
                        "input `{}` of module `{}` must be {}, {found}",
                        i.name,
                        shown(module),
                        ty.describe()
                    ),
                )
                .at(span_of(&given.value))
                .help(format!("give a {} (declared at {declared})", ty.describe())),
            );
        }
    }
}

fn input(b: &Block) -> Option<Input> {
    let (name, _) = b.labels.first().map(label)?;
    Some(Input {
        name,
        default: find_attr(&b.body, "default").map(|a| a.value.clone()),
        ty: find_attr(&b.body, "type").and_then(|a| super::variables::parse_type(&a.value)),
        span: header_span(b),
    })
}

fn output(b: &Block) -> Option<(String, Expression)> {
    let (name, _) = b.labels.first().map(label)?;
    Some((name, find_attr(&b.body, "value")?.value.clone()))
}

/// A module's name as its caller wrote it (`inner` for `outer·inner`, `m["a"]` for `m‿a`).
fn shown(module: &str) -> String {
    crate::config::instance::module_shown(module.rsplit(MODULE_SEPARATOR).next().unwrap_or(module))
}

/// The internal name of `name` in module `module`.
fn inner(module: &str, name: &str) -> String {
    format!("{module}{MODULE_SEPARATOR}{name}")
}

fn local(module: &str, name: &str, value: Expression) -> Attribute {
    Attribute::new(
        Decorated::new(Ident::new_unchecked(inner(module, name))),
        value,
    )
}

/// kind -> names of the module's blocks (`data.<kind>` for data blocks).
fn declared_blocks(blocks: &[Block]) -> BTreeMap<String, BTreeSet<String>> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for b in blocks {
        let (kind, l) = match b.ident.as_str() {
            "data" => match b.labels.first().map(label) {
                Some((k, _)) => (format!("data.{k}"), b.labels.get(1)),
                None => continue,
            },
            k => (k.to_string(), b.labels.first()),
        };
        if let Some(l) = l {
            out.entry(kind).or_default().insert(label(l).0);
        }
    }
    out
}

/// The block's own name label renamed into the module (a span-less label: diagnostics about
/// the block point at its type, which keeps its span in the module file).
fn rename_label(b: &mut Block, module: &str) {
    let at = usize::from(b.ident.as_str() == "data");
    if let Some(l) = b.labels.get_mut(at) {
        let (name, _) = label(l);
        *l = BlockLabel::String(Decorated::new(inner(module, &name)));
    }
}

/// Rewrites references inside a module's body to the names its parts have in the stack.
struct Rename<'a> {
    module: &'a str,
    blocks: &'a BTreeMap<String, BTreeSet<String>>,
    inputs: &'a BTreeSet<String>,
    locals: &'a BTreeSet<String>,
}

impl VisitMut for Rename<'_> {
    fn visit_expr_mut(&mut self, node: &mut Expression) {
        if let Expression::Traversal(t) = node {
            self.rename(t);
        }
        visit_expr_mut(self, node);
    }
}

impl Rename<'_> {
    fn rename(&self, t: &mut Traversal) {
        let Expression::Variable(root) = &t.expr else {
            return;
        };
        let root = root.as_str().to_string();
        let at = match root.as_str() {
            "var" | "local" => 0,
            "data" => 1,
            k if REFERENCEABLE.iter().any(|(r, _)| *r == k) => 0,
            _ => return,
        };
        let Some(TraversalOperator::GetAttr(first)) = t.operators.first().map(|o| o.value()) else {
            return;
        };
        let (kind, name) = match (root.as_str(), at) {
            ("data", _) => match t.operators.get(1).map(|o| o.value()) {
                Some(TraversalOperator::GetAttr(n)) => {
                    (format!("data.{}", first.as_str()), n.as_str().to_string())
                }
                _ => return,
            },
            (k, _) => (k.to_string(), first.as_str().to_string()),
        };
        let ours = match root.as_str() {
            "var" => self.inputs.contains(&name),
            "local" => self.locals.contains(&name),
            _ => self.blocks.get(&kind).is_some_and(|s| s.contains(&name)),
        };
        if !ours {
            return;
        }
        if root == "var"
            && let Expression::Variable(v) = &mut t.expr
        {
            **v = Ident::new("local");
        }
        if let Some(op) = t.operators.get_mut(at)
            && let TraversalOperator::GetAttr(id) = op.value_mut()
        {
            // In place: the name keeps its span.
            **id = Ident::new_unchecked(inner(self.module, &name));
        }
    }
}

/// `module.m.o` in the caller becomes `local.m·o`; an unknown module or output is reported.
struct CallerRefs<'a> {
    /// The internal prefix of the caller's modules: "" in the stack, "m·" in module `m`.
    prefix: String,
    outputs: &'a BTreeMap<String, Vec<String>>,
    instanced: &'a BTreeMap<String, Instanced>,
    diags: &'a mut Vec<Diagnostic>,
}

impl VisitMut for CallerRefs<'_> {
    fn visit_expr_mut(&mut self, node: &mut Expression) {
        if let Expression::Traversal(t) = node {
            self.rewrite(t);
        }
        visit_expr_mut(self, node);
    }
}

impl CallerRefs<'_> {
    fn rewrite(&mut self, t: &mut Traversal) {
        let Expression::Variable(root) = &t.expr else {
            return;
        };
        if root.as_str() != "module" {
            return;
        }
        let span = hcl_edit::Span::span(&*t).unwrap_or(0..0);
        let attr = |i: usize| match t.operators.get(i).map(|o| o.value()) {
            Some(TraversalOperator::GetAttr(n)) => Some(n.as_str().to_string()),
            _ => None,
        };
        let Some(module) = attr(0) else {
            self.diags.push(
                Diagnostic::error(
                    "language::undefined-reference",
                    "a module is read by one of its outputs",
                )
                .at(span)
                .help("write `module.<name>.<output>`"),
            );
            return;
        };
        let path = format!("{}{module}", self.prefix);
        if let Some(inst) = self.instanced.get(&path) {
            self.rewrite_instances(t, &module, &path, inst, span);
            return;
        }
        let Some(output) = attr(1) else {
            self.diags.push(
                Diagnostic::error(
                    "language::undefined-reference",
                    format!("module `{module}` is read by one of its outputs"),
                )
                .at(span)
                .help(format!("write `module.{module}.<output>`")),
            );
            return;
        };
        let Some(outputs) = self.outputs.get(&path) else {
            let names: Vec<&str> = self
                .outputs
                .keys()
                .filter_map(|k| k.strip_prefix(self.prefix.as_str()))
                .filter(|k| !k.contains(MODULE_SEPARATOR))
                .collect();
            self.diags.push(
                Diagnostic::error(
                    "language::undefined-reference",
                    format!("there is no module `{module}`"),
                )
                .at(span)
                .help(help_for_unknown(&module, names.iter().copied(), "modules")),
            );
            return;
        };
        if !outputs.contains(&output) {
            self.diags
                .push(no_such_output(&module, &output, outputs, span));
            return;
        }
        if let Expression::Variable(v) = &mut t.expr {
            **v = Ident::new("local");
        }
        t.operators.remove(0);
        if let Some(op) = t.operators.first_mut()
            && let TraversalOperator::GetAttr(id) = op.value_mut()
        {
            **id = Ident::new_unchecked(inner(&path, &output));
        }
    }
}

impl CallerRefs<'_> {
    /// `module.m...` of a module call with instances reads local `m‿` (the instances'
    /// outputs); an output named after an instance (`module.m["a"].o`) must exist.
    fn rewrite_instances(
        &mut self,
        t: &mut Traversal,
        module: &str,
        path: &str,
        inst: &Instanced,
        span: Span,
    ) {
        let output = match (
            t.operators.get(1).map(|o| o.value()),
            t.operators.get(2).map(|o| o.value()),
        ) {
            (
                Some(TraversalOperator::Index(_) | TraversalOperator::LegacyIndex(_)),
                Some(TraversalOperator::GetAttr(o)),
            ) => Some(o.as_str().to_string()),
            (Some(TraversalOperator::GetAttr(o)), _) => {
                let index = if inst.count { "[0]" } else { "[\"<key>\"]" };
                self.diags.push(
                    Diagnostic::error(
                        "language::undefined-reference",
                        format!(
                            "module `{module}` has {}: name one to read its output `{}`",
                            if inst.count { "`count`" } else { "`for_each`" },
                            o.as_str()
                        ),
                    )
                    .at(span)
                    .help(format!("write `module.{module}{index}.{}`", o.as_str())),
                );
                return;
            }
            _ => None,
        };
        let outputs = inst
            .keys
            .first()
            .and_then(|(_, instance)| self.outputs.get(instance));
        if let (Some(output), Some(outputs)) = (output, outputs)
            && !outputs.contains(&output)
        {
            self.diags
                .push(no_such_output(module, &output, outputs, span));
            return;
        }
        if let Expression::Variable(v) = &mut t.expr {
            **v = Ident::new("local");
        }
        // A literal key reads that instance's output alone, so what reads it depends on that
        // instance only; any other index reads the map of all of them.
        let literal_instance = match t.operators.get(1).map(|o| o.value()) {
            Some(TraversalOperator::Index(e)) => match literal(e) {
                Some(serde_json::Value::String(k)) if !inst.count => Some(InstanceKey::Key(k)),
                Some(serde_json::Value::Number(n)) if inst.count => {
                    n.as_u64().map(InstanceKey::Index)
                }
                _ => None,
            },
            Some(TraversalOperator::LegacyIndex(i)) if inst.count => Some(InstanceKey::Index(**i)),
            _ => None,
        }
        .and_then(|k| inst.keys.iter().find(|(key, _)| *key == k))
        .map(|(_, instance)| instance.clone());
        if let (Some(instance), Some(TraversalOperator::GetAttr(o))) =
            (literal_instance, t.operators.get(2).map(|o| o.value()))
        {
            let read = inner(&instance, o.as_str());
            t.operators.drain(..2);
            if let Some(op) = t.operators.first_mut() {
                *op.value_mut() =
                    TraversalOperator::GetAttr(Decorated::new(Ident::new_unchecked(read)));
            }
            return;
        }
        if let Some(op) = t.operators.first_mut()
            && let TraversalOperator::GetAttr(id) = op.value_mut()
        {
            **id = Ident::new_unchecked(format!("{path}{MODULE_KEY}"));
        }
    }
}

/// `module.<module>.<output>` names an output the module does not have.
fn no_such_output(module: &str, output: &str, outputs: &[String], span: Span) -> Diagnostic {
    Diagnostic::error(
        "language::undefined-reference",
        format!("module `{module}` has no output `{output}`"),
    )
    .at(span)
    .help(help_for_unknown(
        output,
        outputs.iter().map(String::as_str),
        "outputs",
    ))
}

#[cfg(test)]
mod tests {
    use crate::config::{LoadOptions, Loaded, load_str};
    const KEY: &str = "ssh_key \"k\" {\n  public_key = \"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHjnsxkcV8lBTYD+jNVRMH3xx6UXzdeDRxQJFOB9ueSt k\"\n}\n";

    /// A module `db` with a server named from an input, and an output of its address.
    const MODULE: &str = "variable \"size\" {\n  type = string\n}\n\nvariable \"where\" {\n  type    = string\n  default = \"fsn1\"\n}\n\nlocals {\n  role = \"db-${var.size}\"\n}\n\nserver \"main\" {\n  server_type = var.size\n  location    = var.where\n  image       = \"ubuntu-24.04\"\n  labels      = { role = local.role }\n}\n\noutput \"address\" {\n  value = server.main.ipv4_address\n}\n";

    fn load_with(module: &str, call: &str) -> (tempfile::TempDir, Loaded) {
        load_reading(module, call, "module.db.address")
    }

    /// The stack calling module `db` with `call`; its server `app` has label `db = <read>`.
    fn load_reading(module: &str, call: &str, read: &str) -> (tempfile::TempDir, Loaded) {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir_all(dir.path().join("db")).expect("module dir");
        std::fs::write(dir.path().join("db/main.hcl"), module).expect("module file");
        let text = format!(
            "stack \"s\" {{}}\n{KEY}{call}\nserver \"app\" {{\n  server_type = \"cx23\"\n  location    = \"nbg1\"\n  image       = \"ubuntu-24.04\"\n  ssh_keys    = [ssh_key.k]\n  labels      = {{ db = {read} }}\n}}\n"
        );
        let l = load_str("stack.hcl", &text, dir.path(), &LoadOptions::default());
        (dir, l)
    }

    #[test]
    fn a_modules_blocks_join_the_stack_under_its_name_and_its_outputs_flow_out() {
        let (_d, l) = load_with(
            MODULE,
            "module \"db\" {\n  source = \"./db\"\n  size   = \"cx33\"\n}\n",
        );
        assert!(!l.diagnostics.has_errors(), "{:?}", l.diagnostics);
        let stack = l.stack.expect("a stack");
        let db = stack.server("db\u{b7}main").expect("the module's server");
        assert_eq!(db.server_type.value, "cx33");
        assert_eq!(db.location.value, "fsn1");
        assert_eq!(db.labels["role"], "db-cx33");
        // The root server reads the module's output: a dependency on the module's server.
        let used = stack
            .references
            .get("server.app")
            .cloned()
            .unwrap_or_default();
        assert!(used.contains("module.db.server.main"), "{used:?}");
        let app = stack.server("app").expect("server app");
        assert_eq!(
            app.labels["db"],
            crate::config::value::after_apply("module.db.server.main.ipv4_address")
        );
    }

    #[test]
    fn inputs_are_checked_against_the_modules_variables() {
        let (_d, l) = load_with(
            MODULE,
            "module \"db\" {\n  source = \"./db\"\n  sise   = \"cx33\"\n  where  = 3\n}\n",
        );
        let found: Vec<(&str, String, Option<&str>)> = l
            .diagnostics
            .iter()
            .filter(|d| d.code == "language::module-input")
            .map(|d| (d.code, d.message.clone(), d.help.as_deref()))
            .collect();
        assert_eq!(
            found,
            [
                (
                    "language::module-input",
                    "module `db` needs input `size`".to_string(),
                    Some(
                        "add `size = ...` to the module block; the module declares it without a default"
                    )
                ),
                (
                    "language::module-input",
                    "module `db` has no input `sise`".to_string(),
                    Some("did you mean `size`?")
                ),
                (
                    "language::module-input",
                    "input `where` of module `db` must be string, found number".to_string(),
                    found[2].2
                ),
            ],
            "{:?}",
            l.diagnostics
        );
        assert!(
            found[2].2.is_some_and(|h| h.ends_with("db/main.hcl:5)")),
            "{found:?}"
        );
        // A missing input is reported once, not again where the module reads it.
        assert!(
            !l.diagnostics
                .iter()
                .any(|d| d.code == "language::undefined-reference"),
            "{:?}",
            l.diagnostics
        );
    }

    /// A mistake inside the module is reported in the module's file, at its line.
    #[test]
    fn findings_inside_a_module_point_into_its_file() {
        let module = MODULE.replace("image       = \"ubuntu-24.04\"", "imgae = \"ubuntu-24.04\"");
        let (_d, l) = load_with(
            &module,
            "module \"db\" {\n  source = \"./db\"\n  size   = \"cx33\"\n}\n",
        );
        let d = l
            .diagnostics
            .iter()
            .find(|d| d.code == "language::unknown-attribute")
            .expect("reported");
        let file = d.file.as_ref().expect("in the module's file");
        assert!(file.name().ends_with("db/main.hcl"), "{}", file.name());
        let span = d.span.clone().expect("located");
        assert_eq!(file.slice(&span).split_whitespace().next(), Some("imgae"));
        assert_eq!(file.line_col(span.start).0, 17);
    }

    /// A module calling a module: the inner module's blocks are `module.outer.module.db...`,
    /// its inputs come from the outer module's scope, its outputs flow out through the outer.
    #[test]
    fn a_module_calls_a_module() {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir_all(dir.path().join("outer/db")).expect("module dirs");
        std::fs::write(dir.path().join("outer/db/main.hcl"), MODULE).expect("inner module");
        std::fs::write(
            dir.path().join("outer/main.hcl"),
            "variable \"size\" {}\n\nmodule \"db\" {\n  source = \"./db\"\n  size   = var.size\n}\n\noutput \"address\" {\n  value = module.db.address\n}\n",
        )
        .expect("outer module");
        let text = format!(
            "stack \"s\" {{}}\n{KEY}module \"outer\" {{\n  source = \"./outer\"\n  size   = \"cx33\"\n}}\noutput \"o\" {{\n  value = module.outer.address\n}}\n"
        );
        let l = load_str("stack.hcl", &text, dir.path(), &LoadOptions::default());
        assert!(!l.diagnostics.has_errors(), "{:?}", l.diagnostics);
        let stack = l.stack.expect("a stack");
        let db = stack
            .server("outer\u{b7}db\u{b7}main")
            .expect("the inner module's server");
        assert_eq!(db.server_type.value, "cx33");
        assert_eq!(
            stack.outputs[0].value.value,
            serde_json::json!(crate::config::value::after_apply(
                "module.outer.module.db.server.main.ipv4_address"
            ))
        );
    }

    #[test]
    fn unknown_modules_outputs_and_sources_are_reported() {
        let (_d, l) = load_with(MODULE, "module \"db\" {\n  source = \"./nowhere\"\n}\n");
        assert!(
            l.diagnostics
                .iter()
                .any(|d| d.code == "language::module-source")
        );
        let (_d, l) = load_with(MODULE, "module \"db\" {\n  source = \"sovstack/dbx\"\n}\n");
        let d = l
            .diagnostics
            .iter()
            .find(|d| d.code == "language::module-source")
            .expect("reported");
        assert_eq!(d.message, "sovstack ships no module `dbx`");
        let (_d, l) = load_with(
            &MODULE.replace("output \"address\"", "output \"addr\""),
            "module \"db\" {\n  source = \"./db\"\n  size   = \"cx33\"\n}\n",
        );
        let d = l
            .diagnostics
            .iter()
            .find(|d| d.code == "language::undefined-reference")
            .expect("reported");
        assert_eq!(d.message, "module `db` has no output `address`");
        assert!(d.file.is_none());
    }

    /// `for_each` on a module call: one splice per key, Terraform's addresses, each
    /// instance's inputs from `each`, outputs read by key from the caller.
    #[test]
    fn a_module_with_for_each_makes_one_instance_per_key() {
        let (_d, l) = load_with(
            MODULE,
            "variable \"dbs\" {\n  type    = map(string)\n  default = { a = \"cx23\", b = \"cx33\" }\n}\nmodule \"db\" {\n  for_each = var.dbs\n  source   = \"./db\"\n  size     = each.value\n  where    = \"hel1-${each.key}\"\n}\n",
        );
        // The root server reads `module.db.address`: refused, it must name an instance.
        let d = l
            .diagnostics
            .iter()
            .find(|d| d.code == "language::undefined-reference")
            .expect("reported");
        assert_eq!(
            d.message,
            "module `db` has `for_each`: name one to read its output `address`"
        );
        assert_eq!(
            d.help.as_deref(),
            Some("write `module.db[\"<key>\"].address`")
        );

        let (_d, l) = load_reading(
            MODULE,
            "variable \"dbs\" {\n  type    = map(string)\n  default = { a = \"cx23\", b = \"cx33\" }\n}\nmodule \"db\" {\n  for_each = var.dbs\n  source   = \"./db\"\n  size     = each.value\n  where    = \"hel1-${each.key}\"\n}\n",
            "module.db[\"b\"].address",
        );
        assert!(!l.diagnostics.has_errors(), "{:?}", l.diagnostics);
        let stack = l.stack.expect("a stack");
        let names: Vec<(String, String, String)> = stack
            .servers
            .iter()
            .map(|s| {
                (
                    crate::config::instance::block_address("server", &s.name),
                    s.server_type.value.clone(),
                    s.location.value.clone(),
                )
            })
            .collect();
        assert_eq!(
            names,
            [
                (
                    "module.db[\"a\"].server.main".into(),
                    "cx23".into(),
                    "hel1-a".into()
                ),
                (
                    "module.db[\"b\"].server.main".into(),
                    "cx33".into(),
                    "hel1-b".into()
                ),
                ("server.app".into(), "cx23".into(), "nbg1".into()),
            ]
        );
        let used = stack
            .references
            .get("server.app")
            .cloned()
            .unwrap_or_default();
        assert!(used.contains("module.db[\"b\"].server.main"), "{used:?}");
        assert!(!used.contains("module.db[\"a\"].server.main"), "{used:?}");
    }

    /// `count` on a module call: instances by index; `module.m[*]` reads them all.
    #[test]
    fn a_module_with_count_makes_instances_by_index() {
        let (_d, l) = load_reading(
            MODULE,
            "module \"db\" {\n  count  = 2\n  source = \"./db\"\n  size   = \"cx${count.index}3\"\n}\n",
            "join(\",\", module.db[*].address)",
        );
        assert!(!l.diagnostics.has_errors(), "{:?}", l.diagnostics);
        let stack = l.stack.expect("a stack");
        let db1 = stack
            .servers
            .iter()
            .find(|s| {
                crate::config::instance::block_address("server", &s.name)
                    == "module.db[1].server.main"
            })
            .expect("instance 1");
        assert_eq!(db1.server_type.value, "cx13");
        assert_eq!(
            crate::config::instance::resource_name("s", &db1.name),
            "s-db-1--main"
        );
        let used = stack
            .references
            .get("server.app")
            .cloned()
            .unwrap_or_default();
        assert!(used.contains("module.db[0].server.main"), "{used:?}");
        assert!(used.contains("module.db[1].server.main"), "{used:?}");
    }

    /// Keys that cannot name a module instance, and instances of a module inside a module,
    /// are refused at the `for_each`.
    #[test]
    fn module_instances_that_cannot_be_named_are_refused() {
        let (_d, l) = load_with(
            MODULE,
            "module \"db\" {\n  for_each = toset([\"a.b\"])\n  source   = \"./db\"\n  size     = \"cx23\"\n}\n",
        );
        let d = l
            .diagnostics
            .iter()
            .find(|d| d.code == "language::count-for-each")
            .expect("reported");
        assert_eq!(
            d.message,
            "`for_each` of module `db` has key `a.b`, which cannot name a module instance"
        );
    }

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
    }

    /// `validate`'s findings about a module's block point into the module's file.
    #[test]
    fn findings_made_after_loading_point_into_the_module_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir_all(dir.path().join("app")).expect("module dir");
        std::fs::write(
            dir.path().join("app/main.hcl"),
            "variable \"host\" {}\n\ncompose \"web\" {\n  on = var.host\n  service \"web\" {\n    image   = \"busybox:1.36\"\n    restart = \"unless-stopped\"\n  }\n}\n",
        )
        .expect("module file");
        let text = "stack \"s\" {}\nhost \"gpu\" {\n  address  = \"203.0.113.21\"\n  host_key = \"SHA256:Jq3v8mN5bYx2cT7wQ1pR4sL9eK6hD0fG3aU8iO5yZ2A\"\n  location = \"fsn1\"\n  ssh {\n    user = \"root\"\n  }\n}\nmodule \"app\" {\n  source = \"./app\"\n  host   = host.gpu\n}\n";
        let mut l = load_str("stack.hcl", text, dir.path(), &LoadOptions::default());
        assert!(!l.diagnostics.has_errors(), "{:?}", l.diagnostics);
        let findings = crate::validate::check(l.stack.as_ref().expect("a stack"));
        l.add_findings(findings);
        let d = l
            .diagnostics
            .iter()
            .find(|d| d.code == "compose::no-log-cap")
            .expect("reported");
        let file = d.file.as_ref().expect("in the module's file");
        assert!(file.name().ends_with("app/main.hcl"), "{}", file.name());
        let span = d.span.clone().expect("located");
        assert_eq!(file.line_col(span.start).0, 5);
        assert!(
            d.help
                .as_deref()
                .is_some_and(|h| h.contains("compose `module.app.web`")),
            "{:?}",
            d.help
        );
    }
}
