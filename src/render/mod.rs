//! Pure, byte-stable rendering of a `Stack` into the artifacts that land on each node:
//! `compose.yaml`, collector `config.yaml`s, mounted files, `<service>.env` secret files and
//! cloud-init user data. Every artifact carries its sha256; every compose service carries an
//! inputs hash (its rendered section, its mounted files, its env file) so the node layer
//! recreates exactly the services whose inputs changed.
//!
//! Two modes: `Apply` renders real values and fails on anything missing (a secret, a value
//! known only after apply, a host key); `Redacted` (for plans) writes `(sensitive)` and
//! `(known after apply)` placeholders and flags the artifact instead of failing.

mod cloud_init;
mod collector;
mod compose;
pub mod digest;
mod envfile;
mod error;
mod output;
mod resolve;
mod yaml;

pub use compose::{LABEL_INPUTS_HASH, LABEL_PROJECT, LABEL_SERVICE};
pub use error::{MissingSecret, RenderError};
pub use output::{Manifest, ManifestArtifact, ManifestService, write_out};

use crate::config::Stack;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// Where cloud-init keeps the user data on a server. The artifact is not uploaded: the hcloud
/// provider passes its content as `user_data` when it creates the server.
pub const CLOUD_INIT_PATH: &str = "/var/lib/cloud/instance/user-data.txt";

/// The placeholder for secret content in a redacted render.
pub const SENSITIVE_PLACEHOLDER: &str = envfile::REDACTED;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RenderMode {
    /// Real values; missing secrets, unknown values and missing host keys are errors.
    #[default]
    Apply,
    /// For plans: secrets become `(sensitive)`, unknown values `(known after apply)`.
    Redacted,
}

/// The SSH host key sovstack generated for a server (OpenSSH formats).
#[derive(Clone, PartialEq, Eq)]
pub struct HostKeyPair {
    /// `-----BEGIN OPENSSH PRIVATE KEY-----` ...
    pub ed25519_private: String,
    /// `ssh-ed25519 AAAA...`
    pub ed25519_public: String,
}

impl std::fmt::Debug for HostKeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostKeyPair")
            .field("ed25519_private", &SENSITIVE_PLACEHOLDER)
            .field("ed25519_public", &self.ed25519_public)
            .finish()
    }
}

#[derive(Debug, Clone, Default)]
pub struct RenderOptions {
    pub mode: RenderMode,
    /// Attributes known from state (`server.observability.ipv4_address` -> value).
    pub known: std::sync::Arc<BTreeMap<String, String>>,
    /// Key for the digests of secret-bearing artifacts (required in `Apply` mode when the
    /// stack has secrets or servers). Keep it with the state, never in the stack.
    pub digest_key: Option<Vec<u8>>,
    /// Host key per `server` name.
    pub host_keys: BTreeMap<String, HostKeyPair>,
    /// Leave out cloud-init: a plan needs the node files only, and a server's user data is
    /// rendered by the cloud layer with the host key it generates.
    pub skip_cloud_init: bool,
}

impl RenderOptions {
    pub fn apply(
        known: impl Into<std::sync::Arc<BTreeMap<String, String>>>,
        digest_key: Vec<u8>,
    ) -> Self {
        Self {
            mode: RenderMode::Apply,
            known: known.into(),
            digest_key: Some(digest_key),
            host_keys: BTreeMap::new(),
            skip_cloud_init: false,
        }
    }

    pub fn redacted(known: impl Into<std::sync::Arc<BTreeMap<String, String>>>) -> Self {
        Self {
            mode: RenderMode::Redacted,
            known: known.into(),
            ..Self::default()
        }
    }

    pub fn with_host_key(mut self, server: impl Into<String>, key: HostKeyPair) -> Self {
        self.host_keys.insert(server.into(), key);
        self
    }

    fn redacted_mode(&self) -> bool {
        self.mode == RenderMode::Redacted
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ArtifactKind {
    ComposeFile,
    CollectorConfig,
    MountedFile,
    EnvFile,
    CloudInit,
}

#[derive(Clone, PartialEq, Eq)]
pub struct Artifact {
    /// `server.<name>` or `host.<name>`.
    pub node: String,
    /// Absolute path on the node.
    pub remote_path: String,
    pub mode: u32,
    pub owner: Option<String>,
    /// The content holds secrets (env files, cloud-init with the host private key).
    pub sensitive: bool,
    pub content: Vec<u8>,
    /// sha256 of `content`, lowercase hex: what the node's probe compares against. Never
    /// record it for a sensitive artifact; record `digest`.
    pub sha256: String,
    /// What may be stored and shown: `sha256:<hex>` for plain artifacts, `hmac-sha256:<hex>`
    /// (keyed with `RenderOptions::digest_key`) for sensitive ones.
    pub digest: String,
    pub kind: ArtifactKind,
    /// The `compose` block the artifact belongs to.
    pub compose: Option<String>,
    /// The service it belongs to (mounted files, env files).
    pub service: Option<String>,
    /// For a compose file: service name -> inputs hash (also in its `dev.sovstack.inputs-hash` label).
    pub service_hashes: BTreeMap<String, String>,
    /// Secret values were replaced by `(sensitive)`: not deployable.
    pub redacted: bool,
    /// References still unknown (rendered as `(known after apply)`): not deployable, hashes not final.
    pub unknowns: Vec<String>,
}

impl std::fmt::Debug for Artifact {
    // Content is left out so a secret never reaches a log through `{:?}`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Artifact")
            .field("node", &self.node)
            .field("remote_path", &self.remote_path)
            .field("kind", &self.kind)
            .field("mode", &format_args!("{:o}", self.mode))
            .field("sensitive", &self.sensitive)
            .field("digest", &self.digest)
            .field("bytes", &self.content.len())
            .field("redacted", &self.redacted)
            .field("unknowns", &self.unknowns)
            .finish()
    }
}

impl Artifact {
    /// Can this artifact be deployed as is?
    pub fn is_complete(&self) -> bool {
        !self.redacted && self.unknowns.is_empty()
    }

    /// The content as text (every artifact sovstack renders is UTF-8).
    pub fn text(&self) -> &str {
        std::str::from_utf8(&self.content).unwrap_or("")
    }

    fn id(&self) -> String {
        format!("{}:{}", self.node, self.remote_path)
    }
}

/// Builds an artifact and its hashes; sensitive artifacts need the digest key in apply mode.
struct ArtifactBuilder<'a> {
    opts: &'a RenderOptions,
}

struct NewArtifact {
    node: String,
    remote_path: String,
    kind: ArtifactKind,
    content: String,
    sensitive: bool,
    compose: Option<String>,
    service: Option<String>,
    redacted: bool,
    unknowns: BTreeSet<String>,
}

impl ArtifactBuilder<'_> {
    fn digest_of(&self, sensitive: bool, content: &[u8]) -> Result<String, RenderError> {
        if !sensitive {
            return Ok(format!("sha256:{}", digest::sha256_hex(content)));
        }
        match &self.opts.digest_key {
            Some(k) => Ok(format!(
                "hmac-sha256:{}",
                digest::hmac_sha256_hex(k, content)
            )),
            None if self.opts.redacted_mode() => {
                // A redacted artifact holds no secret, so a plain hash reveals nothing.
                Ok(format!("sha256:{}", digest::sha256_hex(content)))
            }
            None => Err(RenderError::MissingDigestKey),
        }
    }

    fn build(&self, a: NewArtifact) -> Result<Artifact, RenderError> {
        let content = a.content.into_bytes();
        let mode = if a.sensitive { 0o600 } else { 0o644 };
        Ok(Artifact {
            sha256: digest::sha256_hex(&content),
            digest: self.digest_of(a.sensitive, &content)?,
            node: a.node,
            remote_path: a.remote_path,
            mode,
            owner: None,
            sensitive: a.sensitive,
            content,
            kind: a.kind,
            compose: a.compose,
            service: a.service,
            service_hashes: BTreeMap::new(),
            redacted: a.redacted,
            unknowns: a.unknowns.into_iter().collect(),
        })
    }
}

/// Renders every artifact of the stack, sorted by node then remote path.
pub fn render_stack(stack: &Stack, opts: &RenderOptions) -> Result<Vec<Artifact>, RenderError> {
    let b = ArtifactBuilder { opts };
    let mut out = Vec::new();
    let mut missing = Vec::new();
    for c in &stack.composes {
        out.extend(compose::render(stack, c, opts, &b, &mut missing)?);
    }
    if !missing.is_empty() {
        return Err(RenderError::MissingSecrets(missing));
    }
    if !opts.skip_cloud_init {
        for s in &stack.servers {
            out.push(cloud_init::render(s, opts, &b)?);
        }
    }
    if opts.mode == RenderMode::Apply {
        let mut refs = BTreeSet::new();
        let mut where_ = Vec::new();
        for a in out.iter().filter(|a| !a.unknowns.is_empty()) {
            refs.extend(a.unknowns.iter().cloned());
            where_.push(a.id());
        }
        if !refs.is_empty() {
            return Err(RenderError::Unresolved {
                references: refs.into_iter().collect(),
                artifacts: where_,
            });
        }
    }
    out.sort_by(|a, b| (&a.node, &a.remote_path).cmp(&(&b.node, &b.remote_path)));
    for w in out.windows(2) {
        if w[0].node == w[1].node && w[0].remote_path == w[1].remote_path {
            return Err(RenderError::PathClash {
                node: w[0].node.clone(),
                path: w[0].remote_path.clone(),
            });
        }
    }
    Ok(out)
}

/// Every service's inputs hash: (node, compose, service) -> hash.
pub fn service_hashes(artifacts: &[Artifact]) -> BTreeMap<(String, String, String), String> {
    let mut m = BTreeMap::new();
    for a in artifacts
        .iter()
        .filter(|a| a.kind == ArtifactKind::ComposeFile)
    {
        for (svc, h) in &a.service_hashes {
            m.insert(
                (
                    a.node.clone(),
                    a.compose.clone().unwrap_or_default(),
                    svc.clone(),
                ),
                h.clone(),
            );
        }
    }
    m
}
