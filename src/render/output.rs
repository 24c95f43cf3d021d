//! Writing rendered artifacts to a directory (`sovstack render --out DIR`): one tree per node,
//! file modes as on the node, and a manifest of digests that never contains content.

use super::error::RenderError;
use super::{Artifact, ArtifactKind};
use crate::config::instance::shown_name;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Component, Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Bumped when the layout of this file changes.
    pub format: u32,
    pub artifacts: Vec<ManifestArtifact>,
    pub services: Vec<ManifestService>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestArtifact {
    pub node: String,
    pub remote_path: String,
    /// Where it was written, relative to the output directory.
    pub file: String,
    pub kind: ArtifactKind,
    /// Octal, e.g. "0600".
    pub mode: String,
    pub sensitive: bool,
    /// `sha256:<hex>`, or `hmac-sha256:<hex>` for sensitive artifacts (a plain hash of a
    /// secret-bearing file would let anyone test guesses of the secret).
    pub digest: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub compose: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub service: Option<String>,
    pub complete: bool,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub unknowns: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestService {
    pub node: String,
    pub compose: String,
    pub service: String,
    pub inputs_hash: String,
}

impl Manifest {
    pub fn of(artifacts: &[Artifact]) -> Manifest {
        let mut out = Manifest {
            format: 1,
            artifacts: Vec::new(),
            services: Vec::new(),
        };
        for a in artifacts {
            out.artifacts.push(ManifestArtifact {
                node: a.node.clone(),
                remote_path: a.remote_path.clone(),
                file: relative_file(a).to_string_lossy().into_owned(),
                kind: a.kind,
                mode: format!("{:04o}", a.mode),
                sensitive: a.sensitive,
                digest: a.digest.clone(),
                compose: a.compose.as_deref().map(shown_name),
                service: a.service.clone(),
                complete: a.is_complete(),
                unknowns: a.unknowns.clone(),
            });
        }
        for ((node, compose, service), inputs_hash) in super::service_hashes(artifacts) {
            out.services.push(ManifestService {
                node,
                compose: shown_name(&compose),
                service,
                inputs_hash,
            });
        }
        out
    }
}

/// `<node>/<remote path without leading slash>`, with only normal components so nothing is
/// written outside the output directory.
fn relative_file(a: &Artifact) -> PathBuf {
    let mut p = PathBuf::from(&a.node);
    for c in Path::new(&a.remote_path).components() {
        if let Component::Normal(n) = c {
            p.push(n);
        }
    }
    p
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> RenderError + '_ {
    move |source| RenderError::Write {
        path: path.display().to_string(),
        source,
    }
}

/// Writes a file with `mode` from the first byte (a secret is never briefly world-readable),
/// via a temporary file and rename so a crash leaves either the old or the new content.
fn write_file(path: &Path, content: &[u8], mode: u32) -> Result<(), RenderError> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(io_err(dir))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.sovstack-tmp"));
    let _ = std::fs::remove_file(&tmp);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&tmp)
        .map_err(io_err(&tmp))?;
    // The umask may have cleared bits of `mode`; set it exactly.
    f.set_permissions(std::fs::Permissions::from_mode(mode))
        .map_err(io_err(&tmp))?;
    f.write_all(content).map_err(io_err(&tmp))?;
    f.sync_all().map_err(io_err(&tmp))?;
    drop(f);
    std::fs::rename(&tmp, path).map_err(io_err(path))?;
    Ok(())
}

/// Writes every artifact under `out_dir/<node>/<remote path>` and `out_dir/manifest.json`.
pub fn write_out(artifacts: &[Artifact], out_dir: &Path) -> Result<Manifest, RenderError> {
    for a in artifacts {
        let mode = if a.sensitive { 0o600 } else { a.mode };
        write_file(&out_dir.join(relative_file(a)), &a.content, mode)?;
    }
    let manifest = Manifest::of(artifacts);
    let mut json =
        serde_json::to_vec_pretty(&manifest).map_err(|e| RenderError::yaml("manifest", e))?;
    json.push(b'\n');
    write_file(&out_dir.join("manifest.json"), &json, 0o644)?;
    Ok(manifest)
}
