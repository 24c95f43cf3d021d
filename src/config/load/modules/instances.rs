//! `count` and `for_each` on a module call: one splice per instance, and the local `m‿`
//! through which the caller reads every instance's outputs.

use super::*;

/// The instances of a module call with `count` (`count`) or `for_each`.
pub(super) struct Instanced {
    pub(super) count: bool,
    /// Each instance's key and internal module name.
    pub(super) keys: Vec<(InstanceKey, String)>,
}

impl Splicer<'_> {
    /// Module call `call` of the stack (`prefix` "") or of module `m` (`prefix` "m·"): spliced
    /// once, or once per instance of its `count` or `for_each`.
    pub(super) fn call(&mut self, call: &Block, base: &Base, prefix: &str) -> Vec<Call> {
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
        let Some((arg, expr)) = super::super::expand::count_or_for_each(call) else {
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
            let mut one = super::super::expand::without_meta(call);
            super::super::expand::substitute(&mut one.body, &i);
            let instance = module_instance(&name, &i.key);
            calls.extend(self.module(&one, base, &instance));
            keys.push((i.key, instance));
        }
        self.instanced.insert(name, Instanced { count, keys });
        calls
    }

    /// The instances of a module call's `count` or `for_each`; none (reported) when they
    /// cannot be known.
    pub(super) fn instances(
        &mut self,
        arg: &str,
        expr: &Expression,
        prefix: &str,
    ) -> Vec<super::super::expand::Instance> {
        let refuse = |what: &str| {
            Diagnostic::error("language::count-for-each", format!("`{arg}` on {what}"))
                .at(span_of(expr))
        };
        let found = match self.ev {
            _ if !prefix.is_empty() => Err(refuse("a module called from a module is not supported yet")
                .help("give the outer module the `count`/`for_each`, or use them on the blocks inside the inner module")),
            None => Err(refuse("this module call cannot be evaluated")
                .help("this is a bug in sovstack; please report it with the stack file")),
            Some(ev) => super::super::expand::instances(arg, expr, ev),
        };
        found.unwrap_or_else(|d| {
            self.diags.push(d);
            Vec::new()
        })
    }

    /// For each module call with instances, local `m‿`: the instances' outputs, a map by key
    /// (`for_each`) or a list by index (`count`), which `module.m` reads.
    pub(super) fn instance_locals(&self) -> Vec<Attribute> {
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
}
