//! What bounds a container: `ulimits`, `mem_limit` and `logging` (on a service, and `logging`
//! as the project's default), read into typed values.

use super::readers::{ModelBuilder, json_kind};
use super::syntax::{blocks, find_attr, header_span, object_key, object_key_span};
use crate::config::diagnostic::Diagnostic;
use crate::config::eval::span_of;
use crate::config::model::{Logging, Ulimit, UlimitValue};
use hcl_edit::expr::Expression;
use hcl_edit::structure::Body;
use serde_json::Value as Json;

const ULIMIT_HELP: &str = "write a number (`nproc = 65535`) or soft and hard (`nofile = { soft = 262144, hard = 262144 }`)";

impl ModelBuilder<'_, '_> {
    /// `ulimits = { nofile = { soft = N, hard = N }, nproc = N }`, each entry at its own span.
    pub(super) fn ulimits(&mut self, body: &Body) -> Vec<Ulimit> {
        let Some(a) = find_attr(body, "ulimits") else {
            return Vec::new();
        };
        let Expression::Object(obj) = &a.value else {
            let d = Diagnostic::error("language::type", "`ulimits` must be written as a map")
                .at(span_of(&a.value))
                .help(ULIMIT_HELP);
            self.err(d);
            return Vec::new();
        };
        let mut out = Vec::new();
        for (k, v) in obj.iter() {
            let name = object_key(k);
            let span = object_key_span(k).start..span_of(v.expr()).end;
            let Some(value) = self.eval_expr(v.expr()) else {
                continue;
            };
            match ulimit_value(&value) {
                Some(value) => out.push(Ulimit { name, span, value }),
                None => {
                    let d = Diagnostic::error(
                        "language::type",
                        format!(
                            "`ulimits.{name}` must be a number or soft and hard, found {}",
                            json_kind(&value)
                        ),
                    )
                    .at(span)
                    .help(ULIMIT_HELP);
                    self.err(d);
                }
            }
        }
        out
    }

    /// A `logging { driver = "...", options = { ... } }` block.
    pub(super) fn logging(&mut self, body: &Body) -> Option<Logging> {
        let b = blocks(body).find(|b| b.ident.as_str() == "logging")?;
        let driver = self.string(&b.body, "driver").map(|s| s.value);
        let options = self
            .string_map(&b.body, "options")
            .into_iter()
            .map(|(k, v)| (k, v.value))
            .collect();
        Some(Logging {
            span: header_span(b),
            driver,
            options,
        })
    }
}

/// A number, or an object with whole-number `soft` and `hard`, soft not above hard.
fn ulimit_value(v: &Json) -> Option<UlimitValue> {
    match v {
        Json::Number(n) => n.as_u64().map(UlimitValue::Single),
        Json::Object(o) if o.len() == 2 => {
            let soft = o.get("soft")?.as_u64()?;
            let hard = o.get("hard")?.as_u64()?;
            (soft <= hard).then_some(UlimitValue::SoftHard { soft, hard })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ulimit_values() {
        assert_eq!(
            ulimit_value(&json!(65535)),
            Some(UlimitValue::Single(65535))
        );
        assert_eq!(
            ulimit_value(&json!({"soft": 1024, "hard": 4096})),
            Some(UlimitValue::SoftHard {
                soft: 1024,
                hard: 4096
            })
        );
        for bad in [
            json!("many"),
            json!(-1),
            json!({"soft": 2, "hard": 1}),
            json!({"soft": 1}),
            json!({"soft": 1, "hard": 2, "x": 3}),
        ] {
            assert_eq!(ulimit_value(&bad), None, "{bad}");
        }
    }
}
