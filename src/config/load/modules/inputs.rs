//! A module's inputs: the caller's arguments checked against the module's `variable` blocks
//! and turned into the module's locals.

use super::*;

/// What the loader checks of one module input once values are known: that a `sensitive`
/// input is given a sensitive value, and its `validation` conditions.
#[derive(Debug, Clone)]
pub struct InputCheck {
    /// The local holding the input's value (`m·var＿x`).
    pub local: String,
    /// The module as its caller wrote it, and the input's name, for messages.
    pub module: String,
    pub input: String,
    /// The input is declared `sensitive` and the caller gives it a value.
    pub sensitive: bool,
    /// (condition, error message), reading the input as its local.
    pub validations: Vec<(Expression, Expression)>,
    /// Where findings point: the caller's value, or the variable block for a default.
    pub span: Span,
}

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
            let given_value = given.iter().find(|a| a.key.as_str() == i.name);
            if i.sensitive || !i.validations.is_empty() {
                let validations = i
                    .validations
                    .iter()
                    .map(|(c, m)| {
                        let (mut c, mut m) = (c.clone(), m.clone());
                        rename.visit_expr_mut(&mut c);
                        rename.visit_expr_mut(&mut m);
                        (c, m)
                    })
                    .collect();
                self.input_checks.push(InputCheck {
                    local: input_name(module, &i.name),
                    module: shown(module),
                    input: i.name.clone(),
                    sensitive: i.sensitive && given_value.is_some(),
                    validations,
                    span: given_value.map_or(i.span.clone(), |a| span_of(&a.value)),
                });
            }
            match given_value {
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
        sensitive: find_attr(&b.body, "sensitive")
            .is_some_and(|a| matches!(literal(&a.value), Some(serde_json::Value::Bool(true)))),
        validations: super::super::syntax::blocks(&b.body)
            .filter(|v| v.ident.as_str() == "validation")
            .filter_map(|v| {
                Some((
                    find_attr(&v.body, "condition")?.value.clone(),
                    find_attr(&v.body, "error_message")?.value.clone(),
                ))
            })
            .collect(),
    })
}

pub(super) fn output(b: &Block) -> Option<(String, Expression)> {
    let (name, _) = b.labels.first().map(label)?;
    Some((name, find_attr(&b.body, "value")?.value.clone()))
}
