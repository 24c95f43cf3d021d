//! From source text to a typed `Stack`: parse (hcl-edit, with spans), check every block and
//! attribute against the schema, resolve variables and locals, check references, evaluate,
//! and convert to the model. Every problem becomes a diagnostic at its span; loading goes
//! on after errors so that one run reports as much as it can.

use super::diagnostic::{Diagnostic, Diagnostics};
use super::eval::{self, Evaluator, REFERENCEABLE, span_of};
use super::model::*;
use super::refs;
use super::schema::{self, BlockSchema};
use super::source::{SourceFile, Span, Spanned};
use super::suggest::help_for_unknown;
use super::value;
use hcl_edit::Span as _;
use hcl_edit::expr::{Expression, ObjectKey, TraversalOperator};
use hcl_edit::structure::{Attribute, Block, BlockLabel, Body, Structure};
use serde_json::Value as Json;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::Path;

/// Inputs beyond the file itself.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// `--var name=value` pairs (highest precedence).
    pub vars: BTreeMap<String, String>,
    /// The environment: `SOVSTACK_VAR_<name>` values and what `env()` reads.
    pub env: BTreeMap<String, String>,
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
            };
        }
    };
    let stack = Loader::new(&source, &mut diags, opts).run(&body);
    diags.sort();
    Loaded {
        source,
        stack,
        diagnostics: diags,
    }
}

struct Loader<'a> {
    source: &'a SourceFile,
    diags: &'a mut Diagnostics,
    opts: &'a LoadOptions,
    /// kind -> declared names, in declaration order.
    names: BTreeMap<&'static str, Vec<String>>,
    /// The same names as sets: every reference is checked against them, and a linear search
    /// per reference made loading quadratic in the number of blocks.
    name_sets: BTreeMap<&'static str, BTreeSet<String>>,
    var_names: Vec<String>,
    local_names: Vec<String>,
    /// Spans of references already reported; expressions holding them are not evaluated again.
    bad_refs: BTreeSet<(usize, usize)>,
}

/// Span of the block's header (ident and labels), where diagnostics about the block point.
fn header_span(b: &Block) -> Span {
    let start = b.ident.span().map_or(0, |s| s.start);
    let end = b
        .labels
        .last()
        .and_then(|l| match l {
            BlockLabel::Ident(i) => i.span(),
            BlockLabel::String(s) => s.span(),
        })
        .or_else(|| b.ident.span())
        .map_or(start, |s| s.end);
    start..end
}

fn label(l: &BlockLabel) -> (String, Span) {
    match l {
        BlockLabel::Ident(i) => (i.as_str().to_string(), i.span().unwrap_or(0..0)),
        BlockLabel::String(s) => (s.value().to_string(), s.span().unwrap_or(0..0)),
    }
}

fn attrs(body: &Body) -> impl Iterator<Item = &Attribute> {
    body.iter().filter_map(|s| match s {
        Structure::Attribute(a) => Some(a),
        Structure::Block(_) => None,
    })
}

fn blocks(body: &Body) -> impl Iterator<Item = &Block> {
    body.iter().filter_map(|s| match s {
        Structure::Block(b) => Some(b),
        Structure::Attribute(_) => None,
    })
}

fn find_attr<'b>(body: &'b Body, name: &str) -> Option<&'b Attribute> {
    attrs(body).find(|a| a.key.as_str() == name)
}

fn attr_span(a: &Attribute) -> Span {
    a.span().unwrap_or_else(|| span_of(&a.value))
}

impl<'a> Loader<'a> {
    fn new(source: &'a SourceFile, diags: &'a mut Diagnostics, opts: &'a LoadOptions) -> Self {
        Self {
            source,
            diags,
            opts,
            names: BTreeMap::new(),
            name_sets: BTreeMap::new(),
            var_names: Vec::new(),
            local_names: Vec::new(),
            bad_refs: BTreeSet::new(),
        }
    }

    fn err(&mut self, d: Diagnostic) {
        self.diags.push(d);
    }

    fn run(mut self, body: &Body) -> Option<Stack> {
        // Pass 1: structure against the schema, and the names every block declares.
        for s in body.iter() {
            match s {
                Structure::Attribute(a) => {
                    let d = Diagnostic::error(
                        "language::unexpected-attribute",
                        format!(
                            "attribute `{}` is not allowed at the top level",
                            a.key.as_str()
                        ),
                    )
                    .at(attr_span(a))
                    .help("top-level attributes belong in a `locals` block or a `variable` block");
                    self.err(d);
                }
                Structure::Block(b) => self.check_top_block(b),
            }
        }

        // Pass 2: variables, then the evaluator, then locals in dependency order.
        let (variables, var_values, sensitive_vars) = self.variables(body);
        let host_addresses = self.host_addresses(body, &var_values);
        let referenced = self.check_all_references(body);
        // Only blocks some expression refers to are given to the evaluator: in a large stack
        // most are referred to by none, and each would cost an object of its attributes.
        let referenced_blocks: BTreeMap<&'static str, Vec<String>> = self
            .names
            .iter()
            .map(|(kind, names)| {
                let names = names
                    .iter()
                    .filter(|n| referenced.get(kind).is_some_and(|set| set.contains(*n)))
                    .cloned()
                    .collect();
                (*kind, names)
            })
            .collect();
        let mut ev = Evaluator::new(
            &var_values,
            sensitive_vars,
            &referenced_blocks,
            &self.opts.known,
            &host_addresses,
        );
        self.locals(body, &mut ev);
        self.variable_validations(body, &variables, &ev);

        // Pass 3: the typed model.
        let mut b = ModelBuilder {
            l: &mut self,
            ev: &ev,
        };
        let stack = b.stack(body, variables);
        if self.diags.has_errors() {
            // A partial model is still returned so later checks can add what they see.
            return stack;
        }
        stack
    }

    // ----- pass 1 -----

    fn check_top_block(&mut self, b: &Block) {
        let ident = b.ident.as_str();
        let Some(schema) = schema::top(ident) else {
            let names: Vec<&str> = schema::top_level().map(|s| s.path).collect();
            let d = Diagnostic::error(
                "language::unknown-block",
                format!("unknown block type `{ident}`"),
            )
            .at(header_span(b))
            .label("not a sovstack block")
            .help(help_for_unknown(ident, names.iter().copied(), "blocks"));
            self.err(d);
            return;
        };
        self.check_block(b, schema);
        if let Some((name, span)) = b.labels.first().map(label) {
            let kind: &'static str = schema.path;
            if !valid_name(&name) {
                let d = Diagnostic::error(
                    "language::invalid-name",
                    format!("`{name}` is not a valid name"),
                )
                .at(span.clone())
                .help("names start with a letter and use letters, digits, `_` and `-`");
                self.err(d);
            }
            let duplicate = match kind {
                "variable" => self.var_names.contains(&name),
                _ => !self.name_sets.entry(kind).or_default().insert(name.clone()),
            };
            let list = match kind {
                "variable" => &mut self.var_names,
                _ => self.names.entry(kind).or_default(),
            };
            if duplicate {
                let d = Diagnostic::error(
                    "language::duplicate",
                    format!("{kind} `{name}` is declared twice"),
                )
                .at(span)
                .help("names of blocks of one type must be unique; rename one of them");
                self.err(d);
            } else {
                list.push(name);
            }
        }
        if ident == "locals" {
            for a in attrs(&b.body) {
                let name = a.key.as_str().to_string();
                if self.local_names.contains(&name) {
                    let d = Diagnostic::error(
                        "language::duplicate",
                        format!("local `{name}` is declared twice"),
                    )
                    .at(a.key.span().unwrap_or(0..0));
                    self.err(d);
                } else {
                    self.local_names.push(name);
                }
            }
        }
    }

    fn check_block(&mut self, b: &Block, schema: &'static BlockSchema) {
        let labels: Vec<(String, Span)> = b.labels.iter().map(label).collect();
        if labels.len() != schema.labels.len() {
            let want = if schema.labels.is_empty() {
                "no labels".to_string()
            } else {
                schema
                    .labels
                    .iter()
                    .map(|l| format!("\"<{l}>\""))
                    .collect::<Vec<_>>()
                    .join(" ")
            };
            let d = Diagnostic::error(
                "language::labels",
                format!("`{}` takes {}, found {}", schema.name(), want, labels.len()),
            )
            .at(header_span(b))
            .help(format!(
                "write it as `{} {} {{ ... }}`",
                schema.name(),
                want
            ));
            self.err(d);
        }
        if schema.free_form {
            return;
        }
        for a in attrs(&b.body) {
            let name = a.key.as_str();
            if schema.attr(name).is_none() {
                let candidates: Vec<&str> = schema.attrs.iter().map(|a| a.name).collect();
                let d = Diagnostic::error(
                    "language::unknown-attribute",
                    format!("`{}` has no attribute `{name}`", schema.path),
                )
                .at(a.key.span().unwrap_or(0..0))
                .label("unknown attribute")
                .help(help_for_unknown(
                    name,
                    candidates.iter().copied(),
                    "attributes",
                ));
                self.err(d);
            }
        }
        for req in schema.attrs.iter().filter(|a| a.required) {
            if find_attr(&b.body, req.name).is_none() {
                let d = Diagnostic::error(
                    "language::missing-attribute",
                    format!("`{}` needs the attribute `{}`", schema.path, req.name),
                )
                .at(header_span(b))
                .help(format!("add `{} = ...`: {}", req.name, req.doc));
                self.err(d);
            }
        }
        for nested in blocks(&b.body) {
            let name = nested.ident.as_str();
            match schema.child(name) {
                Some(child) => self.check_block(nested, child),
                None => {
                    let candidates: Vec<&str> = schema.children().map(|c| c.name()).collect();
                    let mut d = Diagnostic::error(
                        "language::unknown-block",
                        format!("`{}` has no block `{name}`", schema.path),
                    )
                    .at(header_span(nested))
                    .label("unknown block");
                    if schema.attr(name).is_some() {
                        d = d.help(format!(
                            "`{name}` is an attribute here: write `{name} = ...`"
                        ));
                    } else {
                        d = d.help(help_for_unknown(name, candidates.iter().copied(), "blocks"));
                    }
                    self.err(d);
                }
            }
        }
    }

    // ----- pass 2 -----

    fn variables(
        &mut self,
        body: &Body,
    ) -> (Vec<Variable>, BTreeMap<String, Json>, BTreeSet<String>) {
        let mut out = Vec::new();
        let mut values = BTreeMap::new();
        let mut sensitive = BTreeSet::new();
        let empty = Evaluator::new(
            &BTreeMap::new(),
            BTreeSet::new(),
            &BTreeMap::new(),
            &BTreeMap::new(),
            &BTreeMap::new(),
        );
        for b in blocks(body).filter(|b| b.ident.as_str() == "variable") {
            let Some((name, _)) = b.labels.first().map(label) else {
                continue;
            };
            let ty = match find_attr(&b.body, "type") {
                Some(a) => match parse_type(&a.value) {
                    Some(t) => t,
                    None => {
                        let d = Diagnostic::error("language::type", "unknown variable type")
                            .at(span_of(&a.value))
                            .help("use string, number, bool, list(string), list(number), map(string) or any");
                        self.err(d);
                        VarType::Any
                    }
                },
                None => VarType::String,
            };
            let is_sensitive = match find_attr(&b.body, "sensitive") {
                Some(a) => matches!(empty.eval(&a.value), Ok(Json::Bool(true))),
                None => false,
            };
            let description = find_attr(&b.body, "description")
                .and_then(|a| empty.eval(&a.value).ok())
                .and_then(|v| v.as_str().map(str::to_string));
            let env_key = format!("SOVSTACK_VAR_{name}");
            let given = self
                .opts
                .vars
                .get(&name)
                .map(|s| (s.clone(), "--var"))
                .or_else(|| {
                    self.opts
                        .env
                        .get(&env_key)
                        .map(|s| (s.clone(), "environment"))
                });
            let value = match given {
                Some((raw, from)) => match parse_var_value(&raw, ty) {
                    Ok(v) => Some(v),
                    Err(e) => {
                        let d = Diagnostic::error(
                            "language::type",
                            format!(
                                "value of variable `{name}` from {from} is not a {}: {e}",
                                ty.describe()
                            ),
                        )
                        .at(header_span(b));
                        self.err(d);
                        None
                    }
                },
                None => match find_attr(&b.body, "default") {
                    Some(a) => match empty.eval(&a.value) {
                        Ok(v) => match check_type(&v, ty) {
                            Ok(()) => Some(v),
                            Err(e) => {
                                let d = Diagnostic::error(
                                    "language::type",
                                    format!("default of `{name}` is not a {}: {e}", ty.describe()),
                                )
                                .at(span_of(&a.value));
                                self.err(d);
                                None
                            }
                        },
                        Err(d) => {
                            self.err(d);
                            None
                        }
                    },
                    None => None,
                },
            };
            values.insert(
                name.clone(),
                value
                    .clone()
                    .unwrap_or_else(|| Json::String(value::unset_var(&name))),
            );
            if is_sensitive {
                sensitive.insert(name.clone());
            }
            out.push(Variable {
                name,
                span: header_span(b),
                ty,
                description,
                sensitive: is_sensitive,
                value,
            });
        }
        for given in self.opts.vars.keys() {
            if !out.iter().any(|v| &v.name == given) {
                let names: Vec<&str> = out.iter().map(|v| v.name.as_str()).collect();
                let d = Diagnostic::error(
                    "language::undeclared-variable",
                    format!("--var {given}: the stack declares no variable `{given}`"),
                )
                .help(help_for_unknown(given, names.iter().copied(), "variables"));
                self.err(d);
            }
        }
        (out, values, sensitive)
    }

    /// Hosts' addresses are needed as values before the rest (`host.x.address`).
    fn host_addresses(
        &mut self,
        body: &Body,
        vars: &BTreeMap<String, Json>,
    ) -> BTreeMap<String, String> {
        let ev = Evaluator::new(
            vars,
            BTreeSet::new(),
            &BTreeMap::new(),
            &BTreeMap::new(),
            &BTreeMap::new(),
        );
        let mut out = BTreeMap::new();
        for b in blocks(body).filter(|b| b.ident.as_str() == "host") {
            let Some((name, _)) = b.labels.first().map(label) else {
                continue;
            };
            if let Some(a) = find_attr(&b.body, "address")
                && let Ok(Json::String(s)) = ev.eval(&a.value)
            {
                out.insert(name, s);
            }
        }
        out
    }

    /// Every reference anywhere must name something that exists.
    /// Reports every reference to something undeclared, and returns the blocks referred to
    /// (`(kind, name)`, for the kinds an expression can refer to).
    fn check_all_references(&mut self, body: &Body) -> HashMap<&'static str, HashSet<String>> {
        let mut exprs: Vec<&Expression> = Vec::new();
        collect_exprs(body, &mut exprs);
        let mut referenced: HashMap<&'static str, HashSet<String>> = HashMap::new();
        for e in exprs {
            for r in refs::collect(e) {
                if let Some(d) = self.check_reference(&r) {
                    self.bad_refs.insert((r.span.start, r.span.end));
                    self.err(d);
                }
                if let (Some((kind, _)), Some(name)) = (
                    REFERENCEABLE.iter().find(|(k, _)| *k == r.root),
                    r.path.first(),
                ) {
                    referenced.entry(*kind).or_default().insert(name.clone());
                }
            }
        }
        referenced
    }

    fn check_reference(&self, r: &Reference) -> Option<Diagnostic> {
        let first = r.path.first().map(String::as_str);
        match r.root.as_str() {
            "var" => {
                let name = first?;
                (!self.var_names.iter().any(|v| v == name)).then(|| {
                    Diagnostic::error(
                        "language::undefined-reference",
                        format!("undefined variable `var.{name}`"),
                    )
                    .at(r.span.clone())
                    .label("not declared")
                    .help(help_for_unknown(
                        name,
                        self.var_names.iter().map(String::as_str),
                        "variables",
                    ))
                })
            }
            "local" => {
                let name = first?;
                (!self.local_names.iter().any(|v| v == name)).then(|| {
                    Diagnostic::error(
                        "language::undefined-reference",
                        format!("undefined local `local.{name}`"),
                    )
                    .at(r.span.clone())
                    .label("not declared")
                    .help(help_for_unknown(
                        name,
                        self.local_names.iter().map(String::as_str),
                        "locals",
                    ))
                })
            }
            root => {
                let Some((kind, attrs)) = REFERENCEABLE.iter().find(|(k, _)| *k == root) else {
                    let mut roots: Vec<&str> = vec!["var", "local"];
                    roots.extend(REFERENCEABLE.iter().map(|(k, _)| *k));
                    return Some(
                        Diagnostic::error(
                            "language::undefined-reference",
                            format!("unknown name `{root}`"),
                        )
                        .at(r.span.clone())
                        .label("not a variable, local or block")
                        .help(help_for_unknown(
                            root,
                            roots.iter().copied(),
                            "names",
                        )),
                    );
                };
                let name = first?;
                if !self.name_sets.get(kind).is_some_and(|s| s.contains(name)) {
                    let declared = self.names.get(kind).map_or(&[][..], Vec::as_slice);
                    return Some(
                        Diagnostic::error(
                            "language::undefined-reference",
                            format!("undefined reference `{kind}.{name}`"),
                        )
                        .at(r.span.clone())
                        .label(format!("no {kind} block named `{name}`"))
                        .help(help_for_unknown(
                            name,
                            declared.iter().map(String::as_str),
                            "names",
                        )),
                    );
                }
                let attr = r.path.get(1)?;
                if attr != "name" && !attrs.contains(&attr.as_str()) {
                    let mut known: Vec<&str> = vec!["name"];
                    known.extend(attrs.iter().copied());
                    return Some(
                        Diagnostic::error(
                            "language::undefined-reference",
                            format!("`{kind}.{name}` has no attribute `{attr}` to reference"),
                        )
                        .at(r.span.clone())
                        .help(format!(
                            "referenceable attributes of a {kind}: {}",
                            known.join(", ")
                        )),
                    );
                }
                None
            }
        }
    }

    fn locals(&mut self, body: &Body, ev: &mut Evaluator) {
        let mut defs: BTreeMap<String, &Attribute> = BTreeMap::new();
        for b in blocks(body).filter(|b| b.ident.as_str() == "locals") {
            for a in attrs(&b.body) {
                defs.entry(a.key.as_str().to_string()).or_insert(a);
            }
        }
        let deps: BTreeMap<String, Vec<(String, Span)>> = defs
            .iter()
            .map(|(n, a)| {
                let d = refs::collect(&a.value)
                    .into_iter()
                    .filter(|r| r.root == "local")
                    .filter_map(|r| r.path.first().map(|p| (p.clone(), r.span.clone())))
                    .filter(|(p, _)| defs.contains_key(p))
                    .collect();
                (n.clone(), d)
            })
            .collect();
        // Depth-first topological order; a back edge is a cycle, reported whole.
        let mut state: BTreeMap<String, u8> = BTreeMap::new();
        let mut order = Vec::new();
        let mut reported: BTreeSet<BTreeSet<String>> = BTreeSet::new();
        for start in defs.keys() {
            let mut stack: Vec<(String, usize)> = vec![(start.clone(), 0)];
            if state.get(start).copied().unwrap_or(0) != 0 {
                continue;
            }
            state.insert(start.clone(), 1);
            while let Some((node, i)) = stack.last().cloned() {
                let edges = deps.get(&node).cloned().unwrap_or_default();
                if i < edges.len() {
                    if let Some(top) = stack.last_mut() {
                        top.1 += 1;
                    }
                    let (next, _) = &edges[i];
                    match state.get(next).copied().unwrap_or(0) {
                        0 => {
                            state.insert(next.clone(), 1);
                            stack.push((next.clone(), 0));
                        }
                        1 => {
                            let pos = stack.iter().position(|(n, _)| n == next).unwrap_or(0);
                            let cycle: Vec<String> =
                                stack[pos..].iter().map(|(n, _)| n.clone()).collect();
                            let key: BTreeSet<String> = cycle.iter().cloned().collect();
                            if reported.insert(key) {
                                self.report_cycle(&cycle, &deps, &defs);
                            }
                        }
                        _ => {}
                    }
                } else {
                    state.insert(node.clone(), 2);
                    order.push(node);
                    stack.pop();
                }
            }
        }
        for name in order {
            let Some(a) = defs.get(&name) else { continue };
            let sensitive = ev.is_sensitive(&a.value);
            match ev.eval(&a.value) {
                Ok(v) => ev.set_local(&name, v, sensitive),
                Err(d) => {
                    // Only report when the cause is not an earlier reference error.
                    if !self.diags.has_errors() {
                        self.err(d);
                    }
                    ev.set_local(
                        &name,
                        Json::String(value::after_apply(&format!("local.{name}"))),
                        sensitive,
                    );
                }
            }
        }
    }

    fn report_cycle(
        &mut self,
        cycle: &[String],
        deps: &BTreeMap<String, Vec<(String, Span)>>,
        defs: &BTreeMap<String, &Attribute>,
    ) {
        let mut path = cycle.to_vec();
        path.push(cycle[0].clone());
        let shown = path
            .iter()
            .map(|n| format!("local.{n}"))
            .collect::<Vec<_>>()
            .join(" -> ");
        let first_span = defs
            .get(&cycle[0])
            .map(|a| a.key.span().unwrap_or(0..0))
            .unwrap_or(0..0);
        let mut d = Diagnostic::error("language::cycle", format!("reference cycle: {shown}"))
            .at(first_span)
            .label(format!("local.{} starts the cycle", cycle[0]))
            .help("break the cycle: one of these locals must not depend on the others");
        for w in path.windows(2) {
            if let Some((_, span)) = deps
                .get(&w[0])
                .and_then(|e| e.iter().find(|(n, _)| *n == w[1]))
            {
                d = d.related(span.clone(), format!("local.{} uses local.{}", w[0], w[1]));
            }
        }
        self.err(d);
    }

    fn variable_validations(&mut self, body: &Body, vars: &[Variable], ev: &Evaluator) {
        for b in blocks(body).filter(|b| b.ident.as_str() == "variable") {
            let Some((name, _)) = b.labels.first().map(label) else {
                continue;
            };
            let Some(value) = vars
                .iter()
                .find(|v| v.name == name)
                .and_then(|v| v.value.clone())
            else {
                continue;
            };
            for vb in blocks(&b.body).filter(|x| x.ident.as_str() == "validation") {
                let (Some(cond), Some(msg)) = (
                    find_attr(&vb.body, "condition"),
                    find_attr(&vb.body, "error_message"),
                ) else {
                    continue;
                };
                let ctx = ev.with_var(&name, &value);
                match eval::eval_in(&ctx, &cond.value) {
                    Ok(Json::Bool(true)) => {}
                    Ok(Json::Bool(false)) => {
                        let text = eval::eval_in(&ctx, &msg.value)
                            .ok()
                            .and_then(|v| v.as_str().map(str::to_string))
                            .unwrap_or_else(|| "validation failed".into());
                        let d = Diagnostic::error(
                            "language::variable-validation",
                            format!("invalid value for variable `{name}`: {text}"),
                        )
                        .at(span_of(&cond.value))
                        .label("this condition is false")
                        .help(format!("give `{name}` a value that meets the condition (SOVSTACK_VAR_{name} or --var)"));
                        self.err(d);
                    }
                    Ok(_) => {
                        let d = Diagnostic::error(
                            "language::type",
                            "a validation condition must be true or false",
                        )
                        .at(span_of(&cond.value));
                        self.err(d);
                    }
                    Err(d) => self.err(d),
                }
            }
        }
    }
}

use super::refs::Reference;

fn collect_exprs<'b>(body: &'b Body, out: &mut Vec<&'b Expression>) {
    for s in body.iter() {
        match s {
            Structure::Attribute(a) => {
                // A variable's own type expression (`list(string)`) is not a reference.
                if a.key.as_str() != "type" {
                    out.push(&a.value);
                }
            }
            Structure::Block(b) => {
                if b.ident.as_str() == "variable" {
                    for a in attrs(&b.body).filter(|a| a.key.as_str() != "type") {
                        out.push(&a.value);
                    }
                    // Validation conditions reference the variable itself; checked with it.
                    for vb in blocks(&b.body) {
                        collect_exprs(&vb.body, out);
                    }
                } else {
                    collect_exprs(&b.body, out);
                }
            }
        }
    }
}

fn valid_name(n: &str) -> bool {
    let mut chars = n.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

fn parse_type(e: &Expression) -> Option<VarType> {
    match e {
        Expression::Variable(v) => match v.as_str() {
            "string" => Some(VarType::String),
            "number" => Some(VarType::Number),
            "bool" => Some(VarType::Bool),
            "any" => Some(VarType::Any),
            _ => None,
        },
        Expression::FuncCall(f) => {
            let inner = f.args.iter().next()?;
            let inner = match inner {
                Expression::Variable(v) => v.as_str().to_string(),
                _ => return None,
            };
            match (f.name.name.as_str(), inner.as_str()) {
                ("list", "string") => Some(VarType::ListOfString),
                ("list", "number") => Some(VarType::ListOfNumber),
                ("map", "string") => Some(VarType::MapOfString),
                _ => None,
            }
        }
        _ => None,
    }
}

fn check_type(v: &Json, ty: VarType) -> Result<(), String> {
    let ok = match ty {
        VarType::String => v.is_string(),
        VarType::Number => v.is_number(),
        VarType::Bool => v.is_boolean(),
        VarType::ListOfString => v.as_array().is_some_and(|a| a.iter().all(Json::is_string)),
        VarType::ListOfNumber => v.as_array().is_some_and(|a| a.iter().all(Json::is_number)),
        VarType::MapOfString => v
            .as_object()
            .is_some_and(|o| o.values().all(Json::is_string)),
        VarType::Any => true,
    };
    if ok {
        Ok(())
    } else {
        Err(format!("found {}", json_kind(v)))
    }
}

/// Values from the command line or environment: strings as they are, others as HCL.
fn parse_var_value(raw: &str, ty: VarType) -> Result<Json, String> {
    if ty == VarType::String {
        return Ok(Json::String(raw.to_string()));
    }
    let expr: Expression = raw
        .parse()
        .map_err(|e: hcl_edit::parser::Error| e.message().to_string())?;
    let ev = Evaluator::new(
        &BTreeMap::new(),
        BTreeSet::new(),
        &BTreeMap::new(),
        &BTreeMap::new(),
        &BTreeMap::new(),
    );
    let v = ev.eval(&expr).map_err(|d| d.message)?;
    check_type(&v, ty)?;
    Ok(v)
}

pub fn json_kind(v: &Json) -> &'static str {
    match v {
        Json::Null => "null",
        Json::Bool(_) => "bool",
        Json::Number(_) => "number",
        Json::String(_) => "string",
        Json::Array(_) => "list",
        Json::Object(_) => "object",
    }
}

// ----- pass 3: the typed model -----

struct ModelBuilder<'l, 'a> {
    l: &'l mut Loader<'a>,
    ev: &'l Evaluator,
}

impl ModelBuilder<'_, '_> {
    fn err(&mut self, d: Diagnostic) {
        self.l.err(d);
    }

    /// True when the expression holds a reference already reported as undefined.
    fn has_bad_ref(&self, e: &Expression) -> bool {
        !self.l.bad_refs.is_empty()
            && refs::collect(e)
                .iter()
                .any(|r| self.l.bad_refs.contains(&(r.span.start, r.span.end)))
    }

    /// Evaluates, reporting failures, unless an undefined reference was already reported.
    fn eval_expr(&mut self, e: &Expression) -> Option<Json> {
        if self.has_bad_ref(e) {
            return None;
        }
        match self.ev.eval(e) {
            Ok(v) => Some(v),
            Err(d) => {
                self.err(d);
                None
            }
        }
    }

    /// Evaluates an attribute that must not carry a sensitive value.
    fn value(&mut self, a: &Attribute) -> Option<Json> {
        if self.ev.is_sensitive(&a.value) {
            let sources = self.ev.sensitive_sources(&a.value);
            let d = Diagnostic::error(
                "language::sensitive-leak",
                format!(
                    "sensitive value{} used in `{}`, which is not secret",
                    if sources.is_empty() { String::new() } else { format!(" (var.{})", sources.join(", var.")) },
                    a.key.as_str()
                ),
            )
            .at(span_of(&a.value))
            .label("sensitive")
            .help("secrets may only flow into `secret_environment` or a `sensitive = true` output, so they never reach compose.yaml, state or logs");
            self.err(d);
            return None;
        }
        self.eval_expr(&a.value)
    }

    fn type_error(&mut self, a: &Attribute, want: &str, got: &Json) {
        let d = Diagnostic::error(
            "language::type",
            format!(
                "`{}` must be {want}, found {}",
                a.key.as_str(),
                json_kind(got)
            ),
        )
        .at(span_of(&a.value))
        .label(format!("expected {want}"));
        self.err(d);
    }

    fn string(&mut self, body: &Body, name: &str) -> Option<Spanned<String>> {
        let a = find_attr(body, name)?;
        let v = self.value(a)?;
        let s = match &v {
            Json::String(s) => s.clone(),
            Json::Number(n) => n.to_string(),
            Json::Bool(b) => b.to_string(),
            other => {
                self.type_error(a, "a string", other);
                return None;
            }
        };
        Some(Spanned::new(s, span_of(&a.value)))
    }

    fn bool(&mut self, body: &Body, name: &str, default: bool) -> Spanned<bool> {
        let Some(a) = find_attr(body, name) else {
            return Spanned::new(default, 0..0);
        };
        match self.value(a) {
            Some(Json::Bool(b)) => Spanned::new(b, span_of(&a.value)),
            Some(other) => {
                self.type_error(a, "true or false", &other);
                Spanned::new(default, span_of(&a.value))
            }
            None => Spanned::new(default, span_of(&a.value)),
        }
    }

    fn u32(&mut self, body: &Body, name: &str) -> Option<Spanned<u32>> {
        let a = find_attr(body, name)?;
        match self.value(a)? {
            Json::Number(n) if n.as_u64().is_some_and(|x| x <= u64::from(u32::MAX)) => Some(
                Spanned::new(n.as_u64().unwrap_or(0) as u32, span_of(&a.value)),
            ),
            Json::String(s) if s.parse::<u32>().is_ok() => {
                Some(Spanned::new(s.parse().unwrap_or(0), span_of(&a.value)))
            }
            other => {
                self.type_error(a, "a whole number", &other);
                None
            }
        }
    }

    /// A list of strings, each with its own span when written as a literal list.
    fn string_list(&mut self, body: &Body, name: &str) -> Option<Spanned<Vec<Spanned<String>>>> {
        let a = find_attr(body, name)?;
        let whole = span_of(&a.value);
        if let Expression::Array(arr) = &a.value {
            let mut items = Vec::new();
            if self.ev.is_sensitive(&a.value) {
                self.value(a);
                return None;
            }
            for e in arr.iter() {
                match self.eval_expr(e) {
                    None => {}
                    Some(Json::String(s)) => items.push(Spanned::new(s, span_of(e))),
                    Some(Json::Number(n)) => items.push(Spanned::new(n.to_string(), span_of(e))),
                    Some(other) => {
                        let d = Diagnostic::error(
                            "language::type",
                            format!(
                                "`{}` must be a list of strings, found a {} element",
                                name,
                                json_kind(&other)
                            ),
                        )
                        .at(span_of(e));
                        self.err(d);
                    }
                }
            }
            return Some(Spanned::new(items, whole));
        }
        match self.value(a)? {
            Json::Array(items) => {
                let mut out = Vec::new();
                for i in items {
                    match i {
                        Json::String(s) => out.push(Spanned::new(s, whole.clone())),
                        Json::Number(n) => out.push(Spanned::new(n.to_string(), whole.clone())),
                        other => {
                            self.type_error(a, "a list of strings", &other);
                            return None;
                        }
                    }
                }
                Some(Spanned::new(out, whole))
            }
            other => {
                self.type_error(a, "a list of strings", &other);
                None
            }
        }
    }

    fn plain_list(&mut self, body: &Body, name: &str) -> Vec<String> {
        self.string_list(body, name)
            .map(|l| l.value.into_iter().map(|s| s.value).collect())
            .unwrap_or_default()
    }

    /// A map of strings with per-entry value spans when written as a literal object.
    fn string_map(&mut self, body: &Body, name: &str) -> BTreeMap<String, Spanned<String>> {
        let mut out = BTreeMap::new();
        let Some(a) = find_attr(body, name) else {
            return out;
        };
        if let Expression::Object(obj) = &a.value {
            for (k, v) in obj.iter() {
                let key = object_key(k);
                let vspan = span_of(v.expr());
                if self.ev.is_sensitive(v.expr()) {
                    let d = Diagnostic::error(
                        "language::sensitive-leak",
                        format!("sensitive value in `{name}.{key}`, which is not secret"),
                    )
                    .at(vspan)
                    .label("sensitive")
                    .help(if name == "environment" {
                        "move it to `secret_environment`: it is then delivered in the service's env file (mode 0600), never in compose.yaml"
                    } else {
                        "secrets may only flow into `secret_environment` or a sensitive output"
                    });
                    self.err(d);
                    continue;
                }
                match self.eval_expr(v.expr()) {
                    None => {}
                    Some(Json::String(s)) => {
                        out.insert(key, Spanned::new(s, vspan));
                    }
                    Some(Json::Number(n)) => {
                        out.insert(key, Spanned::new(n.to_string(), vspan));
                    }
                    Some(Json::Bool(b)) => {
                        out.insert(key, Spanned::new(b.to_string(), vspan));
                    }
                    Some(other) => {
                        let d = Diagnostic::error(
                            "language::type",
                            format!(
                                "`{name}.{key}` must be a string, found {}",
                                json_kind(&other)
                            ),
                        )
                        .at(vspan);
                        self.err(d);
                    }
                }
            }
            return out;
        }
        let whole = span_of(&a.value);
        match self.value(a) {
            Some(Json::Object(o)) => {
                for (k, v) in o {
                    let s = match v {
                        Json::String(s) => s,
                        other => other.to_string(),
                    };
                    out.insert(k, Spanned::new(s, whole.clone()));
                }
            }
            // Compose also accepts `["KEY=value", ...]`.
            Some(Json::Array(items)) if name == "environment" => {
                let elems: Vec<Span> = match &a.value {
                    Expression::Array(arr) => arr.iter().map(span_of).collect(),
                    _ => Vec::new(),
                };
                for (i, item) in items.iter().enumerate() {
                    let span = elems.get(i).cloned().unwrap_or(whole.clone());
                    match item.as_str().and_then(|s| s.split_once('=')) {
                        Some((k, v)) => {
                            out.insert(k.to_string(), Spanned::new(v.to_string(), span));
                        }
                        None => {
                            let d = Diagnostic::error(
                                "language::type",
                                "environment entries must be `KEY=value`",
                            )
                            .at(span);
                            self.err(d);
                        }
                    }
                }
            }
            Some(other) => self.type_error(a, "a map of strings", &other),
            None => {}
        }
        out
    }

    fn labels_map(&mut self, body: &Body) -> BTreeMap<String, String> {
        self.string_map(body, "labels")
            .into_iter()
            .map(|(k, v)| (k, v.value))
            .collect()
    }

    /// A structural reference to another block: `server.gpu` (or a list of them).
    fn block_refs(
        &mut self,
        body: &Body,
        name: &str,
        kinds: &[&str],
    ) -> Vec<(String, Spanned<String>)> {
        let Some(a) = find_attr(body, name) else {
            return Vec::new();
        };
        let items: Vec<&Expression> = match &a.value {
            Expression::Array(arr) => arr.iter().collect(),
            e => vec![e],
        };
        let mut out = Vec::new();
        for e in items {
            match as_block_ref(e) {
                Some((kind, target, span)) if kinds.contains(&kind.as_str()) => {
                    out.push((kind, Spanned::new(target, span)));
                }
                _ => {
                    let want = kinds
                        .iter()
                        .map(|k| format!("`{k}.<name>`"))
                        .collect::<Vec<_>>()
                        .join(" or ");
                    let d = Diagnostic::error(
                        "language::type",
                        format!("`{name}` must reference {want}"),
                    )
                    .at(span_of(e))
                    .help(format!(
                        "write a reference such as `{}.main`, not a string",
                        kinds[0]
                    ));
                    self.err(d);
                }
            }
        }
        out
    }

    fn tree(&mut self, body: &Body) -> TreeMap {
        let mut m = TreeMap::default();
        for s in body.iter() {
            match s {
                Structure::Attribute(a) => {
                    if let Some(v) = self.value(a) {
                        m.entries.push(TreeEntry {
                            key: a.key.as_str().to_string(),
                            key_span: a.key.span().unwrap_or(0..0),
                            value: Tree::Value(Spanned::new(v, span_of(&a.value))),
                        });
                    }
                }
                Structure::Block(b) => {
                    let inner = Tree::Map(self.tree(&b.body));
                    // `block "label" { }` nests as block -> label -> body.
                    let mut value = inner;
                    for l in b.labels.iter().rev() {
                        let (name, span) = label(l);
                        value = Tree::Map(TreeMap {
                            entries: vec![TreeEntry {
                                key: name,
                                key_span: span,
                                value,
                            }],
                        });
                    }
                    let key = b.ident.as_str().to_string();
                    let key_span = b.ident.span().unwrap_or(0..0);
                    // Repeated blocks with labels merge into one map.
                    if let (Some(existing), Tree::Map(new)) =
                        (m.entries.iter_mut().find(|e| e.key == key), &value)
                        && let Tree::Map(old) = &mut existing.value
                    {
                        old.entries.extend(new.entries.clone());
                        continue;
                    }
                    m.entries.push(TreeEntry {
                        key,
                        key_span,
                        value,
                    });
                }
            }
        }
        m
    }

    fn stack(&mut self, body: &Body, variables: Vec<Variable>) -> Option<Stack> {
        let stack_blocks: Vec<&Block> = blocks(body)
            .filter(|b| b.ident.as_str() == "stack")
            .collect();
        let Some(sb) = stack_blocks.first().copied() else {
            let d = Diagnostic::error("language::missing-stack", "no `stack` block")
                .at(0..0)
                .help("start the file with `stack \"<name>\" { }`: the name labels every resource sovstack creates");
            self.err(d);
            return None;
        };
        if let Some(extra) = stack_blocks.get(1) {
            let d = Diagnostic::error("language::duplicate", "a file holds one `stack` block")
                .at(header_span(extra));
            self.err(d);
        }
        let (name, name_span) = sb.labels.first().map(label).unwrap_or_default();
        let policy = self.policy(sb);
        let mut stack = Stack {
            source: self.l.source.clone(),
            name: Spanned::new(name, name_span),
            policy,
            variables,
            outputs: Vec::new(),
            ssh_keys: Vec::new(),
            servers: Vec::new(),
            hosts: Vec::new(),
            firewalls: Vec::new(),
            volumes: Vec::new(),
            collectors: Vec::new(),
            composes: Vec::new(),
            checks: Vec::new(),
        };
        for b in blocks(body) {
            let Some((name, _)) = b.labels.first().map(label) else {
                continue;
            };
            let span = header_span(b);
            match b.ident.as_str() {
                "output" => {
                    if let Some(o) = self.output(b, name, span) {
                        stack.outputs.push(o);
                    }
                }
                "ssh_key" => {
                    if let Some(public_key) = self.string(&b.body, "public_key") {
                        let labels = self.labels_map(&b.body);
                        stack.ssh_keys.push(SshKey {
                            name,
                            span,
                            public_key,
                            labels,
                        });
                    }
                }
                "server" => {
                    if let Some(s) = self.server(b, name, span) {
                        stack.servers.push(s);
                    }
                }
                "host" => {
                    if let Some(h) = self.host(b, name, span) {
                        stack.hosts.push(h);
                    }
                }
                "firewall" => stack.firewalls.push(self.firewall(b, name, span)),
                "volume" => {
                    if let Some(v) = self.volume(b, name, span) {
                        stack.volumes.push(v);
                    }
                }
                "collector" => {
                    if let Some(c) = self.collector(b, name, span) {
                        stack.collectors.push(c);
                    }
                }
                "compose" => {
                    if let Some(c) = self.compose(b, name, span) {
                        stack.composes.push(c);
                    }
                }
                "check" => {
                    if let Some(c) = self.check(b, name, span) {
                        stack.checks.push(c);
                    }
                }
                _ => {}
            }
        }
        Some(stack)
    }

    fn policy(&mut self, sb: &Block) -> Policy {
        let default_locations: Vec<String> = ["fsn1", "nbg1", "hel1"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let Some(pb) = blocks(&sb.body).find(|b| b.ident.as_str() == "policy") else {
            return Policy {
                span: None,
                allowed_locations: Spanned::new(default_locations, 0..0),
                require_pinned_images: Spanned::new(true, 0..0),
                require_firewall: Spanned::new(true, 0..0),
            };
        };
        let allowed = self
            .string_list(&pb.body, "allowed_locations")
            .map(|l| l.map(|v| v.into_iter().map(|s| s.value).collect()))
            .unwrap_or_else(|| Spanned::new(default_locations, 0..0));
        Policy {
            span: Some(header_span(pb)),
            allowed_locations: allowed,
            require_pinned_images: self.bool(&pb.body, "require_pinned_images", true),
            require_firewall: self.bool(&pb.body, "require_firewall", true),
        }
    }

    fn output(&mut self, b: &Block, name: String, span: Span) -> Option<Output> {
        let a = find_attr(&b.body, "value")?;
        let sensitive = self.bool(&b.body, "sensitive", false).value;
        if self.ev.is_sensitive(&a.value) && !sensitive {
            let sources = self.ev.sensitive_sources(&a.value);
            let d = Diagnostic::error(
                "language::sensitive-output",
                format!("output `{name}` shows a sensitive value but is not marked sensitive"),
            )
            .at(span_of(&a.value))
            .label(if sources.is_empty() {
                "depends on a sensitive value".to_string()
            } else {
                format!("depends on var.{}", sources.join(", var."))
            })
            .help("add `sensitive = true` to the output, or do not output the secret");
            self.err(d);
            return None;
        }
        let v = self.eval_expr(&a.value)?;
        Some(Output {
            name,
            span,
            value: Spanned::new(v, span_of(&a.value)),
            sensitive,
        })
    }

    fn ssh_access(&mut self, body: &Body) -> SshAccess {
        let mut access = SshAccess::default();
        if let Some(sb) = blocks(body).find(|b| b.ident.as_str() == "ssh") {
            if let Some(u) = self.string(&sb.body, "user") {
                access.user = u.value;
            }
            if let Some(p) = self.u32(&sb.body, "port") {
                match u16::try_from(p.value) {
                    Ok(port) if port > 0 => access.port = port,
                    _ => {
                        let d = Diagnostic::error(
                            "language::type",
                            "SSH port must be between 1 and 65535",
                        )
                        .at(p.span);
                        self.err(d);
                    }
                }
            }
            access.private_key_file = self.string(&sb.body, "private_key_file").map(|s| s.value);
        }
        access
    }

    fn server(&mut self, b: &Block, name: String, span: Span) -> Option<Server> {
        let server_type = self.string(&b.body, "server_type");
        let location = self.string(&b.body, "location");
        let image = self.string(&b.body, "image");
        let ssh_keys = self
            .block_refs(&b.body, "ssh_keys", &["ssh_key"])
            .into_iter()
            .map(|(_, n)| n)
            .collect();
        let labels = self.labels_map(&b.body);
        let ssh = self.ssh_access(&b.body);
        let user_data_runcmd = self.plain_list(&b.body, "user_data_runcmd");
        Some(Server {
            name,
            span,
            server_type: server_type?,
            location: location?,
            image: image?,
            ssh_keys,
            labels,
            ssh,
            user_data_runcmd,
        })
    }

    fn host(&mut self, b: &Block, name: String, span: Span) -> Option<Host> {
        let address = self.string(&b.body, "address")?;
        let host_key = self.string(&b.body, "host_key");
        if let Some(k) = &host_key
            && !value::is_unknown(k)
            && !k.value.starts_with("SHA256:")
        {
            let d = Diagnostic::error("language::host-key", "host_key must be an OpenSSH SHA256 fingerprint")
                .at(k.span.clone())
                .help("get it on the host with `ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub` (it starts with `SHA256:`)");
            self.err(d);
        }
        let location = self.string(&b.body, "location");
        let gpus = self
            .u32(&b.body, "gpus")
            .unwrap_or_else(|| Spanned::new(0, 0..0));
        let ssh = self.ssh_access(&b.body);
        Some(Host {
            name,
            span,
            address,
            ssh,
            host_key,
            location,
            gpus,
        })
    }

    fn firewall(&mut self, b: &Block, name: String, span: Span) -> Firewall {
        let apply_to = self
            .block_refs(&b.body, "apply_to", &["server"])
            .into_iter()
            .map(|(_, n)| n)
            .collect();
        let labels = self.labels_map(&b.body);
        let mut rules = Vec::new();
        for rb in blocks(&b.body).filter(|r| r.ident.as_str() == "rule") {
            if let Some(r) = self.rule(rb) {
                rules.push(r);
            }
        }
        Firewall {
            name,
            span,
            rules,
            apply_to,
            labels,
        }
    }

    fn rule(&mut self, rb: &Block) -> Option<FirewallRule> {
        let body = &rb.body;
        let span = header_span(rb);
        let direction = match self
            .string(body, "direction")
            .as_ref()
            .map(|s| (s.value.as_str(), s.span.clone()))
        {
            None | Some(("in", _)) => Direction::In,
            Some(("out", _)) => Direction::Out,
            Some((other, s)) => {
                let d = Diagnostic::error(
                    "language::value",
                    format!("direction must be `in` or `out`, not `{other}`"),
                )
                .at(s);
                self.err(d);
                return None;
            }
        };
        let protocol = match self
            .string(body, "protocol")
            .as_ref()
            .map(|s| (s.value.clone(), s.span.clone()))
        {
            None => Protocol::Tcp,
            Some((p, s)) => match p.as_str() {
                "tcp" => Protocol::Tcp,
                "udp" => Protocol::Udp,
                "icmp" => Protocol::Icmp,
                "esp" => Protocol::Esp,
                "gre" => Protocol::Gre,
                other => {
                    let d =
                        Diagnostic::error("language::value", format!("unknown protocol `{other}`"))
                            .at(s)
                            .help("use tcp, udp, icmp, esp or gre");
                    self.err(d);
                    return None;
                }
            },
        };
        let port = match self.string(body, "port") {
            None => None,
            Some(p) => match parse_port_range(&p.value) {
                Some(r) => Some(Spanned::new(r, p.span)),
                None => {
                    let d = Diagnostic::error(
                        "language::value",
                        format!("`{}` is not a port or port range", p.value),
                    )
                    .at(p.span)
                    .help("write a port (`22`) or a range (`8000-8100`)");
                    self.err(d);
                    return None;
                }
            },
        };
        if port.is_none() && matches!(protocol, Protocol::Tcp | Protocol::Udp) {
            let d = Diagnostic::error(
                "language::missing-attribute",
                "tcp and udp rules need a `port`",
            )
            .at(span.clone())
            .help("add `port = \"22\"` (or a range `\"8000-8100\"`)");
            self.err(d);
        }
        let list = |me: &mut Self, n: &str| {
            me.string_list(body, n)
                .map(|l| l.map(|v| v.into_iter().map(|s| s.value).collect()))
                .unwrap_or_else(|| Spanned::new(Vec::new(), span.clone()))
        };
        let source_ips = list(self, "source_ips");
        let destination_ips = list(self, "destination_ips");
        let description = self.string(body, "description").map(|s| s.value);
        let public = self.bool(body, "public", false).value;
        Some(FirewallRule {
            span,
            description,
            direction,
            protocol,
            port,
            source_ips,
            destination_ips,
            public,
        })
    }

    fn volume(&mut self, b: &Block, name: String, span: Span) -> Option<Volume> {
        let size_gb = self.u32(&b.body, "size")?;
        let location = self.string(&b.body, "location");
        let server = self
            .block_refs(&b.body, "server", &["server"])
            .into_iter()
            .next()
            .map(|(_, n)| n);
        let format = self.string(&b.body, "format").map(|s| s.value);
        let automount = self.bool(&b.body, "automount", server.is_some()).value;
        let labels = self.labels_map(&b.body);
        Some(Volume {
            name,
            span,
            size_gb,
            location,
            server,
            format,
            automount,
            labels,
        })
    }

    fn collector(&mut self, b: &Block, name: String, span: Span) -> Option<Collector> {
        let version = self.string(&b.body, "version");
        let mut components = Vec::new();
        let mut pipelines = Vec::new();
        let mut telemetry = None;
        for cb in blocks(&b.body) {
            let kind = match cb.ident.as_str() {
                "receiver" => ComponentKind::Receiver,
                "processor" => ComponentKind::Processor,
                "exporter" => ComponentKind::Exporter,
                "extension" => ComponentKind::Extension,
                "connector" => ComponentKind::Connector,
                "pipeline" => {
                    let Some((id, _)) = cb.labels.first().map(label) else {
                        continue;
                    };
                    let list = |me: &mut Self, n: &str| {
                        me.string_list(&cb.body, n)
                            .map(|l| l.value)
                            .unwrap_or_default()
                    };
                    pipelines.push(Pipeline {
                        id,
                        span: header_span(cb),
                        receivers: list(self, "receivers"),
                        processors: list(self, "processors"),
                        exporters: list(self, "exporters"),
                    });
                    continue;
                }
                "telemetry" => {
                    telemetry = Some(self.tree(&cb.body));
                    continue;
                }
                _ => continue,
            };
            let Some((id, id_span)) = cb.labels.first().map(label) else {
                continue;
            };
            if components
                .iter()
                .any(|c: &Component| c.kind == kind && c.id == id)
            {
                let d = Diagnostic::error(
                    "language::duplicate",
                    format!("{} `{id}` is declared twice", kind.block()),
                )
                .at(id_span.clone());
                self.err(d);
                continue;
            }
            let config = self.tree(&cb.body);
            components.push(Component {
                kind,
                id,
                id_span,
                span: header_span(cb),
                config,
            });
        }
        Some(Collector {
            name,
            span,
            version: version?,
            components,
            pipelines,
            telemetry,
        })
    }

    fn compose(&mut self, b: &Block, name: String, span: Span) -> Option<Compose> {
        let on = self
            .block_refs(&b.body, "on", &["server", "host"])
            .into_iter()
            .next();
        let project = self
            .string(&b.body, "project")
            .map(|s| s.value)
            .unwrap_or_else(|| name.clone());
        let directory = self
            .string(&b.body, "directory")
            .unwrap_or_else(|| Spanned::new(format!("/opt/sovstack/{project}"), span.clone()));
        if !directory.value.starts_with('/') {
            let d = Diagnostic::error(
                "language::value",
                "the project directory must be an absolute path",
            )
            .at(directory.span.clone());
            self.err(d);
        }
        let volumes = self
            .string_list(&b.body, "volumes")
            .map(|l| l.value)
            .unwrap_or_default();
        let destroy_volumes = self.bool(&b.body, "destroy_volumes", false).value;
        let mut services = Vec::new();
        for sb in blocks(&b.body).filter(|s| s.ident.as_str() == "service") {
            let Some((sname, _)) = sb.labels.first().map(label) else {
                continue;
            };
            if services.iter().any(|s: &Service| s.name == sname) {
                let d = Diagnostic::error(
                    "language::duplicate",
                    format!("service `{sname}` is declared twice"),
                )
                .at(header_span(sb));
                self.err(d);
                continue;
            }
            if let Some(s) = self.service(sb, sname) {
                services.push(s);
            }
        }
        let (kind, target) = on?;
        let on = target.map(|n| {
            if kind == "server" {
                Target::Server(n)
            } else {
                Target::Host(n)
            }
        });
        Some(Compose {
            name,
            span,
            on,
            project,
            directory,
            services,
            volumes,
            destroy_volumes,
        })
    }

    fn args(&mut self, body: &Body, name: &str) -> Option<Args> {
        let a = find_attr(body, name)?;
        let span = span_of(&a.value);
        if let Expression::Array(_) = &a.value {
            let l = self.string_list(body, name)?;
            return Some(Args {
                span,
                items: l.value,
            });
        }
        match self.value(a)? {
            // Compose splits a string command shell-style; spans are shared by all words.
            Json::String(s) => Some(Args {
                span: span.clone(),
                items: split_command(&s)
                    .into_iter()
                    .map(|w| Spanned::new(w, span.clone()))
                    .collect(),
            }),
            Json::Array(items) => Some(Args {
                span: span.clone(),
                items: items
                    .into_iter()
                    .map(|i| {
                        Spanned::new(
                            i.as_str().map_or_else(|| i.to_string(), str::to_string),
                            span.clone(),
                        )
                    })
                    .collect(),
            }),
            other => {
                self.type_error(a, "a list of strings", &other);
                None
            }
        }
    }

    fn service(&mut self, sb: &Block, name: String) -> Option<Service> {
        let body = &sb.body;
        let span = header_span(sb);
        let image = self.string(body, "image");
        let command = self.args(body, "command");
        let entrypoint = self.args(body, "entrypoint");
        let environment_span = find_attr(body, "environment").map(|a| span_of(&a.value));
        let environment = self.string_map(body, "environment");
        let secret_environment = self.secret_env(body);
        let mut ports = Vec::new();
        if let Some(list) = self.string_list(body, "ports") {
            for p in list.value {
                match parse_port_mapping(&p.value) {
                    Some(m) => ports.push(Spanned::new(m, p.span)),
                    None => {
                        let d = Diagnostic::error("language::value", format!("`{}` is not a port mapping", p.value))
                            .at(p.span)
                            .help("use compose short syntax: `8000:8000`, `127.0.0.1:8000:8000` or `4317:4317/tcp`");
                        self.err(d);
                    }
                }
            }
        }
        let volumes = self
            .string_list(body, "volumes")
            .map(|l| l.value)
            .unwrap_or_default();
        let gpus = find_attr(body, "gpus").and_then(|a| {
            let span = span_of(&a.value);
            match self.value(a)? {
                Json::String(s) if s == "all" => Some(Spanned::new(Gpus::All, span)),
                Json::Number(n) if n.as_u64().is_some() => Some(Spanned::new(
                    Gpus::Count(n.as_u64().unwrap_or(0) as u32),
                    span,
                )),
                other => {
                    self.type_error(a, "`all` or a number", &other);
                    None
                }
            }
        });
        let runtime = self.string(body, "runtime");
        let ipc = self.string(body, "ipc");
        let shm_size = self.string(body, "shm_size");
        let user = self.string(body, "user");
        let restart = self.string(body, "restart").map(|s| s.value);
        let labels = self.labels_map(body);
        let depends_on = self.depends_on(body);
        let healthcheck = blocks(body)
            .find(|b| b.ident.as_str() == "healthcheck")
            .map(|hb| Healthcheck {
                span: header_span(hb),
                test: self.plain_list(&hb.body, "test"),
                interval: self.string(&hb.body, "interval").map(|s| s.value),
                timeout: self.string(&hb.body, "timeout").map(|s| s.value),
                retries: self.u32(&hb.body, "retries").map(|s| s.value),
                start_period: self.string(&hb.body, "start_period").map(|s| s.value),
            });
        let mut files = Vec::new();
        for fb in blocks(body).filter(|b| b.ident.as_str() == "file") {
            let Some((path, pspan)) = fb.labels.first().map(label) else {
                continue;
            };
            let content = self.string(&fb.body, "content");
            let collector = self
                .block_refs(&fb.body, "collector", &["collector"])
                .into_iter()
                .next();
            let source = match (content, collector) {
                (Some(c), None) => FileSource::Content(c.value),
                (None, Some((_, c))) => FileSource::Collector(c),
                _ => {
                    let d = Diagnostic::error(
                        "language::file-source",
                        "a file needs exactly one of `content` or `collector`",
                    )
                    .at(header_span(fb));
                    self.err(d);
                    continue;
                }
            };
            if !path.starts_with('/') {
                let d = Diagnostic::error(
                    "language::value",
                    "the file's container path must be absolute",
                )
                .at(pspan.clone());
                self.err(d);
            }
            files.push(MountedFile {
                span: header_span(fb),
                container_path: Spanned::new(path, pspan),
                source,
            });
        }
        Some(Service {
            name,
            span,
            image: image?,
            command,
            entrypoint,
            environment,
            environment_span,
            secret_environment,
            ports,
            volumes,
            gpus,
            runtime,
            ipc,
            shm_size,
            user,
            restart,
            healthcheck,
            depends_on,
            files,
            labels,
        })
    }

    fn secret_env(&mut self, body: &Body) -> Vec<SecretEnv> {
        let mut out = Vec::new();
        let Some(a) = find_attr(body, "secret_environment") else {
            return out;
        };
        let Expression::Object(obj) = &a.value else {
            let d = Diagnostic::error(
                "language::type",
                "`secret_environment` must be written as `{ KEY = var.secret }`",
            )
            .at(span_of(&a.value));
            self.err(d);
            return out;
        };
        for (k, v) in obj.iter() {
            let key = object_key(k);
            let span = span_of(v.expr());
            let sources = self.ev.sensitive_sources(v.expr());
            let Some(variable) = sources.first().cloned() else {
                let d = Diagnostic::error(
                    "language::secret-not-sensitive",
                    format!("`secret_environment.{key}` does not come from a sensitive variable"),
                )
                .at(span)
                .label("not sensitive")
                .help("declare a `variable` with `sensitive = true` and reference it: a literal secret in stack.hcl ends up in git");
                self.err(d);
                continue;
            };
            let value = match self.ev.eval(v.expr()) {
                Ok(Json::String(s)) if !value::is_unknown(&s) => Some(s),
                Ok(Json::String(_)) => None,
                Ok(other) => Some(other.to_string()),
                Err(d) => {
                    self.err(d);
                    None
                }
            };
            out.push(SecretEnv {
                name: key,
                span,
                variable,
                value,
            });
        }
        out
    }

    fn depends_on(&mut self, body: &Body) -> Vec<Dependency> {
        let Some(a) = find_attr(body, "depends_on") else {
            return Vec::new();
        };
        let mut out = Vec::new();
        match &a.value {
            Expression::Object(obj) => {
                for (k, v) in obj.iter() {
                    let key = object_key(k);
                    let kspan = object_key_span(k);
                    let cond = match self.ev.eval(v.expr()) {
                        Ok(Json::String(s)) => match s.as_str() {
                            "service_started" => DependencyCondition::Started,
                            "service_healthy" => DependencyCondition::Healthy,
                            "service_completed_successfully" => {
                                DependencyCondition::CompletedSuccessfully
                            }
                            other => {
                                let d = Diagnostic::error("language::value", format!("unknown condition `{other}`"))
                                    .at(span_of(v.expr()))
                                    .help("use service_started, service_healthy or service_completed_successfully");
                                self.err(d);
                                continue;
                            }
                        },
                        _ => continue,
                    };
                    out.push(Dependency {
                        service: Spanned::new(key, kspan),
                        condition: cond,
                    });
                }
            }
            _ => {
                for s in self
                    .string_list(body, "depends_on")
                    .map(|l| l.value)
                    .unwrap_or_default()
                {
                    out.push(Dependency {
                        service: s,
                        condition: DependencyCondition::Started,
                    });
                }
            }
        }
        out
    }

    fn check(&mut self, b: &Block, name: String, span: Span) -> Option<Check> {
        let compose = self
            .block_refs(&b.body, "compose", &["compose"])
            .into_iter()
            .next()
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

fn object_key(k: &ObjectKey) -> String {
    match k {
        ObjectKey::Ident(i) => i.as_str().to_string(),
        ObjectKey::Expression(Expression::String(s)) => s.value().to_string(),
        ObjectKey::Expression(e) => e.to_string().trim().trim_matches('"').to_string(),
    }
}

fn object_key_span(k: &ObjectKey) -> Span {
    match k {
        ObjectKey::Ident(i) => i.span().unwrap_or(0..0),
        ObjectKey::Expression(e) => span_of(e),
    }
}

/// `kind.name` written as a bare traversal.
fn as_block_ref(e: &Expression) -> Option<(String, String, Span)> {
    let Expression::Traversal(t) = e else {
        return None;
    };
    let Expression::Variable(root) = &t.expr else {
        return None;
    };
    if t.operators.len() != 1 {
        return None;
    }
    let TraversalOperator::GetAttr(name) = t.operators[0].value() else {
        return None;
    };
    Some((
        root.as_str().to_string(),
        name.as_str().to_string(),
        t.span().unwrap_or(0..0),
    ))
}

pub fn parse_port_range(s: &str) -> Option<PortRange> {
    let (a, b) = s.split_once('-').unwrap_or((s, s));
    let from: u16 = a.trim().parse().ok()?;
    let to: u16 = b.trim().parse().ok()?;
    (from > 0 && from <= to).then_some(PortRange { from, to })
}

/// Compose short syntax: `[HOST_IP:][HOST_PORT:]CONTAINER_PORT[/PROTOCOL]`.
pub fn parse_port_mapping(s: &str) -> Option<PortMapping> {
    let (rest, protocol) = match s.rsplit_once('/') {
        Some((r, p)) => (r, p.to_string()),
        None => (s, "tcp".to_string()),
    };
    // An IPv6 host address is bracketed: `[::1]:8000:8000`.
    let (host_ip, rest) = if let Some(stripped) = rest.strip_prefix('[') {
        let (ip, after) = stripped.split_once(']')?;
        (Some(ip.to_string()), after.strip_prefix(':')?)
    } else {
        (None, rest)
    };
    let parts: Vec<&str> = rest.split(':').collect();
    let (host_ip, published, target) = match (host_ip, parts.as_slice()) {
        (None, [t]) => (None, None, *t),
        (None, [p, t]) => (None, Some(*p), *t),
        (None, [ip, p, t]) => (Some(ip.to_string()), Some(*p), *t),
        (Some(ip), [p, t]) => (Some(ip), Some(*p), *t),
        _ => return None,
    };
    let published = match published {
        Some("") | None => None,
        Some(p) => Some(parse_port_range(p)?),
    };
    Some(PortMapping {
        host_ip: host_ip.filter(|ip| !ip.is_empty()),
        published,
        target: parse_port_range(target)?,
        protocol,
    })
}

/// Splits like a POSIX shell for the simple cases compose sees: whitespace, quotes.
fn split_command(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut in_word = false;
    for c in s.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => cur.push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                in_word = true;
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            (None, c) => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        out.push(cur);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_mappings_parse() {
        let m = parse_port_mapping("127.0.0.1:8000:8000").unwrap();
        assert_eq!(m.host_ip.as_deref(), Some("127.0.0.1"));
        assert!(!m.is_public());
        let m = parse_port_mapping("4317:4317/udp").unwrap();
        assert_eq!(m.protocol, "udp");
        assert!(m.is_public());
        let m = parse_port_mapping("[::1]:80:8080").unwrap();
        assert_eq!(m.host_ip.as_deref(), Some("::1"));
        assert_eq!(
            m.target,
            PortRange {
                from: 8080,
                to: 8080
            }
        );
        assert!(parse_port_mapping("8000").unwrap().published.is_none());
        assert!(parse_port_mapping("a:b").is_none());
    }

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
    }

    #[test]
    fn commands_split_like_a_shell() {
        assert_eq!(
            split_command("--model 'a b'  --x\n--y"),
            vec!["--model", "a b", "--x", "--y"]
        );
    }
}
