//! The `stack` block (name and policy), outputs, and the reading of every other block into the
//! `Stack`.

use super::readers::ModelBuilder;
use super::syntax::{blocks, find_attr, header_span, label};
use crate::config::diagnostic::Diagnostic;
use crate::config::eval::span_of;
use crate::config::model::{Output, Policy, Stack, Variable};
use crate::config::source::{Span, Spanned};
use hcl_edit::structure::{Block, Body};
use std::collections::BTreeMap;

impl ModelBuilder<'_, '_> {
    pub(super) fn stack(&mut self, body: &Body, variables: Vec<Variable>) -> Option<Stack> {
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
        for d in super::backend::check(sb) {
            self.err(d);
        }
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
            moves: Vec::new(),
            imports: Vec::new(),
            data: Vec::new(),
            references: BTreeMap::new(),
        };
        for b in blocks(body) {
            match b.ident.as_str() {
                "moved" => stack.moves.extend(self.moved(b)),
                "import" => stack.imports.extend(self.import(b)),
                "data" => stack.data.extend(self.data_source(b)),
                _ => {}
            }
            let Some((name, _)) = b.labels.first().map(label) else {
                continue;
            };
            let address = crate::config::instance::block_address(b.ident.as_str(), &name);
            let mut uses = self.l.blocks_used_by(&address);
            uses.remove(&address);
            if !uses.is_empty() {
                stack.references.insert(address, uses);
            }
            let span = header_span(b);
            match b.ident.as_str() {
                "output" => stack.outputs.extend(self.output(b, name, span)),
                "ssh_key" => stack.ssh_keys.extend(self.ssh_key(b, name, span)),
                "server" => stack.servers.extend(self.server(b, name, span)),
                "host" => stack.hosts.extend(self.host(b, name, span)),
                "firewall" => stack.firewalls.push(self.firewall(b, name, span)),
                "volume" => stack.volumes.extend(self.volume(b, name, span)),
                "collector" => stack.collectors.extend(self.collector(b, name, span)),
                "compose" => stack.composes.extend(self.compose(b, name, span)),
                "check" => stack.checks.extend(self.check(b, name, span)),
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
            .string_values(&pb.body, "allowed_locations")
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
}
