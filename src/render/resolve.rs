//! Values still unknown (after-apply attributes, unset variables) must never be rendered silently.
//! For apply they are filled in from `known`, and what remains is an error; for a plan they print
//! as `(known after apply)` and the artifact says it has unknowns.

use crate::config::value;
use std::collections::{BTreeMap, BTreeSet};

pub struct Resolver<'a> {
    known: &'a BTreeMap<String, String>,
    describe: bool,
    /// References that stayed unknown in what this resolver rendered.
    pub unknowns: BTreeSet<String>,
}

impl<'a> Resolver<'a> {
    pub fn new(known: &'a BTreeMap<String, String>, describe: bool) -> Self {
        Self {
            known,
            describe,
            unknowns: BTreeSet::new(),
        }
    }

    pub fn text(&mut self, s: &str) -> String {
        if !value::is_unknown(s) {
            return s.to_string();
        }
        let resolved = value::resolve(s, self.known);
        if !value::is_unknown(&resolved) {
            return resolved;
        }
        self.unknowns.extend(value::unknowns(&resolved));
        if self.describe {
            value::describe(&resolved)
        } else {
            // Kept with its markers; the caller turns `unknowns` into an error before anything is written.
            resolved
        }
    }

    pub fn json(&mut self, v: &serde_json::Value) -> serde_json::Value {
        use serde_json::Value;
        match v {
            Value::String(s) => Value::String(self.text(s)),
            Value::Array(a) => Value::Array(a.iter().map(|x| self.json(x)).collect()),
            Value::Object(o) => Value::Object(
                o.iter()
                    .map(|(k, x)| (self.text(k), self.json(x)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }

    /// Takes the unknowns collected so far (one resolver can serve several artifacts).
    pub fn take_unknowns(&mut self) -> BTreeSet<String> {
        std::mem::take(&mut self.unknowns)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values_resolve_and_the_rest_is_collected() {
        let known = BTreeMap::from([("server.a.ipv4_address".to_string(), "10.0.0.1".to_string())]);
        let mut r = Resolver::new(&known, true);
        let a = value::after_apply("server.a.ipv4_address");
        let b = value::after_apply("server.b.ipv4_address");
        assert_eq!(r.text(&format!("{a}:4317")), "10.0.0.1:4317");
        assert!(r.unknowns.is_empty());
        assert_eq!(r.text(&b), "(known after apply)");
        assert_eq!(
            r.take_unknowns().into_iter().collect::<Vec<_>>(),
            vec!["server.b.ipv4_address"]
        );
    }

    #[test]
    fn apply_mode_keeps_markers_so_nothing_unknown_passes_as_text() {
        let known = BTreeMap::new();
        let mut r = Resolver::new(&known, false);
        let v = r.json(&serde_json::json!({"endpoint": value::unset_var("x")}));
        assert!(value::json_is_unknown(&v));
        assert!(r.unknowns.contains("var.x"));
    }
}
