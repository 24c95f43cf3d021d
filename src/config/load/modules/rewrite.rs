//! The rewrites that splice a module: its names renamed into the stack (`Rename`), and the
//! caller's `module.m.o` turned into reads of the module's locals (`CallerRefs`).

use super::*;

/// A module's name as its caller wrote it (`inner` for `outer·inner`, `m["a"]` for `m‿a`).
pub(super) fn shown(module: &str) -> String {
    crate::config::instance::module_shown(module.rsplit(MODULE_SEPARATOR).next().unwrap_or(module))
}

/// The internal name of `name` in module `module`.
pub(super) fn inner(module: &str, name: &str) -> String {
    format!("{module}{MODULE_SEPARATOR}{name}")
}

/// Marks the namespace of a module's input or local in its internal name: `m·var＿x` is input
/// `x` of module `m`, `m·local＿x` its local `x`, and `m·x` its output `x`, so that an input, a
/// local and an output of one name stay three values, as in Terraform. A fullwidth low line:
/// an identifier character no written (ASCII) name holds.
pub(super) const NAMESPACE: char = '\u{ff3f}';

/// The internal name of input `name` of module `module`.
pub(super) fn input_name(module: &str, name: &str) -> String {
    inner(module, &format!("var{NAMESPACE}{name}"))
}

/// The internal name of local `name` of module `module`.
pub(super) fn local_name(module: &str, name: &str) -> String {
    inner(module, &format!("local{NAMESPACE}{name}"))
}

/// A stack local named `internal`.
pub(super) fn local(internal: String, value: Expression) -> Attribute {
    Attribute::new(Decorated::new(Ident::new_unchecked(internal)), value)
}

/// kind -> names of the module's blocks (`data.<kind>` for data blocks).
pub(super) fn declared_blocks(blocks: &[Block]) -> BTreeMap<String, BTreeSet<String>> {
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
pub(super) fn rename_label(b: &mut Block, module: &str) {
    let at = usize::from(b.ident.as_str() == "data");
    if let Some(l) = b.labels.get_mut(at) {
        let (name, _) = label(l);
        *l = BlockLabel::String(Decorated::new(inner(module, &name)));
    }
}

/// Rewrites references inside a module's body to the names its parts have in the stack. A
/// module sees only its own inputs, locals and blocks: a reference to anything else is kept
/// in `unknown` (to be reported) and made to read nothing of the stack's.
pub(super) struct Rename<'a> {
    pub(super) module: &'a str,
    pub(super) blocks: &'a BTreeMap<String, BTreeSet<String>>,
    pub(super) inputs: &'a BTreeSet<String>,
    pub(super) locals: &'a BTreeSet<String>,
    /// References to what the module does not declare: (`var.x`, its span).
    pub(super) unknown: Vec<(String, Span)>,
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
    pub(super) fn rename(&mut self, t: &mut Traversal) {
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
            let span = hcl_edit::Span::span(&*t).unwrap_or(0..0);
            self.unknown.push((format!("{kind}.{name}"), span));
        }
        let renamed = match root.as_str() {
            "var" => input_name(self.module, &name),
            "local" => local_name(self.module, &name),
            _ => inner(self.module, &name),
        };
        if root == "var"
            && let Expression::Variable(v) = &mut t.expr
        {
            **v = Ident::new("local");
        }
        if let Some(op) = t.operators.get_mut(at)
            && let TraversalOperator::GetAttr(id) = op.value_mut()
        {
            // In place: the name keeps its span.
            **id = Ident::new_unchecked(renamed);
        }
    }
}

/// `module.m.o` in the caller becomes `local.m·o`; an unknown module or output is reported.
pub(super) struct CallerRefs<'a> {
    /// The internal prefix of the caller's modules: "" in the stack, "m·" in module `m`.
    pub(super) prefix: String,
    pub(super) outputs: &'a BTreeMap<String, Vec<String>>,
    pub(super) instanced: &'a BTreeMap<String, Instanced>,
    pub(super) diags: &'a mut Vec<Diagnostic>,
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
    pub(super) fn rewrite(&mut self, t: &mut Traversal) {
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
    pub(super) fn rewrite_instances(
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
pub(super) fn no_such_output(
    module: &str,
    output: &str,
    outputs: &[String],
    span: Span,
) -> Diagnostic {
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
