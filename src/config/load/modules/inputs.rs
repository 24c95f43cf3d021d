//! A module's inputs: the caller's arguments checked against the module's `variable` blocks
//! and turned into the module's locals.

use super::*;

impl Splicer<'_> {
    /// The module's inputs as locals: the caller's expression, else the default. A missing
    /// required input, an unknown one and a literal of the wrong type are reported.
    pub(super) fn inputs(
        &mut self,
        call: &Block,
        module: &str,
        inputs: &[Input],
        rename: &mut Rename<'_>,
    ) -> Vec<Attribute> {
        let given: Vec<&Attribute> = super::super::syntax::attrs(&call.body)
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
                    locals.push(local(input_name(module, &i.name), a.value.clone()));
                }
                None => match &i.default {
                    Some(d) => {
                        let mut d = d.clone();
                        rename.visit_expr_mut(&mut d);
                        locals.push(local(input_name(module, &i.name), d));
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
                            input_name(module, &i.name),
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
    pub(super) fn check_type(&mut self, module: &str, i: &Input, given: &Attribute) {
        let (Some(ty), Some(v)) = (i.ty, literal(&given.value)) else {
            return;
        };
        if let Err(found) = super::super::variables::check_type(&v, ty) {
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

pub(super) fn input(b: &Block) -> Option<Input> {
    let (name, _) = b.labels.first().map(label)?;
    Some(Input {
        name,
        default: find_attr(&b.body, "default").map(|a| a.value.clone()),
        ty: find_attr(&b.body, "type").and_then(|a| super::super::variables::parse_type(&a.value)),
        span: header_span(b),
    })
}

pub(super) fn output(b: &Block) -> Option<(String, Expression)> {
    let (name, _) = b.labels.first().map(label)?;
    Some((name, find_attr(&b.body, "value")?.value.clone()))
}
