//! `data` blocks: existing cloud resources found by name or labels. What reading them found
//! (the engine reads them before loading) comes in with the values known from state, keyed
//! `data.<kind>.<name>.<attribute>`.

use super::readers::ModelBuilder;
use super::syntax::{find_attr, header_span, label};
use crate::config::diagnostic::Diagnostic;
use crate::config::model::{DATA_KINDS, DataSelector, DataSource};
use hcl_edit::structure::Block;

impl ModelBuilder<'_, '_> {
    pub(super) fn data_source(&mut self, b: &Block) -> Option<DataSource> {
        let (kind, _) = b.labels.first().map(label)?;
        let (name, _) = b.labels.get(1).map(label)?;
        let attrs = DATA_KINDS.iter().find(|(k, _)| *k == kind)?.1;
        let span = header_span(b);
        let by_name = self.string(&b.body, "name");
        let has_labels = find_attr(&b.body, "labels").is_some();
        let selector = match (by_name, has_labels) {
            (Some(n), false) => DataSelector::Name(n.value),
            (None, true) => DataSelector::Labels(self.labels_map(&b.body)),
            _ => {
                let d = Diagnostic::error(
                    "language::missing-attribute",
                    format!("data {kind} `{name}` needs exactly one of `name` and `labels`"),
                )
                .at(span)
                .help("find it by its name (`name = \"ops\"`) or by a label selector (`labels = { team = \"ops\" }`)");
                self.err(d);
                return None;
            }
        };
        let prefix = format!("data.{kind}.{name}.");
        let found = attrs
            .iter()
            .filter_map(|a| {
                let v = self.l.opts.known.get(&format!("{prefix}{a}"))?;
                Some((a.to_string(), v.clone()))
            })
            .collect();
        Some(DataSource {
            kind,
            name,
            span,
            selector,
            found,
        })
    }
}
