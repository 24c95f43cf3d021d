//! The steps plan, apply and destroy share: read state, load the stack with what state
//! knows, validate, render, build desired resources, and hash every input.

use super::{Cli, common};
use crate::config::{Diagnostics, Stack, diagnostic};
use crate::render::{self, Artifact, RenderError, RenderOptions};
use crate::resources::{self, Desired, DesiredContext};
use crate::state::{KeyedHasher, LocalBackend, StateBackend, StateFile};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Where the local state lives: `--state FILE`, else `.sovstack/state.json` beside the
/// stack file.
pub fn state_path(cli: &Cli) -> PathBuf {
    cli.state.clone().unwrap_or_else(|| {
        let dir = cli.stack.parent().unwrap_or(std::path::Path::new(""));
        dir.join(super::render::DEFAULT_STATE_FILE)
    })
}

pub fn backend(cli: &Cli) -> LocalBackend {
    LocalBackend::new(state_path(cli))
}

/// Values of computed attributes recorded in state (`server.x.ipv4_address`), which resolve
/// the stack's after-apply references.
pub fn known_from_state(state: Option<&StateFile>) -> BTreeMap<String, String> {
    let Some(state) = state else {
        return BTreeMap::new();
    };
    // Collected first and built in one go (std sorts, then builds the tree bottom-up): inserting
    // thousands of long, common-prefixed keys one by one was most of this function's cost.
    let mut out: Vec<(String, String)> = Vec::with_capacity(state.resources.len() * 3);
    for (addr, r) in &state.resources {
        let Some(kind) = resources::kind(&r.kind) else {
            continue;
        };
        // Keys are built by hand: `format!` here was a measurable share of a large plan.
        let key = |attr: &str| {
            let mut k = String::with_capacity(addr.len() + 1 + attr.len());
            k.push_str(addr);
            k.push('.');
            k.push_str(attr);
            k
        };
        let mut has_id = false;
        for attr in kind.computed() {
            if let Some(v) = r.attributes.get(*attr).and_then(|v| v.as_str()) {
                has_id |= *attr == "id";
                out.push((key(attr), v.to_string()));
            }
        }
        if let (Some(id), false) = (&r.id, has_id) {
            out.push((key("id"), id.clone()));
        }
    }
    out.into_iter().collect()
}

/// The key for digests of secret-bearing rendered files (the same one `render` uses).
pub fn render_digest_key(hasher: &KeyedHasher) -> Vec<u8> {
    hasher.digest_key().to_vec()
}

/// Everything a plan is made from.
pub struct Prepared {
    pub stack: Stack,
    pub desired: Vec<Desired>,
    pub inputs_hash: String,
}

/// Loads and checks the stack (printing diagnostics), renders, builds desired resources.
/// `None` means an error was printed.
///
/// Rendering is real whenever it can be (key available, every secret set, every referenced
/// value known); otherwise it is redacted, and the resources waiting for a value or a secret
/// say so (unknown markers, unset sensitive values): apply defers them to a later wave.
pub fn prepare(
    cli: &Cli,
    state: Option<&StateFile>,
    hasher: Option<&KeyedHasher>,
) -> Option<Prepared> {
    let known = std::sync::Arc::new(known_from_state(state));
    let mut loaded = common::load_with_known(cli, known.clone())?;
    let Some(stack) = loaded.stack.take() else {
        print_diagnostics(&loaded.diagnostics, &loaded.source);
        return None;
    };
    loaded.diagnostics.extend(crate::validate::check(&stack));
    loaded.diagnostics.sort();
    print_diagnostics(&loaded.diagnostics, &loaded.source);
    if loaded.diagnostics.has_errors() {
        return None;
    }
    let redacted = RenderOptions {
        digest_key: hasher.map(render_digest_key),
        skip_cloud_init: true,
        ..RenderOptions::redacted(known.clone())
    };
    let real = hasher
        .filter(|_| stack.unset_sensitive_variables().is_empty())
        .map(|h| RenderOptions {
            skip_cloud_init: true,
            ..RenderOptions::apply(known.clone(), render_digest_key(h))
        });
    let rendered = match real {
        Some(opts) => match render::render_stack(&stack, &opts) {
            Err(RenderError::Unresolved { .. }) => render::render_stack(&stack, &redacted),
            other => other,
        },
        None => render::render_stack(&stack, &redacted),
    };
    let artifacts = match rendered {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{:?}", miette::Report::new(e));
            return None;
        }
    };
    let (files, service_hashes) = resources::node_inputs(&stack, &artifacts);
    let bootstrap = crate::providers::node::bootstrap_sha256();
    let desired = resources::desired(&DesiredContext {
        stack: &stack,
        files: &files,
        bootstrap_sha256: &bootstrap,
        service_hashes: &service_hashes,
    });
    let inputs_hash = inputs_hash(&loaded.source, &stack, &artifacts, hasher);
    Some(Prepared {
        stack,
        desired,
        inputs_hash,
    })
}

fn print_diagnostics(d: &Diagnostics, source: &crate::config::SourceFile) {
    let text = diagnostic::render(d, source);
    if !text.is_empty() {
        eprint!("{text}");
    }
}

/// sha256 over everything a plan depends on: the stack text, variable values (secrets as
/// keyed hashes), every rendered artifact's digest, and the tool version.
fn inputs_hash(
    source: &crate::config::SourceFile,
    stack: &Stack,
    artifacts: &[Artifact],
    hasher: Option<&KeyedHasher>,
) -> String {
    let mut h = Sha256::new();
    h.update(env!("CARGO_PKG_VERSION").as_bytes());
    h.update([0]);
    h.update(source.text().as_bytes());
    for v in &stack.variables {
        h.update([0]);
        h.update(v.name.as_bytes());
        h.update([0]);
        match (&v.value, v.sensitive, hasher) {
            (None, ..) => h.update(b"(unset)"),
            (Some(val), true, Some(k)) => h.update(k.hash_json(val).mac.as_bytes()),
            (Some(_), true, None) => h.update(b"(sensitive)"),
            (Some(val), false, _) => h.update(val.to_string().as_bytes()),
        }
    }
    for a in artifacts
        .iter()
        .filter(|a| a.kind != render::ArtifactKind::CloudInit)
    {
        h.update([0]);
        h.update(a.node.as_bytes());
        h.update(a.remote_path.as_bytes());
        h.update(a.digest.as_bytes());
    }
    hex::encode(h.finalize())
}

/// The state (if any) and the key to compare secrets with. Reading never creates files:
/// without state, the key comes from `SOVSTACK_STATE_KEY` or is absent.
pub async fn read_state(
    cli: &Cli,
) -> Result<(Option<StateFile>, Option<KeyedHasher>), crate::state::StateError> {
    let backend = backend(cli);
    let loaded = backend.load().await?;
    for w in loaded.iter().flat_map(|l| &l.warnings) {
        eprintln!("warning: {w}");
    }
    let state = loaded.map(|l| l.state);
    let hasher = if state.is_some() {
        Some(backend.hasher()?)
    } else {
        KeyedHasher::from_env()?
    };
    Ok((state, hasher))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[test]
    fn known_values_are_computed_attributes_and_ids_from_state() {
        use crate::state::{ResourceState, ResourceStatus};
        let mut state = StateFile::new("s");
        let resource = |kind: &str, id: Option<&str>, attrs: serde_json::Value| ResourceState {
            kind: kind.into(),
            id: id.map(Into::into),
            attributes: serde_json::from_value(attrs).unwrap(),
            sensitive_attributes: BTreeMap::new(),
            dependencies: Vec::new(),
            status: ResourceStatus::Ready,
        };
        state.resources.insert(
            "server.a".into(),
            resource(
                "server",
                Some("7"),
                serde_json::json!({"ipv4_address": "127.0.0.2", "image": "ubuntu-24.04", "ipv6_address": 6}),
            ),
        );
        state.resources.insert(
            "server.a-b".into(),
            resource(
                "server",
                None,
                serde_json::json!({"ipv4_address": "127.0.0.3"}),
            ),
        );
        state.resources.insert(
            "thing.x".into(),
            resource("thing", Some("1"), serde_json::json!({})),
        );
        let known = known_from_state(Some(&state));
        assert_eq!(
            known.into_iter().collect::<Vec<_>>(),
            [
                ("server.a-b.ipv4_address", "127.0.0.3"),
                ("server.a.id", "7"),
                ("server.a.ipv4_address", "127.0.0.2"),
            ]
            .map(|(k, v)| (k.to_string(), v.to_string()))
        );
        assert!(known_from_state(None).is_empty());
    }

    #[test]
    fn state_lives_beside_the_stack_file_unless_given() {
        let cli = Cli::parse_from(["sovstack", "validate"]);
        assert_eq!(state_path(&cli), PathBuf::from(".sovstack/state.json"));
        let cli = Cli::parse_from(["sovstack", "--stack", "infra/prod.hcl", "validate"]);
        assert_eq!(
            state_path(&cli),
            PathBuf::from("infra/.sovstack/state.json")
        );
        let cli = Cli::parse_from(["sovstack", "--state", "/tmp/s.json", "validate"]);
        assert_eq!(state_path(&cli), PathBuf::from("/tmp/s.json"));
    }
}
