//! The steps plan, apply, destroy and drift share: read state, load the stack with what
//! state knows, validate, render, build desired resources, and hash every input.

use super::{EngineError, Workspace};
use crate::config::{self, LoadOptions, Loaded, Stack, diagnostic};
use crate::render::{self, Artifact, RenderError, RenderOptions};
use crate::resources::{self, Desired, DesiredContext};
use crate::state::{AnyBackend, KeyedHasher, StateBackend, StateFile};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// Loads the stack with after-apply values known from state (and the workspace's variables).
pub fn load(
    ws: &Workspace,
    known: std::sync::Arc<BTreeMap<String, String>>,
) -> Result<Loaded, EngineError> {
    let mut opts = LoadOptions::from_process_env();
    opts.known = if ws.found.is_empty() {
        known
    } else {
        let mut all = (*known).clone();
        all.extend(ws.found.iter().map(|(k, v)| (k.clone(), v.clone())));
        std::sync::Arc::new(all)
    };
    for (k, v) in &ws.vars {
        opts.vars.insert(k.clone(), v.clone());
    }
    let dir = ws.stack.parent().unwrap_or(std::path::Path::new(""));
    opts.var_files = config::read_var_files(&config::var_file_paths(dir, &ws.var_files)?)?;
    Ok(config::load_file(&ws.stack, &opts)?)
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
    /// The stack's `moved` blocks, resolved against the state.
    pub moves: super::moves::Moves,
    /// The stack's `import` blocks not yet recorded, once read ([`Prepared::read_imports`]).
    pub imports: super::imports::Imports,
    pub inputs_hash: String,
    /// Warnings about the stack, rendered for the user (empty when there are none).
    pub warnings: String,
}

impl Prepared {
    /// The plan of this stack against `prior` (the refreshed state, or the recorded one).
    pub fn plan(
        &self,
        prior: Option<&StateFile>,
        hasher: Option<&KeyedHasher>,
        drift: Vec<crate::plan::Drift>,
        opts: &crate::plan::PlanOptions,
    ) -> Result<crate::plan::Plan, EngineError> {
        let mut prior = prior.map(|s| self.moved(s));
        if !self.imports.is_empty() {
            let with = self
                .imports
                .add_to(prior.as_deref(), &self.stack.name.value);
            prior = Some(std::borrow::Cow::Owned(with));
        }
        let input = crate::plan::PlanInput {
            stack: &self.stack.name.value,
            desired: &self.desired,
            prior: prior.as_deref(),
            hasher,
            inputs_hash: self.inputs_hash.clone(),
            drift,
        };
        let mut plan = crate::plan::compute(&input, opts)?;
        if !self.moves.is_empty() || !self.imports.is_empty() {
            plan.mark_arrivals(&self.moves.sources(), &self.imports.ids());
        }
        Ok(plan)
    }

    /// Reads the resources the stack's `import` blocks name (the API is asked only when
    /// there is something to import).
    pub async fn read_imports(&mut self, state: Option<&StateFile>) -> Result<(), EngineError> {
        self.imports = super::imports::read(self, state.map(|s| self.moved(s)).as_deref()).await?;
        Ok(())
    }

    /// `state` with the stack's moves made (as it is when there are none).
    pub fn moved<'s>(&self, state: &'s StateFile) -> std::borrow::Cow<'s, StateFile> {
        if self.moves.is_empty() {
            std::borrow::Cow::Borrowed(state)
        } else {
            std::borrow::Cow::Owned(self.moves.apply_to(state))
        }
    }
}

/// A state records the stack it belongs to: another stack's state (two stack files sharing
/// one state file, or a renamed stack) is refused before anything is planned from it, since
/// every resource would look deleted and be made again.
pub fn check_stack_identity(
    ws: &Workspace,
    stack: &Stack,
    state: Option<&StateFile>,
) -> Result<(), EngineError> {
    match state {
        Some(s) if s.stack != stack.name.value => Err(EngineError::WrongStack {
            location: ws.state_location(),
            state_stack: s.stack.clone(),
            stack: stack.name.value.clone(),
        }),
        _ => Ok(()),
    }
}

/// Loads and checks the stack, renders, builds desired resources. Errors in the stack come
/// back as [`EngineError::Invalid`] with every diagnostic rendered.
///
/// Rendering is real whenever it can be (key available, every secret set, every referenced
/// value known); otherwise it is redacted, and the resources waiting for a value or a secret
/// say so (unknown markers, unset sensitive values): apply defers them to a later wave.
pub fn prepare(
    ws: &Workspace,
    state: Option<&StateFile>,
    hasher: Option<&KeyedHasher>,
) -> Result<Prepared, EngineError> {
    let known = std::sync::Arc::new(known_from_state(state));
    let mut loaded = load(ws, known.clone())?;
    let Some(stack) = loaded.stack.take() else {
        return Err(EngineError::Invalid {
            rendered: diagnostic::render(&loaded.diagnostics, &loaded.source),
        });
    };
    check_stack_identity(ws, &stack, state)?;
    loaded.add_findings(crate::validate::check(&stack));
    let rendered = diagnostic::render(&loaded.diagnostics, &loaded.source);
    if loaded.diagnostics.has_errors() {
        return Err(EngineError::Invalid { rendered });
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
    let rendered_artifacts = match real {
        Some(opts) => match render::render_stack(&stack, &opts) {
            Err(RenderError::Unresolved { .. }) => render::render_stack(&stack, &redacted),
            other => other,
        },
        None => render::render_stack(&stack, &redacted),
    };
    let artifacts = rendered_artifacts?;
    let (files, service_hashes) = resources::node_inputs(&stack, &artifacts);
    let bootstrap = crate::providers::node::bootstrap_sha256();
    let desired = resources::desired(&DesiredContext {
        stack: &stack,
        files: &files,
        bootstrap_sha256: &bootstrap,
        service_hashes: &service_hashes,
    });
    let moves = resolve_moves(&stack, &desired, state)?;
    let mut warnings = rendered;
    if let Some(state) = state {
        let declared = declared(&desired);
        let notes: diagnostic::Diagnostics =
            super::moves::unmoved_to_instances(state, &declared, &moves)
                .into_iter()
                .chain(super::moves::unmoved_into_modules(state, &declared, &moves))
                .collect();
        if !notes.is_empty() {
            warnings.push_str(&diagnostic::render(&notes, &loaded.source));
        }
    }
    let inputs_hash = inputs_hash(&loaded.source, &stack, &artifacts, hasher);
    Ok(Prepared {
        stack,
        desired,
        moves,
        imports: Default::default(),
        inputs_hash,
        warnings,
    })
}

/// Every address the stack declares, with the provider-side name it will have.
pub fn declared(desired: &[Desired]) -> super::moves::Declared {
    desired
        .iter()
        .map(|d| {
            let name = d.attributes.get("name").and_then(|n| n.as_str());
            (d.address.clone(), name.map(str::to_owned))
        })
        .collect()
}

/// The stack's `moved` blocks against the state (checked even without one, so a wrong block is
/// caught before the first apply).
fn resolve_moves(
    stack: &Stack,
    desired: &[Desired],
    state: Option<&StateFile>,
) -> Result<super::moves::Moves, EngineError> {
    if stack.moves.is_empty() {
        return Ok(super::moves::Moves::default());
    }
    let declared = declared(desired);
    let empty;
    let state = match state {
        Some(s) => s,
        None => {
            empty = StateFile::new(&stack.name.value);
            &empty
        }
    };
    super::moves::resolve(&stack.moves, state, &declared).map_err(|d| EngineError::Invalid {
        rendered: diagnostic::render(&d, &stack.source),
    })
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

/// What a saved plan must carry to be applied as it was made: the non-secret variable values
/// given on the command line or in the environment (as given) or in variable files (as HCL
/// literals), and keyed hashes of the secrets.
pub fn plan_inputs(
    ws: &Workspace,
    stack: &Stack,
    hasher: Option<&KeyedHasher>,
) -> crate::plan::PlanInputs {
    let mut inputs = crate::plan::PlanInputs::default();
    for v in &stack.variables {
        if v.sensitive {
            if let (Some(value), Some(h)) = (&v.value, hasher) {
                inputs.secrets.insert(v.name.clone(), h.hash_json(value));
            }
            continue;
        }
        let from_cli = ws.vars.iter().rev().find(|(k, _)| *k == v.name);
        let given = from_cli
            .map(|(_, value)| value.clone())
            .or_else(|| std::env::var(format!("SOVSTACK_VAR_{}", v.name)).ok())
            .or_else(|| from_file(v));
        if let Some(value) = given {
            inputs.variables.insert(v.name.clone(), value);
        }
    }
    inputs
}

/// A value a variable file gave, in the form `--var` takes it back: a string as it is, any
/// other value as a literal (JSON's syntax is a subset of HCL's literals).
fn from_file(v: &config::Variable) -> Option<String> {
    if v.origin != config::VarOrigin::File {
        return None;
    }
    Some(match v.value.as_ref()? {
        serde_json::Value::String(s) if v.ty == config::VarType::String => s.clone(),
        other => other.to_string(),
    })
}

/// The state (if any), the key to compare secrets with, and warnings about the state file.
/// Reading never creates files: without state, the key comes from `SOVSTACK_STATE_KEY` or is
/// absent.
pub struct ReadState {
    pub state: Option<StateFile>,
    pub hasher: Option<KeyedHasher>,
    pub warnings: Vec<String>,
}

pub async fn read_state(ws: &Workspace) -> Result<ReadState, EngineError> {
    let backend = ws.backend()?;
    let loaded = backend.load().await?;
    let mut warnings: Vec<String> = loaded
        .iter()
        .flat_map(|l| l.warnings.iter().map(ToString::to_string))
        .collect();
    let state = loaded.map(|l| l.state);
    if state.is_none() {
        warnings.extend(renamed_stack_hint(&backend).await?);
    }
    let hasher = if state.is_some() {
        Some(backend.hasher()?)
    } else {
        KeyedHasher::from_env()?
    };
    Ok(ReadState {
        state,
        hasher,
        warnings,
    })
}

/// A shared PostgreSQL schema cannot tell a renamed `stack` block from a new stack: both find
/// no state under their name, and every resource would be planned as new (the local backend
/// refuses instead, its file naming the stack it belongs to). When the schema holds other
/// stacks' states, say so, and how to carry one over.
pub async fn renamed_stack_hint(backend: &AnyBackend) -> Result<Option<String>, EngineError> {
    let AnyBackend::Postgres(pg) = backend else {
        return Ok(None);
    };
    let others = pg.other_stacks().await?;
    if others.is_empty() {
        return Ok(None);
    }
    let example = others.first().map_or("OLD", String::as_str);
    Ok(Some(format!(
        "{} holds no state, so every resource is planned as new; the same schema holds the \
         state of {}. If the `stack` block was renamed, run `sovstack state rename-stack {example} \
         {}` before applying, or the resources are created twice",
        backend.location(),
        others
            .iter()
            .map(|s| format!("`{s}`"))
            .collect::<Vec<_>>()
            .join(", "),
        pg.stack(),
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
