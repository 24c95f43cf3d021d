//! The loader's state across passes, and the order the passes run in.

use super::LoadOptions;
use super::readers::ModelBuilder;
use super::syntax::attr_span;
use crate::config::diagnostic::{Diagnostic, Diagnostics};
use crate::config::eval::Evaluator;
use crate::config::model::Stack;
use crate::config::source::SourceFile;
use hcl_edit::structure::{Body, Structure};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

pub(super) struct Loader<'a> {
    pub(super) source: &'a SourceFile,
    pub(super) diags: &'a mut Diagnostics,
    pub(super) opts: &'a LoadOptions,
    /// kind -> declared names, in declaration order.
    pub(super) names: BTreeMap<&'static str, Vec<String>>,
    /// The same names as sets: every reference is checked against them, and a linear search
    /// per reference made loading quadratic in the number of blocks.
    pub(super) name_sets: BTreeMap<&'static str, BTreeSet<String>>,
    pub(super) var_names: Vec<String>,
    /// Locals in declaration order (for suggestions) and as a set (for checks: a linear
    /// search per local made a long chain of locals quadratic).
    pub(super) local_names: Vec<String>,
    pub(super) local_name_set: HashSet<String>,
    /// Spans of references already reported; expressions holding them are not evaluated again.
    pub(super) bad_refs: BTreeSet<(usize, usize)>,
    /// Variables whose given value was refused (already reported): expressions reading them
    /// are not evaluated, so one bad `--var` is one error.
    pub(super) refused_vars: HashSet<String>,
    /// What each block (`server.b`) and local (`local.x`) refers to.
    pub(super) uses: HashMap<String, super::references::Uses>,
    /// Blocks with `count` or `for_each` (`server.gpu`) -> their instances' names (`gpu[0]`).
    pub(super) instances: HashMap<String, Vec<String>>,
    /// Blocks whose `count` or `for_each` made no instances.
    pub(super) no_instances: Vec<super::expand::NoInstances>,
    /// Module inputs to check once values are known (`input_checks`).
    pub(super) input_checks: Vec<super::modules::InputCheck>,
}

impl<'a> Loader<'a> {
    pub(super) fn new(
        source: &'a SourceFile,
        diags: &'a mut Diagnostics,
        opts: &'a LoadOptions,
    ) -> Self {
        Self {
            source,
            diags,
            opts,
            names: BTreeMap::new(),
            name_sets: BTreeMap::new(),
            var_names: Vec::new(),
            local_names: Vec::new(),
            local_name_set: HashSet::new(),
            bad_refs: BTreeSet::new(),
            refused_vars: HashSet::new(),
            uses: HashMap::new(),
            instances: HashMap::new(),
            no_instances: Vec::new(),
            input_checks: Vec::new(),
        }
    }

    pub(super) fn err(&mut self, d: Diagnostic) {
        self.diags.push(d);
    }

    pub(super) fn run(mut self, body: &Body) -> Option<Stack> {
        let (variables, ev) = self.evaluator(body);
        // Pass 3: the typed model.
        let mut b = ModelBuilder {
            l: &mut self,
            ev: &ev,
        };
        // After errors too, the partial model is returned so later checks can add what they see.
        b.stack(body, variables)
    }

    /// Passes 1 and 2 alone: the evaluator of variables, locals and blocks, which expanding
    /// `count` and `for_each` needs before the file is loaded for good.
    pub(super) fn variables_and_locals(mut self, body: &Body) -> Evaluator {
        self.evaluator(body).1
    }

    fn evaluator(&mut self, body: &Body) -> (Vec<crate::config::model::Variable>, Evaluator) {
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

        for z in &self.no_instances {
            let block = format!("{}.{}", z.kind, z.name);
            self.instances.insert(block, Vec::new());
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
            &self.no_instances,
        );
        if let Some(data) = self.names.get("data") {
            ev.declare_data(data, &self.opts.known);
        }
        self.locals(body, &mut ev);
        self.variable_validations(body, &variables, &ev);
        let checks = std::mem::take(&mut self.input_checks);
        self.module_input_checks(&checks, &ev);
        (variables, ev)
    }
}
