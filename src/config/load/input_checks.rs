//! The checks of module inputs that need values: a `sensitive` input must be given a value
//! made from sensitive variables (sovstack keeps secrets out of stack files, so a literal or
//! a plain variable there is a secret written down), and each `validation` condition of a
//! module's `variable` must hold for the value it is given. Both point at the caller's value.

use super::loader::Loader;
use super::modules::InputCheck;
use crate::config::diagnostic::Diagnostic;
use crate::config::eval::{Evaluator, span_of};
use crate::config::value::json_is_unknown;
use hcl_edit::expr::{Expression, Traversal, TraversalOperator};
use hcl_edit::{Decorated, Ident};
use serde_json::Value as Json;

impl Loader<'_> {
    pub(super) fn module_input_checks(&mut self, checks: &[InputCheck], ev: &Evaluator) {
        for c in checks {
            if c.sensitive && !ev.local_is_sensitive(&c.local) {
                self.err(
                    Diagnostic::error(
                        "language::module-input",
                        format!(
                            "input `{}` of module `{}` is sensitive, but its value is not made from a sensitive variable",
                            c.input, c.module
                        ),
                    )
                    .at(c.span.clone())
                    .label("written in the stack")
                    .help("declare a variable with `sensitive = true` and pass it (`var.<name>`), so the secret stays out of the stack file"),
                );
            }
            // A value known only after apply, or a sensitive variable not given yet (as
            // `plan` runs without secrets): nothing to check before it is known.
            if c.validations.is_empty()
                || ev
                    .eval(&read_local(&c.local))
                    .is_ok_and(|v| json_is_unknown(&v))
            {
                continue;
            }
            for (condition, message) in &c.validations {
                self.input_validation(c, condition, message, ev);
            }
        }
    }

    fn input_validation(
        &mut self,
        c: &InputCheck,
        condition: &Expression,
        message: &Expression,
        ev: &Evaluator,
    ) {
        match ev.eval(condition) {
            Ok(Json::Bool(true)) => {}
            Ok(Json::Bool(false)) => {
                let text = ev
                    .eval(message)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_else(|| "validation failed".into());
                self.err(
                    Diagnostic::error(
                        "language::variable-validation",
                        format!(
                            "invalid value for input `{}` of module `{}`: {text}",
                            c.input, c.module
                        ),
                    )
                    .at(c.span.clone())
                    .label("this value fails the module's validation")
                    .help(format!(
                        "give `{}` a value that meets the condition of the module's `variable \"{}\"`",
                        c.input, c.input
                    )),
                );
            }
            // Known only after apply: a rule never guesses.
            Ok(v) if json_is_unknown(&v) => {}
            Ok(_) => self.err(
                Diagnostic::error(
                    "language::type",
                    "a validation condition must be true or false",
                )
                .at(span_of(condition)),
            ),
            Err(d) => self.err(d),
        }
    }
}

/// `local.<name>`.
fn read_local(name: &str) -> Expression {
    Expression::Traversal(Box::new(Traversal::new(
        Expression::Variable(Decorated::new(Ident::new("local"))),
        vec![Decorated::new(TraversalOperator::GetAttr(Decorated::new(
            Ident::new_unchecked(name),
        )))],
    )))
}
