//! cloud-init user data for a `server`: install the host key sovstack generated (so the first
//! SSH connection is already verified against a pinned key), stop cloud-init from generating
//! any other host key, and run the server's extra first-boot commands. Nothing else secret.
//! The metadata service serves this to the server for its life, so the key does not stay:
//! `resources::host_key` replaces it after the first login.

use super::error::RenderError;
use super::resolve::Resolver;
use super::{
    ArtifactBuilder, ArtifactKind, CLOUD_INIT_PATH, NewArtifact, RenderOptions, envfile, yaml,
};
use crate::config::Server;
use crate::config::instance::block_address;
use serde::Serialize;

#[derive(Serialize)]
struct CloudConfig {
    ssh_deletekeys: bool,
    ssh_genkeytypes: Vec<String>,
    ssh_keys: SshKeys,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    runcmd: Vec<String>,
}

#[derive(Serialize)]
struct SshKeys {
    ed25519_private: String,
    ed25519_public: String,
}

pub(super) fn render(
    s: &Server,
    opts: &RenderOptions,
    b: &ArtifactBuilder<'_>,
) -> Result<super::Artifact, RenderError> {
    let redacted = opts.redacted_mode();
    let key = opts.host_keys.get(&s.name);
    let keys = match (key, redacted) {
        (Some(k), false) => {
            let mut private = k.ed25519_private.clone();
            // OpenSSH refuses a private key file whose last line is not terminated.
            if !private.ends_with('\n') {
                private.push('\n');
            }
            SshKeys {
                ed25519_private: private,
                ed25519_public: k.ed25519_public.trim_end().to_string(),
            }
        }
        (None, false) => {
            return Err(RenderError::MissingHostKey {
                server: s.name.clone(),
            });
        }
        (k, true) => SshKeys {
            ed25519_private: envfile::REDACTED.to_string(),
            ed25519_public: k.map_or_else(
                || "(known after apply)".to_string(),
                |k| k.ed25519_public.trim_end().to_string(),
            ),
        },
    };
    let mut r = Resolver::new(&opts.known, redacted);
    let doc = CloudConfig {
        ssh_deletekeys: true,
        ssh_genkeytypes: Vec::new(),
        ssh_keys: keys,
        runcmd: s.user_data_runcmd.iter().map(|c| r.text(c)).collect(),
    };
    // Block scalars keep the PEM key readable and exactly as generated.
    let body = serde_saphyr::to_string_with_options(&doc, yaml::block_options())
        .map_err(|e| RenderError::yaml(format!("cloud-init of server {}", s.name), e))?;
    b.build(NewArtifact {
        node: block_address("server", &s.name),
        remote_path: CLOUD_INIT_PATH.to_string(),
        kind: ArtifactKind::CloudInit,
        content: format!("#cloud-config\n{body}"),
        sensitive: true,
        compose: None,
        service: None,
        redacted,
        unknowns: r.take_unknowns(),
    })
}
